"""``rnnbench report``: the HTML and Markdown report (tables, figures) from result JSON files; the one place the
core reaches ``rnnbench.reports``, which reads only JSON."""

from __future__ import annotations

from pathlib import Path

from rnnbench.console import emit
from rnnbench.errors import UserError
from rnnbench.files import check_output
from rnnbench.paths import HISTORY_DIR, REPORT_DIR, RESULTS_DIR

HELP = "HTML and Markdown report (tables, plots) from result JSON files"


def add_arguments(p) -> None:
    p.add_argument("results", nargs="*",
                   help=f"bench JSON files (default: the runs kept in {HISTORY_DIR}/, "
                        f"else the newest in {RESULTS_DIR}/)")
    p.add_argument("--out", default=str(REPORT_DIR), help="output folder (default: %(default)s)")


def run(args) -> int:
    check_output(args.out, "--out", folder=True, keep=args.results or [HISTORY_DIR, RESULTS_DIR])
    emit(f"report: {make_report(args.results, args.out)}")
    return 0


def report_available() -> tuple[bool, str]:
    """Reports need pandas and matplotlib (the ``report`` extra); the rest of the suite does not."""
    import importlib.util

    missing = [m for m in ("pandas", "matplotlib") if importlib.util.find_spec(m) is None]
    if missing:
        return False, f"{', '.join(missing)} not installed (install: pip install 'rnnbench[report]')"
    return True, ""


def default_results() -> list:
    """Every stored run (the newest gives the tables, all of them the trend), else the newest bench result."""
    from rnnbench.results.schema import stored_runs

    runs = stored_runs(HISTORY_DIR) or sorted(RESULTS_DIR.glob("bench-*.json"), key=lambda p: p.stat().st_mtime)[-1:]
    if not runs:
        raise UserError(f"no results given and none in {RESULTS_DIR}/; run `rnnbench bench` first")
    return runs


def make_report(results, out) -> Path:
    """The report of ``results`` (result files; default: ``default_results``) written to ``out``."""
    ok, reason = report_available()
    if not ok:
        raise UserError(reason)
    from rnnbench.reports.build import build_report
    from rnnbench.reports.writer import write_report

    return write_report(build_report(results or default_results()), out)
