"""The fastest PyTorch variants: hand-written window steps, run eagerly or compiled, whole epochs per call.

On tensors this small an eager PyTorch step costs what its operator calls cost (microseconds each), not what
its arithmetic costs. The window step makes as few calls as the algebra allows:

- no autograd: the backward pass is written out (``rnnbench.model.backprop``, the NumPy reference's algebra over
  PyTorch's operations, for every task, cell and direction, the headline configuration included), time-major,
  so every product that does not depend on the recurrence (the input part, the readout, dU, dW, the readout's
  share of each state's gradient) is one matmul over all T*B rows;
- the optimizer as a functional update (``rnnbench.model.optim``: TF1 Adagrad, torch's Adam).

``torch-fused`` runs it eagerly. ``torch-compile`` runs it through ``torch.compile`` (Inductor): ``train_step``
compiles one window (at its first call), ``train_epoch`` a whole epoch as one ``while_loop`` (a PyTorch prototype
higher-order op) over the windows, so Python is entered once per epoch; independent-sequence tasks start every
window from zero inside it. Products whose right-hand side is small are written as multiply-and-reduce, which
Inductor fuses into its generated loops instead of calling a GEMM. The epoch compiles in ``build`` and is reported
as ``build_seconds``. Both train a whole epoch per ``train_epoch`` call, keeping the losses on the
device so the host waits once per epoch (``train_step`` does one window and waits for its loss). Named tricks
(README): hand-written gradients, whole-epoch calls, and for torch-compile the multiply-and-reduce products.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

import numpy as np
import torch
from torch._higher_order_ops import while_loop

from rnnbench.impl_torch import runtime
from rnnbench.impl_torch.model import OPS, Model, matmul, ops, small_matmul
from rnnbench.model import backprop, optim
from rnnbench.model.ops import Ops
from rnnbench.model.spec import ModelSpec
from rnnbench.spec.config import RunConfig
from rnnbench.spec.params import Params


def clipped(grads: tuple, max_norm: float) -> tuple:
    """``torch.nn.utils.clip_grad_norm_``'s rule on gradients held outside ``.grad``: every gradient times
    min(1, max_norm / (global norm + 1e-6)), the global norm that of all of them together."""
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    return tuple(g * coef for g in grads)


def general_window(params: tuple, slots: tuple, state: tuple, rows, target, lr: float, names: tuple,
                   spec: ModelSpec, ops: Ops, apply, clip_norm: float | None = None):
    """One window of any task, cell and direction: ``rnnbench.model.backprop``, then (clipped to ``clip_norm``
    where one is given) the optimizer's update.

    rows, target: the window in ``rnnbench.model.backprop``'s layout (``Model.rows``, ``Model.targets``). Returns
    (loss, final state, new params, new slots), all on the device.
    """
    loss, grads, final = backprop.loss_and_grads(ops, spec, dict(zip(names, params)), rows, target, state)
    grads = tuple(grads[n] for n in names)
    if clip_norm is not None:
        grads = clipped(grads, clip_norm)
    new_params, new_slots = apply(ops, lr, params, slots, grads)
    return loss, final, new_params, new_slots


def make_window(config: RunConfig, names: tuple, mm):
    """The config's window step, its keyword arguments bound."""
    return partial(general_window, lr=config.learning_rate, names=names, spec=ModelSpec.of(config), ops=ops(mm),
                   apply=optim.optimizer(config.optimizer).apply, clip_norm=config.clip_norm)


class TorchFused:
    whole_epoch: ClassVar[bool] = True
    mm = staticmethod(matmul)

    def build(self, config: RunConfig, params: Params) -> None:
        self.device = runtime.start(config)
        self.config = config
        self.model = Model(config, self.device, runtime.torch_dtype(config))
        self.names = params.names
        self.weights = tuple(torch.tensor(p, device=self.device, dtype=self.model.dtype) for p in params)
        self.slots = optim.optimizer(config.optimizer).slots(OPS, self.weights)
        self.window = make_window(config, self.names, self.mm)
        self.reset_state()
        self.compile()
        runtime.synchronize(self.device)

    def compile(self) -> None:
        """Nothing to compile eagerly."""

    def reset_state(self) -> None:
        self.state = self.model.zero_state()

    def _data(self, x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows (stacked or one) on the device in ``rnnbench.model.backprop``'s layout."""
        dtype = self.model.dtype
        return self.model.rows(self.model.tensor(x), dtype), self.model.targets(self.model.tensor(y), dtype)

    def _step(self, rows, target) -> torch.Tensor:
        loss, self.state, self.weights, self.slots = self.window(self.weights, self.slots, self.state, rows, target)
        return loss

    @torch.no_grad()
    def train_epoch(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        rows, targets = self._data(xs, ys)  # (N, ...)
        losses = torch.empty(len(xs), device=self.device, dtype=self.model.dtype)
        for i in range(len(xs)):
            losses[i] = self._step(rows[i], targets[i])
        return runtime.to_numpy(losses)  # the host waits for the device once per epoch

    @torch.no_grad()
    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return self._step(*self._data(x, y)).item()

    @torch.no_grad()
    def forward(self, x: np.ndarray) -> np.ndarray:
        out, _ = self.model.outputs(dict(zip(self.names, self.weights)), self.model.tensor(x),
                                    self.model.start(self.state))
        return runtime.to_numpy(self.model.predictions(out))

    def params(self) -> Params:
        return Params.from_arrays(self.names, (runtime.to_numpy(w) for w in self.weights)).astype(np.float32)

    def versions(self) -> dict[str, str]:
        return runtime.versions()


def epoch_loop(params: tuple, slots: tuple, s0: tuple, xs, ys, window):
    """Every window of an epoch inside one ``while_loop``, so that a compiled epoch is one call.

    xs, ys: the windows stacked, (N, ...). Returns (losses (N,), final state, new params, new slots).
    """
    n_windows = xs.shape[0]

    def more(i, params, slots, state, losses):
        return i < n_windows

    def body(i, params, slots, state, losses):
        at = i.reshape(1)
        loss, state, params, slots = window(params, slots, state, xs.index_select(0, at)[0],
                                            ys.index_select(0, at)[0])
        return i + 1, params, slots, tuple(state), losses.index_put((at,), loss.reshape(1))

    device, dtype = s0[0].device, s0[0].dtype
    start = (torch.zeros((), dtype=torch.int64, device=device), params, slots, s0,
             torch.zeros(n_windows, dtype=dtype, device=device))
    _, params, slots, state, losses = while_loop(more, body, start)
    return losses, state, params, slots


class TorchCompile(TorchFused):
    """torch.compile of a whole epoch as one while_loop (train_epoch, compiled in build) and of the window step
    (train_step, compiled at its first call: training never calls it, and compiling it in every build would double
    the build of a long window, e.g. sine's 49 steps, for nothing)."""

    mm = staticmethod(small_matmul)

    def compile(self) -> None:
        # Start from empty compile caches: the build is measured cold, and a process that builds many
        # configurations (the scaling sweeps) never runs into Dynamo's recompile limit.
        torch._dynamo.reset()
        config = self.config
        self.window = torch.compile(self.window, fullgraph=True, dynamic=False)
        self.window_compiled = False
        self.epoch = torch.compile(partial(epoch_loop, window=self.window), fullgraph=True, dynamic=False)
        # Compile now (build time) on zero windows, for this run's epoch length; nothing is updated.
        rows, targets = self._data(*config.task_spec.zero_windows(config, config.windows_per_epoch))
        with torch.no_grad():  # distinct x and y windows, as in training: compiled code may not assume aliasing
            self.epoch(self.weights, self.slots, self.state, rows, targets.clone())

    @torch.no_grad()
    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        if not self.window_compiled:  # the first call compiles: the train-step benchmark's warm-up takes it
            self.window_compiled = True
            rows, targets = self._data(x, y)
            self.window(self.weights, self.slots, self.state, rows, targets.clone())  # compiles, updates nothing
        return super().train_step(x, y)

    @torch.no_grad()
    def train_epoch(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        losses, self.state, self.weights, self.slots = self.epoch(self.weights, self.slots, self.state,
                                                                  *self._data(xs, ys))
        return runtime.to_numpy(losses)
