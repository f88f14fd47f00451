"""The binary-dependency task (R2RT, "Recurrent neural networks in TensorFlow I"): the data generator, TF-style
batching and the exact theory levels.

x_t is a fair coin; y_t = 1 with probability 0.5 + 0.5*x_{t-3} - 0.25*x_{t-8}.
The first 8 inputs of every stream are burn-in: generated, used as history, then dropped, so no target
looks past the start of the stream (the original loop read X[i-3] with negative indexes, which wraps).

Seeds: each stream comes from its own child of the run seed, ``default_rng([seed, STREAM_DATA, epoch])``,
so epoch e is reproducible on its own, and ``rnnbench gen --seed K`` gives the stream of epoch 0; the held-out
stream from ``default_rng([seed, STREAM_EVAL])``.
"""

from __future__ import annotations

import itertools

import numpy as np

from rnnbench.errors import ConfigError, UserError
from rnnbench.tasks.base import (
    STREAM_DATA,
    STREAM_EVAL,
    XENT,
    Level,
    Levels,
    ReferenceSpec,
    Task,
    cut_rows,
    window_count,
)

BURN_IN = 8  # the longest dependency of the rule
LAGS = (3, 8)  # the rule looks at x_{t-3} and x_{t-8}
NUM_CLASSES = 2  # a coin in, a class out
EVAL_SIZE = 100_000  # samples of the held-out stream


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
    x: np.ndarray, y: np.ndarray, batch_size: int, num_steps: int, shift: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a stream into TF-style truncated-BPTT windows.

    The stream is cut into ``batch_size`` contiguous rows of ``len(x) // batch_size`` columns; windows of
    ``num_steps`` columns are taken in order, and columns past the last whole window are dropped.
    Window i of row r therefore continues window i-1 of row r, which is why the final state of one
    window is the initial state of the next.

    With a ``shift`` (BPTT(k2, k1)'s k1) below num_steps, a window starts every ``shift`` columns instead.

    Returns xs, ys with shape (n_windows, batch_size, num_steps), C-contiguous.
    """
    row_length = len(x) // batch_size
    if row_length // num_steps == 0:
        raise ValueError(
            f"a stream of {len(x)} samples has rows of {row_length}, shorter than num_steps {num_steps}"
        )

    def cut(a: np.ndarray) -> np.ndarray:
        return cut_rows(a[: batch_size * row_length].reshape(batch_size, row_length), num_steps, shift)  # (N, B, T)

    return cut(x), cut(y)


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


def theory_levels() -> Levels:
    return Levels((
        Level("nothing", expected_entropy(()), "nothing learned"),
        Level("lag3", expected_entropy((3,)), "t-3 learned"),
        Level("both", expected_entropy((3, 8)), "t-3 and t-8 learned"),
    ))


class Binary(Task):
    name = "binary"
    summary = "coin tokens -> next-class probabilities each step; one stream, TF-style windows, state carried"
    seed = "R2RT, Recurrent neural networks in TensorFlow I (TF1)"
    tokens = True
    input_width = output_width = NUM_CLASSES
    loss = XENT
    each_step = True
    carries_state = True
    defaults = dict(cell="rnn", optimizer="adagrad", learning_rate=0.1, num_steps=5, state_size=4,
                    batch_size=200, size=1_000_000, epochs=1)
    data_help = "x, y: 1-D integer streams of one length with values 0 or 1 (as `rnnbench gen --task binary` writes)"

    def levels(self) -> Levels:
        return theory_levels()

    def references(self) -> tuple[ReferenceSpec, ...]:
        """(5,4) learns only t-3 in one epoch; (10,16) learns both within a few epochs.

        The gated cells at (10,16) learn both with Adam 0.01 (the other tasks' optimizer) within 5 epochs, at
        0.456-0.457 over 8 seeds; with the tutorial's Adagrad 0.1 they are still on their way after 5 epochs (LSTM
        0.50-0.57, GRU 0.477-0.480 over 5 seeds). They are convergence references: tested, not timed (the full
        profile's cell sweep times the cells)."""
        both = dict(num_steps=10, state_size=16, epochs=5)
        gated = dict(both, optimizer="adam", learning_rate=0.01)
        return (
            ReferenceSpec(dict(num_steps=5, state_size=4, epochs=1), "lag3", 0.53, (0.505, 0.535), every_measure=True),
            ReferenceSpec(both, "both", 0.47, (0.44, 0.465), every_measure=True),
            ReferenceSpec(dict(gated, cell="lstm"), "both", 0.47, (0.44, 0.465), timed=False),
            ReferenceSpec(dict(gated, cell="gru"), "both", 0.47, (0.44, 0.465), timed=False),
        )

    def validate(self, config) -> None:
        row_length = config.size // config.batch_size
        if config.size < config.batch_size:
            raise ConfigError("batch_size", f"must be at most size ({config.size}), got {config.batch_size}")
        if config.num_steps > row_length:
            raise ConfigError(
                "num_steps",
                f"a window of {config.num_steps} is longer than a row "
                f"(size {config.size} // batch_size {config.batch_size} = {row_length}); use at most {row_length}",
            )

    def windows_per_epoch(self, config) -> int:
        return window_count(config.size // config.batch_size, config.num_steps, config.shift)

    def generate(self, config, epoch: int = 0) -> dict[str, np.ndarray]:
        x, y = epoch_stream(config.size, config.seed, epoch)
        return {"x": x, "y": y}

    def check_data(self, path: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x, y = arrays["x"], arrays["y"]
        if x.ndim != 1 or y.ndim != 1 or len(x) != len(y):
            raise UserError(f"{path}: x and y must be 1-D arrays of one length, got shapes {x.shape} and {y.shape}")
        for key, a in (("x", x), ("y", y)):
            if not np.issubdtype(a.dtype, np.integer) and not np.issubdtype(a.dtype, np.bool_):
                raise UserError(f"{path}: {key} must hold integers, got dtype {a.dtype}")
            if a.size and (a.min() < 0 or a.max() >= NUM_CLASSES):
                raise UserError(f"{path}: {key} values must be in 0..{NUM_CLASSES - 1}")
        return {"x": x.astype(np.int32), "y": y.astype(np.int32)}

    def config_from_data(self, data) -> dict:
        return {"size": len(data["x"])}

    def epoch_batches(self, config, epoch: int, data=None):
        data = data if data is not None else self.generate(config, epoch)
        return batch_windows(data["x"], data["y"], config.batch_size, config.num_steps, config.shift)

    def eval_batches(self, config, data=None):
        size = max(EVAL_SIZE, config.batch_size * config.num_steps)
        x, y = generate(size, np.random.default_rng([config.seed, STREAM_EVAL]))
        return batch_windows(x, y, config.batch_size, config.num_steps)


TASK = Binary()
