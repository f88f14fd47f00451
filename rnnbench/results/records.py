"""The fields of a results file, declared once: what a benchmark record says about itself (``Record``, its
``extra_info``), what a run says about itself (``RunInfo``, ``machine_info.rnnbench``, with each task's
``TaskFacts`` and each reference configuration's ``ReferenceFacts``) and how the run went (``RunOutcome``, the
document's ``rnnbench`` key).

Writers build their dictionaries through ``checked`` (a misspelt field fails where it is written); the one
reader (``rnnbench.results.schema.read_results``) checks every record and the run's facts, and consumers read them as
these types (``results.info``, ``results.run_info``, ``results.outcome``): an unknown field, a missing one or a
value of the wrong kind fails loudly, naming the file and the record. A field added later needs a default,
so that files written before it still read; a field removed or renamed bumps the schema version
(``rnnbench.results.schema.BENCH_SCHEMA_VERSION``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import MISSING, dataclass, field
from functools import cache

from rnnbench.errors import UserError
from rnnbench.spec.measures import Measure

Number = int | float


@dataclass(frozen=True)
class Record:
    """``extra_info`` of one benchmark record."""

    impl: str  # a registry name, or a probe's ("calibration-matmul", "generator-vectorised")
    framework: str  # a family's framework, or "calibration"
    version: str  # the framework's version
    device: str
    threads: int
    measure: str  # a ``rnnbench.spec.measures.Measure``; what else the record holds: ``MEASURE_FIELDS``
    final_loss: Number | None = None  # train and memory records
    # the configuration (``RunConfig``, but device and threads above): every record of a case
    label: str | None = None  # its reference configuration, e.g. "binary-rnn-T5-S4"
    task: str | None = None
    cell: str | None = None
    bidirectional: bool | None = None
    layers: int | None = None  # stacked layers (RunConfig.layers); absent in records written before they were built
    optimizer: str | None = None
    num_steps: int | None = None
    shift: int | None = None  # BPTT(k2, k1)'s k1 where below num_steps (RunConfig.shift)
    clip_norm: float | None = None  # global-norm clipping before the update (RunConfig.clip_norm)
    state_size: int | None = None
    batch_size: int | None = None
    learning_rate: Number | None = None
    size: int | None = None  # samples per epoch (the generator's records: samples generated)
    epochs: int | None = None
    seed: int | None = None
    dtype: str | None = None
    # a peer case's record (--profile peers): where the case comes from, and its family's standard implementation
    # (the report's speed-up over the standard API); a point of its sweep over hidden sizes has sweep "hidden"
    peer_source: str | None = None
    standard_impl: str | None = None
    input_width: int | None = None  # a task sized by the run (random): features per step, classes, where targets are
    classes: int | None = None
    target_at: str | None = None
    # how a window went through time (RunConfig.time_mode): "sequential" (a loop) or "parallel" (a scan); absent in
    # records written before the minimal cells, which were all sequential
    time_mode: str | None = None
    # what one timed call did
    steps: int | None = None  # train steps per call: per-step time is the median over it
    flops: Number | None = None  # of one call (rnnbench.model.flops)
    gflops: Number | None = None  # flops over the median
    # an epoch record whose rounds are its reference training run's epochs after the first (they ran once only)
    timed_in: str | None = None
    # what one train step dispatches (rnnbench.spec.dispatch), counted after its timing (measure "train_step"), or
    # in the full profile after the training run where no train step is timed (measure "train")
    launches: int | None = None  # calls from the host into the framework's runtime
    ops: int | None = None  # operations the runtime ran for them
    dispatch_how: str | None = None  # what the family's counter counted, with which tool
    # the computational path the process took (rnnbench.spec.path): its framework's switches of kernel and
    # precision, the BLAS, its kernel and thread pools, denormal flushing, read back from the running process
    path: dict | None = None
    sweep: str | None = None  # scaling: the swept field
    sweep_value: Number | str | None = None  # scaling: its value here
    inputs: str | None = None  # denormal: "normal", or "denormal" (scaled below the dtype's smallest normal)
    # a reference training run (measure "train")
    expected_level: str | None = None  # a key of the task's theory levels
    nearest_level: str | None = None
    learned: bool | None = None  # its goal met, else its expected level reached
    eval_loss: Number | None = None
    test_accuracy: Number | None = None  # digits
    free_run_mse: Number | None = None  # sine
    free_run: dict | None = None  # sine: one held-out sequence, {"truth": [...], "generated": [...]}
    build_seconds: Number | None = None
    train_seconds: Number | None = None
    us_per_step: Number | None = None
    target: Number | None = None  # the time-to-target threshold
    loss_band: list | None = None  # [low, high]: the gate's learning check
    reached: bool | None = None
    steps_to_target: int | None = None
    seconds_to_target: Number | None = None
    peak_rss_mb: Number | None = None
    cuda_max_allocated_mb: Number | None = None
    loss_curve: dict | None = None  # {"step": [...], "loss": [...]}: running means
    first_losses: list | None = None  # the first step losses: the parity figure
    parity_tolerance: Number | None = None  # how far from NumPy's they may lie (rnnbench.spec.parity; 1e-4 before)
    # memory in a fresh process (measure "memory")
    framework_rss_mb: Number | None = None
    model_rss_mb: Number | None = None
    # added after the run: ``rnnbench bench --processes K`` and ``rnnbench merge``
    process_medians: list | None = None  # each process's median, seconds
    process_spread: Number | None = None  # slowest process median over the fastest
    machine: str | None = None  # the host a merged record ran on


# What a record of each measure must hold (present, not null) beyond the fields every record has: ``checked``
# refuses a record that lacks one where it is written, and the reader (``read_record``) names the record and the
# field. ``Record`` above is the union of every measure's fields (each field's comment says whose it is).
CASE_FIELDS = ("label", "task", "cell", "bidirectional", "optimizer", "num_steps", "state_size", "batch_size")
MEASURE_FIELDS: dict[str, tuple[str, ...]] = {
    Measure.BUILD: CASE_FIELDS,
    Measure.TRAIN: (*CASE_FIELDS, "final_loss", "nearest_level", "learned", "steps", "target", "reached"),
    Measure.TRAIN_STEP: (*CASE_FIELDS, "steps"),
    Measure.FORWARD: (*CASE_FIELDS, "steps"),
    Measure.EPOCH: (*CASE_FIELDS, "steps"),
    Measure.SCALING: (*CASE_FIELDS, "steps", "sweep", "sweep_value"),
    Measure.MEMORY: (*CASE_FIELDS, "peak_rss_mb", "framework_rss_mb", "model_rss_mb"),
    Measure.DENORMAL: (*CASE_FIELDS, "steps", "inputs"),
    Measure.TRUNCATION: (*CASE_FIELDS, "steps"),
    Measure.GENERATE: ("size",),
    Measure.CALIBRATION: (),
    Measure.PEAK: (),
}


def check_measure(data: dict, where: str) -> None:
    """A record's fields against its measure's (``MEASURE_FIELDS``): a UserError naming ``where``, the measure and
    every field it lacks."""
    measure = data.get("measure")
    if measure not in MEASURE_FIELDS:
        raise UserError(f"{where}: measure must be one of {', '.join(MEASURE_FIELDS)}, got {measure!r}")
    missing = [k for k in MEASURE_FIELDS[measure] if data.get(k) is None]
    if missing:
        raise UserError(f"{where}: a {measure} record needs {', '.join(missing)}")


@dataclass(frozen=True)
class GoalFacts:
    metric: str
    bound: Number
    higher_is_better: bool
    text: str


@dataclass(frozen=True)
class ReferenceFacts:
    """A timed reference configuration, as the run recorded it."""

    label: str
    task: str
    cell: str
    bidirectional: bool
    optimizer: str
    expected_level: str | None  # None: judged by its goal alone
    target: Number
    loss_band: list
    goal: GoalFacts | None
    epochs: int
    num_steps: int
    state_size: int
    batch_size: int


@dataclass(frozen=True)
class TaskFacts:
    """A task's theory levels (in its loss's units), what each means, and how parity is checked."""

    summary: str
    loss: str
    levels: dict  # level name -> loss
    labels: dict  # level name -> what it means
    parity_dtype: str = "float32"  # recorded since the family table's redesign
    parity_why: str = ""


@dataclass(frozen=True)
class RunInfo:
    """``machine_info.rnnbench``: what a run says about itself."""

    schema_version: int
    versions: dict  # distribution -> version, None where absent
    python: str
    threads: int
    device: str
    profile: str
    frameworks: list
    blas: list  # threadpoolctl's pools: internal_api, version, num_threads, architecture
    tasks: dict[str, TaskFacts]
    references: list[ReferenceFacts]
    baseline_impl: str
    cpus: list | None = None  # the CPUs the run could use (None: unknown, or a run from before they were recorded)
    machines: dict | None = None  # rnnbench merge: host -> {"cpu", "source"}
    # the lock the environment came from (rnnbench.harness.lock): {"file", "sha256", "differs"}; None: no lock
    lock: dict | None = None


@dataclass(frozen=True)
class Gap:
    """A reference point an implementation was not timed at (n/a), and why."""

    impl: str
    framework: str
    label: str
    task: str
    field: str  # the configuration field it does not support, or "profile": built too slowly for this profile
    gap: str  # the registry's declared gap (what is missing), or why the build is slow
    reason: str  # the whole line


@dataclass(frozen=True)
class Failure:
    """A benchmark that crashed or diverged."""

    framework: str
    impl: str  # "" when the test names none
    process: int  # 1..K (--processes K)
    test: str
    error: str


@dataclass(frozen=True)
class RunOutcome:
    """The document's ``rnnbench`` key: how the run went (written by ``rnnbench bench`` and ``merge``)."""

    profile: str | None = None
    threads: int | None = None
    device: str | None = None
    skipped: dict = field(default_factory=dict)  # framework -> why it did not run
    not_applicable: list[Gap] = field(default_factory=list)
    failed_frameworks: list = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    shard: str | None = None
    processes: int | None = None
    lanes: int | None = None  # families timed at once (rnnbench bench --lanes)
    scaling: dict = field(default_factory=dict)  # impl -> {"state_size low": slope, ...}
    overhead: dict = field(default_factory=dict)  # impl -> rnnbench.results.stats.overhead_fit (full profile)
    merged_from: list | None = None  # rnnbench merge: its inputs
    shards: list | None = None
    repeated_records: int | None = None  # the report: records it left out as repeats
    baseline_impl: str | None = None  # written here too by earlier runs; read from RunInfo


# fields that hold records of their own: (holder, field) -> (container: dict, list or None for one, its type)
NESTED = {("RunInfo", "tasks"): (dict, TaskFacts), ("RunInfo", "references"): (list, ReferenceFacts),
          ("ReferenceFacts", "goal"): (None, GoalFacts), ("RunOutcome", "not_applicable"): (list, Gap),
          ("RunOutcome", "failed"): (list, Failure)}


def _kinds(hint) -> tuple[type, ...]:
    """The JSON kinds a field's annotation allows."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return tuple(k for arm in typing.get_args(hint) for k in _kinds(arm))
    if hint is type(None):
        return (type(None),)
    origin = typing.get_origin(hint) or hint
    return (origin,) if isinstance(origin, type) and not dataclasses.is_dataclass(origin) else (dict,)


@cache
def _spec(cls) -> tuple[dict[str, tuple[type, ...]], tuple[str, ...]]:
    """(field -> the JSON kinds it allows, the fields without a default), read once per type."""
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    return ({f.name: _kinds(hints[f.name]) for f in fields},
            tuple(f.name for f in fields if f.default is MISSING and f.default_factory is MISSING))


def _fits(value, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # JSON true is not a number
        return bool in kinds
    return isinstance(value, kinds)  # a float field takes NaN and the infinities too: what the writer kept


def parse(cls, data, where: str):
    """``data`` (a JSON object) as ``cls``: every field known, every required one present, each of its kind.
    Errors name ``where`` (the file and the record) and the field."""
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected an object, got {json.dumps(data, default=str)[:60]}")
    kinds, required = _spec(cls)
    unknown = sorted(k for k in data if k not in kinds)
    if unknown:
        raise UserError(f"{where}: unknown field{'s' * (len(unknown) > 1)} {', '.join(unknown)} (not a field of "
                        f"rnnbench.results.records.{cls.__name__}; a file written by another version?)")
    missing = [n for n in required if n not in data]
    if missing:
        raise UserError(f"{where}: missing {', '.join(missing)}")
    values = {}
    for name, value in data.items():
        container, nested = NESTED.get((cls.__name__, name), (None, None))
        if nested is not None and value is not None:
            if container is not None and not isinstance(value, container):
                raise UserError(f"{where}: {name} must be {'an object' if container is dict else 'a list'}")
            if container is dict:
                value = {k: parse(nested, v, f"{where}: {name}.{k}") for k, v in value.items()}
            elif container is list:
                value = [parse(nested, v, f"{where}: {name}[{i}]") for i, v in enumerate(value)]
            else:
                value = parse(nested, value, f"{where}: {name}")
        elif not _fits(value, kinds[name]):
            raise UserError(f"{where}: {name} must be {' or '.join(_kind_name(k) for k in kinds[name])}, got "
                            f"{json.dumps(value, default=str)[:60]}")
        values[name] = value
    return cls(**values)


def _kind_name(kind: type) -> str:
    return {type(None): "null", str: "a string", int: "an integer", float: "a number", bool: "true or false",
            dict: "an object", list: "a list"}[kind]


def checked(cls, data: dict) -> dict:
    """``data`` itself, once it parses as ``cls``: what a writer calls on what it is about to write (a field this
    module does not declare is a bug, raised as ValueError where it is written)."""
    try:
        parse(cls, data, cls.__name__)
        if cls is Record:
            check_measure(data, f"Record of {data.get('impl')}")
    except UserError as exc:
        raise ValueError(str(exc)) from None
    return data


def number(value) -> float:
    """A field that may be absent, as a float: NaN where it is."""
    return math.nan if value is None else float(value)
