"""What every task is: its inputs and targets, its batching, its loss, its seed's settings, its data and its theory
levels. One module per task subclasses ``Task``; ``rnnbench.tasks.TASKS`` is the table of them.

Data crosses the implementation interface as NumPy windows, one train step each:

- x: token tasks int32 (batch, num_steps); feature tasks float32 (batch, num_steps, input_size);
- y: class targets int32, (batch, num_steps) at each step or (batch,) at the last; regression targets float32
  (batch, num_steps, output_size).

An epoch's windows stack them: (n_windows, batch, ...). Seeds: every random draw comes from its own child of the
run seed, ``default_rng([seed, STREAM_*, ...])``. Only append stream ids; stored results depend on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rnnbench.errors import UserError

if TYPE_CHECKING:
    from rnnbench.spec.config import RunConfig

STREAM_DATA = 0  # an epoch's training data: default_rng([seed, STREAM_DATA, epoch])
STREAM_PARAMS = 1  # the initial parameters
STREAM_EVAL = 2  # the held-out data

DATA_OVERHEAD = 4  # copies of an epoch's data alive at once, at most (Task.data_bytes)
XENT, MSE = "xent", "mse"  # the loss kinds: softmax cross-entropy (nats), mean squared error


@dataclass(frozen=True)
class Level:
    key: str
    value: float  # in the task's loss units
    label: str  # what reaching it means


class Levels(tuple):
    """A task's theory levels, in order. Computed from the task's definition, never typed in."""

    def as_dict(self) -> dict[str, float]:
        return {lv.key: lv.value for lv in self}

    def labels(self) -> dict[str, str]:
        return {lv.key: lv.label for lv in self}

    def nothing_learned(self) -> float:
        """The highest level: what a model that learned nothing reaches."""
        return max(lv.value for lv in self)

    def nearest(self, loss: float) -> str:
        """Key of the level closest to ``loss``."""
        return min(self, key=lambda lv: abs(lv.value - loss)).key


@dataclass(frozen=True)
class Goal:
    """What a reference run must reach on the held-out data, e.g. test_accuracy >= 0.9."""

    metric: str  # a key of the run's metrics: eval_loss, test_accuracy, free_run_mse
    bound: float
    higher_is_better: bool = False

    def met(self, value: float | None) -> bool:
        if value is None or not math.isfinite(value):
            return False
        return value >= self.bound if self.higher_is_better else value <= self.bound

    def text(self) -> str:
        return f"{self.metric} {'>=' if self.higher_is_better else '<='} {self.bound:.4g}"


@dataclass(frozen=True)
class ReferenceSpec:
    """A task's reference configuration: the config fields that differ from the task's defaults and what it
    must reach. ``rnnbench.spec.references`` turns it into a ``Reference``."""

    overrides: dict  # RunConfig fields on top of the task's defaults
    expected_level: str | None  # the theory level the final loss should lie nearest to
    target: float  # time-to-target: the running mean of 100 train losses first below this
    loss_band: tuple[float, float]  # where the final train loss must land; leaving it is a regression
    goal: Goal | None = None  # held-out result it must reach
    timed: bool = True  # timed by the benchmarks' profiles; else a convergence reference only (tests, docs)
    every_measure: bool = False  # timed by every measure (build, train, train_step, forward, epoch); else by its
    # training run (which records its build) and the epoch timed on the implementation that run trained


class Task:
    """One task. Subclasses set the attributes and write the data methods."""

    name: str
    summary: str
    seed: str  # where it comes from
    tokens: bool  # inputs are class ids (one-hot inside), else rows of features
    loss: str  # XENT or MSE
    each_step: bool  # a target at each step, else only at the last
    carries_state: bool  # one stream per row, state carried across windows; else independent sequences
    generates: bool = False  # the target is the next input: the model can run free, fed its own outputs
    defaults: dict  # the seed's settings: RunConfig fields
    data_help: str  # what --data-in takes
    data_keys: tuple[str, ...] = ("x", "y")  # the arrays of --data-in and of `rnnbench gen`
    parity_dtype: str = "float32"  # where the parity tests hold every implementation within 1e-4 of NumPy
    parity_why: str = ""  # why it is not float32, when it is not (the report says it beside the parity figure)

    @property
    def bidirectional_ok(self) -> bool:
        """A bidirectional model needs a whole sequence: only tasks of independent sequences."""
        return not self.carries_state

    input_width: int = 1  # values per input step (the one-hot width of a token task)
    output_width: int = 1  # classes, or values per output
    sized_by_config: bool = False  # its input width, classes and targets are the run's (RunConfig.input_width...)

    def for_config(self, config: RunConfig) -> Task:
        """The task as ``config`` runs it (a task sized by the run gives the variant of its classes and targets)."""
        return self

    def label_suffix(self, config: RunConfig) -> str:
        """What a configuration's label adds for this task's own sizes ("" but for a task sized by the run)."""
        return ""

    def input_size(self, config: RunConfig) -> int:
        return self.input_width

    def output_size(self, config: RunConfig) -> int:
        return self.output_width

    def levels(self) -> Levels:
        raise NotImplementedError

    def references(self) -> tuple[ReferenceSpec, ...]:
        raise NotImplementedError

    def validate(self, config: RunConfig) -> None:
        """Refuse a configuration this task cannot run (a ConfigError naming the field)."""

    def windows_per_epoch(self, config: RunConfig) -> int:
        raise NotImplementedError

    def generate(self, config: RunConfig, epoch: int = 0) -> dict[str, np.ndarray]:
        """The data of one epoch, as ``rnnbench gen`` writes it and ``--data-in`` reads it."""
        raise NotImplementedError

    def check_data(self, path: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Validate ``--data-in`` arrays; errors name the file, the array and what is valid."""
        raise NotImplementedError

    def config_from_data(self, data: dict[str, np.ndarray]) -> dict:
        """RunConfig fields the data decides (e.g. the stream's length)."""
        return {}

    def epoch_batches(self, config: RunConfig, epoch: int, data: dict | None = None):
        """(xs, ys): the windows of one epoch, from the given data (``--data-in``) or generated from the seed."""
        raise NotImplementedError

    def eval_batches(self, config: RunConfig, data: dict | None = None):
        """(xs, ys): the held-out windows, never trained on."""
        raise NotImplementedError

    def data_bytes(self, config: RunConfig) -> int:
        """About the memory an epoch's data takes: its windows, times DATA_OVERHEAD for the copies made on the way
        (the generator's draws, the windowed arrays, an implementation's own)."""
        (x_shape, x_type), (y_shape, y_type) = self.window_shapes(config)
        per_window = math.prod(x_shape) * np.dtype(x_type).itemsize + math.prod(y_shape) * np.dtype(y_type).itemsize
        samples = config.batch_size * (config.num_steps if self.carries_state else 1)
        return int(DATA_OVERHEAD * config.size * per_window / samples)

    def window_shapes(self, config: RunConfig) -> tuple[tuple[tuple, type], tuple[tuple, type]]:
        """((x shape, dtype), (y shape, dtype)) of one window, as the interface passes it."""
        B, T = config.batch_size, config.num_steps
        x = ((B, T), np.int32) if self.tokens else ((B, T, self.input_size(config)), np.float32)
        if self.loss == MSE:
            y = ((B, T, self.output_size(config)) if self.each_step else (B, self.output_size(config)), np.float32)
        else:
            y = ((B, T) if self.each_step else (B,), np.int32)
        return x, y

    def zero_windows(self, config: RunConfig, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Zero x and y of one window (or of ``count`` stacked windows): what a build warms up and traces on."""
        lead = () if count is None else (count,)
        (x_shape, x_dtype), (y_shape, y_dtype) = self.window_shapes(config)
        return np.zeros(lead + x_shape, x_dtype), np.zeros(lead + y_shape, y_dtype)


# --- helpers the tasks share ------------------------------------------------------------------------


def window_count(length: int, num_steps: int, shift: int | None = None) -> int:
    """Windows of ``num_steps`` (k2) starting every ``shift`` (k1; None: num_steps) steps that fit in ``length``."""
    k1 = shift or num_steps
    return 0 if length < num_steps else (length - num_steps) // k1 + 1


def cut_rows(rows: np.ndarray, num_steps: int, shift: int | None = None) -> np.ndarray:
    """(batch, length, ...) rows -> (n_windows, batch, num_steps, ...) windows in order, one every ``shift`` steps
    (None: every num_steps, side by side); the tail that does not fill a window is dropped. With a shift below
    num_steps the windows overlap: BPTT(k2, k1)'s windows (``RunConfig.shift``)."""
    batch, length = rows.shape[:2]
    n_windows = window_count(length, num_steps, shift)
    if n_windows == 0:
        raise ValueError(f"rows of {length} are shorter than num_steps {num_steps}")
    k1 = shift or num_steps
    starts = np.arange(n_windows)[:, None] * k1 + np.arange(num_steps)  # (N, T) column of each window step
    return np.ascontiguousarray(np.moveaxis(rows[:, starts], 0, 1))  # (N, B, T, ...)


def batches(a: np.ndarray, batch_size: int) -> np.ndarray:
    """(n, ...) samples -> (n // batch_size, batch_size, ...) batches; the remainder is dropped."""
    n = len(a) // batch_size
    return np.ascontiguousarray(a[: n * batch_size].reshape(n, batch_size, *a.shape[1:]))


def require_arrays(path: str, arrays: dict[str, np.ndarray], spec: dict[str, str]) -> None:
    """Each named array exists (load_npz checked that) and is numeric; ``spec`` maps key -> what it should be."""
    for key, what in spec.items():
        a = arrays[key]
        if not (np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.bool_)):
            raise UserError(f"{path}: {key} must be {what}, got dtype {a.dtype}")
        if np.issubdtype(a.dtype, np.floating) and a.size and not np.isfinite(a).all():
            raise UserError(f"{path}: {key} holds NaN or infinite values")
