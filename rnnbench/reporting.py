"""The bridge from the CLI to ``reports/``: which result files, and a clear error when pandas or matplotlib
are missing. The core itself never needs them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from rnnbench.errors import UserError

RESULTS_DIR = Path("results")


def report_available() -> tuple[bool, str]:
    missing = [m for m in ("pandas", "matplotlib") if importlib.util.find_spec(m) is None]
    if missing:
        return False, f"{', '.join(missing)} not installed (install: pip install 'rnnbench[report]')"
    return True, ""


def default_results() -> list[Path]:
    """The newest bench result in results/."""
    runs = sorted(RESULTS_DIR.glob("bench-*.json"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise UserError(f"no results given and no bench-*.json in {RESULTS_DIR}/; run `rnnbench bench` first")
    return runs[-1:]


def make_report(results: list[str] | None, out: str | Path) -> Path:
    ok, reason = report_available()
    if not ok:
        raise UserError(reason)
    from reports.build import build_report
    from reports.writer import write_report

    return write_report(build_report(results or default_results()), out)
