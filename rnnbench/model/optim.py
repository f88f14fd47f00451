"""Adagrad and Adam with ``rnnbench.spec.optimizer``'s semantics, as functional updates over ``Ops``: the parameters,
the slots and the gradients in, the new parameters and slots out (tuples, in the parameters' order), so that a
compiled loop (``tf.while_loop``, ``torch.compile``) can carry them. JAX trains with optax instead, configured to
the same semantics (``impl_jax/runtime.py``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from rnnbench.errors import lookup
from rnnbench.model.ops import Ops
from rnnbench.spec.optimizer import ADAGRAD_INITIAL_ACCUMULATOR, ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON


def adagrad_slots(ops: Ops, params) -> tuple:
    """One accumulator per parameter, from 0.1."""
    return tuple(ops.full_like(p, ADAGRAD_INITIAL_ACCUMULATOR) for p in params)


def adagrad_apply(ops: Ops, lr: float, params, slots, grads) -> tuple[tuple, tuple]:
    """TF1 Adagrad: no epsilon."""
    accums = tuple(a + g * g for a, g in zip(slots, grads))
    return tuple(p - lr * g / ops.sqrt(a) for p, g, a in zip(params, grads, accums)), accums


def adam_slots(ops: Ops, params) -> tuple:
    """m and v per parameter, then the step count (a tensor, so that a compiled loop carries it)."""
    return (*(ops.zeros_like(p) for p in params), *(ops.zeros_like(p) for p in params), ops.scalar(0.0, params[0]))


LOG_BETA1, LOG_BETA2 = math.log(ADAM_BETA1), math.log(ADAM_BETA2)


def adam_apply(ops: Ops, lr: float, params, slots, grads) -> tuple[tuple, tuple]:
    """torch.optim.Adam: bias-corrected moments, epsilon added to the corrected root."""
    n = len(params)
    m, v, t = slots[:n], slots[n : 2 * n], slots[2 * n] + 1
    m = tuple(ADAM_BETA1 * a + (1 - ADAM_BETA1) * g for a, g in zip(m, grads))
    v = tuple(ADAM_BETA2 * a + (1 - ADAM_BETA2) * g * g for a, g in zip(v, grads))
    # 1 - beta^t as -expm1(t ln beta), ln beta a double: in float32, beta^t from beta rounded to float32 (0.999 is
    # 0.99900001) put a relative error of 1.3e-5 into 1 - beta2^t at small t, which Adam's normalised steps carried
    # to 5.4e-4 of minLSTM's weights after 50 steps at sin2cos (the NumPy reference corrects in float64)
    step = lr / -ops.expm1(t * LOG_BETA1)
    root = ops.sqrt(-ops.expm1(t * LOG_BETA2))
    new = tuple(p - step * a / (ops.sqrt(b) / root + ADAM_EPSILON) for p, a, b in zip(params, m, v))
    return new, (*m, *v, t)


@dataclass(frozen=True)
class Optimizer:
    slots: Callable  # (ops, params) -> slots
    apply: Callable  # (ops, lr, params, slots, grads) -> (new params, new slots)


OPTIMIZERS = {"adagrad": Optimizer(adagrad_slots, adagrad_apply), "adam": Optimizer(adam_slots, adam_apply)}


def optimizer(name: str) -> Optimizer:
    return lookup(OPTIMIZERS, name, "optimizer", "optimizer")
