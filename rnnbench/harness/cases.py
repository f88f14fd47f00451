"""Which implementations and configurations are timed, their ids, and building them outside the timings.

Ids carry the implementation, task, cell, window, state and batch size: ``numpy-binary-rnn-T5-S4-B200``; the sweep
points of the full profile are prefixed by the swept field: ``state_size-numpy-binary-rnn-T5-S64-B200``,
``cell-numpy-digits-gru-T8-S64-B64``. An implementation that is not installed, that another framework family's
process cannot host, or that does not support a configuration (its registry entry says so: "n/a: reason") is
skipped with the reason before anything is imported or built, never passed empty.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest

from rnnbench.errors import UnsupportedError
from rnnbench.harness.provenance import record_rate
from rnnbench.model.flops import step_flops
from rnnbench.spec import dispatch, families, registry
from rnnbench.spec.config import SWEEPS, Profile, RunConfig
from rnnbench.spec.measures import Measure
from rnnbench.spec.params import init_params
from rnnbench.spec.references import (
    CELL_SWEEP,
    CELL_SWEEP_AT,
    DENORMAL_AT,
    TRUNCATION_AT,
    TRUNCATION_SHIFTS,
    Reference,
    config_label,
    peer_references,
    reference_configs,
    selected,
)


def selected_names(impls: list[str], frameworks: list[str]) -> list[str]:
    """The implementations to time: the named ones (default: all), within the named families (default: all)."""
    names = impls or registry.names()
    for name in names:
        registry.entry(name)  # unknown names fail loudly
    return [n for n in names if not frameworks or registry.entry(n).framework in frameworks]


def case_id(name: str, cfg: RunConfig) -> str:
    return f"{name}-{config_label(cfg)}-B{cfg.batch_size}"


def reference_cases(names: list[str], threads: int, device: str, tasks: list[str] | None = None,
                    cells: list[str] | None = None) -> list[tuple[str, Reference]]:
    """Every implementation at every reference configuration (of the chosen tasks and cells)."""
    return [(n, ref) for ref in reference_configs(threads, device, tasks, cells, timed=True) for n in names]


def peer_cases(names: list[str], threads: int, device: str, peers: list[str] | None = None,
               cells: list[str] | None = None, scan: bool = False) -> list[tuple[str, Reference]]:
    """Every implementation at every peer case (of the chosen cases and cells): the peers profile's cases, or
    with ``scan`` the scan profile's."""
    return [(n, ref) for ref in peer_references(threads, device, peers, cells, scan) for n in names]


def peer_id(name: str, reference: Reference) -> str:
    """A peer case's id: the implementation and the case's name (``numpy-fastrnns-lstm``)."""
    return f"{name}-{reference.label}"


DENORMAL_INPUTS = ("normal", "denormal")


def denormal_cases(names: list[str], threads: int, device: str, tasks: list[str] | None = None,
                   cells: list[str] | None = None) -> list[tuple[str, Reference, str]]:
    """(name, the reference DENORMAL_AT, inputs): each implementation on normal inputs, then on denormal ones."""
    refs = [r for r in reference_configs(threads, device, tasks, cells, timed=True) if r.label == DENORMAL_AT]
    return [(n, ref, inputs) for ref in refs for n in names for inputs in DENORMAL_INPUTS]


def truncation_cases(names: list[str], threads: int, device: str, tasks: list[str] | None = None,
                     cells: list[str] | None = None) -> list[tuple[str, Reference]]:
    """(name, point): TRUNCATION_AT at each k1 of TRUNCATION_SHIFTS, for the implementations that train BPTT(k2,
    k1); the point's label says its truncation ("binary-rnn-T10-S16-K5"; k1 = k2 keeps the reference's label)."""
    refs = [r for r in reference_configs(threads, device, tasks, cells, timed=True) if r.label == TRUNCATION_AT]
    points = []
    for ref in refs:
        for k1 in TRUNCATION_SHIFTS:
            config = ref.config.replace(shift=k1)
            label = ref.label + ("" if config.shift is None else f"-K{k1}")
            points += [(n, Reference(label, config, None, ref.target, ref.loss_band)) for n in names
                       if registry.entry(n).truncation]
    return points


def denormal(xs: np.ndarray) -> np.ndarray:
    """``xs`` scaled so that its largest magnitude is a tenth of the dtype's smallest normal number: every nonzero
    input is a denormal, and with zero biases so is every pre-activation and state an LSTM computes from it (the
    gradients reaching its weights too, so training keeps them there), unless the arithmetic flushes them to 0."""
    top = float(np.abs(xs).max()) or 1.0
    return (xs.astype(np.float64) * (float(np.finfo(xs.dtype).tiny) / 10 / top)).astype(xs.dtype)


def sweep_cases(names: list[str], threads: int, device: str, tasks: list[str] | None = None,
                cells: list[str] | None = None) -> list[tuple[str, Reference, str]]:
    """(name, point, swept field): one parameter of SWEEPS varied from the first reference at a time, and each
    cell of CELL_SWEEP at the references of CELL_SWEEP_AT."""
    refs = {r.label: r for r in reference_configs(threads, device, timed=True)}
    base = next(iter(refs.values()))
    points = [(Reference(f"{field}={value}", base.config.replace(**{field: value}), base.expected_level,
                         base.target, base.loss_band), field)
              for field, values in SWEEPS.items() for value in values]
    for label in CELL_SWEEP_AT:
        for c in CELL_SWEEP:
            cfg = refs[label].config.replace(cell=c)
            points.append((Reference(config_label(cfg), cfg, None, refs[label].target, refs[label].loss_band), "cell"))
    return [(n, point, field) for point, field in points if selected(point.config, tasks, cells) for n in names]


def skip_unless_runnable(name: str, config: RunConfig | None = None, profile: Profile | None = None) -> None:
    """Skip, with the reason, an implementation this process cannot run, that does not do ``config``, or whose
    build there is too slow for ``profile``."""
    if config is not None:
        gap = registry.entry(name).unsupported(config)
        if gap:
            pytest.skip(f"{name}: n/a: {gap}")
        slow = profile and registry.entry(name).too_slow_to_build(config, profile)
        if slow:
            pytest.skip(f"{name}: {slow}")
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
    xs: np.ndarray  # (n_windows, B, T[, F])
    ys: np.ndarray
    # its epochs need no warm-up epoch: it has run epochs already (its reference's training run), or it trains one
    # window per call and its train step was just warmed up and timed (``time_train_step``)
    warm: bool = False


# Implementations a case's earlier test built, handed to its later tests so that each case pays for one build: the
# training run's where the case has one (its epoch timing continues that run: ``Built.warm``), else
# ``test_build``'s (built from the canonical parameters and untouched). The parameters move during every timed
# step anyway; what a step costs does not depend on where they start.
HANDED_OVER: dict[tuple[str, str], Built] = {}


def keep_built(name: str, reference: Reference, impl) -> None:
    """``test_build``'s implementation, for the case's train step, forward and epoch timings."""
    if reference.every_measure:
        HANDED_OVER[name, reference.label] = _built(name, impl, reference)


# What a case's training run timed that another of its records takes as its rounds (``record_rounds``) instead of
# timing it again: its build (one cold build from the canonical parameters, as ``test_build`` times it), and its
# epochs after the first where they are as many as the profile's epoch rounds.
TRAINED_BUILDS: dict[tuple[str, str], tuple[float, dict]] = {}  # (seconds, the run's versions)
TRAINED_EPOCHS: dict[tuple[str, str], tuple[list[float], dict]] = {}  # (seconds, the run's versions)
TIMED_IN_TRAINING = "training run"  # the record's ``timed_in``


def keep_trained(name: str, reference: Reference, result, profile: Profile) -> None:
    """The training run's (a ``TrainResult``) for the case's later records: its build time, its epochs after the
    first where there are enough, and its implementation, to time the steps and more epochs on."""
    if Measure.BUILD in reference.measures:
        TRAINED_BUILDS[name, reference.label] = result.build_seconds, result.versions
    later = result.epoch_seconds[1:]  # the first epoch is the warm-up
    epochs_timed = Measure.EPOCH in reference.measures and len(later) >= profile.epoch_rounds
    if epochs_timed:
        TRAINED_EPOCHS[name, reference.label] = later, result.versions
    wanted = {Measure.TRAIN_STEP, Measure.FORWARD} | (set() if epochs_timed else {Measure.EPOCH})
    if wanted & set(reference.measures):
        HANDED_OVER[name, reference.label] = _built(name, result.implementation, reference, warm=True)


def record_rounds(benchmark, seconds: list[float]) -> None:
    """A record whose rounds are durations timed already, each by ``time.perf_counter`` around one call, as
    pytest-benchmark times a round of ``pedantic``: its statistics are pytest-benchmark's own, made through its
    fixture's ``_make_stats`` (private; ``tests/test_bench.py`` holds the record it makes to the one ``pedantic``
    makes)."""
    benchmark._mode = "rounds timed by the reference training run"  # the fixture counts as used, once
    if benchmark.disabled:
        return
    stats = benchmark._make_stats(1)
    for duration in seconds:
        stats.update(duration)


def _built(name: str, impl, reference: Reference, warm: bool = False) -> Built:
    xs, ys = reference.config.task_spec.epoch_batches(reference.config, 0)
    return Built(name, impl, reference.config, reference, xs, ys, warm)


def require(reference: Reference, measure: str) -> None:
    """Skip a measure this reference is not timed by (binary's references get every one)."""
    if measure not in reference.measures:
        pytest.skip(f"{reference.label}: {measure} is not measured here (this reference is timed by "
                    f"{', '.join(reference.measures)}; its training run records its build time)")


def build(name: str, reference: Reference) -> Built:
    """Create and build, outside any timing (or take the implementation an earlier test of the case handed over,
    see ``HANDED_OVER``); an implementation that cannot do this config is skipped."""
    handed = HANDED_OVER.pop((name, reference.label), None)
    if handed is not None:
        return handed
    try:
        impl = registry.create(name, reference.config)
        impl.build(reference.config, init_params(reference.config))
    except UnsupportedError as exc:
        pytest.skip(f"{name}: n/a: {exc}")
    return _built(name, impl, reference)


def record_dispatch(benchmark, name: str, impl, step) -> None:
    """Run ``step`` (one train step of ``impl``) once more under its family's counter and record what it
    dispatched (``rnnbench.spec.dispatch``)."""
    counted = dispatch.count(registry.entry(name).framework, impl, step)
    benchmark.extra_info.update(launches=counted.launches, ops=counted.ops, dispatch_how=counted.how)


def record_trained_dispatch(benchmark, name: str, reference: Reference, result, profile: Profile) -> None:
    """At a reference not timed step by step, in a profile that asks for it: one train step of the implementation
    the training run trained, after the clock (the first window of epoch 0), counted as ``time_train_step``
    counts: after a first step, which compiles what training never called (a whole-epoch variant's window step)."""
    if not profile.dispatch_everywhere or Measure.TRAIN_STEP in reference.measures:
        return
    xs, ys = reference.config.task_spec.epoch_batches(reference.config, 0)
    impl = result.implementation

    def step():
        return impl.train_step(xs[0], ys[0])

    step()
    record_dispatch(benchmark, name, impl, step)


def time_train_step(benchmark, built: Built, warmup_steps: int) -> float:
    """Benchmark one window per call, cycling through the epoch's windows with the state carried. Records the
    step's FLOPs (``rnnbench.model.flops``) as ``flops`` and, from the median, the achieved ``gflops``; then runs one
    more step under the family's counter and records what it dispatched (``rnnbench.spec.dispatch``)."""
    windows = itertools.cycle(range(len(built.xs)))

    def step() -> float:
        i = next(windows)
        return built.impl.train_step(built.xs[i], built.ys[i])

    for _ in range(warmup_steps):
        step()
    loss = benchmark(step)
    record_rate(benchmark, step_flops(built.config).total)
    record_dispatch(benchmark, built.name, built.impl, step)  # one more step, after the clock
    built.warm = built.warm or not built.impl.whole_epoch  # an epoch of it is these steps, warm now
    return loss
