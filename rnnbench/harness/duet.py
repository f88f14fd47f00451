"""Synchronised duet: the two sides of ``rnnbench ab --design duet`` start each benchmark together.

Side by side on two CPUs of one machine, each side is slowed by what the other does: the caches and the memory
bus are shared, and on a virtual machine two virtual CPUs may be two threads of one core. Unsynchronised, the sides
drift apart (one builds while the other times), and one repetition of unchanged code read 0.66-1.53x against
itself over 143 step benchmarks. So, as in Bulej et al. (ICPE 2020), the sides meet before every timed
benchmark, and again after it: each marks its arrival in a shared folder and waits for the other's mark, so both
time the same code in the same seconds and share whatever disturbs them, and neither builds the next case (a
compilation, a graph) while the other still times this one. A benchmark only one side has
(each side's process writes the tests it collected) and a side whose process ended do not stall the other; a side
that takes no part (it never collects) is waited for once, ``ABSENT_SECONDS``, and ``WAIT_SECONDS`` bounds every
wait. ``rnnbench ab`` names a repetition whose sides went on alone.

``rnnbench ab`` sets ``RNNBENCH_DUET=<folder>:<side>`` in each side's environment; the benchmarks' conftest
registers ``rnnbench.harness.barrier.Barrier`` when it is set (a module of its own: this one holds no pytest, so
every rnnbench command can read its names). Builds and imports happen in setup, before the meeting point.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

ENV = "RNNBENCH_DUET"
SHARED_ENV = "RNNBENCH_DUET_SHARED"  # "1": both sides on one CPU (``rnnbench ab --design shared``): wait lightly
WAIT_SECONDS = 120.0  # a build on the other side (XLA, Inductor) can take this long
ABSENT_SECONDS = 60.0  # the other side's process has not collected its tests by then: it takes no part
SOLO = "solo"  # marked by a side that went on alone
POLL_SECONDS = 0.001
SHARED_POLL_SECONDS = 0.002
OTHER_SIDE = {"A": "B", "B": "A"}


def parse(value: str) -> tuple[Path, str]:
    folder, _, side = value.rpartition(":")
    return Path(folder), side


class _Scan:
    """The other side's marks, found by globbing the meeting folder at every look (the duet's wait: it keeps the
    waiting CPU busy, on purpose; ``meet``)."""

    def __init__(self, folder: Path, side: str, group: str):
        self.folder, self.side, self.group = folder, side, group

    def _other(self, name: str) -> list[Path]:
        return [p for p in self.folder.glob(f"{name}.*") if p.suffix != f".{self.side}"]

    def came(self, key: str) -> bool:
        return bool(self._other(f"m-{key}"))

    def has(self, test: str) -> bool | None:
        """Whether the other side collected ``test``; None until it has collected at all."""
        collected = self._other(f"collected-{self.group}")
        return test in collected[0].read_text().splitlines() if collected else None

    def done(self) -> bool:
        return bool(self._other(f"done-{self.group}"))


class _Glance:
    """The other side's marks, read by exact path with the collected list read once: what a side on a shared CPU
    checks while it waits, since every glob of the meeting folder (hundreds of marks by the end of a run: about 6
    ms a poll here) is CPU taken from the side it waits for."""

    def __init__(self, folder: Path, side: str, group: str):
        self.folder, self.other, self.group = folder, OTHER_SIDE[side], group
        self.collected: set[str] | None = None

    def came(self, key: str) -> bool:
        return (self.folder / f"m-{key}.{self.other}").exists()

    def has(self, test: str) -> bool | None:
        """Whether the other side collected ``test``; None until it has collected at all."""
        if self.collected is None:
            path = self.folder / f"collected-{self.group}.{self.other}"
            if not path.exists():
                return None
            self.collected = set(path.read_text().splitlines())  # written whole, once (Barrier._mark)
        return test in self.collected

    def done(self) -> bool:
        return (self.folder / f"done-{self.group}.{self.other}").exists()


def meet(folder: Path, side: str, group: str, test: str, wait: float = WAIT_SECONDS,
         absent: float = ABSENT_SECONDS, moment: str = "start", shared: bool = False) -> bool:
    """Mark ``side``'s arrival at ``test`` of process ``group`` (a family), at its ``moment`` (start or end), then
    wait for the other side's mark of it: not at all when the other side's process has no such test, nor once
    that process has ended. A side that has not even collected ``group`` within ``absent`` seconds is taken as not
    taking part (an older version of this code, say): ``SOLO`` is marked, and this side goes on alone for the rest
    of the run. True when the other side came.

    The waiting side polls the folder every millisecond, on purpose: with lighter polling (exact paths, a 2 ms
    sleep) the timing side was slowed far more often (the median detectable effect of six pairs rose from about 2%
    to 39-45% here); an idle virtual CPU seems to let the host put other work beside the one still timing.
    ``shared`` (both sides on one CPU, which is then never idle): the other side's marks are looked up by exact
    path every 2 ms (``_Glance``), so the waiting side leaves the CPU to the one it waits for."""
    if (folder / f"{SOLO}.{side}").exists():
        return False
    key = hashlib.sha1(f"{group}/{test}/{moment}".encode()).hexdigest()[:16]
    (folder / f"m-{key}.{side}").touch()
    start = time.monotonic()
    light = shared and side in OTHER_SIDE
    other = _Glance(folder, side, group) if light else _Scan(folder, side, group)
    while time.monotonic() < start + wait:
        if other.came(key):
            return True
        collected = other.has(test)
        if collected is False or other.done():
            return False  # only this side times it (a new implementation, say), or the other's process ended
        if collected is None and time.monotonic() > start + absent:
            (folder / f"{SOLO}.{side}").touch()
            return False
        time.sleep(SHARED_POLL_SECONDS if light else POLL_SECONDS)
    return False
