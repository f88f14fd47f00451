"""The two optimizers in NumPy, updating the parameter arrays in place (so implementations can keep references
to them). Their semantics are ``rnnbench.spec.optimizer``'s."""

from __future__ import annotations

import numpy as np

from rnnbench.spec.optimizer import (
    ADAGRAD_INITIAL_ACCUMULATOR,
    ADAM_BETA1,
    ADAM_BETA2,
    ADAM_EPSILON,
)
from rnnbench.spec.params import Params


class Adagrad:
    """TF1 AdagradOptimizer: accum starts at 0.1; accum += g**2; p -= lr * g / sqrt(accum). No epsilon."""

    def __init__(self, params: Params, learning_rate: float):
        self.lr = np.asarray(learning_rate, dtype=params.W.dtype)
        self.accum = [np.full_like(p, ADAGRAD_INITIAL_ACCUMULATOR) for p in params]

    def update(self, params: Params, grads: Params) -> None:
        for p, g, acc in zip(params, grads, self.accum):
            acc += g * g
            p -= self.lr * g / np.sqrt(acc)


class Adam:
    """torch.optim.Adam: bias-corrected moments, epsilon added to the corrected root."""

    def __init__(self, params: Params, learning_rate: float):
        self.lr = float(learning_rate)
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def update(self, params: Params, grads: Params) -> None:
        self.t += 1
        step = self.lr / (1.0 - ADAM_BETA1**self.t)
        root_correction = float(np.sqrt(1.0 - ADAM_BETA2**self.t))
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m *= ADAM_BETA1
            m += (1.0 - ADAM_BETA1) * g
            v *= ADAM_BETA2
            v += (1.0 - ADAM_BETA2) * (g * g)
            p -= step * m / (np.sqrt(v) / root_correction + ADAM_EPSILON)


OPTIMIZERS = {"adagrad": Adagrad, "adam": Adam}
