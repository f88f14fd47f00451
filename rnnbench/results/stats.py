"""Small statistics shared by the bench summary and the reports."""

from __future__ import annotations

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
