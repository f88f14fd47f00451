"""A record of the benchmark run as it goes: one JSON line per event, appended to the file given with
``--rnnbench-events``. ``rnnbench bench`` follows it for its progress lines (and the names of failed benchmarks)
instead of reading pytest's console output, whose wording is not an interface.

    {"event": "collected", "total": 42}
    {"event": "result", "test": "test_epoch[numpy-T5-S4-B200]", "outcome": "passed", "reason": ""}
"""

from __future__ import annotations

import json
from pathlib import Path

OPTION = "--rnnbench-events"


ERROR_CHARS = 300  # a failure's error line is cut to this length


def error_line(longrepr) -> str:
    """One line saying why a test failed: the exception that ended it (``ValueError: ...``)."""
    crash = getattr(longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(longrepr).strip().splitlines()[-1:] or [""]
    text = text if isinstance(text, str) else text[0]
    line = " ".join(text.split())
    return line[:ERROR_CHARS]


class EventWriter:
    """A pytest plugin: registered by the benchmarks' conftest when ``--rnnbench-events`` is given."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def _write(self, **event) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(event) + "\n")

    def pytest_collection_finish(self, session) -> None:
        self._write(event="collected", total=len(session.items))

    def pytest_runtest_logreport(self, report) -> None:
        # one result per test: its call, or the setup that skipped or failed it, or a failed teardown
        if report.when == "call" or (report.when != "call" and not report.passed):
            reason = ""
            if report.skipped and isinstance(report.longrepr, tuple):
                reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            if report.failed:
                reason = error_line(report.longrepr)
            outcome = "error" if report.failed and report.when != "call" else report.outcome
            self._write(event="result", test=report.nodeid.split("::")[-1], outcome=outcome, reason=reason)


class EventReader:
    """Reads the events appended since the last call (a run in progress may have written half a line)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.offset = 0

    def new_events(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        return [json.loads(line) for line in complete.splitlines() if line.strip()]
