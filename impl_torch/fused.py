"""The fastest PyTorch variants: the hand-written window step, run eagerly or compiled, whole epochs per call.

On tensors this small an eager PyTorch step costs what its operator calls cost (microseconds each), not what
its arithmetic costs. ``window_step`` makes as few calls as the algebra allows:

- no autograd: the backward pass is written out as in the NumPy reference, time-major (row t*B + r is step t
  of batch row r), so every product that does not depend on the recurrence (the input part, the logits, dU,
  dW, the output's share of each state's gradient) is one matmul over all T*B rows;
- TF1 Adagrad on the four parameters, functionally (accum + g*g, p - lr*g/sqrt(accum)).

``torch-fused`` runs it eagerly. ``torch-compile`` runs it through ``torch.compile`` (Inductor): ``train_step``
compiles one window, ``train_epoch`` compiles a whole epoch as one ``while_loop`` (a PyTorch prototype
higher-order op) over the windows, so Python is entered once per epoch. Products whose right-hand side is small
are written as multiply-and-reduce, which Inductor fuses into its generated loops instead of calling a GEMM.
Compilation happens in ``build`` and is reported as ``build_seconds``.
Both train a whole epoch per ``train_epoch`` call, keeping the losses on the device so the host waits once per
epoch (``train_step`` does one window and waits for its loss). Named tricks (README): hand-written gradients,
whole-epoch calls, and for torch-compile the multiply-and-reduce products.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar, NamedTuple

import numpy as np
import torch
from torch._higher_order_ops import while_loop

from rnnbench import tricks
from rnnbench.config import RunConfig
from rnnbench.impl_torch import runtime
from rnnbench.optimizer import ADAGRAD_INITIAL_ACCUMULATOR
from rnnbench.params import Params


class Weights(NamedTuple):
    """W, b, U, c (or their accumulators) as tensors: a pytree that torch.compile and while_loop carry."""

    W: torch.Tensor
    b: torch.Tensor
    U: torch.Tensor
    c: torch.Tensor


def small_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b, with a small right-hand side as multiply-and-reduce (the named trick, ``rnnbench.tricks``)."""
    return tricks.small_matmul(a, b, torch.mm, torch.sum)


def window_step(params: Weights, accums: Weights, s0, x_onehot, y_onehot, lr: float, num_classes: int, mm=torch.mm):
    """One window: forward, hand-written backward, TF1 Adagrad.

    params, accums: W, b, U, c as tensors, and their Adagrad accumulators; s0: (B, H); x_onehot, y_onehot:
    (T*B, C) time-major rows. Returns (loss, final state, new params, new accums), all on the device.
    """
    W, b, U, c = params
    C = num_classes
    B, H = s0.shape
    T = x_onehot.shape[0] // B
    n = float(T * B)
    W_rec = W[C:]
    pre = (mm(x_onehot, W[:C]) + b).view(T, B, H)  # input part of every step at once
    states = [s0]
    for t in range(T):
        states.append(torch.tanh(pre[t] + mm(states[-1], W_rec)))
    hidden = torch.cat(states[1:])  # (T*B, H)
    log_probs = torch.log_softmax(mm(hidden, U) + c, dim=1)  # (T*B, C)
    loss = -(log_probs * y_onehot).sum() / n
    d_logits = (log_probs.exp() - y_onehot) / n
    d_out = (mm(d_logits, U.t()) * (1 - hidden * hidden)).view(T, B, H)
    d_pre = [d_out[T - 1]]  # gradient at tanh's input, from the last step back
    W_rec_t = W_rec.t()
    for t in range(T - 2, -1, -1):
        d_pre.append(d_out[t] + mm(d_pre[-1], W_rec_t) * (1 - states[t + 1] * states[t + 1]))
    d_pre = torch.cat(d_pre[::-1])  # (T*B, H), time-major again
    grads = Weights(
        torch.cat([mm(x_onehot.t(), d_pre), mm(torch.cat(states[:-1]).t(), d_pre)]),
        d_pre.sum(0),
        mm(hidden.t(), d_logits),
        d_logits.sum(0),
    )
    new_accums = Weights(*(a + g * g for a, g in zip(accums, grads)))
    new_params = Weights(*(p - lr * g / a.sqrt() for p, g, a in zip(params, grads, new_accums)))
    return loss, states[-1], new_params, new_accums


class TorchFused:
    whole_epoch: ClassVar[bool] = True

    def build(self, config: RunConfig, params: Params) -> None:
        self.device = runtime.start(config)
        self.config = config
        dtype = runtime.torch_dtype(config)
        self.weights = Weights(*(torch.tensor(p, device=self.device, dtype=dtype) for p in params))
        self.accums = Weights(*(torch.full_like(w, ADAGRAD_INITIAL_ACCUMULATOR) for w in self.weights))
        self.eye = torch.eye(config.num_classes, device=self.device, dtype=dtype)
        self.step = self.make_step(config)
        self.reset_state()

    def make_step(self, config: RunConfig):
        return partial(window_step, lr=config.learning_rate, num_classes=config.num_classes)

    def reset_state(self) -> None:
        self.state = torch.zeros(self.config.batch_size, self.config.state_size, device=self.device,
                                 dtype=self.eye.dtype)

    def _onehot_rows(self, a: np.ndarray) -> torch.Tensor:
        """(..., B, T) int windows -> (..., T*B, C) time-major one-hot rows on the device."""
        rows = torch.from_numpy(np.ascontiguousarray(np.swapaxes(a, -1, -2)).astype(np.int64))
        return self.eye[rows.reshape(*a.shape[:-2], -1).to(self.device, non_blocking=True)]

    def _window(self, x_onehot, y_onehot) -> torch.Tensor:
        loss, self.state, self.weights, self.accums = self.step(self.weights, self.accums, self.state,
                                                                 x_onehot, y_onehot)
        return loss

    @torch.no_grad()
    def train_epoch(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        x_onehot, y_onehot = self._onehot_rows(xs), self._onehot_rows(ys)  # (N, T*B, C)
        losses = torch.empty(len(xs), device=self.device, dtype=self.eye.dtype)
        for i in range(len(xs)):
            losses[i] = self._window(x_onehot[i], y_onehot[i])
        return runtime.to_numpy(losses)  # the host waits for the device once per epoch

    @torch.no_grad()
    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return self._window(self._onehot_rows(x), self._onehot_rows(y)).item()

    @torch.no_grad()
    def forward(self, x: np.ndarray) -> np.ndarray:
        W, b, U, c = self.weights
        C = self.config.num_classes
        state, outputs = self.state, []
        input_part = self._onehot_rows(x[None])[0].view(x.shape[1], x.shape[0], C) @ W[:C]  # (T, B, H)
        for t in range(x.shape[1]):
            state = torch.tanh(input_part[t] + b + state @ W[C:])
            outputs.append(state)
        probs = torch.softmax(torch.stack(outputs, dim=1) @ U + c, dim=-1)  # (B, T, C)
        return runtime.to_numpy(probs)

    def params(self) -> Params:
        return Params.from_arrays(Weights._fields, (runtime.to_numpy(w) for w in self.weights)).astype(np.float32)

    def versions(self) -> dict[str, str]:
        return runtime.versions()


def epoch_loop(params: Weights, accums: Weights, s0, xs_onehot, ys_onehot, lr: float, num_classes: int, mm):
    """Every window of an epoch inside one ``while_loop``, so that a compiled epoch is one call.

    xs_onehot, ys_onehot: (N, T*B, C). Returns (losses (N,), final state, new params, new accums).
    """
    n_windows = xs_onehot.shape[0]

    def more(i, params, accums, state, losses):
        return i < n_windows

    def body(i, params, accums, state, losses):
        at = i.reshape(1)
        x_onehot, y_onehot = xs_onehot.index_select(0, at)[0], ys_onehot.index_select(0, at)[0]
        loss, state, params, accums = window_step(params, accums, state, x_onehot, y_onehot, lr, num_classes, mm)
        return i + 1, params, accums, state, losses.index_put((at,), loss.reshape(1))

    start = (torch.zeros((), dtype=torch.int64, device=s0.device), params, accums, s0,
             torch.zeros(n_windows, dtype=s0.dtype, device=s0.device))
    _, params, accums, state, losses = while_loop(more, body, start)
    return losses, state, params, accums


class TorchCompile(TorchFused):
    """torch.compile of the window step (train_step) and of a whole epoch as one while_loop (train_epoch)."""

    def make_step(self, config: RunConfig):
        # Start from empty compile caches: the build is measured cold, and a process that builds many
        # configurations (the scaling sweeps) never runs into Dynamo's recompile limit.
        torch._dynamo.reset()
        kwargs = {"lr": config.learning_rate, "num_classes": config.num_classes, "mm": small_matmul}
        step = torch.compile(partial(window_step, **kwargs), fullgraph=True, dynamic=False)
        self.epoch = torch.compile(partial(epoch_loop, **kwargs), fullgraph=True, dynamic=False)
        # Compile now (build time) on zero windows, for this run's epoch length; nothing is updated.
        windows = self._onehot_rows(np.zeros((config.windows_per_epoch, config.batch_size, config.num_steps),
                                             np.int64))
        state = torch.zeros(config.batch_size, config.state_size, device=self.device, dtype=self.eye.dtype)
        with torch.no_grad():  # distinct x and y windows, as in training: compiled code may not assume aliasing
            step(self.weights, self.accums, state, windows[0], windows[1 % len(windows)].clone())
            self.epoch(self.weights, self.accums, state, windows, windows.clone())
        runtime.synchronize(self.device)
        return step

    @torch.no_grad()
    def train_epoch(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        losses, self.state, self.weights, self.accums = self.epoch(self.weights, self.accums, self.state,
                                                                   self._onehot_rows(xs), self._onehot_rows(ys))
        return runtime.to_numpy(losses)
