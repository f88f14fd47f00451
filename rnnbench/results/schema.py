"""Result files: their schema, the names of what they measure, and the one reader every consumer uses.

``BENCH_SCHEMA_VERSION``: benchmark results (pytest-benchmark JSON, ``machine_info.rnnbench.schema_version``),
read by ``rnnbench compare``, ``ab``, ``merge`` and ``report``. What a record measures is named by
``rnnbench.spec.measures``; one training run's file (``rnnbench train --out``) has its own version
(``rnnbench.training.train.TRAIN_SCHEMA_VERSION``).

Version 2 of the benchmark schema added to ``machine_info.rnnbench`` what reports need and must not recompute:
the theory levels with their labels, the reference configurations (label, expected level, target, loss band)
and the baseline implementation. Version 3 makes them per task: ``tasks`` maps each task to its levels, labels
and loss; each reference names its task, cell, optimizer and goal; records carry ``task``, ``cell``,
``bidirectional`` and ``optimizer`` in ``extra_info``, train records the held-out metrics (``eval_loss``,
``test_accuracy``, ``free_run_mse``), and ids and labels carry the task and cell (``numpy-binary-rnn-T5-S4-B200``).
Every field of the three is declared in ``rnnbench.results.records``; this reads the current version only (a file
of an older one: re-run ``rnnbench bench``).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

from rnnbench.errors import NotJudgeable, UserError
from rnnbench.results.records import Record, RunInfo, RunOutcome, check_measure, parse
from rnnbench.spec.measures import Measure

BENCH_SCHEMA_VERSION = 3


TRACE_STEPS = 200  # train records keep their first this-many step losses (first_losses): parity, per step


def read_results(path: str | Path) -> dict:
    """A benchmark results file, checked: readable, JSON, a pytest-benchmark document of this schema version, its
    run's facts, its outcome and every record's ``extra_info`` as ``rnnbench.results.records`` declares them.

    Every error is a UserError that names the file (and the record).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); expected rnnbench bench JSON") from None
    if not text.strip():
        raise UserError(f"{path}: empty file; expected rnnbench bench JSON")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise UserError(f"{path}: not a pytest-benchmark results file (no 'benchmarks' list)")
    if "machine_info" in doc and not isinstance(doc["machine_info"], dict):
        raise UserError(f"{path}: machine_info must be an object, got {json.dumps(doc.get('machine_info'))}")
    ours = (doc.get("machine_info") or {}).get("rnnbench")
    if not ours:  # a plain pytest-benchmark file, with or without machine_info: baseline or candidate
        raise NotJudgeable(f"{path}: not an rnnbench result (no machine_info.rnnbench; a plain pytest-benchmark "
                           "file?); record it with rnnbench bench")
    schema = ours.get("schema_version") if isinstance(ours, dict) else None
    if schema != BENCH_SCHEMA_VERSION:
        raise UserError(f"{path}: schema_version {schema!r} is not one this reads ({BENCH_SCHEMA_VERSION}); "
                        "re-run rnnbench bench")
    parse(RunInfo, ours, f"{path}: machine_info.rnnbench")
    parse(RunOutcome, doc.get("rnnbench", {}), f"{path}: rnnbench")
    if not doc["benchmarks"]:
        raise NotJudgeable(f"{path}: no benchmarks (an empty 'benchmarks' list)")
    for i, record in enumerate(doc["benchmarks"]):
        check_record(path, i, record)
    return doc


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def check_record(path, i: int, record) -> None:
    """A benchmark record every reader can use: a name, stats with a positive median (and, where saved, positive
    rounds; a calibration probe's minimum too, since the gate divides by it)."""
    name = record.get("name") if isinstance(record, dict) else None
    where = f"{path}: benchmark {i} ({name})" if name else f"{path}: benchmark {i}"
    if not isinstance(name, str):
        raise UserError(f"{where}: no name")
    stats = record.get("stats")
    if not isinstance(stats, dict):
        raise UserError(f"{where}: no stats (expected an object with a median)")
    if not _positive(stats.get("median")):
        raise UserError(f"{where}: stats.median must be a positive number, got {json.dumps(stats.get('median'))}")
    data = stats.get("data")
    if data is not None and not (isinstance(data, list) and all(_positive(t) for t in data)):
        raise UserError(f"{where}: stats.data must be a list of positive times")
    extra = parse(Record, record.get("extra_info"), f"{where}: extra_info")
    check_measure(record["extra_info"], f"{where}: extra_info")
    if extra.measure == Measure.CALIBRATION \
            and not _positive(stats.get("min", stats["median"])):
        raise UserError(f"{where}: a calibration time must be positive, got {json.dumps(stats.get('min'))}")


def run_info(doc: dict) -> RunInfo:
    """The run's own facts: ``machine_info.rnnbench`` (threads, device, profile, tasks, references, ...)."""
    return parse(RunInfo, doc["machine_info"]["rnnbench"], "machine_info.rnnbench")


def outcome(doc: dict) -> RunOutcome:
    """How the run went: the document's ``rnnbench`` key (failures, gaps, shards, scaling slopes)."""
    return parse(RunOutcome, doc.get("rnnbench", {}), "the run's outcome (rnnbench)")


@dataclass(frozen=True)
class Host:
    """What pytest-benchmark itself records about a run: when, which commit, on which host and CPU (its own
    fields, which it may leave out)."""

    datetime: str | None
    commit: str | None  # the first 10 hex digits
    node: str | None
    cpu: str | None


def host(doc: dict) -> Host:
    machine = doc.get("machine_info", {})
    return Host(datetime=doc.get("datetime"), commit=(doc.get("commit_info") or {}).get("id", "")[:10] or None,
                node=machine.get("node"), cpu=(machine.get("cpu") or {}).get("brand_raw"))


def info(record: dict) -> Record:
    """A record's ``extra_info``, typed."""
    return parse(Record, record["extra_info"], f"benchmark {record['name']}: extra_info")


TREND_RUNS = 20  # the report's trend shows at most this many stored runs


def _history_order(path: Path) -> tuple[str, int]:
    """``bench-<time>.json`` before ``bench-<time>-2.json`` (a second run of the same second), before the next
    second's."""
    stem, _, n = path.stem.rpartition("-")
    return (stem, int(n)) if n.isdigit() and len(n) < 6 else (path.stem, 1)


def stored_runs(history_dir: Path, limit: int = TREND_RUNS) -> list[Path]:
    """The newest ``limit`` runs kept in ``history_dir`` that a report can read, oldest first.

    A stored run the report cannot read (corrupt, another schema) is left out, with a warning naming it (the
    command prints it, one line).
    """
    readable = []
    for path in sorted(Path(history_dir).glob("bench-*.json"), key=_history_order)[-limit:]:
        try:
            read_results(path)
            readable.append(path)
        except UserError as exc:
            warnings.warn(f"report: skipping a stored run: {exc}", stacklevel=2)
    return readable
