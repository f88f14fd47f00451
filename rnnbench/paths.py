"""Every default path of the suite, in one place. Relative paths are taken from the working directory."""

from __future__ import annotations

from pathlib import Path

from rnnbench.errors import UserError

RESULTS_DIR = Path("results")  # `rnnbench bench` writes bench-<time>.json (and its pytest log) here
HISTORY_DIR = RESULTS_DIR / "history"  # every run is also kept here; the report's trend reads it
REPORT_DIR = Path("reports/out")  # `rnnbench report` and `rnnbench bench` write the report here
BASELINE = Path("benchmarks/baselines/ci.json")  # the committed regression baseline (in a checkout)


def benchmarks_dir() -> Path:
    """The pytest-benchmark suites, shipped inside the package as ``rnnbench.benchmarks`` (the source tree's
    ``benchmarks/``); found through the import system, so a checkout, an editable and a wheel install agree."""
    import importlib.util

    spec = importlib.util.find_spec("rnnbench.benchmarks")
    for location in (spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / "conftest.py").exists():
            return Path(location)
    raise UserError("bench: the benchmark suites (rnnbench.benchmarks) are not installed; reinstall rnnbench")
