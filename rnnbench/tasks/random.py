"""Random data at any size: the task that times and checks parity where users train (issue "At the sizes users
run"), not one to learn from.

Inputs are drawn N(0, 1), ``input_size`` features a step (``--input-size``); targets are class ids drawn uniformly
from ``classes`` (``--classes``, default 10), at every step or at the last (``--target each|last``), independent of
the inputs. Sequences are independent (a zero initial state, so a bidirectional model applies); softmax
cross-entropy; the optimizer is Adam as everywhere. Each epoch draws fresh data from the run seed.

Theory: inputs and targets are independent, so nothing a model computes from the inputs predicts the targets;
the best it can do is the class frequencies, uniform, at cross-entropy ln C (ln 10 = 2.3026). A model that fits
its training windows better than that has memorised noise, which fresh data each epoch forbids.
"""

from __future__ import annotations

import functools
import math

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
    batches,
    require_arrays,
)

DEFAULT_INPUT, DEFAULT_CLASSES, DEFAULT_TARGET = 16, 10, "each"
EVAL_SEQUENCES = 256  # held-out sequences (at least one batch)


def draw(sequences: int, num_steps: int, input_size: int, classes: int, each_step: bool,
         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """x float32 (n, T, input_size) ~ N(0, 1); y int32 class ids, (n, T) at each step or (n,) at the last."""
    x = rng.standard_normal((sequences, num_steps, input_size), dtype=np.float32)
    y = rng.integers(0, classes, (sequences, num_steps) if each_step else (sequences,), dtype=np.int32)
    return x, y


class Random(Task):
    """One of the task's variants (``for_config``): its classes and where its targets are fixed per instance, so
    that everything reading ``task_spec.each_step`` and ``levels()`` sees the run's."""

    name = "random"
    summary = "N(0, 1) inputs of any width -> uniform class ids at each step or the last; independent sequences"
    seed = "the peers' benchmarks (fastrnns, DeepBench, stefbraun, glample): random data at users' sizes"
    tokens = False
    loss = XENT
    carries_state = False
    sized_by_config = True  # input_size, classes and target are the run's (--input-size, --classes, --target)
    defaults = dict(cell="lstm", optimizer="adam", learning_rate=0.001, num_steps=20, state_size=64, batch_size=32,
                    size=320, epochs=1, input_width=DEFAULT_INPUT, classes=DEFAULT_CLASSES,
                    target_at=DEFAULT_TARGET)
    data_help = ("x: float (n, num_steps, input_size); y: int class ids (n, num_steps) at each step or (n,) at the "
                 "last (as `rnnbench gen --task random` writes)")

    def __init__(self, classes: int = DEFAULT_CLASSES, target: str = DEFAULT_TARGET):
        self.classes, self.target = classes, target
        self.each_step = target == "each"
        self.output_width = classes

    def for_config(self, config) -> Random:
        return variant(config.classes or DEFAULT_CLASSES, config.target_at or DEFAULT_TARGET)

    def input_size(self, config) -> int:
        return config.input_width or DEFAULT_INPUT

    def output_size(self, config) -> int:
        return self.classes

    def label_suffix(self, config) -> str:
        return (f"-I{self.input_size(config)}" + (f"-C{self.classes}" if self.classes != DEFAULT_CLASSES else "")
                + ("-last" if not self.each_step else ""))

    def levels(self) -> Levels:
        return Levels((Level("chance", math.log(self.classes), f"chance (ln {self.classes}: the targets are "
                                                               "independent of the inputs)"),))

    def references(self) -> tuple[ReferenceSpec, ...]:
        # a convergence reference only (tests): 100 Adam steps stay at chance; final train loss 2.306-2.307 (seeds 0-3)
        level = math.log(DEFAULT_CLASSES)
        return (ReferenceSpec(dict(num_steps=10, state_size=16, input_width=8, size=3_200), "chance", level + 0.1,
                              (level - 0.05, level + 0.1), timed=False),)

    def validate(self, config) -> None:
        if config.size < config.batch_size:
            raise ConfigError("batch_size", f"must be at most size ({config.size} sequences), got "
                                            f"{config.batch_size}")

    def windows_per_epoch(self, config) -> int:
        return config.size // config.batch_size

    def generate(self, config, epoch: int = 0) -> dict[str, np.ndarray]:
        x, y = draw(config.size, config.num_steps, self.input_size(config), self.classes, self.each_step,
                    np.random.default_rng([config.seed, STREAM_DATA, epoch]))
        return {"x": x, "y": y}

    def check_data(self, path: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        require_arrays(path, arrays, {"x": "float sequences", "y": "class ids"})
        x, y = arrays["x"], arrays["y"]
        if x.ndim != 3:
            raise UserError(f"{path}: x must be (n, num_steps, input_size), got shape {x.shape}")
        if y.shape not in (x.shape[:2], x.shape[:1]):
            raise UserError(f"{path}: y must be {x.shape[:2]} (a class at each step) or {x.shape[:1]} (at the "
                            f"last), got shape {y.shape}")
        if not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
            raise UserError(f"{path}: y must hold non-negative integer class ids")
        return {"x": x.astype(np.float32), "y": y.astype(np.int32)}

    def config_from_data(self, data) -> dict:
        x, y = data["x"], data["y"]
        return {"size": len(x), "num_steps": x.shape[1], "input_width": x.shape[2],
                "classes": max(2, int(y.max()) + 1) if y.size else DEFAULT_CLASSES,
                "target_at": "each" if y.ndim == 2 else "last"}

    def epoch_batches(self, config, epoch: int, data=None):
        data = data if data is not None else self.generate(config, epoch)
        return batches(data["x"], config.batch_size), batches(data["y"], config.batch_size)

    def eval_batches(self, config, data=None):
        x, y = draw(max(EVAL_SEQUENCES, config.batch_size), config.num_steps, self.input_size(config), self.classes,
                    self.each_step, np.random.default_rng([config.seed, STREAM_EVAL]))
        return x[None], y[None]  # one window of every held-out sequence


@functools.cache
def variant(classes: int, target: str) -> Random:
    return TASK if (classes, target) == (DEFAULT_CLASSES, DEFAULT_TARGET) else Random(classes, target)


TASK = Random()
