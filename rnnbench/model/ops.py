"""``Ops``: the operations the model's rules call, the whole contract between the core and a framework. Each
framework binds its own (``impl_tf/model.py``, ``impl_torch/model.py``, ``impl_jax/model.py``); every tensor
passed in and out is that framework's own, so the core imports none of them.

Arithmetic (``+ - * /``, ``**``, indexing ``x[:, t]``) is written with Python's operators, which every framework's
tensors define; what operators cannot say is here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ops:
    """A framework's operations, as the model's rules call them."""

    matmul: Callable[..., Any]  # (a, b, transpose_a=False, transpose_b=False), both 2-D
    project: Callable[[Any, Any, Any], Any]  # (x (..., K), W (K, N), b (N,)) -> x @ W + b over the last axis
    cat: Callable[[list, int], Any]  # (tensors, axis)
    stack: Callable[[list, int], Any]  # (tensors, new axis)
    split: Callable[[Any, int, int], Any]  # (x, equal parts, axis) -> sequence
    sigmoid: Callable[[Any], Any]
    tanh: Callable[[Any], Any]
    exp: Callable[[Any], Any]
    expm1: Callable[[Any], Any]  # e^x - 1, exact near 0
    sqrt: Callable[[Any], Any]
    log_softmax: Callable[[Any], Any]  # over the last axis
    softmax: Callable[[Any], Any]  # over the last axis
    sum0: Callable[[Any], Any]  # sum over the first axis
    total: Callable[[Any], Any]  # sum of every element
    zeros_like: Callable[[Any], Any]
    full_like: Callable[[Any, float], Any]  # (x, value)
    scalar: Callable[[float, Any], Any]  # (value, like): a 0-d tensor of like's dtype, on like's device
    one_hot: Callable[[Any, int, Any], Any]  # (class ids, classes, dtype) -> (..., classes)
    cast: Callable[[Any, Any], Any]  # (x, dtype)
    swapaxes: Callable[[Any, int, int], Any]  # (x, axis, axis)
    reshape: Callable[[Any, tuple], Any]  # (x, shape): one -1 allowed
    xent: Callable[[Any, Any], Any]  # (logits (..., C), class ids (...)) -> mean cross-entropy over the ids
    mse: Callable[[Any, Any], Any]  # (values, targets of the same shape) -> mean squared error
    # The minimal cells (mingru, minlstm) and their parallel scan over time (rnnbench.model.scan):
    where: Callable[[Any, Any, Any], Any]  # (condition, x, y): x where the condition holds, else y
    relu: Callable[[Any], Any]
    log: Callable[[Any], Any]
    softplus: Callable[[Any], Any]  # log(1 + e^x), without overflow
    cumsum: Callable[[Any, int], Any]  # (x, axis), inclusive
    logcumsumexp: Callable[[Any, int], Any]  # (x, axis): log of the inclusive cumulative sum of e^x
    flip: Callable[[Any, int], Any]  # (x, axis): reversed along axis
    # (a, b, reverse) -> (A, B), the linear recurrence s_t = a_t s_{t-1} + b_t along the first axis from zero by an
    # associative scan (A the cumulative product of a, B the states; reverse: s_t = a_t s_{t+1} + b_t), where the
    # framework has one (JAX's lax.associative_scan); None: the scans run in log space (cumsum, logcumsumexp).
    linear_scan: Callable[[Any, Any, bool], Any] | None = None
