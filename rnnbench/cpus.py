"""Confining a benchmark process to as many CPUs as it has threads."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def allowed_cpus() -> list[int] | None:
    """The CPUs this process may run on (None where the platform cannot say)."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


def pin_to_cpus(threads: int) -> None:
    """Confine this process, every thread it has and will have, to the first ``threads`` CPUs it may use.

    ``--threads N`` sets each framework's pools, but a framework also runs helper threads (TensorFlow hands each
    Session.run to an inter-op pool thread): unconfined, those use the other cores, so "one thread" would mean
    more than one core for some frameworks and not others, and where the work lands changes from process to
    process. Measured here at --threads 1: four processes timed tf-function's T10-S16 train step at 671-1127 us
    unconfined, 636-658 us confined. Threads that exist already (BLAS's) are moved too; new ones inherit it.
    """
    allowed = allowed_cpus()
    if allowed is None or threads >= len(allowed):
        return
    cpus = set(allowed[:threads])
    for task in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(task), cpus)
        except OSError:  # a thread that ended meanwhile
            pass


def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo, else what the platform says): AMD EPYC and Intel Xeon machines
    time the same code differently."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
