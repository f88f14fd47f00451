"""``rnnbench compare BASELINE CANDIDATE``: the regression gate, noise-aware and machine-independent.

For each benchmark in both runs:

1. Normalise. Every run times fixed calibration probes (``benchmarks/test_calibration.py``: a one-thread
   NumPy matmul, a pure-Python loop, a loop of small NumPy calls). A run's machine factor is the geometric mean
   of their 10th-percentile rounds, and every time of that run is divided by it, so a faster or slower machine
   does not read as a change. A low percentile, not the median: a probe is fixed code, so its fast rounds are
   the machine's speed, and a neighbour that disturbs half its rounds (seen here: one probe's median 1.7x its
   10th percentile) must not shift every ratio of the run. (Normalising by
   an implementation, e.g. the numpy train step, would hide that implementation's own regressions.)
2. Ratio: candidate's normalised median over the baseline's.
3. Significance: a one-sided Mann-Whitney U test over the normalised rounds (``--benchmark-save-data``).
   ``worse`` needs ratio > 1 + threshold, p < alpha, *and* the fast rounds (10th percentile) slower beyond the
   threshold too; ``better`` the mirror image; otherwise ``same``. The last condition tells a slower program
   from a disturbed run: code that got slower is slower in every round, while a neighbour on a shared machine
   slows only the rounds it overlaps (seen here: TF steps whose median moved 1.6x while their fast rounds stayed
   within 5% of the baseline). Its cost, named: a regression that strikes only some rounds (say, a retrace
   every other step) must also move the 10th percentile to be flagged.
   A benchmark with fewer than 3 rounds on either side (build, the reference training run) is shown, never
   judged. Runs made with ``--processes K`` on both sides must also differ across processes: worse needs every
   candidate process's median slower, beyond the threshold, than every baseline process's (better the mirror).
4. Learning: every candidate training run's final loss must lie in its band (``extra_info.loss_band``). This is
   strict: no threshold, no statistics.

Exit 1 on any ``worse`` or any loss out of its band. Benchmarks present in only one run are listed. Several
candidate files (a confirming rerun of the same code) count a benchmark as worse only if it is worse in each.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rnnbench.errors import NotJudgeable, UserError
from rnnbench.results.schema import info, read_results, run_info
from rnnbench.results.table import format_table
from rnnbench.spec.measures import MACHINE_MEASURES, Measure
from rnnbench.spec.path import differences

DEFAULT_THRESHOLD_PCT = 25.0
ALPHA = 0.05
FAST_PERCENTILE = 10
MIN_ROUNDS = 3  # below this no rank test is possible (3 vs 3 already needs every round to agree for p = 0.05)
VERDICTS = ("worse", "better", "same", "untested")
MAX_MISSING = 0.10  # the share of the baseline's judged benchmarks a candidate may lack (--allow-missing: any)
ALIKE = {"threads": "thread counts", "device": "devices", "profile": "profiles"}  # facts two compared runs share


@dataclass(frozen=True)
class Judgement:
    """One benchmark of one candidate run against the baseline."""

    baseline: float  # normalised medians (machine-factor units)
    candidate: float
    ratio: float  # candidate / baseline
    p_value: float | None  # None: too few rounds to test
    fast_ratio: float | None  # the ratio of the 10th-percentile rounds; None: too few rounds
    verdict: str  # one of VERDICTS


@dataclass(frozen=True)
class Row(Judgement):
    """A benchmark's verdict over every candidate run."""

    name: str = ""
    impl: str = ""


@dataclass
class Comparison:
    rows: list[Row]
    loss_failures: list[str]
    only_baseline: list[str]
    only_candidate: list[str]
    normalised: bool
    notes: list[str]
    path_differences: list[str] = field(default_factory=list)  # ``path_differences``: named before any verdict

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == "worse"]

    @property
    def failed(self) -> bool:
        return bool(self.regressions or self.loss_failures)


def load_run(path: str | Path) -> dict:
    """A results file the gate can read (``rnnbench.results.schema.read_results``); errors name the file."""
    return read_results(path)


def check_alike(baseline_path, baseline: dict, candidates: list[tuple[str, dict]], allow: bool,
                hint: str = " (--allow-mismatch compares them anyway)") -> list[str]:
    """Runs at another thread count, device or profile time other things: refuse them in one line (ending with
    ``hint``, what the command offers instead), or (``allow``) return a note for each difference."""
    notes = []
    for path, doc in candidates:
        for key, plural in ALIKE.items():
            want, got = getattr(run_info(baseline), key), getattr(run_info(doc), key)
            if want != got:
                if not allow:
                    raise UserError(f"{path}: {key} {got}, but the baseline {baseline_path} has {want}; runs made "
                                    f"at different {plural} are not alike{hint}")
                notes.append(f"compared anyway (--allow-mismatch): {path} has {key} {got}, the baseline {want}")
    return notes


def check_coverage(baseline: dict, candidates: list[tuple[str, dict]], allow_missing: bool) -> None:
    """Refuse (the gate fails) a candidate that shares nothing with the baseline, or lacks more than MAX_MISSING of
    its judged benchmarks, unless ``allow_missing``."""
    judged = set(_timed(baseline))
    covered = set()
    for path, doc in candidates:
        mine = set(_timed(doc))
        if not judged & mine:
            raise NotJudgeable(f"{path}: no benchmark in common with the baseline ({len(judged)} judged there); "
                               "nothing would be compared")
        covered |= mine
    missing = sorted(judged - covered)
    if len(missing) > MAX_MISSING * len(judged) and not allow_missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise NotJudgeable(f"{' + '.join(p for p, _ in candidates)} lacks {len(missing)} of the baseline's "
                           f"{len(judged)} judged benchmarks ({shown}); --allow-missing for a deliberate partial run")


def _fast(rounds) -> float:
    """The time of a benchmark's fast rounds, the 10th percentile: what the code costs when undisturbed."""
    return float(np.percentile(rounds, FAST_PERCENTILE))


def fast_time(record: dict) -> float:
    """A benchmark's undisturbed time: its fast rounds, the 10th percentile (its minimum when the rounds were not
    saved). A calibration probe's here; every benchmark's per repetition in ``rnnbench ab``."""
    data = record["stats"].get("data")
    return _fast(data) if data else float(record["stats"]["min"])


def machine_factor(doc: dict, machine: str | None = None) -> float | None:
    """Geometric mean of the calibration probes' undisturbed times (of ``machine``'s probes, in a run merged from
    several machines), or None when there are none."""
    speeds = [fast_time(b) for b in doc["benchmarks"] if info(b).measure == Measure.CALIBRATION
              and (machine is None or info(b).machine == machine)]
    return float(np.exp(np.mean(np.log(speeds)))) if speeds else None


def machine_factors(doc: dict) -> dict:
    """Each machine's factor in a run merged from several (``rnnbench merge`` tags every record with its machine);
    {} for a run of one machine."""
    machines = {info(b).machine for b in doc["benchmarks"]} - {None}
    return {m: f for m in machines if (f := machine_factor(doc, m)) is not None}


def record_factor(factors: dict, record: dict, overall: float) -> float:
    """The factor that normalises ``record``: its own machine's (``machine_factors``), else the run's."""
    return factors.get(info(record).machine, overall)


def _rounds(record: dict, factor: float) -> np.ndarray | None:
    data = record["stats"].get("data")
    return np.asarray(data, dtype=float) / factor if data else None


def _process_medians(record: dict, factor: float) -> list[float] | None:
    """The normalised median of each process that timed ``record`` (``--processes K``), or None for one."""
    medians = info(record).process_medians
    return [m / factor for m in medians] if medians and len(medians) > 1 else None


def _timed(doc: dict) -> dict[str, dict]:
    """The run's benchmarks by name, the machine's own measures (calibration probes, the peak) left out."""
    return {b["name"]: b for b in doc["benchmarks"] if info(b).measure not in MACHINE_MEASURES}


def judge(b: dict, c: dict, base_factor: float, cand_factor: float, limit: float, alpha: float) -> Judgement:
    """One benchmark of one candidate against the baseline, normalised by each run's machine factor."""
    from scipy.stats import mannwhitneyu

    b_med, c_med = b["stats"]["median"] / base_factor, c["stats"]["median"] / cand_factor
    ratio = c_med / b_med
    b_rounds, c_rounds = _rounds(b, base_factor), _rounds(c, cand_factor)
    if b_rounds is None or c_rounds is None or min(len(b_rounds), len(c_rounds)) < MIN_ROUNDS:
        return Judgement(b_med, c_med, ratio, None, None, "untested")
    slower = mannwhitneyu(c_rounds, b_rounds, alternative="greater").pvalue
    faster = mannwhitneyu(c_rounds, b_rounds, alternative="less").pvalue
    fast_ratio = _fast(c_rounds) / _fast(b_rounds)
    b_proc, c_proc = _process_medians(b, base_factor), _process_medians(c, cand_factor)
    across = b_proc is not None and c_proc is not None  # --processes K on both sides: judge across processes
    if ratio > limit and slower < alpha and fast_ratio > limit and (not across or min(c_proc) > limit * max(b_proc)):
        return Judgement(b_med, c_med, ratio, slower, fast_ratio, "worse")
    if (ratio < 1 / limit and faster < alpha and fast_ratio < 1 / limit
            and (not across or max(c_proc) * limit < min(b_proc))):
        return Judgement(b_med, c_med, ratio, faster, fast_ratio, "better")
    return Judgement(b_med, c_med, ratio, min(slower, faster), fast_ratio, "same")


def combine(name: str, impl: str, judged: list[Judgement]) -> Row:
    """One row from a benchmark's judgements in several candidate runs of the same code.

    Worse (or better, or untested) only when every run says so: noise rarely strikes the same benchmark twice,
    a regression does. Otherwise same. The slowest candidate's figures are shown; for a shared verdict of worse
    or better, the least significant p-value.
    """
    verdicts = {j.verdict for j in judged}
    verdict = verdicts.pop() if len(verdicts) == 1 else "same"
    shown = max(judged, key=lambda j: j.candidate)
    p_value = max(j.p_value for j in judged) if verdict in ("worse", "better") else shown.p_value
    return Row(**{**asdict(shown), "p_value": p_value, "verdict": verdict}, name=name, impl=impl)


def loss_failures(candidates: list[dict]) -> list[str]:
    """Every training run whose final loss left its band, in any candidate: strict, no statistics."""
    failures = set()
    for record in (b for run in candidates for b in run["benchmarks"]):
        i = info(record)
        band, loss = i.loss_band, i.final_loss
        if i.measure == Measure.TRAIN and band and loss is not None and not band[0] <= loss <= band[1]:
            failures.add(f"{record['name']}: final_loss {loss:.4f} outside its band [{band[0]}, {band[1]}] "
                         f"({i.impl})")
    return sorted(failures)


def path_differences(a: dict, b: dict) -> list[str]:
    """Every switch of path (``rnnbench.spec.path``) that differs between two runs, per framework, as
    "path differs (torch): torch_onednn: True / False" (A's value first); the records of one framework in one run
    share their path unless they ran in processes that took different ones, in which case each pair is named."""
    paths: dict[str, tuple[set, set]] = {}
    for side, doc in ((0, a), (1, b)):
        for record in doc.get("benchmarks", []):
            i = info(record)
            if i.path is not None:
                paths.setdefault(i.framework, (set(), set()))[side].add(json.dumps(i.path, sort_keys=True))
    lines = []
    for framework, (left, right) in sorted(paths.items()):
        if not left or not right:
            continue
        seen = []
        for one in sorted(left):
            for other in sorted(right):
                seen += [d for d in differences(json.loads(one), json.loads(other)) if d not in seen]
        lines += [f"path differs ({framework}): {d}" for d in seen]
    return lines


def path_caveat(differences: list[str]) -> str:
    """What a verdict must say when the runs took different paths: a slower run may be the path, not the code."""
    return (f"; the runs took different paths ({len(differences)} switch{'es' * (len(differences) > 1)} above): "
            "this may be the path, not the code" if differences else "")


def compare(baseline: dict, candidate: dict | list[dict], threshold_pct: float = DEFAULT_THRESHOLD_PCT,
            alpha: float = ALPHA) -> Comparison:
    """Judge every benchmark of ``candidate`` against ``baseline``.

    Given several candidate runs of the same code (a confirming rerun), a benchmark is worse (or better) only
    when it is so in every one of them (``combine``).
    """
    candidates = candidate if isinstance(candidate, list) else [candidate]
    runs = [("baseline", baseline), *((f"candidate {i + 1}", c) for i, c in enumerate(candidates))]
    factors = [machine_factor(doc) for _, doc in runs]
    notes = [f"{side}: threads={run_info(doc).threads}"
             + (f", machine factor {factor * 1e3:.3f} ms" if factor else "")
             for (side, doc), factor in zip(runs, factors)]
    normalised = None not in factors
    if not normalised:
        notes.insert(0, "no calibration in one of the runs: times compared as measured, not normalised")
        factors = [1.0] * len(runs)
    base_factor, cand_factors = factors[0], factors[1:]
    base, cands = _timed(baseline), [_timed(c) for c in candidates]
    every_candidate = set.intersection(*(set(c) for c in cands))
    any_candidate = set.union(*(set(c) for c in cands))
    limit = 1 + threshold_pct / 100
    per_machine = [machine_factors(doc) if normalised else {} for doc in (baseline, *candidates)]
    rows = []
    for name in sorted(base.keys() & every_candidate):
        judged = [judge(base[name], c[name], record_factor(per_machine[0], base[name], base_factor),
                        record_factor(machines, c[name], f), limit, alpha)
                  for machines, c, f in zip(per_machine[1:], cands, cand_factors)]
        rows.append(combine(name, info(cands[0][name]).impl, judged))
    paths = [d for c in candidates for d in path_differences(baseline, c)]
    return Comparison(rows, loss_failures(candidates), sorted(base.keys() - every_candidate),
                      sorted(any_candidate - base.keys()), normalised, notes, list(dict.fromkeys(paths)))


def format_comparison(result: Comparison, threshold_pct: float) -> str:
    unit = "x machine factor" if result.normalised else "s"
    rows = [[r.name, r.impl, f"{r.baseline:.4g}", f"{r.candidate:.4g}", f"{r.ratio:.2f}",
             "-" if r.fast_ratio is None else f"{r.fast_ratio:.2f}", "-" if r.p_value is None else f"{r.p_value:.3g}",
             r.verdict.upper() if r.verdict == "worse" else r.verdict]
            for r in sorted(result.rows, key=lambda r: (r.verdict != "worse", -r.ratio))]
    header = ["benchmark", "impl", f"baseline ({unit})", "candidate", "ratio", "fast ratio", "p", "verdict"]
    lines = [*result.path_differences, format_table(header, rows, align="llrrrrrl"), ""]
    lines.append("ratio: of normalised medians; fast ratio: of the 10th-percentile rounds (a slower program moves "
                 "both, a disturbed run mostly the median)")
    lines += [f"note: {n}" for n in result.notes]
    if result.only_baseline:
        lines.append(f"only in the baseline ({len(result.only_baseline)}): {', '.join(result.only_baseline)}")
    if result.only_candidate:
        lines.append(f"only in the candidate ({len(result.only_candidate)}): {', '.join(result.only_candidate)}")
    for failure in result.loss_failures:
        lines.append(f"LOSS REGRESSION {failure}")
    worse = result.regressions
    if worse:
        impls = sorted({r.impl for r in worse})
        lines.append(f"SLOWER beyond {threshold_pct:g}% (significant): {', '.join(impls)} "
                     f"({', '.join(r.name for r in worse)})" + path_caveat(result.path_differences))
    counts = {v: sum(r.verdict == v for r in result.rows) for v in VERDICTS}
    lines.append("gate: " + ("FAIL" if result.failed else "pass") + " — " +
                 ", ".join(f"{n} {v}" for v, n in counts.items()) + f", {len(result.loss_failures)} loss regressions")
    return "\n".join(lines)


__all__ = ["compare", "format_comparison", "machine_factor", "DEFAULT_THRESHOLD_PCT"]
