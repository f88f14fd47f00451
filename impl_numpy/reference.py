"""The NumPy reference: every task × cell, uni- or bidirectional, with hand-written forward pass,
backpropagation through the window, and both optimizers. Every other implementation is checked against this one
(loss parity), and the held-out metrics of every run are computed by its forward pass (``rnnbench.training.evaluate``).

The vanilla RNN on the binary task is the tutorial's (R2RT, "Recurrent neural networks in TensorFlow I"); the
gradients of every cell are derived by hand (``rnnbench.impl_numpy.cells``), and tests check them against
central finite differences in float64.
"""

from __future__ import annotations

import numpy as np

from rnnbench.impl_numpy.model import Model
from rnnbench.impl_numpy.optim import OPTIMIZERS
from rnnbench.spec.config import RunConfig
from rnnbench.spec.interface import StepwiseEpoch
from rnnbench.spec.params import Params


def global_norm(grads: Params) -> float:
    """The norm of every gradient together: sqrt of the sum of their squares."""
    return float(np.sqrt(sum(float(np.sum(g * g)) for g in grads)))


def clip_by_global_norm(grads: Params, clip_norm: float) -> Params:
    """Every gradient times min(1, clip_norm / global_norm): their direction kept, their joint norm at most
    clip_norm."""
    scale = min(1.0, clip_norm / max(global_norm(grads), np.finfo(np.float64).tiny))
    return grads if scale == 1.0 else grads.map(lambda g: g * g.dtype.type(scale))


class NumpyReference(StepwiseEpoch):
    def build(self, config: RunConfig, params: Params) -> None:
        self.config = config
        self.model = Model(config)
        self.carries_state = config.task_spec.carries_state
        self.weights = params.astype(self.model.dtype).copy()
        self.optimizer = OPTIMIZERS[config.optimizer](self.weights, config.learning_rate)
        self.reset_state()

    def reset_state(self) -> None:
        self.zero = self.model.zero_state(self.config.batch_size, self.config.state_size)
        self.state = self.zero

    def _start(self) -> tuple:
        """The carried state of a stream task; zero for independent sequences."""
        return self.state if self.carries_state else self.zero

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        loss, grads, self.state = self.model.loss_and_grads(self.weights, x, y, self._start())
        if self.config.clip_norm is not None:
            grads = clip_by_global_norm(grads, self.config.clip_norm)
        self.optimizer.update(self.weights, grads)
        return loss

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(self.weights, x, self._start())[0]

    def params(self) -> Params:
        return self.weights.astype(np.float32).copy()

    def versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}
