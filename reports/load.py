"""Result JSON files (``rnnbench bench`` output: pytest-benchmark format) -> one tidy DataFrame.

One row per benchmark record, with a declared column list. Files from different runs and machines stack;
``run`` names the file each row came from. A missing file, an empty or corrupt one, a file that is not a
pytest-benchmark document, another schema version, or a record without a required field is an error that
names the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from rnnbench.errors import UserError
from rnnbench.results.paired import is_ab_file, read_ab
from rnnbench.results.records import Record
from rnnbench.results.schema import host, info, read_results, run_info
from rnnbench.spec.measures import PER_STEP_MEASURES, REFERENCE_MEASURES, Measure

# column -> where it comes from: ("run", key) | ("record", key) | ("info", a Record field) | ("stats", key)
from rnnbench.spec.parity import PARITY_TOLERANCE

# column -> where it comes from: ("run", key) | ("record", key) | ("info", a Record field) | ("stats", key)
COLUMNS: dict[str, tuple[str, str]] = {
    "run": ("run", "name"),
    "datetime": ("run", "datetime"),
    "commit": ("run", "commit"),
    "machine": ("run", "node"),
    "cpu": ("run", "cpu"),
    "run_threads": ("run", "threads"),
    "profile": ("run", "profile"),
    "name": ("record", "name"),
    "group": ("record", "group"),
    "impl": ("info", "impl"),
    "framework": ("info", "framework"),
    "version": ("info", "version"),
    "device": ("info", "device"),
    "threads": ("info", "threads"),
    "label": ("info", "label"),
    "task": ("info", "task"),
    "cell": ("info", "cell"),
    "bidirectional": ("info", "bidirectional"),
    "optimizer": ("info", "optimizer"),
    "measure": ("info", "measure"),
    "num_steps": ("info", "num_steps"),
    "shift": ("info", "shift"),
    "state_size": ("info", "state_size"),
    "batch_size": ("info", "batch_size"),
    "steps": ("info", "steps"),
    "sweep": ("info", "sweep"),
    "sweep_value": ("info", "sweep_value"),
    "inputs": ("info", "inputs"),
    "final_loss": ("info", "final_loss"),
    "path": ("info", "path"),
    "eval_loss": ("info", "eval_loss"),
    "test_accuracy": ("info", "test_accuracy"),
    "free_run_mse": ("info", "free_run_mse"),
    "learned": ("info", "learned"),
    "expected_level": ("info", "expected_level"),
    "nearest_level": ("info", "nearest_level"),
    "target": ("info", "target"),
    "reached": ("info", "reached"),
    "steps_to_target": ("info", "steps_to_target"),
    "seconds_to_target": ("info", "seconds_to_target"),
    "peak_rss_mb": ("info", "peak_rss_mb"),
    "cuda_max_allocated_mb": ("info", "cuda_max_allocated_mb"),
    "flops": ("info", "flops"),
    "gflops": ("info", "gflops"),
    "launches": ("info", "launches"),
    "ops": ("info", "ops"),
    "dispatch_how": ("info", "dispatch_how"),
    "median_s": ("stats", "median"),
    "q1_s": ("stats", "q1"),
    "q3_s": ("stats", "q3"),
    "min_s": ("stats", "min"),
    "mean_s": ("stats", "mean"),
    "rounds": ("stats", "rounds"),
}
REQUIRED_STATS = ("median", "q1", "q3", "min", "mean", "rounds")


def split_ab(paths) -> tuple[list[Path], list[tuple[Path, dict]]]:
    """(bench result files, paired comparisons read): an ``rnnbench ab`` JSON is told by its top-level key."""
    runs, abs_, _ = split_kinds(paths)
    return runs, abs_


def split_kinds(paths) -> tuple[list[Path], list[tuple[Path, dict]], list[tuple[Path, dict]]]:
    """(bench result files, paired comparisons read, studies read), each kind told by its first key."""
    from rnnbench.results.studies import is_study_file, read_study

    runs, abs_, studies = [], [], []
    for p in map(Path, paths):
        if is_ab_file(p):
            abs_.append((p, read_ab(p)))
        elif is_study_file(p):
            studies.append((p, read_study(p)))
        else:
            runs.append(p)
    return runs, abs_, studies


def read_runs(paths) -> list[tuple[Path, dict]]:
    """Each file read and checked by the suite's one reader (``rnnbench.results.schema.read_results``), its repeated
    records left out (``unique_records``)."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise UserError("report: no results files given")
    return [(p, unique_records(read_results(p))) for p in paths]


def unique_records(doc: dict) -> dict:
    """The run with each benchmark once: a record with the name and the facts (``extra_info``: the point, the
    machine) of an earlier one is a copy. It is left out, counted in the run's outcome (``repeated_records``),
    and the report says so: 20,000 copies cost a minute of drawing and nearly a gigabyte, and show nothing a single
    record does not."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for record in doc["benchmarks"]:
        key = (record["name"], json.dumps(record["extra_info"], sort_keys=True, default=str))
        if key not in seen:
            seen.add(key)
            kept.append(record)
    if len(kept) == len(doc["benchmarks"]):
        return doc
    return {**doc, "benchmarks": kept,
            "rnnbench": {**doc.get("rnnbench", {}), "repeated_records": len(doc["benchmarks"]) - len(kept)}}


def _run_facts(path: Path, doc: dict) -> dict:
    ours, machine = run_info(doc), host(doc)
    return {"name": path.stem, "datetime": machine.datetime, "commit": machine.commit, "node": machine.node,
            "cpu": machine.cpu, "threads": ours.threads, "profile": ours.profile}


def rows_of(path: Path, doc: dict) -> list[dict]:
    run = _run_facts(path, doc)
    rows = []
    for record in doc["benchmarks"]:  # each checked by read_results: its extra_info is a Record
        extra, stats = info(record), record["stats"]
        missing = [f"stats.{k}" for k in REQUIRED_STATS if k not in stats]
        if extra.measure in REFERENCE_MEASURES and extra.label is None:
            missing.append("extra_info.label")
        if missing:
            raise UserError(f"{path}: benchmark {record['name']!r} lacks {', '.join(missing)}")
        sources = {"run": run, "record": record, "stats": stats}
        rows.append({col: getattr(extra, key) if src == "info" else sources[src].get(key)
                     for col, (src, key) in COLUMNS.items()})
    return rows


def load_results(runs: list[tuple[Path, dict]]) -> pd.DataFrame:
    """Every record of every run (``read_runs``), one row each, exactly the columns of ``COLUMNS``."""
    rows = [row for p, doc in runs for row in rows_of(p, doc)]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["datetime"] = pd.to_datetime(frame["datetime"], utc=True, errors="coerce")
    per_step = frame["measure"].isin(PER_STEP_MEASURES)
    frame["us_per_step"] = (1e6 * frame["median_s"] / frame["steps"]).where(per_step)
    frame["q1_us_per_step"] = (1e6 * frame["q1_s"] / frame["steps"]).where(per_step)
    frame["q3_us_per_step"] = (1e6 * frame["q3_s"] / frame["steps"]).where(per_step)
    return frame


def _train_records(runs: list[tuple[Path, dict]]) -> Iterator[tuple[str, Record]]:
    for p, doc in runs:
        for record in doc["benchmarks"]:
            if info(record).measure == Measure.TRAIN:
                yield p.stem, info(record)


CURVE_COLUMNS = ["run", "impl", "label", "task", "step", "loss"]


def load_curves(runs: list[tuple[Path, dict]]) -> pd.DataFrame:
    """Loss curves of the train records (running means of 100 step losses): columns run, impl, label, task, step,
    loss."""
    rows = []
    for run, t in _train_records(runs):
        curve = t.loss_curve or {"step": [], "loss": []}
        rows += [{"run": run, "impl": t.impl, "label": t.label, "task": t.task, "step": s, "loss": v}
                 for s, v in zip(curve["step"], curve["loss"])]
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


TRACE_COLUMNS = [*CURVE_COLUMNS, "tolerance"]


def load_traces(runs: list[tuple[Path, dict]]) -> pd.DataFrame:
    """The first step losses of each train record, one row per step (1-based), with the parity tolerance its run
    recorded (DESIGN.md's 1e-4 where a record predates it): the parity figure's data."""
    rows = []
    for run, t in _train_records(runs):
        tolerance = t.parity_tolerance or PARITY_TOLERANCE
        rows += [{"run": run, "impl": t.impl, "label": t.label, "task": t.task, "step": s, "loss": v,
                  "tolerance": tolerance} for s, v in enumerate(t.first_losses or [], 1)]
    return pd.DataFrame(rows, columns=TRACE_COLUMNS)


def load_free_runs(runs: list[tuple[Path, dict]]) -> pd.DataFrame:
    """Free-running generation of one held-out sequence per train record that has one: run, impl, label, step,
    truth, generated."""
    rows = []
    for run, t in _train_records(runs):
        example = t.free_run or {"truth": [], "generated": []}
        rows += [{"run": run, "impl": t.impl, "label": t.label, "step": s, "truth": v, "generated": g}
                 for s, (v, g) in enumerate(zip(example["truth"], example["generated"]), 1)]
    return pd.DataFrame(rows, columns=["run", "impl", "label", "step", "truth", "generated"])


def environment(runs: list[tuple[Path, dict]]) -> pd.DataFrame:
    """One row per run: when, which commit, machine, CPU, BLAS, threads, device, the lock its environment came from
    and library versions."""
    rows = []
    for p, doc in runs:
        ours = run_info(doc)
        blas = ", ".join(f"{b['internal_api']} {b['version']}" for b in ours.blas)
        facts = _run_facts(p, doc)
        rows.append({
            "run": facts["name"], "datetime": facts["datetime"], "commit": facts["commit"], "machine": facts["node"],
            "cpu": facts["cpu"], "blas": blas or None, "threads": facts["threads"],
            "cpus": ",".join(map(str, ours.cpus)) if ours.cpus else None,  # those the run could use
            "device": ours.device, "profile": facts["profile"], "python": ours.python,
            "lock": _lock_text(ours.lock),
            **ours.versions,  # every package version the run recorded
        })
    return pd.DataFrame(rows)


def _lock_text(lock: dict | None) -> str:
    """The lock a run's environment came from: its hash's first 12 digits, and any package installed at another
    version than it says."""
    if not lock:
        return "no lock"
    differs = ", ".join(f"{d} {v['installed']} (locked {v['locked']})" for d, v in lock["differs"].items())
    return f"{lock['file']} {lock['sha256'][:12]}" + (f"; NOT the locked versions: {differs}" if differs else "")
