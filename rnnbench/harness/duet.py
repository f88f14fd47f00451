"""Synchronised duet: the two sides of ``rnnbench ab --design duet`` start each benchmark together.

Side by side on two CPUs of one machine, each side is slowed by what the other does: the caches and the memory
bus are shared, and on a virtual machine two virtual CPUs may be two threads of one core. Unsynchronised, the sides
drift apart (one builds while the other times), and one run of unchanged code read 0.69-1.53x against itself. So,
as in Bulej et al. (ICPE 2020), the sides meet before every timed benchmark: each marks its arrival in a shared
folder and waits for the other's mark of the same benchmark, so both time the same code in the same seconds and
share whatever disturbs them. A benchmark only one side has (each side's process writes the tests it collected)
and a side whose process ended do not stall the other; ``WAIT_SECONDS`` bounds every wait.

``rnnbench ab`` sets ``RNNBENCH_DUET=<folder>:<side>`` in each side's environment; the benchmarks' conftest
registers ``Barrier`` when it is set. Builds and imports happen in setup, before the meeting point.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

ENV = "RNNBENCH_DUET"
WAIT_SECONDS = 120.0  # a build on the other side (XLA, Inductor) can take this long
POLL_SECONDS = 0.001


def parse(value: str) -> tuple[Path, str]:
    folder, _, side = value.rpartition(":")
    return Path(folder), side


def _other(folder: Path, side: str, name: str) -> list[Path]:
    return [p for p in folder.glob(f"{name}.*") if p.suffix != f".{side}"]


def meet(folder: Path, side: str, group: str, test: str, wait: float = WAIT_SECONDS) -> bool:
    """Mark ``side``'s arrival at ``test`` of process ``group`` (a family), then wait for the other side's mark of
    it: not at all when the other side's process has no such test, nor once that process has ended. True when the
    other side came."""
    key = hashlib.sha1(f"{group}/{test}".encode()).hexdigest()[:16]
    (folder / f"{key}.{side}").touch()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if _other(folder, side, key):
            return True
        collected = _other(folder, side, f"collected-{group}")
        if collected and test not in collected[0].read_text().splitlines():
            return False  # only this side times it (a new implementation, say)
        if _other(folder, side, f"done-{group}"):
            return False
        time.sleep(POLL_SECONDS)
    return False


class Barrier:
    """A pytest plugin: each test's call starts once the other side has reached the same test."""

    def __init__(self, value: str, group: str):
        self.folder, self.side = parse(value)
        self.group = group  # the family this process times: the two sides run their families in the same order
        self.folder.mkdir(parents=True, exist_ok=True)

    def _mark(self, name: str, text: str = "") -> None:
        tmp = self.folder / f".{name}.{self.side}.tmp"
        tmp.write_text(text)
        tmp.replace(self.folder / f"{name}.{self.side}")  # whole, or not there

    def pytest_collection_finish(self, session) -> None:
        self._mark(f"collected-{self.group}", "".join(f"{_test(i)}\n" for i in session.items))

    def pytest_sessionfinish(self, session) -> None:
        self._mark(f"done-{self.group}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        meet(self.folder, self.side, self.group, _test(item))
        return (yield)


def _test(item) -> str:
    return item.nodeid.split("::")[-1]


def barrier_from_env(group: str) -> Barrier | None:
    value = os.environ.get(ENV)
    return Barrier(value, group) if value else None
