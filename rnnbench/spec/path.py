"""The computational path a run took (DESIGN.md, "The path a run took"): the switches that change which kernels run
or at what precision, read back from the running process, not from what was asked for.

Every family reports its own (``Family.path``, a "module:function" beside its implementations: oneDNN, the matmul
precision, TF32, XLA flags, x64, its thread pools, and whether the framework's own arithmetic flushes denormals,
measured by computing one), and every record adds the process's BLAS, its kernel and its threads (threadpoolctl)
and whether NumPy's arithmetic flushes denormals. A path is a flat dict of plain values, so two records' paths
compare key by key (``differences``), and comparisons name a difference of path before any change of time.
"""

from __future__ import annotations

import importlib
import os

import numpy as np
from threadpoolctl import threadpool_info

from rnnbench.spec.families import FAMILIES

# ``rnnbench bench --no-onednn``: switches oneDNN off in every benchmark process it starts. PyTorch reads this
# variable at its runtime's import (``torch.backends.mkldnn``), TensorFlow its own (read at its import); the path
# each record carries then says what actually ran.
ONEDNN_ENV = "RNNBENCH_ONEDNN"


def onednn_off_environment() -> dict[str, str]:
    """The environment variables that switch oneDNN off in PyTorch (through ``ONEDNN_ENV``) and TensorFlow."""
    return {ONEDNN_ENV: "0", "TF_ENABLE_ONEDNN_OPTS": "0"}


def onednn_switched_off() -> bool:
    """Whether this process was asked to run without oneDNN (``ONEDNN_ENV`` is 0)."""
    return os.environ.get(ONEDNN_ENV, "1").strip() == "0"


TINY = 1e-38  # a normal float32; a hundredth of it is a denormal, or zero where arithmetic flushes denormals


def flushes(divided: float) -> bool:
    """Whether ``TINY / 100`` computed by some framework came back as zero: its arithmetic flushes denormals."""
    return float(divided) == 0.0


def process_path() -> dict:
    """What every family shares in one process: the BLAS libraries loaded (API, version, the kernel they chose),
    every thread pool's size, and whether NumPy's own arithmetic flushes denormals."""
    pools = threadpool_info()
    blas = [p for p in pools if p.get("user_api") == "blas"]
    kernels = sorted(f"{p['internal_api']} {p['version']} ({p.get('architecture') or 'kernel not reported'})"
                     for p in blas)
    return {  # sorted: the order libraries happened to load in is no difference of path
        "blas": "; ".join(kernels) or "none loaded",
        "thread_pools": "; ".join(sorted(f"{p['internal_api']}={p['num_threads']}" for p in pools)),
        "numpy_flushes_denormals": flushes(np.float32(TINY) / np.float32(100)),
    }


_CACHE: dict[str, dict] = {}


def path(framework: str) -> dict:
    """The path of ``framework`` in this process (its runtime started), with the process's; a name that is no
    family's (a calibration probe's) gets the process's alone. Computed once per process and framework: the
    switches are process-wide, set when a runtime starts."""
    if framework not in _CACHE:
        own = {}
        where = next((f.path for f in FAMILIES if f.name == framework), "")
        if where:
            module, function = where.split(":")
            own = getattr(importlib.import_module(module), function)()
        _CACHE[framework] = {**own, **process_path()}
    return dict(_CACHE[framework])


def differences(a: dict | None, b: dict | None) -> list[str]:
    """Each switch that differs between two paths, as "key: a / b" (a key only one path has reads "absent")."""
    a, b = a or {}, b or {}
    return [f"{k}: {a.get(k, 'absent')} / {b.get(k, 'absent')}" for k in sorted(a.keys() | b.keys())
            if a.get(k, "absent") != b.get(k, "absent")]
