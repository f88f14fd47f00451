"""Result files: their schema, the names of what they measure, and the one reader every consumer uses.

Two schemas, named apart:

- ``BENCH_SCHEMA_VERSION``: benchmark results (pytest-benchmark JSON, ``machine_info.rnnbench.schema_version``),
  read by ``rnnbench compare`` and ``rnnbench report``;
- ``TRAIN_SCHEMA_VERSION``: one training run (``rnnbench train --out``).

Version 2 of the benchmark schema added to ``machine_info.rnnbench`` what reports need and must not recompute:
the theory levels with their labels, the reference configurations (label, expected level, target, loss band)
and the baseline implementation. Version 3 makes them per task: ``tasks`` maps each task to its levels, labels
and loss; each reference names its task, cell, optimizer and goal; records carry ``task``, ``cell``,
``bidirectional`` and ``optimizer`` in ``extra_info``, train records the held-out metrics (``eval_loss``,
``test_accuracy``, ``free_run_mse``), and ids and labels carry the task and cell (``numpy-binary-rnn-T5-S4-B200``).
The gate needs only timings, ``extra_info.impl`` and the loss bands, so it reads all three; a comparison across
versions is refused where the ids cannot match (``rnnbench.compare``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rnnbench.errors import UserError

BENCH_SCHEMA_VERSION = 3
TRAIN_SCHEMA_VERSION = 2  # 2: task, cell, bidirectional, optimizer, levels and the held-out metrics
GATE_READS = (1, 2, 3)  # the gate needs only timings and extra_info
REPORT_READS = (BENCH_SCHEMA_VERSION,)


class Measure:
    """``extra_info.measure`` of a benchmark record."""

    BUILD = "build"  # graph construction, tracing, compilation: one cold round
    TRAIN = "train"  # a fresh reference run: final loss, time-to-target, memory
    TRAIN_STEP = "train_step"  # one window: forward, backward, update
    FORWARD = "forward"  # inference on one window
    EPOCH = "epoch"  # one epoch through the training loop
    SCALING = "scaling"  # one train step at a point of a sweep (full profile)
    CALIBRATION = "calibration"  # fixed code that times the machine
    PEAK = "peak"  # the machine's float32 matmul rate at the run's threads: the roofline's ceiling
    GENERATE = "generate"  # the data generator


TRACE_STEPS = 200  # train records keep their first this-many step losses (first_losses): parity, per step

REFERENCE_MEASURES = (Measure.BUILD, Measure.TRAIN, Measure.TRAIN_STEP, Measure.FORWARD, Measure.EPOCH)
MACHINE_MEASURES = (Measure.CALIBRATION, Measure.PEAK)  # time the machine, not an implementation: never judged
PER_STEP_MEASURES = (Measure.EPOCH, Measure.TRAIN_STEP, Measure.FORWARD, Measure.SCALING)  # median / steps


def read_results(path: str | Path, versions: tuple[int, ...] = REPORT_READS) -> dict:
    """A benchmark results file, checked: readable, JSON, a pytest-benchmark document, a schema we read.

    Every error is a UserError that names the file.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not text.strip():
        raise UserError(f"{path}: empty file; expected rnnbench bench JSON")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise UserError(f"{path}: not a pytest-benchmark results file (no 'benchmarks' list)")
    schema = run_info(doc).get("schema_version")
    if schema not in versions:
        raise UserError(f"{path}: schema_version {schema!r} is not one this reads "
                        f"({', '.join(map(str, versions))}); re-run rnnbench bench")
    return doc


def run_info(doc: dict) -> dict:
    """The run's own facts: ``machine_info.rnnbench`` (threads, device, profile, tasks, references, ...)."""
    return (doc.get("machine_info") or {}).get("rnnbench") or {}


def info(record: dict) -> dict:
    """A record's ``extra_info`` (empty when it has none)."""
    return record.get("extra_info") or {}


TREND_RUNS = 20  # the report's trend shows at most this many stored runs


def stored_runs(history_dir: Path, limit: int = TREND_RUNS) -> list[Path]:
    """The newest ``limit`` runs kept in ``history_dir`` that a report can read, oldest first.

    A stored run the report cannot read (corrupt, another schema) is left out, with a line on stderr naming it.
    """
    readable = []
    for path in sorted(Path(history_dir).glob("bench-*.json"))[-limit:]:
        try:
            read_results(path, REPORT_READS)
            readable.append(path)
        except UserError as exc:
            print(f"report: skipping a stored run: {exc}", file=sys.stderr)
    return readable
