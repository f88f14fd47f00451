"""Shared setup of the timing suites: which implementations and configurations, built outside the timings.

Options: ``--impl NAME`` and ``--framework NAME`` (repeatable) choose implementations, ``--threads N`` is the one
thread count every framework gets (and, below the CPU count, the number of CPUs the process is confined to;
``--no-pin`` lifts that), ``--device cpu|cuda``, ``--profile quick|full`` (full adds the scaling
sweeps). One benchmark process holds one framework family; ``rnnbench bench`` runs one per family and merges.
Unavailable implementations are still collected, and skip with their reason.
"""

from __future__ import annotations

import itertools
import os
import platform
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from rnnbench import registry
from rnnbench.config import SWEEPS, Reference, RunConfig, reference_configs
from rnnbench.errors import UnsupportedError
from rnnbench.params import init_params
from rnnbench.task import epoch_batches

SCHEMA_VERSION = 1
FAMILY_MODULES = {"tensorflow": "tensorflow", "torch": "torch"}

# Compilation is measured cold: Inductor's on-disk caches go to a fresh directory for this process, removed at
# its end (unless the user chose the directory).
_INDUCTOR_CACHE = None
if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
    _INDUCTOR_CACHE = os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="rnnbench-inductor-")


def pytest_unconfigure(config):
    if _INDUCTOR_CACHE:
        shutil.rmtree(_INDUCTOR_CACHE, ignore_errors=True)


def pytest_addoption(parser):
    group = parser.getgroup("rnnbench")
    group.addoption("--impl", action="append", default=[], help="only this implementation (repeatable)")
    group.addoption("--framework", action="append", default=[], help="only this framework family (repeatable)")
    group.addoption("--threads", type=int, default=os.cpu_count() or 1, help="threads for every framework")
    group.addoption("--device", choices=("cpu", "cuda"), default="cpu")
    group.addoption("--profile", choices=("quick", "full", "ci"), default="quick",
                    help="quick (and ci): the reference configurations; full: also the scaling sweeps")
    group.addoption("--no-pin", action="store_true",
                    help="with --threads below the CPU count, do not confine the process to that many CPUs")


def pytest_configure(config):
    if not config.getoption("--no-pin", default=True):
        pin_to_cpus(config.getoption("--threads"))


def pin_to_cpus(threads: int) -> None:
    """Confine this process, every thread it has and will have, to the first ``threads`` CPUs it may use.

    ``--threads N`` sets each framework's pools, but a framework also runs helper threads (TensorFlow hands each
    Session.run to an inter-op pool thread): unconfined, those use the other cores, so "one thread" would mean
    more than one core for some frameworks and not others, and where the work lands changes from process to
    process. Measured here at --threads 1: four processes timed tf-function's T10-S16 train step at 671-1127 us
    unconfined, 636-658 us confined. Threads that exist already (BLAS's) are moved too; new ones inherit it.
    """
    if not hasattr(os, "sched_setaffinity"):
        return
    allowed = sorted(os.sched_getaffinity(0))
    if threads >= len(allowed):
        return
    cpus = set(allowed[:threads])
    for task in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(task), cpus)
        except OSError:  # a thread that ended meanwhile
            pass


def selected_names(config) -> list[str]:
    names = config.getoption("--impl") or registry.names()
    for name in names:
        registry.entry(name)  # unknown names fail loudly
    frameworks = config.getoption("--framework")
    return [n for n in names if not frameworks or registry.entry(n).framework in frameworks]


def case_id(name: str, cfg: RunConfig) -> str:
    return f"{name}-T{cfg.num_steps}-S{cfg.state_size}-B{cfg.batch_size}"


def sweep_references(threads: int, device: str) -> list[tuple[str, Reference]]:
    base = reference_configs(threads, device)[0]
    points = []
    for field, values in SWEEPS.items():
        for value in values:
            cfg = base.config.replace(**{field: value})
            points.append((field, Reference(f"{field}={value}", cfg, base.expected_level, base.target,
                                            base.loss_band)))
    return points


def pytest_generate_tests(metafunc):
    opts = metafunc.config
    threads, device = opts.getoption("--threads"), opts.getoption("--device")
    names = selected_names(opts)
    if "case" in metafunc.fixturenames:
        cases = [(n, ref) for ref in reference_configs(threads, device) for n in names]
        metafunc.parametrize("case", cases, ids=[case_id(n, ref.config) for n, ref in cases], indirect=True)
    if "sweep_case" in metafunc.fixturenames:
        points = sweep_references(threads, device) if opts.getoption("--profile") == "full" else []
        cases = [(n, ref, field) for field, ref in points for n in names]
        ids = [f"{field}-{case_id(n, ref.config)}" for n, ref, field in cases]
        metafunc.parametrize("sweep_case", cases, ids=ids, indirect=True)


@dataclass
class Built:
    """An implementation built from the canonical parameters, with the epoch-0 windows ready."""

    name: str
    impl: object
    config: RunConfig
    reference: Reference
    xs: np.ndarray  # (n_windows, B, T)
    ys: np.ndarray


def extra_info(name: str, reference: Reference, versions: dict, **more) -> dict:
    """The provenance every record carries (DESIGN.md): impl, framework, version, device, threads, config."""
    entry = registry.entry(name)
    cfg = reference.config
    info = {
        "impl": name,
        "framework": entry.framework,
        "version": versions.get(entry.framework, ""),
        "device": cfg.device,
        "threads": cfg.threads,
        "label": reference.label,
        **{k: v for k, v in cfg.as_dict().items() if k not in ("device", "threads")},
        "final_loss": None,
    }
    info.update(more)
    return info


@pytest.fixture(scope="session", autouse=True)
def blas_threads(request):
    with threadpool_limits(limits=request.config.getoption("--threads")):
        yield


def _runnable(name: str) -> None:
    ok, reason = registry.entry(name).available()
    if not ok:
        pytest.skip(f"{name}: {reason}")
    own = registry.entry(name).framework
    if own not in FAMILY_MODULES:  # numpy shares a process with anything
        return
    for framework, module in FAMILY_MODULES.items():
        if framework != own and module in sys.modules:
            pytest.skip(f"{name}: {module} is loaded in this process, and frameworks never share one; "
                        f"run with --framework {own}")


@pytest.fixture
def case(request) -> tuple[str, Reference]:
    name, ref = request.param
    _runnable(name)
    return name, ref


@pytest.fixture
def sweep_case(request) -> tuple[str, Reference, str]:
    _runnable(request.param[0])
    return request.param


def build(name: str, reference: Reference) -> Built:
    """Create and build, outside any timing; an implementation that cannot do this config is skipped."""
    impl = registry.create(name)
    try:
        impl.build(reference.config, init_params(reference.config))
    except UnsupportedError as exc:
        pytest.skip(f"{name}: {exc}")
    xs, ys = epoch_batches(reference.config, 0)
    return Built(name, impl, reference.config, reference, xs, ys)


@pytest.fixture
def built(case) -> Built:
    return build(*case)


def time_train_step(benchmark, built: Built, warmup_steps: int) -> float:
    """Benchmark one window per call, cycling through the epoch's windows with the state carried."""
    windows = itertools.cycle(range(len(built.xs)))

    def step() -> float:
        i = next(windows)
        return built.impl.train_step(built.xs[i], built.ys[i])

    for _ in range(warmup_steps):
        step()
    return benchmark(step)


class PeakMemory:
    """Peak growth of this process's RSS while the block runs (sampled every 2 ms), and on CUDA the GPU's
    maximum allocated memory."""

    def __init__(self, device: str):
        import psutil

        self.process = psutil.Process()
        self.device = device

    def __enter__(self):
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
        return self

    def _sample(self):
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)
        self.rss_growth_mb = (self.peak - self.start) / 2**20
        self.cuda_max_allocated_mb = None
        if self.device == "cuda":
            import torch

            self.cuda_max_allocated_mb = torch.cuda.max_memory_allocated() / 2**20


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
        "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "device": config.getoption("--device"),
        "profile": config.getoption("--profile"),
        "frameworks": config.getoption("--framework"),
        "blas": [
            {k: pool.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for pool in threadpool_info()
        ],
    }
    machine_info["schema_version"] = SCHEMA_VERSION
