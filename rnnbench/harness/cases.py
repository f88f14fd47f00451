"""Which implementations and configurations are timed, their ids, and building them outside the timings.

Ids read like ``numpy-T5-S4-B200``; the sweep points of the full profile like ``state_size-numpy-T5-S64-B200``.
An implementation that is not installed, that another framework family's process cannot host, or that does not
support a configuration is skipped with the reason, never passed empty.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest

from rnnbench import families, registry
from rnnbench.config import SWEEPS, Reference, RunConfig, reference_configs
from rnnbench.errors import UnsupportedError
from rnnbench.params import init_params
from rnnbench.task import epoch_batches


def selected_names(impls: list[str], frameworks: list[str]) -> list[str]:
    """The implementations to time: the named ones (default: all), within the named families (default: all)."""
    names = impls or registry.names()
    for name in names:
        registry.entry(name)  # unknown names fail loudly
    return [n for n in names if not frameworks or registry.entry(n).framework in frameworks]


def case_id(name: str, cfg: RunConfig) -> str:
    return f"{name}-T{cfg.num_steps}-S{cfg.state_size}-B{cfg.batch_size}"


def reference_cases(names: list[str], threads: int, device: str) -> list[tuple[str, Reference]]:
    return [(n, ref) for ref in reference_configs(threads, device) for n in names]


def sweep_cases(names: list[str], threads: int, device: str) -> list[tuple[str, Reference, str]]:
    """(name, point, swept field): one parameter of SWEEPS varied from the first reference at a time."""
    base = reference_configs(threads, device)[0]
    cases = []
    for field, values in SWEEPS.items():
        for value in values:
            cfg = base.config.replace(**{field: value})
            point = Reference(f"{field}={value}", cfg, base.expected_level, base.target, base.loss_band)
            cases += [(n, point, field) for n in names]
    return cases


def skip_unless_runnable(name: str) -> None:
    """Skip, with the reason, an implementation this process cannot run."""
    ok, reason = registry.entry(name).available()
    if not ok:
        pytest.skip(f"{name}: {reason}")
    own = registry.entry(name).framework
    other = families.conflicting_module(own)
    if other:
        pytest.skip(f"{name}: {other} is loaded in this process, and frameworks never share one; "
                    f"run with --framework {own}")


@dataclass
class Built:
    """An implementation built from the canonical parameters, with the epoch-0 windows ready."""

    name: str
    impl: object
    config: RunConfig
    reference: Reference
    xs: np.ndarray  # (n_windows, B, T)
    ys: np.ndarray


def build(name: str, reference: Reference) -> Built:
    """Create and build, outside any timing; an implementation that cannot do this config is skipped."""
    try:
        impl = registry.create(name, reference.config)
        impl.build(reference.config, init_params(reference.config))
    except UnsupportedError as exc:
        pytest.skip(f"{name}: {exc}")
    xs, ys = epoch_batches(reference.config, 0)
    return Built(name, impl, reference.config, reference, xs, ys)


def time_train_step(benchmark, built: Built, warmup_steps: int) -> float:
    """Benchmark one window per call, cycling through the epoch's windows with the state carried."""
    windows = itertools.cycle(range(len(built.xs)))

    def step() -> float:
        i = next(windows)
        return built.impl.train_step(built.xs[i], built.ys[i])

    for _ in range(warmup_steps):
        step()
    return benchmark(step)
