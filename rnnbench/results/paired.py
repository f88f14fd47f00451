"""The statistics of a paired comparison (``rnnbench ab``): K repetitions, each timing A and B in the same minutes,
give K ratios B/A per benchmark (of each repetition's fast rounds, ``rnnbench.commands.ab.per_call``), and those
ratios are the evidence.

Per benchmark, on the log scale (a ratio of 1.2 and one of 1/1.2 are the same distance from 1):

- **estimate**: the Hodges-Lehmann estimate, the median of the Walsh averages (d_i + d_j) / 2 (i <= j) of the
  log ratios d_k: robust to one disturbed repetition, which a mean is not.
- **interval**: the exact Wilcoxon signed-rank confidence interval for that centre (Hollander & Wolfe,
  *Nonparametric Statistical Methods*, 3.2): order statistics of the Walsh averages, cut at the signed-rank
  statistic's exact quantiles. It assumes only that the log ratios are independent and symmetric about their
  centre. With K pairs the highest confidence it can reach is 1 - 2 / 2^K, so below ``min_pairs`` (6 at 95%) no
  interval exists and the benchmark is ``inconclusive``: an interval that could never exclude anything would make
  ``same`` and ``worse`` impossible, and the comparison would pass by construction.
- **detectable effect**: the smallest change that K pairs at this spread find with 80% power at the two-sided
  5% level, the paired design's usual ``(t_{1-a/2} + t_{power}) * s / sqrt(K)`` over the log ratios' standard
  deviation s; and, for an ``inconclusive`` benchmark, how many pairs that formula says would settle it.
- **verdict**, at threshold t (log tau = ln(1 + t)): ``worse`` when the interval lies above 1 and the estimate
  beyond +tau; ``better`` the mirror; ``same`` when the interval lies within +-tau; otherwise ``inconclusive``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from rnnbench.errors import UserError
from rnnbench.files import names_key_first, read_json_file

CONFIDENCE = 0.95
POWER = 0.80
VERDICTS = ("worse", "better", "same", "inconclusive")
MAX_PAIRS_ADVISED = 1000  # "pairs that would settle it" is capped here: beyond, the answer is "too noisy"


@cache
def signed_rank_cdf(n: int) -> tuple[float, ...]:
    """P(T+ <= w) for w = 0 .. n(n+1)/2, T+ the Wilcoxon signed-rank statistic of n pairs with no ties (exact: the
    count of subsets of {1..n} with each sum, over 2^n)."""
    top = n * (n + 1) // 2
    counts = np.zeros(top + 1)
    counts[0] = 1
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    return tuple(np.cumsum(counts) / 2.0**n)


def min_pairs(confidence: float = CONFIDENCE) -> int:
    """The fewest pairs whose signed-rank interval reaches ``confidence``: 1 - 2 / 2^K >= confidence."""
    return max(2, math.ceil(math.log2(2 / (1 - confidence))))


def signed_rank_interval(d, confidence: float = CONFIDENCE) -> tuple[float, float, float] | None:
    """(low, high, achieved confidence) for the centre of ``d``, or None with too few values for ``confidence``.

    The interval is [W_(c+1), W_(M-c)] of the M sorted Walsh averages, c the largest count with
    P(T+ <= c) <= (1 - confidence) / 2: it misses the centre when more than M - c - 1 or fewer than c + 1 Walsh
    averages exceed it, so its exact confidence is 1 - 2 P(T+ <= c), at least ``confidence``.
    """
    d = np.asarray(d, dtype=float)
    n = len(d)
    if n < min_pairs(confidence):
        return None
    cdf = signed_rank_cdf(n)
    tail = (1 - confidence) / 2
    c = max(w for w in range(len(cdf)) if cdf[w] <= tail)  # cdf[0] = 2^-n <= tail, since n >= min_pairs
    walsh = walsh_averages(d)
    achieved = 1 - 2 * cdf[c]
    return float(walsh[c]), float(walsh[len(walsh) - 1 - c]), float(achieved)


def walsh_averages(d: np.ndarray) -> np.ndarray:
    """The sorted (d_i + d_j) / 2 for i <= j."""
    i, j = np.triu_indices(len(d))
    return np.sort((d[i] + d[j]) / 2)


def hodges_lehmann(d) -> float:
    return float(np.median(walsh_averages(np.asarray(d, dtype=float))))


def _t(q: float, df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(q, df))


def detectable(spread: float, n: int, confidence: float = CONFIDENCE, power: float = POWER) -> float:
    """The smallest log-ratio shift ``n`` pairs at standard deviation ``spread`` detect with ``power`` (paired t
    design); inf below two pairs."""
    if n < 2:
        return math.inf
    return (_t(1 - (1 - confidence) / 2, n - 1) + _t(power, n - 1)) * spread / math.sqrt(n)


def pairs_needed(spread: float, margin: float, have: int, confidence: float = CONFIDENCE,
                 power: float = POWER) -> int | None:
    """The pairs after which the detectable shift at ``spread`` falls within ``margin`` (a log ratio), at least
    ``min_pairs``; None beyond MAX_PAIRS_ADVISED (or when no margin is left)."""
    if margin <= 0:
        return None
    for n in range(max(have + 1, min_pairs(confidence)), MAX_PAIRS_ADVISED + 1):
        if detectable(spread, n, confidence, power) <= margin:
            return n
    return None


@dataclass(frozen=True)
class PairedJudgement:
    """One benchmark's K paired ratios, judged. Ratios are B/A (above 1: B is slower)."""

    pairs: int
    a: float  # median over the repetitions of A's per-repetition times (seconds per call)
    b: float
    ratio: float  # the Hodges-Lehmann estimate, exp'd
    low: float | None  # the interval (None: too few pairs for one)
    high: float | None
    confidence: float | None  # the interval's exact confidence
    detectable: float  # the smallest relative change these pairs find at 80% power (0.05 = 5%); inf: cannot say
    verdict: str  # one of VERDICTS
    pairs_to_settle: int | None = None  # for an inconclusive verdict: about how many pairs would settle it


def judge_pairs(a, b, threshold_pct: float, confidence: float = CONFIDENCE) -> PairedJudgement:
    """Judge the per-repetition times ``a`` and ``b`` (equal length, paired by position)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"paired times must be two equal-length lists, got {a.shape} and {b.shape}")
    d = np.log(b / a)
    n = len(d)
    tau = math.log1p(threshold_pct / 100)
    estimate = hodges_lehmann(d)
    spread = float(np.std(d, ddof=1)) if n > 1 else math.inf
    mde = detectable(spread, n, confidence)
    interval = signed_rank_interval(d, confidence)
    if interval is None:
        verdict, low, high, achieved = "inconclusive", None, None, None
    else:
        low, high, achieved = interval
        if low > 0 and estimate > tau:
            verdict = "worse"
        elif high < 0 and estimate < -tau:
            verdict = "better"
        elif -tau <= low and high <= tau:
            verdict = "same"
        else:
            verdict = "inconclusive"
    settle = None
    if verdict == "inconclusive":
        # the nearest decision: "same" needs the interval inside +-tau, "worse"/"better" needs it off 1
        margin = tau - abs(estimate) if abs(estimate) < tau else abs(estimate)
        settle = pairs_needed(spread, margin, n, confidence) if math.isfinite(spread) else min_pairs(confidence)
    return PairedJudgement(
        pairs=n, a=float(np.median(a)), b=float(np.median(b)), ratio=math.exp(estimate),
        low=None if low is None else math.exp(low), high=None if high is None else math.exp(high),
        confidence=achieved, detectable=math.expm1(mde) if math.isfinite(mde) else math.inf,
        verdict=verdict, pairs_to_settle=settle)


AB_SCHEMA_VERSION = 1  # of an `rnnbench ab` JSON
AB_KEY = "rnnbench_ab"  # the top-level key of a paired comparison's JSON


def is_ab_file(path) -> bool:
    """Whether ``path`` looks like an ``rnnbench ab`` JSON (its first bytes name AB_KEY); unreadable: no."""
    return names_key_first(path, AB_KEY)


def read_ab(path) -> dict:
    """An ``rnnbench ab`` JSON, checked; errors name the file."""
    doc = read_json_file(path, "rnnbench ab JSON")
    meta = doc.get(AB_KEY) if isinstance(doc, dict) else None
    if not isinstance(meta, dict) or meta.get("schema_version") != AB_SCHEMA_VERSION:
        raise UserError(f"{path}: not an rnnbench ab result of schema {AB_SCHEMA_VERSION}")
    return doc
