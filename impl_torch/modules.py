"""PyTorch the usual ways, for every task, cell and direction: the ``nn`` modules, the cell modules in a Python
loop, and the canonical math in tensor ops, all with autograd and ``torch.optim``.

- ``torch-rnn``: ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (``batch_first=True``, ``bidirectional=True`` where asked)
  + ``nn.Linear``, one call per window, exactly as the tutorials write them.
- ``torch-cell``: ``nn.RNNCell`` / ``nn.LSTMCell`` / ``nn.GRUCell`` called once per time step in a Python loop
  (one cell per direction), + ``nn.Linear``.
- ``torch-manual``: the canonical parameters as leaf tensors and the cells written out with tensor ops
  (``rnnbench.impl_torch.model``).

The optimizers are ``torch.optim.Adagrad(initial_accumulator_value=0.1, eps=0)`` (TF1 Adagrad) and
``torch.optim.Adam`` (the canonical Adam). A task of one stream per row carries the final state (detached) into
the next window; a task of independent sequences starts every window from zero.

Parameter layout (``torch_layout``). The modules compute ``x @ weight_ih.T + bias_ih`` and
``h @ weight_hh.T + bias_hh`` in the canonical gate order (nn.LSTM i, f, g, o; nn.GRU r, z, n, reset-after), so
``weight_ih = W[:n_in].T`` and ``weight_hh = W[n_in:].T``. The GRU's two biases are the canonical b and bh, and
both train. The vanilla RNN and the LSTM have one canonical bias, ``b = bias_ih + bias_hh``: ``bias_hh`` is held
at zero and not trained (``requires_grad=False``); with two trained biases the optimizer would move their sum by
two steps per update, and the model would no longer be the canonical one. nn.RNN/LSTM/GRU name the backward
direction's tensors ``..._l0_reverse``, stacked layer l's ``..._l{l-1}`` (``num_layers``); nn.Linear holds
``weight = U.T``, ``bias = c``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rnnbench.impl_torch import runtime
from rnnbench.impl_torch.model import OPS, Model
from rnnbench.model import forward
from rnnbench.spec.cells import BACKWARD_PREFIX
from rnnbench.spec.config import RunConfig
from rnnbench.spec.interface import StepwiseEpoch
from rnnbench.spec.params import Params

TORCH_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
MODULES = {"rnn": (nn.RNN, nn.RNNCell), "lstm": (nn.LSTM, nn.LSTMCell), "gru": (nn.GRU, nn.GRUCell)}


def torch_layout(cell_name: str, params: Params, prefix: str, n_in: int) -> dict[str, np.ndarray]:
    """One direction's canonical W, b (bh) -> weight_ih, weight_hh, bias_ih, bias_hh (float32 NumPy)."""
    W, b = params[prefix + "W"], params[prefix + "b"]
    bias_hh = params[prefix + "bh"] if cell_name == "gru" else np.zeros_like(b)
    return {"weight_ih": W[:n_in].T.copy(), "weight_hh": W[n_in:].T.copy(), "bias_ih": b.copy(),
            "bias_hh": bias_hh.copy()}


def canonical_direction(cell_name: str, t: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """weight_ih, weight_hh, bias_ih, bias_hh -> one direction's canonical W, b (bh)."""
    out = {prefix + "W": np.concatenate([t["weight_ih"].T, t["weight_hh"].T])}
    if cell_name == "gru":
        out[prefix + "b"], out[prefix + "bh"] = t["bias_ih"], t["bias_hh"]
    else:
        out[prefix + "b"] = t["bias_ih"] + t["bias_hh"]
    return out


class _TorchBase(StepwiseEpoch):
    """Device, dtype, state and the train step around a subclass's ``outputs(x, state)``."""

    def build(self, config: RunConfig, params: Params) -> None:
        self.device = runtime.start(config)
        self.dtype = runtime.torch_dtype(config)
        self.config = config
        self.model = Model(config, self.device, self.dtype)
        self.make_model(params)
        self.optimizer = runtime.optimizer(self.trainable(), config)
        self.reset_state()
        runtime.synchronize(self.device)  # build time includes the copies to the device

    # subclasses: make_model, trainable, outputs (logits or values, and the forward final state), params

    def reset_state(self) -> None:
        self.state = self.model.zero_state()

    def _start(self) -> tuple:
        return self.model.start(self.state)

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        out, final = self.outputs(self.model.tensor(x), self._start())
        loss = self.model.loss(out, self.model.tensor(y))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.trainable(), self.config.clip_norm)
        self.optimizer.step()
        self.state = tuple(s.detach() for s in final)
        return loss.item()  # .item() waits for the device

    @torch.no_grad()
    def forward(self, x: np.ndarray) -> np.ndarray:
        out, _ = self.outputs(self.model.tensor(x), self._start())
        return runtime.to_numpy(self.model.predictions(out))

    def versions(self) -> dict[str, str]:
        return runtime.versions()


class _ModuleLayout(_TorchBase):
    """Shared by the nn modules and the cell modules: the canonical parameters in and out through
    ``torch_layout``, per direction, and the nn.Linear readout."""

    def make_model(self, params: Params) -> None:
        config = self.config
        self.names = params.names
        self.make_recurrence(config.input_size, config.state_size)
        directions = 2 if config.bidirectional else 1
        self.linear = nn.Linear(directions * config.state_size, config.output_size).to(self.device, self.dtype)
        self.modules = [*self.recurrence(), self.linear]
        with torch.no_grad():
            for layer, lp in enumerate(self.model.spec.layers):
                n_in = config.input_size if layer == 0 else directions * config.state_size
                for prefix in self.model.prefixes:
                    for name, value in torch_layout(config.cell, params, lp + prefix, n_in).items():
                        self.tensor(name, lp + prefix).copy_(torch.from_numpy(value))
                    if config.cell != "gru":
                        self.tensor("bias_hh", lp + prefix).requires_grad_(False)
            self.linear.weight.copy_(torch.from_numpy(params.U.T.copy()))
            self.linear.bias.copy_(torch.from_numpy(params.c))

    def trainable(self):
        return [p for m in self.modules for p in m.parameters() if p.requires_grad]

    def params(self) -> Params:
        arrays = {}
        for prefix in (lp + d for lp in self.model.spec.layers for d in self.model.prefixes):
            tensors = {n: runtime.to_numpy(self.tensor(n, prefix)) for n in TORCH_NAMES}
            arrays.update(canonical_direction(self.config.cell, tensors, prefix))
        arrays["U"] = runtime.to_numpy(self.linear.weight).T
        arrays["c"] = runtime.to_numpy(self.linear.bias)
        return Params({k: arrays[k] for k in self.names}).astype(np.float32)


class TorchRNN(_ModuleLayout):
    """nn.RNN / nn.LSTM / nn.GRU over the whole window."""

    def make_recurrence(self, n_in: int, H: int) -> None:
        self.rnn = MODULES[self.config.cell][0](n_in, H, num_layers=self.config.layers, batch_first=True,
                                                bidirectional=self.config.bidirectional)
        self.rnn.to(self.device, self.dtype)

    def recurrence(self) -> list[nn.Module]:
        return [self.rnn]

    def tensor(self, name: str, prefix: str) -> torch.Tensor:
        """The module's tensor of a canonical prefix: "l2_bwd_" -> ``weight_ih_l1_reverse``."""
        layer = self.model.spec.layers.index(prefix.removesuffix(BACKWARD_PREFIX))
        return getattr(self.rnn, f"{name}_l{layer}" + ("_reverse" if self.model.spec.is_backward(prefix) else ""))

    def outputs(self, x, state):
        rows = self.model.inputs(x, self.dtype)  # (B, T, n_in)
        # (layers * directions, B, H): the first layer's forward direction from the state, every other from zero
        others = len(self.model.spec.layers) * len(self.model.prefixes) - 1
        if others:
            state = tuple(torch.stack([s, *[torch.zeros_like(s)] * others]) for s in state)
        else:
            state = tuple(s.unsqueeze(0) for s in state)
        state = state if self.config.cell == "lstm" else state[0]
        k1 = self.model.spec.carry_at
        if k1 is None:
            seq, final = self.rnn(rows, state)  # (B, T, D)
        else:  # BPTT(k2, k1): the module over the first k1 steps, whose final state is carried on, then the rest
            first, final = self.rnn(rows[:, :k1], state)
            seq = torch.cat([first, self.rnn(rows[:, k1:], final)[0]], dim=1)
        final = tuple(s[0] for s in final) if self.config.cell == "lstm" else (final[0],)
        return self.linear(seq if self.config.task_spec.each_step else seq[:, -1]), final


class TorchCell(_ModuleLayout):
    """nn.RNNCell / nn.LSTMCell / nn.GRUCell per step in a Python loop, one cell per direction."""

    def make_recurrence(self, n_in: int, H: int) -> None:
        width = len(self.model.prefixes) * H  # what a stacked layer reads
        self.cells = {lp + p: MODULES[self.config.cell][1](n_in if k == 0 else width, H).to(self.device, self.dtype)
                      for k, lp in enumerate(self.model.spec.layers) for p in self.model.prefixes}

    def recurrence(self) -> list[nn.Module]:
        return list(self.cells.values())

    def tensor(self, name: str, prefix: str) -> torch.Tensor:
        return getattr(self.cells[prefix], name)

    def outputs(self, x, state):
        rows = self.model.inputs(x, self.dtype)  # (B, T, n_in)
        lstm, spec = self.config.cell == "lstm", self.model.spec

        def run(prefix, rows, start):
            cell = self.cells[prefix]
            step = (lambda x_t, s: tuple(cell(x_t, s))) if lstm else (lambda x_t, s: (cell(x_t, s[0]),))
            backward = spec.is_backward(prefix)
            return forward.unroll(step, rows, start, backward, None if backward else spec.carry_at)

        steps, final = forward.layers(OPS, spec, state, rows, lambda lp, r, s: forward.directions(
            OPS, spec, s, lambda prefix, start: run(lp + prefix, r, start)))
        return self.linear(torch.stack(steps, dim=1) if spec.each_step else steps[-1]), final


class TorchManual(_TorchBase):
    """The canonical cells written with tensor ops; the canonical arrays are the trained leaves themselves."""

    def make_model(self, params: Params) -> None:
        self.weights = {n: torch.tensor(p, device=self.device, dtype=self.dtype, requires_grad=True)
                        for n, p in params.items()}

    def trainable(self):
        return list(self.weights.values())

    def outputs(self, x, state):
        return self.model.outputs(self.weights, x, state)

    def params(self) -> Params:
        return Params({n: runtime.to_numpy(w) for n, w in self.weights.items()}).astype(np.float32)
