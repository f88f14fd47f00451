"""The one training loop every implementation runs under, for every task.

Epochs of windows: the state is zeroed at the start of each epoch and, for a task of one stream per row,
carried from window to window inside it (TF-style truncated backpropagation); a task of independent sequences
starts every window from zero (the implementation's train_step does that). Build time is measured apart from
training time, data preparation and the held-out evaluation stay outside both, and a NaN or infinite loss stops
the run with the step where it happened.
"""

from __future__ import annotations

import math
import platform
import time
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from rnnbench import __version__
from rnnbench.errors import DivergedError
from rnnbench.spec import registry
from rnnbench.spec.config import RunConfig
from rnnbench.spec.params import Params, init_params
from rnnbench.spec.path import path
from rnnbench.training.evaluate import evaluate

FINAL_LOSS_WINDOW = 100  # final_loss is the mean of the last this-many step losses
DIVERGED_FACTOR = 10  # a run whose final_loss ends above this many times the nothing-learned level diverged
PROGRESS_EVERY = 50  # steps between progress-bar updates, to keep the bar out of the timings

TRAIN_SCHEMA_VERSION = 2  # `rnnbench train --out`; 2: task, cell, bidirectional, optimizer, levels, held-out metrics


@dataclass
class TrainResult:
    impl: str
    framework: str
    versions: dict[str, str]
    config: RunConfig
    losses: np.ndarray  # one per train step, in order
    build_seconds: float
    train_seconds: float
    final_params: Params = field(repr=False)
    # training seconds elapsed at the end of each step; within a whole-epoch call, spread evenly over its steps
    step_seconds: np.ndarray = field(repr=False, default=None)
    epoch_seconds: list[float] = field(repr=False, default_factory=list)  # each epoch's run_epoch, in order
    metrics: dict = field(default_factory=dict)  # rnnbench.training.evaluate: eval_loss, test_accuracy, free_run_mse
    implementation: object = field(default=None, repr=False)  # the trained instance, for a caller to time further
    path: dict = field(default_factory=dict)  # the computational path the run took (``rnnbench.spec.path``)

    @property
    def levels(self):
        """The task's theory levels (rnnbench.tasks.base.Levels)."""
        return self.config.task_spec.levels()

    @property
    def steps(self) -> int:
        return len(self.losses)

    @property
    def final_loss(self) -> float:
        return float(np.mean(self.losses[-FINAL_LOSS_WINDOW:]))

    @property
    def us_per_step(self) -> float:
        return 1e6 * self.train_seconds / max(self.steps, 1)

    def running_mean(self) -> np.ndarray:
        """Mean of each run of 100 consecutive step losses (of all of them, when there are fewer)."""
        window = min(FINAL_LOSS_WINDOW, len(self.losses))
        return np.convolve(self.losses, np.ones(window) / window, mode="valid")

    def time_to_target(self, target: float) -> tuple[int, float] | None:
        """(steps, seconds) when the running mean of the last 100 step losses first falls below ``target``.

        None when it never does: not reaching a target is a result, not an error.
        """
        if len(self.losses) < FINAL_LOSS_WINDOW:
            return None
        below = np.flatnonzero(self.running_mean() < target)
        if below.size == 0:
            return None
        step = int(below[0]) + FINAL_LOSS_WINDOW  # steps done when the window of 100 first qualifies
        return step, float(self.step_seconds[step - 1])

    def loss_curve(self, points: int = 200) -> dict[str, list]:
        """The running mean of 100 step losses, at most ``points`` of it (for plots): {"step": [...], "loss": [...]}."""
        running = self.running_mean()
        steps = np.arange(len(self.losses) - len(running) + 1, len(self.losses) + 1)
        pick = np.unique(np.linspace(0, len(running) - 1, min(points, len(running))).round().astype(int))
        return {"step": steps[pick].tolist(), "loss": [round(float(v), 6) for v in running[pick]]}

    def to_json(self) -> dict:
        levels = self.levels
        return {
            "schema_version": TRAIN_SCHEMA_VERSION,
            "impl": self.impl,
            "framework": self.framework,
            "versions": self.versions,
            "path": self.path,
            "task": self.config.task,
            "cell": self.config.cell,
            "bidirectional": self.config.bidirectional,
            "optimizer": self.config.optimizer,
            "config": self.config.as_dict(),
            "final_loss": self.final_loss,
            "nearest_level": levels.nearest(self.final_loss),
            "levels": levels.as_dict(),
            "level_labels": levels.labels(),
            **self.metrics,
            "build_seconds": self.build_seconds,
            "train_seconds": self.train_seconds,
            "steps": self.steps,
            "us_per_step": self.us_per_step,
            "losses": [float(v) for v in self.losses],
        }


def _check_finite(losses: np.ndarray, first_step: int) -> None:
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        raise DivergedError(first_step + int(bad[0]), float(losses[bad[0]]))


def _check_learned_something(config: RunConfig, losses: np.ndarray) -> None:
    """A finite loss that ends far above what learning nothing gives is a diverged run too (``--lr 1e6``)."""
    final = float(losses[-FINAL_LOSS_WINDOW:].mean())
    worst = config.task_spec.levels().nothing_learned()
    if final > DIVERGED_FACTOR * worst:
        raise DivergedError(len(losses), final, f"diverged: final_loss {final:.6g} is over {DIVERGED_FACTOR}x the "
                                                f"nothing-learned level {worst:.4f} (learning_rate "
                                                f"{config.learning_rate:g}?)")


def run_epoch(impl, xs: np.ndarray, ys: np.ndarray, first_step: int = 0, progress=None,
              step_ends: np.ndarray | None = None) -> np.ndarray:
    """One epoch over windows xs, ys (n_windows, batch, num_steps) from a zero state; returns per-step losses.

    A whole-epoch implementation gets all windows in one call; any other gets them one at a time, in order.
    ``first_step`` numbers the steps in a DivergedError; ``progress(n)`` is told of steps done;
    ``step_ends``, if given, receives ``time.perf_counter()`` at the end of each step (for a whole-epoch call,
    spread evenly between its start and its end).
    """
    impl.reset_state()
    if impl.whole_epoch:
        start = time.perf_counter()
        losses = np.asarray(impl.train_epoch(xs, ys), dtype=np.float64)
        if step_ends is not None:
            step_ends[:] = np.linspace(start, time.perf_counter(), len(xs) + 1)[1:]
        _check_finite(losses, first_step)
        if progress:
            progress(len(losses))
        return losses
    losses = np.empty(len(xs), dtype=np.float64)
    clock = time.perf_counter
    for i in range(len(xs)):
        loss = impl.train_step(xs[i], ys[i])
        if step_ends is not None:
            step_ends[i] = clock()
        if not math.isfinite(loss):
            raise DivergedError(first_step + i, loss)
        losses[i] = loss
        if progress and i % PROGRESS_EVERY == PROGRESS_EVERY - 1:
            progress(PROGRESS_EVERY)
    if progress:
        progress(len(xs) % PROGRESS_EVERY)
    return losses


def train(
    impl_name: str,
    config: RunConfig,
    params: Params | None = None,
    data: dict | None = None,
    progress: bool | None = None,
    held_out: bool = True,
) -> TrainResult:
    """Build ``impl_name`` from ``params`` (default: the canonical init) and train it for config.epochs, then
    evaluate it on the task's held-out data.

    ``data`` (``--data-in``, checked by the task) replaces the generated data of every epoch; the config must
    already agree with it (``Task.config_from_data``). ``held_out=False`` leaves the evaluation (``metrics``) to
    the caller: a benchmark that times this call does it after the clock.
    ``progress``: True/False forces the bar on/off; None shows it only on a terminal.
    """
    impl = registry.create(impl_name, config)
    params = init_params(config) if params is None else params
    task = config.task_spec
    steps_total = config.epochs * config.windows_per_epoch
    losses: list[np.ndarray] = []
    step_seconds: list[np.ndarray] = []
    epoch_seconds: list[float] = []
    train_seconds = 0.0
    with threadpool_limits(limits=config.threads):
        start = time.perf_counter()
        impl.build(config, params)
        build_seconds = time.perf_counter() - start

        bar = tqdm(total=steps_total, desc=impl_name, unit="step", disable=None if progress is None
                   else not progress, leave=False, dynamic_ncols=True)
        with bar:
            for epoch in range(config.epochs):
                xs, ys = task.epoch_batches(config, epoch, data)  # data preparation stays outside the timing
                ends = np.empty(len(xs))
                start = time.perf_counter()
                epoch_losses = run_epoch(impl, xs, ys, first_step=sum(map(len, losses)), progress=bar.update,
                                         step_ends=ends)
                step_seconds.append(train_seconds + ends - start)
                epoch_seconds.append(time.perf_counter() - start)
                train_seconds += epoch_seconds[-1]
                bar.set_postfix(epoch=epoch + 1, loss=f"{epoch_losses[-FINAL_LOSS_WINDOW:].mean():.4f}")
                losses.append(epoch_losses)

    _check_learned_something(config, np.concatenate(losses))
    versions = {"rnnbench": __version__, "python": platform.python_version(), **impl.versions()}
    final_params = impl.params()
    return TrainResult(
        impl=impl_name,
        framework=registry.entry(impl_name).framework,
        versions=versions,
        config=config,
        losses=np.concatenate(losses),
        build_seconds=build_seconds,
        train_seconds=train_seconds,
        final_params=final_params,
        step_seconds=np.concatenate(step_seconds),
        epoch_seconds=epoch_seconds,
        metrics=evaluate(config, final_params, data) if held_out else {},
        implementation=impl,
        path=path(registry.entry(impl_name).framework),  # read after the clock, its runtime started
    )
