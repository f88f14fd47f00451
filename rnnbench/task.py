"""The binary-dependency task: the data generator, TF-style batching and the exact theory levels.

x_t is a fair coin; y_t = 1 with probability 0.5 + 0.5*x_{t-3} - 0.25*x_{t-8}.
The first 8 inputs of every stream are burn-in: generated, used as history, then dropped, so no target
looks past the start of the stream (the original loop read X[i-3] with negative indexes, which wraps).

Seeds: each stream comes from its own child of the run seed, ``default_rng([seed, STREAM_DATA, epoch])``,
so epoch e is reproducible on its own, and ``rnnbench gen --seed K`` gives the stream of epoch 0.
Only append new stream ids; never change these, since stored results depend on them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from rnnbench.config import RunConfig

BURN_IN = 8  # the longest dependency of the rule
LAGS = (3, 8)  # the rule looks at x_{t-3} and x_{t-8}
STREAM_DATA = 0  # child stream ids of the run seed (append only)
STREAM_PARAMS = 1


def target_probability(x_lag3, x_lag8):
    """P(y_t = 1) given x_{t-3} and x_{t-8}; works on scalars and arrays alike."""
    return 0.5 + 0.5 * x_lag3 - 0.25 * x_lag8


def generate(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A stream of ``size`` samples: int32 arrays x and y, vectorised (no loop per sample)."""
    history = rng.integers(0, 2, size=size + BURN_IN, dtype=np.int8)
    # history[k] is x_{k - BURN_IN}: x_t sits at index t + 8, x_{t-3} at t + 5, x_{t-8} at t.
    p = target_probability(
        history[BURN_IN - 3 : BURN_IN - 3 + size].astype(np.float32), history[:size].astype(np.float32)
    )
    y = rng.random(size, dtype=np.float32) < p
    return history[BURN_IN:].astype(np.int32), y.astype(np.int32)


def epoch_stream(size: int, seed: int, epoch: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The stream of one epoch of a run: a fresh draw per epoch, reproducible from (seed, epoch)."""
    return generate(size, np.random.default_rng([seed, STREAM_DATA, epoch]))


def batch_windows(
    x: np.ndarray, y: np.ndarray, batch_size: int, num_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a stream into TF-style truncated-BPTT windows.

    The stream is cut into ``batch_size`` contiguous rows of ``len(x) // batch_size`` columns; windows of
    ``num_steps`` columns are taken in order, and columns past the last whole window are dropped.
    Window i of row r therefore continues window i-1 of row r, which is why the final state of one
    window is the initial state of the next.

    Returns xs, ys with shape (n_windows, batch_size, num_steps), C-contiguous.
    """
    row_length = len(x) // batch_size
    n_windows = row_length // num_steps
    if n_windows == 0:
        raise ValueError(
            f"a stream of {len(x)} samples has rows of {row_length}, shorter than num_steps {num_steps}"
        )

    def cut(a: np.ndarray) -> np.ndarray:
        rows = a[: batch_size * row_length].reshape(batch_size, row_length)  # (B, L)
        rows = rows[:, : n_windows * num_steps].reshape(batch_size, n_windows, num_steps)  # (B, N, T)
        return np.ascontiguousarray(rows.transpose(1, 0, 2))  # (N, B, T)

    return cut(x), cut(y)


def epoch_batches(config: RunConfig, epoch: int, data: tuple[np.ndarray, np.ndarray] | None = None):
    """Windows of one epoch: the given stream (``--data-in``) or a fresh one from the seed."""
    x, y = data if data is not None else epoch_stream(config.size, config.seed, epoch)
    return batch_windows(x, y, config.batch_size, config.num_steps)


# --- theory ---------------------------------------------------------------------------------------


def binary_entropy(p: float) -> float:
    """H(p) in nats; H(0) = H(1) = 0."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return float(-(p * np.log(p) + (1 - p) * np.log(1 - p)))


def expected_entropy(known_lags: tuple[int, ...]) -> float:
    """Best achievable cross-entropy for a predictor that sees exactly the inputs at ``known_lags``.

    Enumerates the equally likely values of (x_{t-3}, x_{t-8}); the optimal prediction for each
    value of the known lags is the mean of the rule over the unknown ones.
    """
    outcomes = list(itertools.product((0, 1), repeat=len(LAGS)))
    groups: dict[tuple, list[float]] = {}
    for values in outcomes:
        key = tuple(v for lag, v in zip(LAGS, values) if lag in known_lags)
        groups.setdefault(key, []).append(target_probability(*values))
    return sum(len(ps) / len(outcomes) * binary_entropy(float(np.mean(ps))) for ps in groups.values())


@dataclass(frozen=True)
class TheoryLevels:
    nothing: float  # no dependency learned: H(0.625)
    lag3: float  # the t-3 dependency learned
    both: float  # the t-3 and t-8 dependencies learned

    def as_dict(self) -> dict[str, float]:
        return {"nothing": self.nothing, "lag3": self.lag3, "both": self.both}

    def nearest(self, loss: float) -> str:
        """Name of the level closest to ``loss``."""
        return min(self.as_dict().items(), key=lambda kv: abs(kv[1] - loss))[0]


def theory_levels() -> TheoryLevels:
    return TheoryLevels(
        nothing=expected_entropy(()), lag3=expected_entropy((3,)), both=expected_entropy((3, 8))
    )


LEVEL_LABELS = {
    "nothing": "nothing learned",
    "lag3": "t-3 learned",
    "both": "t-3 and t-8 learned",
}
