"""Small statistics shared by the bench summary and the reports."""

from __future__ import annotations

import math

import numpy as np


def loglog_slope(x, y) -> float:
    """Least-squares slope of log(y) against log(x): the exponent k in y ~ x^k. NaN with fewer than 2 x values."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(np.unique(x)) < 2:
        return float("nan")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


REGIMES = ("low", "high")


def regime_slopes(x, y) -> dict[str, float]:
    """``loglog_slope`` over the lower and the upper half of a sweep (sorted by x; the halves share their middle
    point): small sizes are bound by per-call overhead (nearly flat), large ones by arithmetic (steeper), and one
    slope over both would understate the growth at the high end. NaN for a half of fewer than 2 points."""
    order = np.argsort(np.asarray(x, dtype=float), kind="stable")
    x, y = np.asarray(x, dtype=float)[order], np.asarray(y, dtype=float)[order]
    k = len(x) // 2 + 1
    return {"low": loglog_slope(x[:k], y[:k]), "high": loglog_slope(x[-k:], y[-k:])}


# The sweep that changes a train step's counted arithmetic but not its calls: the state-size sweep from the (5,4)
# reference. The num_steps sweep changes how many steps a window calls; the batch-size sweep mostly changes work
# the FLOP count leaves out (gates, nonlinearities and the loss grow with the batch at state 4: numpy's step there
# ran 0.01-0.9 "GFLOP/s" against 77 at state 1024), so with it one line fitted no implementation (R^2 0.53-0.83,
# AMD EPYC, 2026-12-01) and without it 11 of 16 reach R^2 >= 0.95 (0.88-0.996).
OVERHEAD_SWEEPS = ("state_size",)


def overhead_fit(flops, seconds) -> dict[str, float]:
    """Step time as ``overhead + flops / rate``, fitted over a sweep's points (flops per step, median seconds per
    step): ``overhead_us``, the intercept, what a step costs with no arithmetic (Python, dispatch, launches);
    ``gflops``, the rate the arithmetic runs at (1 / slope); ``r2``, the fit's coefficient of determination; and
    ``points``. Least squares on relative residuals (each point weighted by 1 / its time), so that the smallest
    steps, where the overhead shows, weigh as much as the largest. NaN where fewer than 3 distinct sizes were
    timed, or where the fitted slope is not positive (no rate to read)."""
    x, y = np.asarray(flops, dtype=float), np.asarray(seconds, dtype=float)
    nan = {"overhead_us": math.nan, "gflops": math.nan, "r2": math.nan, "points": int(len(x))}
    if len(np.unique(x)) < 3:
        return nan
    slope, intercept = np.polyfit(x, y, 1, w=1 / y)
    if slope <= 0:
        return nan
    relative = (y - (intercept + slope * x)) / y
    spread = (y - np.average(y, weights=1 / y**2)) / y
    r2 = 1 - float(np.sum(relative**2) / np.sum(spread**2)) if np.sum(spread**2) > 0 else math.nan
    return {"overhead_us": float(intercept) * 1e6, "gflops": 1e-9 / float(slope), "r2": r2, "points": int(len(x))}


def overhead_share(us_per_step: float, flops: float, gflops: float) -> float:
    """The share of a measured step that its arithmetic, at the fitted rate, does not explain: 1 - (flops / rate)
    / time, clipped to [0, 1]. NaN without a rate or a time."""
    if not (us_per_step > 0 and flops > 0 and gflops > 0):
        return math.nan
    return float(min(1.0, max(0.0, 1 - flops / (gflops * 1e3) / us_per_step)))
