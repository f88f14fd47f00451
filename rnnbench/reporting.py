"""The bridge from the CLI to ``reports/``: which result files, and a clear error when pandas or matplotlib
are missing. The core itself never needs them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from rnnbench.errors import UserError

RESULTS_DIR = Path("results")


def report_available() -> tuple[bool, str]:
    missing = [m for m in ("pandas", "matplotlib") if importlib.util.find_spec(m) is None]
    if missing:
        return False, f"{', '.join(missing)} not installed (install: pip install 'rnnbench[report]')"
    return True, ""


TREND_RUNS = 20  # the report's trend shows at most this many stored runs


def history_files() -> list[Path]:
    """Stored runs in results/history/ that the report can read, oldest first (unreadable ones are skipped)."""
    from reports.load import read_document
    from rnnbench.bench import HISTORY_DIR

    readable = []
    for path in sorted(HISTORY_DIR.glob("bench-*.json"))[-TREND_RUNS:]:
        try:
            read_document(path)
            readable.append(path)
        except UserError as exc:
            print(f"report: skipping a stored run: {exc}", file=sys.stderr)
    return readable


def default_results() -> list[Path]:
    """Every stored run (the newest gives the tables, all of them the trend), else the newest bench result."""
    runs = history_files() or sorted(RESULTS_DIR.glob("bench-*.json"), key=lambda p: p.stat().st_mtime)[-1:]
    if not runs:
        raise UserError(f"no results given and none in {RESULTS_DIR}/; run `rnnbench bench` first")
    return runs


def make_report(results: list[str] | None, out: str | Path) -> Path:
    ok, reason = report_available()
    if not ok:
        raise UserError(reason)
    from reports.build import build_report
    from reports.writer import write_report

    return write_report(build_report(results or default_results()), out)
