"""sin -> cos regression (Morvan's RNN regression tutorial): read sin(t), output cos(t) at the same point.

Each of the batch_size rows is one continuous stream of points spaced Δ = π/10 apart (a window of 10 spans π),
from a phase drawn uniformly in [0, 2π); windows are taken in order and the state is carried from one to the
next within an epoch, as in the seed.

Theory (mean squared error, phases uniform): a memoryless predictor sees sin(t) only, and cos(t) = ±sqrt(1−sin²)
with either sign equally likely, so its best guess is 0 and it costs E[cos²] = 0.5; with memory the direction
of travel gives the sign, and the error can reach 0.
"""

from __future__ import annotations

import numpy as np

from rnnbench.errors import ConfigError, UserError
from rnnbench.tasks.base import (
    MSE,
    STREAM_DATA,
    STREAM_EVAL,
    Goal,
    Level,
    Levels,
    ReferenceSpec,
    Task,
    cut_rows,
    require_arrays,
    window_count,
)
from rnnbench.tasks.sine import period_mean

DELTA = np.pi / 10  # the seed's windows of 10 points over π
EVAL_LENGTH = 500  # points per row of the held-out streams


def streams(rows: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """x = sin, y = cos: float32 (rows, length), each row one continuous stream from a uniform phase."""
    t = rng.uniform(0.0, 2 * np.pi, size=(rows, 1)) + DELTA * np.arange(length)
    return np.sin(t).astype(np.float32), np.cos(t).astype(np.float32)


class Sin2Cos(Task):
    name = "sin2cos"
    summary = "sin(t) -> cos(t) at each step; one continuous stream per row, windows of 10 over π, state carried"
    seed = "Morvan, RNN regression (sin -> cos)"
    tokens = False
    loss = MSE
    each_step = True
    carries_state = True
    defaults = dict(cell="rnn", optimizer="adam", learning_rate=0.02, num_steps=10, state_size=32,
                    batch_size=50, size=100_000, epochs=3)
    data_help = ("x, y: float arrays (rows, length), one continuous stream per row, y = cos where x = sin "
                 "(as `rnnbench gen --task sin2cos` writes); rows are the batch")

    def levels(self) -> Levels:
        return Levels((
            Level("memoryless", period_mean(lambda t: np.cos(t) ** 2), "memoryless best (predict 0)"),
            Level("exact", period_mean(lambda t: (np.cos(t) - np.cos(t)) ** 2), "exact"),
        ))

    def references(self) -> tuple[ReferenceSpec, ...]:
        # held-out MSE 0.0027-0.0032 over 5 seeds (the goal 0.05); final train loss 0-0.0008
        return (ReferenceSpec({}, "exact", 0.05, (0.0, 0.01), Goal("eval_loss", 0.05)),)

    def validate(self, config) -> None:
        row_length = config.size // config.batch_size
        if config.num_steps > row_length:
            raise ConfigError("num_steps", f"a window of {config.num_steps} is longer than a row (size {config.size}"
                                           f" // batch_size {config.batch_size} = {row_length})")

    def windows_per_epoch(self, config) -> int:
        return window_count(config.size // config.batch_size, config.num_steps, config.shift)

    def generate(self, config, epoch: int = 0) -> dict[str, np.ndarray]:
        x, y = streams(config.batch_size, config.size // config.batch_size,
                       np.random.default_rng([config.seed, STREAM_DATA, epoch]))
        return {"x": x, "y": y}

    def check_data(self, path: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        require_arrays(path, arrays, {"x": "float streams", "y": "float streams"})
        x, y = arrays["x"], arrays["y"]
        if x.ndim != 2 or x.shape != y.shape:
            raise UserError(f"{path}: x and y must be (rows, length) arrays of one shape, "
                            f"got {x.shape} and {y.shape}")
        return {"x": x.astype(np.float32), "y": y.astype(np.float32)}

    def config_from_data(self, data) -> dict:
        rows, length = data["x"].shape
        return {"batch_size": rows, "size": rows * length}

    def epoch_batches(self, config, epoch: int, data=None):
        data = data if data is not None else self.generate(config, epoch)
        return (cut_rows(data["x"][..., None], config.num_steps, config.shift),  # (N, B, T, 1)
                cut_rows(data["y"][..., None], config.num_steps, config.shift))

    def eval_batches(self, config, data=None):
        x, y = streams(config.batch_size, max(EVAL_LENGTH, config.num_steps),
                       np.random.default_rng([config.seed, STREAM_EVAL]))
        return cut_rows(x[..., None], config.num_steps), cut_rows(y[..., None], config.num_steps)


TASK = Sin2Cos()
