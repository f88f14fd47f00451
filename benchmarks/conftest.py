"""Shared setup of the timing suites: which implementations and configurations, built outside the timings.

Options (pytest): ``--impl NAME`` and ``--framework NAME`` (repeatable) choose implementations; a benchmark run
should hold one framework family per process (``rnnbench bench`` does that). ``--threads N`` is the one thread
count every framework gets. Unavailable implementations are still collected, and skip with their reason.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from rnnbench import registry
from rnnbench.config import Reference, RunConfig, reference_configs
from rnnbench.params import init_params
from rnnbench.task import epoch_batches

SCHEMA_VERSION = 1


def pytest_addoption(parser):
    group = parser.getgroup("rnnbench")
    group.addoption("--impl", action="append", default=[], help="only this implementation (repeatable)")
    group.addoption("--framework", action="append", default=[], help="only this framework family (repeatable)")
    group.addoption("--threads", type=int, default=os.cpu_count() or 1, help="threads for every framework")


def selected_names(config) -> list[str]:
    names = config.getoption("--impl") or registry.names()
    for name in names:
        registry.entry(name)  # unknown names fail loudly
    frameworks = config.getoption("--framework")
    return [n for n in names if not frameworks or registry.entry(n).framework in frameworks]


def case_id(name: str, cfg: RunConfig) -> str:
    return f"{name}-T{cfg.num_steps}-S{cfg.state_size}-B{cfg.batch_size}"


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames:
        threads = metafunc.config.getoption("--threads")
        cases = [(n, ref) for ref in reference_configs(threads) for n in selected_names(metafunc.config)]
        metafunc.parametrize("case", cases, ids=[case_id(n, ref.config) for n, ref in cases], indirect=True)


@dataclass
class Built:
    """An implementation built from the canonical parameters, with the epoch-0 windows ready."""

    name: str
    impl: object
    config: RunConfig
    reference: Reference
    xs: np.ndarray  # (n_windows, B, T)
    ys: np.ndarray

    def extra_info(self, **more) -> dict:
        entry = registry.entry(self.name)
        versions = self.impl.versions()
        info = {
            "impl": self.name,
            "framework": entry.framework,
            "version": versions.get(entry.framework, ""),
            "device": self.config.device,
            "threads": self.config.threads,
            "label": self.reference.label,
            **{k: v for k, v in self.config.as_dict().items() if k not in ("device", "threads")},
            "final_loss": None,
        }
        info.update(more)
        return info


@pytest.fixture(scope="session", autouse=True)
def blas_threads(request):
    with threadpool_limits(limits=request.config.getoption("--threads")):
        yield


@pytest.fixture
def case(request) -> tuple[str, Reference]:
    name, ref = request.param
    ok, reason = registry.entry(name).available()
    if not ok:
        pytest.skip(f"{name}: {reason}")
    return name, ref


@pytest.fixture
def built(case) -> Built:
    name, ref = case
    impl = registry.create(name)
    impl.build(ref.config, init_params(ref.config))
    xs, ys = epoch_batches(ref.config, 0)
    return Built(name, impl, ref.config, ref, xs, ys)


def pytest_benchmark_update_machine_info(config, machine_info):
    """Provenance: library versions, BLAS in use, thread count and the schema of our extra_info."""
    import importlib.metadata as md

    versions = {}
    for dist in ("numpy", "tensorflow", "tf-keras", "keras", "torch", "pytest-benchmark"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = None
    machine_info["rnnbench"] = {
        "schema_version": SCHEMA_VERSION,
        "versions": versions,
        "python": platform.python_version(),
        "threads": config.getoption("--threads"),
        "blas": [
            {k: pool.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for pool in threadpool_info()
        ],
    }
    machine_info["schema_version"] = SCHEMA_VERSION
