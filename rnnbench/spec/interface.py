"""The one interface every implementation satisfies.

An implementation is constructed with no arguments (cheap, no framework work), then ``build`` makes its
graph, model and optimizer from a config and the canonical parameters. Two callers drive it: the training
loop in ``rnnbench.training.train`` (every epoch of a run), and the benchmark harness (``rnnbench.harness``), which
times ``build``, ``train_step``, ``forward`` and the training loop's epoch one at a time.

Its name, framework, devices and what it supports (tasks, cells, bidirectional, optimizers) are data in its
registry entry (``rnnbench.spec.registry``), not attributes of the class. Arrays cross the interface as NumPy, in the
task's form (``rnnbench.tasks.base``): x int32 (batch, num_steps) for token tasks or float32
(batch, num_steps, input_size) for feature tasks; y int32 class ids (batch, num_steps) or (batch,) at the last
step, or float32 values (batch, num_steps, output_size). The parameters are the config's canonical arrays
(``rnnbench.spec.cells.param_shapes``): W b U c for the vanilla RNN and the LSTM, W b bh U c for the GRU, bwd_ for the
backward direction. A task of one stream per row carries the state from window to window; a task of independent
sequences starts every window from a zero state (``Task.carries_state``).

A configuration an implementation cannot run is refused with ``UnsupportedError`` (from the registry entry's
check, or from ``build``): the CLI prints it as one line and exits 2, the benchmarks skip with it as the
reason. ``train_epoch`` of a variant that is not ``whole_epoch`` raises ``NotImplementedError``; the training
loop never calls it.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from rnnbench.spec.config import RunConfig
from rnnbench.spec.params import Params


@runtime_checkable
class RNNImplementation(Protocol):
    # True when train_epoch runs a whole epoch in one call (e.g. one compiled loop); the training
    # loop then calls it instead of train_step per window. Such variants must still do train_step.
    whole_epoch: ClassVar[bool]

    def build(self, config: RunConfig, params: Params) -> None:
        """Construct graph/model/optimizer from canonical params. Timed as build, never as training."""

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One window: forward, backward, update; carries the state to the next window (stream tasks); returns
        the loss."""

    def train_epoch(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """All windows (n_windows, batch, num_steps) of an epoch in order; returns the per-step losses."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Inference on one window from the carried state, no update: probabilities of a classifier, values of a
        regression; (batch, num_steps, n_out) at each step, (batch, n_out) when the target is at the last step."""

    def reset_state(self) -> None:
        """Zero the carried state (start of an epoch)."""

    def params(self) -> Params:
        """The current parameters in canonical form (float32 NumPy arrays, the config's canonical names)."""

    def versions(self) -> dict[str, str]:
        """Versions of the libraries this implementation runs on, e.g. {"numpy": "2.1.0"}."""


class StepwiseEpoch:
    """Mixin for implementations that train one window per call: no whole-epoch mode."""

    whole_epoch: ClassVar[bool] = False

    def train_epoch(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} trains one window per call")
