"""PyTorch's side of the canonical model (``rnnbench.model``): its operations (``OPS``, and ``ops(small_matmul)``
for the multiply-and-reduce trick), the window's data as tensors, and ``Model``, the model's rules over them
(``torch-manual`` differentiates its forward pass with autograd; ``torch-fused`` and ``torch-compile`` run
``rnnbench.model.backprop`` and ``rnnbench.model.optim`` over ``ops``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from rnnbench.model import forward
from rnnbench.model.ops import Ops
from rnnbench.spec import tricks
from rnnbench.spec.config import RunConfig


def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False):
    return (a.t() if transpose_a else a) @ (b.t() if transpose_b else b)


def small_matmul(a, b, transpose_a: bool = False, transpose_b: bool = False):
    """``a @ b``, with a small right-hand side as multiply-and-reduce (the named trick, ``rnnbench.spec.tricks``)."""
    return tricks.small_matmul(a.t() if transpose_a else a, b.t() if transpose_b else b, torch.mm, torch.sum)


def ops(mm=matmul) -> Ops:
    """PyTorch's operations for ``rnnbench.model``; ``mm`` is ``matmul`` or ``small_matmul``."""
    return Ops(
        matmul=mm, project=lambda x, W, b: x @ W + b, cat=torch.cat,
        stack=torch.stack, split=torch.chunk,
        sigmoid=torch.sigmoid, tanh=torch.tanh, exp=torch.exp, expm1=torch.expm1, sqrt=torch.sqrt,
        log_softmax=lambda x: torch.log_softmax(x, -1), softmax=lambda x: torch.softmax(x, -1),
        sum0=lambda x: x.sum(0), total=torch.sum, zeros_like=torch.zeros_like, full_like=torch.full_like,
        scalar=lambda value, like: torch.full((), value, dtype=like.dtype, device=like.device),
        one_hot=lambda ids, n, dtype: F.one_hot(ids, n).to(dtype), cast=lambda x, dtype: x.to(dtype),
        swapaxes=lambda x, a, b: x.transpose(a, b), reshape=lambda x, shape: x.reshape(shape),
        xent=lambda out, y: F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1)), mse=F.mse_loss,
        where=torch.where, relu=torch.relu, log=torch.log, softplus=F.softplus, cumsum=torch.cumsum,
        logcumsumexp=torch.logcumsumexp, flip=lambda x, axis: torch.flip(x, (axis,)))


OPS = ops()


class Model(forward.Model):
    """The config's model in PyTorch: its inputs and targets as tensors on the run's device, in its dtype."""

    ops = OPS

    def __init__(self, config: RunConfig, device: torch.device, dtype: torch.dtype):
        super().__init__(config)
        self.device, self.dtype = device, dtype

    def zero_state(self, batch: int | None = None) -> tuple:
        shape = (batch or self.config.batch_size, self.config.state_size)
        return tuple(torch.zeros(shape, device=self.device, dtype=self.dtype) for _ in self.cell.states)

    def tensor(self, a: np.ndarray) -> torch.Tensor:
        """A window's x or y on the device: int64 class ids, or values in the run's dtype."""
        if np.issubdtype(a.dtype, np.integer):
            return torch.from_numpy(np.asarray(a, dtype=np.int64)).to(self.device, non_blocking=True)
        return torch.from_numpy(a).to(self.device, self.dtype, non_blocking=True)
