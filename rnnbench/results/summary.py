"""The summary of a run, one row per reference configuration and implementation, computed from its results
document alone (no pandas). ``rnnbench bench`` prints it; the report's speed and convergence tables are made
from the same rows, so a column has one definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rnnbench.results.records import number
from rnnbench.results.schema import info, outcome, run_info
from rnnbench.results.stats import OVERHEAD_SWEEPS, overhead_fit, overhead_share, regime_slopes
from rnnbench.spec.measures import REFERENCE_MEASURES, Measure


@dataclass(frozen=True)
class SummaryRow:
    label: str  # reference configuration, e.g. "binary-rnn-T5-S4"
    task: str
    cell: str  # with "-bi" when bidirectional
    impl: str
    framework: str
    device: str
    us_per_step: float  # median epoch time over its steps (NaN: no epoch record)
    iqr_us_per_step: float  # its interquartile range, per step
    process_spread: float  # slowest process median over the fastest (--processes K; NaN: one process)
    overhead_share: float  # of us_per_step, what arithmetic at the fitted rate does not explain (NaN: no sweep)
    gflops: float  # the step's FLOPs (rnnbench.model.flops) over us_per_step, GFLOP/s (NaN: not recorded)
    speedup: float  # the baseline implementation's us_per_step over this one's, same run
    train_step_us: float  # one window, median
    forward_us: float  # inference on one window, median
    launches: int | None  # what one train step dispatches (rnnbench.spec.dispatch; None: not counted)
    ops: int | None
    build_s: float  # cold build (where not measured apart: the reference training run's build)
    trained: bool  # a reference training run was recorded (the fields below are None otherwise)
    final_loss: float | None = None
    expected_level: str | None = None  # a key of the run's theory levels
    expected_loss: float | None = None  # that level's value
    nearest_level: str | None = None  # the level final_loss is closest to
    target: float | None = None  # time-to-target threshold
    reached: bool | None = None
    seconds_to_target: float | None = None
    steps_to_target: int | None = None
    peak_rss_mb: float | None = None  # RSS growth while training (in a fresh process where the run measured it)
    cuda_max_allocated_mb: float | None = None
    eval_loss: float | None = None  # held-out loss
    test_accuracy: float | None = None  # digits
    free_run_mse: float | None = None  # sine, generating from its own outputs
    goal: str | None = None  # what the held-out data must show, e.g. "test_accuracy >= 0.9"
    reached_goal: bool = False  # the run's verdict: its goal met, else its theory level reached

    @property
    def learned(self) -> bool:
        """It reached what its configuration should: its goal on held-out data, else its theory level."""
        return self.trained and self.reached_goal


def peak_gflops(doc: dict) -> float:
    """The run's float32 matmul rate at its thread count (the roofline's ceiling), GFLOP/s; NaN if not measured."""
    rates = [info(b).gflops for b in doc["benchmarks"] if info(b).measure == Measure.PEAK]
    rates = [r for r in rates if r]
    return max(rates) if rates else math.nan


def reference_labels(doc: dict) -> list[str]:
    """The run's reference configurations, in order."""
    return [r.label for r in run_info(doc).references]


def _per_step_us(record: dict | None, key: str = "median") -> float:
    if record is None:
        return math.nan
    return 1e6 * record["stats"][key] / (info(record).steps or 1)


def _dispatched(records: dict[str, dict]) -> tuple[int | None, int | None]:
    """What one train step dispatches (launches, ops): the train step record's, else the training run's (the full
    profile counts a step after it where no train step is timed); (None, None) where neither counted."""
    for measure in (Measure.TRAIN_STEP, Measure.TRAIN):
        if measure in records and info(records[measure]).launches is not None:
            return info(records[measure]).launches, info(records[measure]).ops
    return None, None


def summary_rows(doc: dict) -> list[SummaryRow]:
    """One row per (reference configuration, implementation), fastest first within a configuration."""
    meta, fits = run_info(doc), run_overhead(doc)
    goals = {r.label: r.goal.text if r.goal else None for r in meta.references}
    order = {label: i for i, label in enumerate(reference_labels(doc))}
    by_key: dict[tuple[str, str], dict[str, dict]] = {}
    for b in doc["benchmarks"]:
        i = info(b)
        if i.label in order and i.measure in REFERENCE_MEASURES:
            by_key.setdefault((i.label, i.impl), {})[i.measure] = b

    rows = []
    for (label, impl), records in by_key.items():
        epoch = records.get(Measure.EPOCH)
        us = _per_step_us(epoch)
        base = _per_step_us(by_key.get((label, meta.baseline_impl), {}).get(Measure.EPOCH))
        build = records.get(Measure.BUILD)
        step = records.get(Measure.TRAIN_STEP)
        first = info(next(iter(records.values())))
        row = dict(
            label=label, task=first.task, cell=first.cell + ("-bi" if first.bidirectional else ""),
            impl=impl, framework=first.framework, device=first.device,
            us_per_step=us,
            iqr_us_per_step=_per_step_us(epoch, "q3") - _per_step_us(epoch, "q1") if epoch else math.nan,
            process_spread=number(info(epoch).process_spread) if epoch else math.nan,
            overhead_share=overhead_share(us, number(info(epoch).flops), number(fits[impl]["gflops"]))
            if epoch and impl in fits else math.nan,
            gflops=number(info(epoch).flops) / us / 1e3 if epoch else math.nan,
            speedup=base / us,
            train_step_us=_per_step_us(step),
            forward_us=_per_step_us(records.get(Measure.FORWARD)),
            launches=_dispatched(records)[0],
            ops=_dispatched(records)[1],
            build_s=(build["stats"]["median"] if build  # the cold build, else the reference run's own
                     else number(info(records[Measure.TRAIN]).build_seconds) if Measure.TRAIN in records
                     else math.nan),
            trained=Measure.TRAIN in records,
        )
        if Measure.TRAIN in records:
            t = info(records[Measure.TRAIN])
            row.update(final_loss=t.final_loss, expected_level=t.expected_level,
                       expected_loss=meta.tasks[first.task].levels.get(t.expected_level),
                       nearest_level=t.nearest_level, eval_loss=t.eval_loss, test_accuracy=t.test_accuracy,
                       free_run_mse=t.free_run_mse, goal=goals.get(label),
                       reached_goal=bool(t.learned) if t.learned is not None
                       else t.nearest_level == t.expected_level,
                       target=t.target, reached=bool(t.reached),
                       seconds_to_target=t.seconds_to_target if t.reached else None,
                       steps_to_target=t.steps_to_target if t.reached else None,
                       peak_rss_mb=t.peak_rss_mb, cuda_max_allocated_mb=t.cuda_max_allocated_mb)
        if Measure.MEMORY in records:  # measured in a fresh process: nothing an earlier implementation left counts
            m = info(records[Measure.MEMORY])
            row.update(peak_rss_mb=m.model_rss_mb, cuda_max_allocated_mb=m.cuda_max_allocated_mb)
        rows.append(SummaryRow(**row))
    return sorted(rows, key=lambda r: (order[r.label], math.inf if math.isnan(r.us_per_step) else r.us_per_step,
                                       r.impl))


def scaling_slopes(benchmarks: list[dict]) -> dict[str, dict[str, float]]:
    """Log-log slopes of the median train-step time against state_size and num_steps, per implementation and
    regime (``rnnbench.results.stats.regime_slopes``): keys like "state_size low" and "state_size high"."""
    points: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for b in benchmarks:
        i = info(b)
        if i.measure == Measure.SCALING and i.sweep in ("state_size", "num_steps"):
            points.setdefault((i.impl, i.sweep), []).append((i.sweep_value, b["stats"]["median"]))
    slopes: dict[str, dict[str, float]] = {}
    for (impl, sweep), xy in sorted(points.items()):
        for regime, slope in regime_slopes(*zip(*xy)).items():
            if not math.isnan(slope):
                slopes.setdefault(impl, {})[f"{sweep} {regime}"] = slope
    return slopes


def overhead_fits(benchmarks: list[dict]) -> dict[str, dict[str, float]]:
    """Each implementation's step time split into per-step overhead and arithmetic (``stats.overhead_fit``) over
    its state-size sweep (``stats.OVERHEAD_SWEEPS``, full profile); an implementation with no sweep has none."""
    points: dict[str, list[tuple[float, float]]] = {}
    for b in benchmarks:
        i = info(b)
        if i.measure == Measure.SCALING and i.sweep in OVERHEAD_SWEEPS and i.flops:
            points.setdefault(i.impl, []).append((i.flops, b["stats"]["median"] / (i.steps or 1)))
    fits = {impl: overhead_fit(*zip(*xy)) for impl, xy in sorted(points.items())}
    return {impl: {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in fit.items()}  # JSON: null
            for impl, fit in fits.items()}


def run_overhead(doc: dict) -> dict[str, dict[str, float]]:
    """The run's overhead fits: as it recorded them, or (a run recorded before they were) from its records."""
    return outcome(doc).overhead or overhead_fits(doc["benchmarks"])


def targets_text(doc: dict, joiner: str = ", ") -> str:
    """The time-to-target thresholds of the run, e.g. "0.53 at binary-rnn-T5-S4, 0.47 at binary-rnn-T10-S16"."""
    return joiner.join(f"{r.target} at {r.label}" for r in run_info(doc).references)


@dataclass(frozen=True)
class PeerRow:
    """One implementation at one peer case (``--profile peers``)."""

    case: str  # the case's name (rnnbench.spec.peers), its records' label
    impl: str
    framework: str
    cell: str
    hidden: int
    swept: bool  # a point of the sweep over hidden sizes
    train_step_ms: float  # NaN: not timed (an inference case, or skipped)
    train_gflops: float
    forward_ms: float
    forward_gflops: float
    peak_gflops: float  # NumPy's matmul rate at the case's shapes, same run, of the train step's products (the
    # forward's at an inference case; NaN: not measured)
    fraction: float  # the train step's rate over it (the forward's at an inference case)
    vs_standard: float  # its family's standard implementation's time over this one's (>1: faster than it)
    build_s: float
    steps: int = 0  # the window's length T
    time_mode: str = "sequential"  # through time by a loop or by a parallel scan (RunConfig.time_mode)
    ops: float = math.nan  # operations one train step ran (rnnbench.spec.dispatch; NaN: not counted)

    @property
    def scan(self) -> bool:
        """A point of the scan profile's crossover sweep (rnnbench.spec.peers.SCAN_PREFIX)."""
        from rnnbench.spec.peers import SCAN_PREFIX

        return self.case.startswith(SCAN_PREFIX)


def peer_rows(doc: dict) -> list[PeerRow]:
    """One row per (peer case, implementation) of a peers run, from its records alone (each says it is a peer
    case's: ``peer_source``), cases in the order the run timed them, fastest first in a case. The roofline at size
    is the case's ``peak-at-size-train`` record (``-forward`` at an inference case; ``benchmarks/test_peers.py``),
    the fastest where there are several."""
    peak: dict[tuple[str, str], float] = {}  # (case, "peak-at-size-train" or "-forward") -> GFLOP/s
    timed: dict[tuple[str, str], dict[str, dict]] = {}
    for b in doc["benchmarks"]:
        i = info(b)
        if i.peer_source is None:
            continue
        if i.measure == Measure.PEAK:
            peak[i.label, i.impl] = max(peak.get((i.label, i.impl), 0.0), number(i.gflops))
        elif i.measure in (Measure.TRAIN_STEP, Measure.FORWARD, Measure.TRAIN):
            timed.setdefault((i.label, i.impl), {})[i.measure] = b

    def ms(record) -> float:
        return record["stats"]["median"] * 1e3 if record else math.nan

    def rate(record) -> float:
        return number(info(record).gflops) if record else math.nan

    rows = []
    for (case, impl), records in timed.items():
        step, fwd, train = (records.get(m) for m in (Measure.TRAIN_STEP, Measure.FORWARD, Measure.TRAIN))
        if step is None and fwd is None:
            continue
        first = info(step or fwd)
        standard = timed.get((case, first.standard_impl), {})
        key = Measure.TRAIN_STEP if step else Measure.FORWARD
        mine, theirs = ms(records.get(key)), ms(standard.get(key))
        top = peak.get((case, "peak-at-size-train" if step else "peak-at-size-forward"), math.nan)
        rows.append(PeerRow(case, impl, first.framework, first.cell, first.state_size, first.sweep == "hidden",
                            ms(step), rate(step), ms(fwd), rate(fwd), top,
                            (rate(step) if step else rate(fwd)) / top if top else math.nan, theirs / mine,
                            number(info(train).build_seconds) if train else math.nan, first.num_steps or 0,
                            first.time_mode or "sequential", number(info(step).ops) if step else math.nan))
    order = {case: k for k, case in enumerate(dict.fromkeys(case for case, _ in timed))}
    return sorted(rows, key=lambda r: (order[r.case], r.train_step_ms if r.train_step_ms == r.train_step_ms
                                       else r.forward_ms))


def sweep_points(rows: list[PeerRow]) -> dict[str, dict[int, dict[str, float]]]:
    """The sweep over hidden sizes from a peers run's rows: cell -> hidden -> impl -> train step ms."""
    points: dict[str, dict[int, dict[str, float]]] = {}
    for r in rows:
        if r.swept and r.train_step_ms == r.train_step_ms:
            points.setdefault(r.cell, {}).setdefault(r.hidden, {})[r.impl] = r.train_step_ms
    return points


def scan_points(rows: list[PeerRow], measure: str = "train_step") -> dict[str, dict[str, dict[int, tuple[str, float]]]]:
    """The scan profile's sweep from a run's rows: family -> way through time -> T -> (the family's fastest
    implementation that way, its ms per call), for ``measure`` ("train_step" or "forward")."""
    points: dict[str, dict[str, dict[int, tuple[str, float]]]] = {}
    for r in rows:
        ms = r.train_step_ms if measure == "train_step" else r.forward_ms
        if not r.scan or ms != ms:
            continue
        at = points.setdefault(r.framework, {}).setdefault(r.time_mode, {})
        if r.steps not in at or ms < at[r.steps][1]:
            at[r.steps] = (r.impl, ms)
    return points


def scan_crossover(ways: dict[str, dict[int, tuple[str, float]]]) -> tuple[int | None, str]:
    """(the crossover T, the finding) of one family: the shortest T from which its fastest parallel form beats its
    fastest loop at every longer T timed both ways; None where the scan never wins up to the longest T timed."""
    both = sorted(set(ways.get("sequential", {})) & set(ways.get("parallel", {})))
    if not both:
        return None, "not timed both ways"
    wins = [ways["parallel"][T][1] < ways["sequential"][T][1] for T in both]
    crossover = next((T for k, T in enumerate(both) if all(wins[k:])), None)
    if crossover is None:
        return None, f"the scan never wins up to {both[-1]:,} on this CPU"
    return crossover, (f"the scan wins from T = {crossover:,}" + (" (at every T timed)" if crossover == both[0]
                                                                      else ""))


def scan_fit(by_steps: dict[int, float]) -> tuple[float, float]:
    """``overhead_fit`` (relative least squares) of ms per call against T: (a, a call's fixed cost in ms; b, the
    cost of one more step in us). NaN below 3 lengths timed."""
    Ts = sorted(by_steps)
    fit = overhead_fit(Ts, [by_steps[T] / 1e3 for T in Ts])
    return fit["overhead_us"] / 1e3, 1e-3 / fit["gflops"]


def fastest_changes(by_hidden: dict[int, dict[str, float]]) -> tuple[list[tuple[int, str]], str]:
    """(the fastest implementation at each hidden size, smallest first; the finding): the sizes between which the
    fastest changes, or that it never does. Only the implementations timed at every size compete (one that
    skipped a size would win or lose it by absence)."""
    sizes = sorted(by_hidden)
    everywhere = set.intersection(*(set(by_hidden[h]) for h in sizes)) if sizes else set()
    fastest = [(h, min(everywhere, key=lambda impl: by_hidden[h][impl])) for h in sizes] if everywhere else []
    if not fastest:
        return [], "no implementation timed at every size"
    changes = [(a, b) for a, b in zip(fastest, fastest[1:]) if a[1] != b[1]]
    if not changes:
        return fastest, f"{fastest[0][1]} at every size ({sizes[0]} to {sizes[-1]}): the fastest never changes"
    return fastest, "; ".join(f"{a[1]} up to {a[0]}, {b[1]} from {b[0]}" for a, b in changes) + (
        f" (fastest at {sizes[0]}: {fastest[0][1]}, at {sizes[-1]}: {fastest[-1][1]})")
