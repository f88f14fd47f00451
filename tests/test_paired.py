"""The statistics of ``rnnbench ab``: known ratios in, known verdicts out; intervals that can fail; the exact
signed-rank distribution; the detectable effect and the pairs that would settle an inconclusive benchmark."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnbench.results.paired import (
    detectable,
    hodges_lehmann,
    judge_pairs,
    min_pairs,
    pairs_needed,
    signed_rank_cdf,
    signed_rank_interval,
)

pytest.importorskip("scipy", reason="scipy is not installed")


def noisy(k: int, ratio: float, noise: float, seed: int = 0):
    """K paired times: A around 1 ms, B = A * ratio, each pair with its own log-normal noise."""
    rng = np.random.default_rng(seed)
    a = 1e-3 * np.exp(0.2 * rng.standard_normal(k))  # repetitions differ a lot; pairs share it
    return a, a * ratio * np.exp(noise * rng.standard_normal(k))


def test_signed_rank_distribution_is_exact():
    """Against brute force: every sign pattern of ranks 1..n equally likely."""
    for n in (1, 3, 6):
        sums = [sum(r for r, s in zip(range(1, n + 1), signs) if s) for signs in itertools.product((0, 1), repeat=n)]
        brute = np.cumsum(np.bincount(sums, minlength=n * (n + 1) // 2 + 1)) / 2**n
        np.testing.assert_allclose(signed_rank_cdf(n), brute)


def test_interval_matches_the_table_and_needs_six_pairs_at_95_percent():
    assert min_pairs(0.95) == 6 and min_pairs(0.90) == 5
    assert signed_rank_interval(np.arange(5.0)) is None  # 1 - 2/32 < 0.95: no interval exists
    low, high, conf = signed_rank_interval(np.arange(6.0))
    assert (low, high) == (0.0, 5.0) and conf == pytest.approx(1 - 2 / 64)  # the extremes, at 96.9%
    low, high, conf = signed_rank_interval(np.arange(8.0))  # n = 8: the 4th Walsh average from each end
    assert conf == pytest.approx(1 - 2 * 5 / 256) and (low, high) == (1.0, 6.0)


def test_hodges_lehmann_ignores_one_disturbed_repetition():
    d = np.array([0.01, 0.0, -0.01, 0.005, 0.0, 0.9])
    assert abs(hodges_lehmann(d)) < 0.02 and abs(np.mean(d)) > 0.1


@pytest.mark.parametrize("ratio, verdict", [(1.0, "same"), (1.05, "same"), (0.95, "same"), (1.25, "worse"),
                                            (1.5, "worse"), (0.75, "better"), (0.5, "better")])
def test_known_ratios_give_known_verdicts(ratio, verdict):
    a, b = noisy(10, ratio, 0.01)
    j = judge_pairs(a, b, threshold_pct=15)
    assert j.verdict == verdict
    assert j.low < ratio < j.high or abs(j.ratio - ratio) < 0.01
    assert j.ratio == pytest.approx(ratio, rel=0.02)
    assert j.detectable < 0.03 and j.pairs_to_settle is None


def test_significant_but_within_the_threshold_is_same():
    """5% slower, tightly measured: the interval is above 1 but within +-15%: not a regression."""
    j = judge_pairs(*noisy(10, 1.05, 0.005), threshold_pct=15)
    assert j.low > 1 and j.verdict == "same"


def test_too_noisy_is_inconclusive_and_says_how_many_pairs_would_settle_it():
    j = judge_pairs(*noisy(6, 1.0, 0.15, seed=3), threshold_pct=15)
    assert j.verdict == "inconclusive"
    assert j.low < 1 / 1.15 or j.high > 1.15
    assert j.pairs_to_settle is not None and j.pairs_to_settle > 6
    # with that many pairs at the same spread, the detectable effect fits between the estimate and the threshold
    spread = np.std(np.log(noisy(6, 1.0, 0.15, seed=3)[1] / noisy(6, 1.0, 0.15, seed=3)[0]), ddof=1)
    assert detectable(spread, j.pairs_to_settle) <= math.log(1.15) - abs(math.log(j.ratio)) + 1e-12


def test_too_few_pairs_can_never_pass_as_same_or_fail_as_worse():
    """Below min_pairs no interval exists: an interval that cannot exclude anything is never read as evidence."""
    for ratio in (1.0, 2.0):
        j = judge_pairs(*noisy(5, ratio, 0.0), threshold_pct=15)
        assert j.verdict == "inconclusive" and j.low is None and j.pairs_to_settle == min_pairs()


def test_one_big_outlier_does_not_make_a_regression():
    a, b = noisy(8, 1.0, 0.01)
    b[3] *= 3.0  # one disturbed repetition of B
    assert judge_pairs(a, b, 15).verdict in ("same", "inconclusive")


def test_detectable_effect_shrinks_with_pairs_and_grows_with_noise():
    assert detectable(0.05, 16) < detectable(0.05, 8) < detectable(0.10, 8)
    assert detectable(0.05, 1) == math.inf
    assert pairs_needed(0.05, 0.0, 6) is None and pairs_needed(1.0, 0.001, 6) is None  # beyond the cap


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        judge_pairs([1, 2], [1, 2, 3], 15)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.5, 2.0), min_size=6, max_size=14), st.floats(0.5, 2.0))
def test_scaling_b_scales_the_estimate_and_the_interval(ratios, factor):
    """Equivariance: multiplying every B by c multiplies the estimate and both ends by c; the interval holds it."""
    a = np.ones(len(ratios))
    j1, j2 = judge_pairs(a, np.asarray(ratios), 15), judge_pairs(a, np.asarray(ratios) * factor, 15)
    assert j2.ratio == pytest.approx(j1.ratio * factor, rel=1e-9)
    assert j2.low == pytest.approx(j1.low * factor, rel=1e-9) and j2.high == pytest.approx(j1.high * factor, rel=1e-9)
    assert j1.low <= j1.ratio <= j1.high


def test_coverage_of_the_interval_is_at_least_its_confidence():
    """Simulated: over many comparisons with a known true ratio, the interval holds it at least 95% of the time
    (an interval that cannot fail would hold it always and decide nothing; one too narrow, far less often)."""
    rng = np.random.default_rng(7)
    held = 0
    trials = 400
    for _ in range(trials):
        d = rng.standard_t(3, 8) * 0.05 + math.log(1.1)
        low, high, _ = signed_rank_interval(d)
        held += low <= math.log(1.1) <= high
    assert 0.93 <= held / trials < 1.0
