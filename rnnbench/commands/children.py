"""Child processes that never outlive the command that started them.

Each child runs in a process group of its own, so that stopping it stops what it started too (a compiler's worker
pool); on Linux it is also told to stop (SIGTERM) when its parent dies, even of SIGKILL. Whichever process a
signal reaches, the command forwards it as SIGTERM to its children's groups and waits for them (``stop``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time

STOP_SECONDS = 5.0  # a child told to stop (SIGTERM) is killed after this long
PR_SET_PDEATHSIG = 1


def die_with_parent():
    """A ``preexec_fn`` that asks Linux to send the child SIGTERM when its parent dies; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # looked up before the fork: a preexec_fn must not load libraries
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def worker_dies_with(parent: int) -> None:
    """A process pool's initializer: this worker gets SIGTERM when ``parent`` (the command) dies, on Linux."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    """``sig`` to the child's process group (the child leads it)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):  # nothing left in the group
        pass


def stop(procs: list[subprocess.Popen]) -> None:
    """End every child still running, and whatever its processes left behind: SIGTERM to each group, then SIGKILL
    to a group that has not ended after ``STOP_SECONDS``."""
    live = [p for p in procs if p.poll() is None]
    for p in procs:
        signal_group(p, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for p in live:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            signal_group(p, signal.SIGKILL)
            p.wait()


def confined_child(cpus: set[int] | None):
    """A ``preexec_fn``: the child confined to ``cpus`` (when given and the platform can), and ended when this
    process dies."""
    dying = die_with_parent()
    confine = bool(cpus) and hasattr(os, "sched_setaffinity")

    def setup() -> None:
        if confine:
            os.sched_setaffinity(0, cpus)
        if dying is not None:
            dying()

    return setup
