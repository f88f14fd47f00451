"""The duet's pytest plugin (``rnnbench.harness.duet``): each benchmark's call starts once the other side has
reached it, and ends with a second meeting."""

from __future__ import annotations

import os

import pytest

from rnnbench.harness.duet import ENV, SHARED_ENV, meet, parse


class Barrier:
    """A pytest plugin: each test's call starts once the other side has reached the same test."""

    def __init__(self, value: str, group: str):
        self.folder, self.side = parse(value)
        self.group = group  # the family this process times: the two sides run their families in the same order
        self.shared = os.environ.get(SHARED_ENV) == "1"  # both sides on one CPU: wait lightly
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
        meet(self.folder, self.side, self.group, _test(item), shared=self.shared)
        try:
            return (yield)
        finally:  # neither side builds the next case while the other still times this one
            meet(self.folder, self.side, self.group, _test(item), moment="end", shared=self.shared)


def _test(item) -> str:
    return item.nodeid.split("::")[-1]


def barrier_from_env(group: str) -> Barrier | None:
    value = os.environ.get(ENV)
    return Barrier(value, group) if value else None
