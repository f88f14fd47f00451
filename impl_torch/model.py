"""The canonical model in PyTorch tensor ops, for any task × cell, uni- or bidirectional (``torch-manual``
differentiates it with autograd), the window's data as tensors, and the optimizers as functional updates
(``torch-fused``, ``torch-compile``).

    forward direction:   h_t = cell(x_t, h_{t-1})     from the given state (zero for independent sequences)
    backward direction:  g_t = cell(x_t, g_{t+1})     from zero, over the window reversed
    out_t = [h_t, g_t] @ U + c                         at every step, or at the last step only

The cells are DESIGN.md's (``rnnbench.cells``), in the NumPy reference's form: the input product of every step
is one matmul over the window, then the recurrent product per step.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from rnnbench import backprop, tricks
from rnnbench.cells import BACKWARD_PREFIX, cell
from rnnbench.config import RunConfig
from rnnbench.optimizer import ADAGRAD_INITIAL_ACCUMULATOR, ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON
from rnnbench.tasks.base import XENT


def cell_step(cell_name: str, xw_t, state: tuple, W_h, bh) -> tuple:
    """One step: xw_t = x_t @ W[:n_in] + b, (B, G*H); state (h,) or (h, c). Returns the new state."""
    h = state[0]
    if cell_name == "rnn":
        return (torch.tanh(xw_t + h @ W_h),)
    if cell_name == "lstm":
        i, f, g, o = (xw_t + h @ W_h).chunk(4, dim=1)
        c = torch.sigmoid(f) * state[1] + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    a_r, a_z, a_n = xw_t.chunk(3, dim=1)
    h_r, h_z, h_n = (h @ W_h + bh).chunk(3, dim=1)
    r, z = torch.sigmoid(a_r + h_r), torch.sigmoid(a_z + h_z)
    n = torch.tanh(a_n + r * h_n)
    return ((1 - z) * n + z * h,)


class Model:
    """The config's model: its inputs, targets and loss as tensors, and its forward pass over canonical tensors."""

    def __init__(self, config: RunConfig, device: torch.device, dtype: torch.dtype):
        self.config = config
        self.task = config.task_spec
        self.cell = cell(config.cell)
        self.prefixes = ("", BACKWARD_PREFIX) if config.bidirectional else ("",)
        self.n_in = config.input_size
        self.device, self.dtype = device, dtype

    def zero_state(self, batch: int | None = None) -> tuple:
        shape = (batch or self.config.batch_size, self.config.state_size)
        return tuple(torch.zeros(shape, device=self.device, dtype=self.dtype) for _ in self.cell.states)

    def tensor(self, a: np.ndarray) -> torch.Tensor:
        """A window's x or y on the device: int64 class ids, or values in the run's dtype."""
        if np.issubdtype(a.dtype, np.integer):
            return torch.from_numpy(np.asarray(a, dtype=np.int64)).to(self.device, non_blocking=True)
        return torch.from_numpy(a).to(self.device, self.dtype, non_blocking=True)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """(..., n_in) float rows: one-hot for tokens."""
        return F.one_hot(x, self.n_in).to(self.dtype) if self.task.tokens else x

    def outputs(self, p: dict, x: torch.Tensor, state: tuple):
        """Logits or values, (B, T, n_out) at each step or (B, n_out) at the last, and the forward final state."""
        rows = self.inputs(x)  # (B, T, n_in)
        T = rows.shape[1]
        per_direction, final = [], state
        for prefix in self.prefixes:
            W = p[prefix + "W"]
            xw = rows @ W[: self.n_in] + p[prefix + "b"]  # (B, T, G*H)
            backward = prefix == BACKWARD_PREFIX
            s = self.zero_state(rows.shape[0]) if backward else state
            outs = [None] * T
            for t in range(T - 1, -1, -1) if backward else range(T):
                s = cell_step(self.cell.name, xw[:, t], s, W[self.n_in :], p.get(prefix + "bh"))
                outs[t] = s[0]
            per_direction.append(outs)
            if not backward:
                final = s
        steps = [torch.cat(hs, dim=1) if len(hs) > 1 else hs[0] for hs in zip(*per_direction)]
        if not self.task.each_step:
            return steps[-1] @ p["U"] + p["c"], final
        return torch.stack(steps, dim=1) @ p["U"] + p["c"], final

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over every target, or mean squared error over every target value."""
        if self.task.loss == XENT:
            return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        return F.mse_loss(out, y)

    def predictions(self, out: torch.Tensor) -> torch.Tensor:
        return torch.softmax(out, dim=-1) if self.task.loss == XENT else out

    # --- the window in the layout of rnnbench.backprop: time-major rows ----------------------------------------

    def rows(self, x: torch.Tensor) -> torch.Tensor:
        """(..., B, T[, F]) -> (..., T*B, n_in) time-major input rows (one-hot for tokens)."""
        rows = self.inputs(x)
        rows = rows.transpose(-2, -3)  # (..., T, B, n_in)
        return rows.reshape(*rows.shape[:-3], -1, self.n_in)

    def targets(self, y: torch.Tensor) -> torch.Tensor:
        """y -> one-hot rows (classes) or value rows, time-major: (..., T*B, O) at each step, (..., B, O) at the
        last."""
        width = self.config.output_size
        if self.task.loss == XENT:
            if self.task.each_step:
                y = y.transpose(-1, -2)  # (..., T, B)
            y = F.one_hot(y, width).to(self.dtype)
        elif self.task.each_step:
            y = y.transpose(-2, -3)  # (..., T, B, O)
        return y.reshape(*y.shape[: -3 if self.task.each_step else -2], -1, width)


def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False):
    return (a.t() if transpose_a else a) @ (b.t() if transpose_b else b)


def small_matmul(a, b, transpose_a: bool = False, transpose_b: bool = False):
    """``a @ b``, with a small right-hand side as multiply-and-reduce (the named trick, ``rnnbench.tricks``)."""
    return tricks.small_matmul(a.t() if transpose_a else a, b.t() if transpose_b else b, torch.mm, torch.sum)


def ops(mm=matmul) -> backprop.Ops:
    """PyTorch's operations for ``rnnbench.backprop``; ``mm`` is ``matmul`` or ``small_matmul``."""
    return backprop.Ops(
        matmul=mm, cat=lambda xs, axis: torch.cat(xs, axis), split=lambda x, n, axis: x.chunk(n, axis),
        sigmoid=torch.sigmoid, tanh=torch.tanh, exp=torch.exp, log_softmax=lambda x: torch.log_softmax(x, -1),
        sum0=lambda x: x.sum(0), total=torch.sum, zeros_like=torch.zeros_like)


# --- optimizers as functional updates (the semantics of rnnbench.optimizer) ----------------------------------


def adagrad_slots(params: tuple) -> tuple:
    return tuple(torch.full_like(p, ADAGRAD_INITIAL_ACCUMULATOR) for p in params)


def adagrad_apply(lr: float, params: tuple, slots: tuple, grads: tuple) -> tuple[tuple, tuple]:
    """TF1 Adagrad: accumulator from 0.1, no epsilon."""
    accums = tuple(a + g * g for a, g in zip(slots, grads))
    return tuple(p - lr * g / a.sqrt() for p, g, a in zip(params, grads, accums)), accums


def adam_slots(params: tuple) -> tuple:
    """m and v per parameter, then the step count (a tensor, so that a compiled loop carries it)."""
    return (*(torch.zeros_like(p) for p in params), *(torch.zeros_like(p) for p in params),
            torch.zeros((), dtype=params[0].dtype, device=params[0].device))


def adam_apply(lr: float, params: tuple, slots: tuple, grads: tuple) -> tuple[tuple, tuple]:
    """torch.optim.Adam: bias-corrected moments, epsilon added to the corrected root."""
    n = len(params)
    m, v, t = slots[:n], slots[n : 2 * n], slots[2 * n] + 1
    m = tuple(ADAM_BETA1 * a + (1 - ADAM_BETA1) * g for a, g in zip(m, grads))
    v = tuple(ADAM_BETA2 * a + (1 - ADAM_BETA2) * g * g for a, g in zip(v, grads))
    step = lr / (1 - ADAM_BETA1**t)
    root = (1 - ADAM_BETA2**t).sqrt()
    new = tuple(p - step * a / (b.sqrt() / root + ADAM_EPSILON) for p, a, b in zip(params, m, v))
    return new, (*m, *v, t)


OPTIMIZERS = {"adagrad": (adagrad_slots, adagrad_apply), "adam": (adam_slots, adam_apply)}
