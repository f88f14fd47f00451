"""The one interface every implementation satisfies.

An implementation is constructed with no arguments (cheap, no framework work), then ``build`` makes its
graph, model and optimizer from a config and the canonical parameters. The training loop in
``rnnbench.train`` drives it; nothing else does.

Arrays cross the interface as NumPy: x and y windows are int32 of shape (batch_size, num_steps).
A mode an implementation cannot do raises ``NotImplementedError``; the harness turns it into a skip.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from rnnbench.config import RunConfig
from rnnbench.params import Params


@runtime_checkable
class RNNImplementation(Protocol):
    name: ClassVar[str]  # registry name, e.g. "numpy", "tf-cell", "torch-rnn"
    framework: ClassVar[str]  # "numpy", "tensorflow" or "torch"
    # True when train_epoch runs a whole epoch in one call (e.g. one compiled loop); the training
    # loop then calls it instead of train_step per window. Such variants must still do train_step.
    whole_epoch: ClassVar[bool]

    def build(self, config: RunConfig, params: Params) -> None:
        """Construct graph/model/optimizer from canonical params. Timed as build, never as training."""

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One window: forward, backward, update; carries the state to the next window; returns the loss."""

    def train_epoch(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """All windows (n_windows, batch, num_steps) of an epoch in order; returns the per-step losses."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Inference on one window from the carried state, no update: probabilities (batch, num_steps, C)."""

    def reset_state(self) -> None:
        """Zero the carried state (start of an epoch)."""

    def params(self) -> Params:
        """The current parameters in canonical form (float32 NumPy W, b, U, c)."""

    def versions(self) -> dict[str, str]:
        """Versions of the libraries this implementation runs on, e.g. {"numpy": "2.1.0"}."""


class StepwiseEpoch:
    """Mixin for implementations that train one window per call: no whole-epoch mode."""

    whole_epoch: ClassVar[bool] = False

    def train_epoch(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} trains one window per call")
