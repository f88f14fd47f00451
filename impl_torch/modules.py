"""PyTorch the usual ways: ``nn.RNN``, an ``nn.RNNCell`` loop, and hand-written tensor ops, all with autograd.

- ``torch-rnn``: ``nn.RNN(batch_first=True)`` + ``nn.Linear``, one call per window.
- ``torch-cell``: ``nn.RNNCell`` called once per time step in a Python loop, + ``nn.Linear``.
- ``torch-manual``: the canonical W, b, U, c as leaf tensors and the cell written out with tensor ops.

Every variant trains with ``torch.optim.Adagrad(initial_accumulator_value=0.1, eps=0)``, which is TF1 Adagrad,
and carries the final state (detached) into the next window.

Parameter layout. nn.RNN and nn.RNNCell compute ``tanh(x @ weight_ih.T + bias_ih + s @ weight_hh.T +
bias_hh)``, so ``weight_ih = W[:C].T``, ``weight_hh = W[C:].T``, and the canonical b is ``bias_ih + bias_hh``.
``bias_hh`` is held at zero and not trained (``requires_grad=False``): with two trained biases Adagrad would move
their sum by two steps per update, and the model would no longer be the canonical one. nn.Linear holds
``weight = U.T``, ``bias = c``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnnbench.config import RunConfig
from rnnbench.impl_torch import runtime
from rnnbench.interface import StepwiseEpoch
from rnnbench.params import VANILLA_KEYS, Params


def rnn_layout(params: Params) -> dict[str, np.ndarray]:
    """Canonical -> nn.RNN / nn.RNNCell / nn.Linear tensors (float32 NumPy, names as in PyTorch)."""
    C = params.U.shape[1]
    return {
        "weight_ih": params.W[:C].T.copy(),
        "weight_hh": params.W[C:].T.copy(),
        "bias_ih": params.b.copy(),
        "bias_hh": np.zeros_like(params.b),
        "linear.weight": params.U.T.copy(),
        "linear.bias": params.c.copy(),
    }


def canonical_from_rnn_layout(t: dict[str, np.ndarray]) -> Params:
    W = np.concatenate([t["weight_ih"].T, t["weight_hh"].T])
    return Params(W=W, b=t["bias_ih"] + t["bias_hh"], U=t["linear.weight"].T, c=t["linear.bias"]).astype(np.float32)


class _TorchBase(StepwiseEpoch):
    """State, device transfer and the train step around a subclass's ``logits(x, state)``."""

    def build(self, config: RunConfig, params: Params) -> None:
        self.device = runtime.start(config)
        self.dtype = runtime.torch_dtype(config)
        self.config = config
        self.make_model(params)
        self.optimizer = runtime.adagrad(self.trainable(), config)
        self.reset_state()
        runtime.synchronize(self.device)  # build time includes the copies to the device

    # subclasses: make_model, trainable, logits (returns logits (B, T, C) and the final state), params

    def reset_state(self) -> None:
        self.state = torch.zeros(self.config.batch_size, self.config.state_size, device=self.device, dtype=self.dtype)

    def _inputs(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(x, dtype=np.int64)).to(self.device, non_blocking=True)

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        logits, final = self.logits(self._inputs(x), self.state)
        loss = F.cross_entropy(logits.reshape(-1, self.config.num_classes), self._inputs(y).reshape(-1))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.state = final.detach()
        return loss.item()  # .item() waits for the device

    @torch.no_grad()
    def forward(self, x: np.ndarray) -> np.ndarray:
        logits, _ = self.logits(self._inputs(x), self.state)
        return runtime.to_numpy(torch.softmax(logits, dim=-1))

    def versions(self) -> dict[str, str]:
        return runtime.versions()


class _RNNLayout(_TorchBase):
    """Shared by nn.RNN and nn.RNNCell: load/read the canonical parameters through ``rnn_layout``."""

    def make_model(self, params: Params) -> None:
        C, H = self.config.num_classes, self.config.state_size
        self.rnn = self.make_recurrence(C, H).to(self.device, self.dtype)
        self.linear = nn.Linear(H, C).to(self.device, self.dtype)
        with torch.no_grad():
            for name, value in rnn_layout(params).items():
                self.tensor(name).copy_(torch.from_numpy(value))
        self.tensor("bias_hh").requires_grad_(False)

    def tensor(self, name: str) -> torch.Tensor:
        if name.startswith("linear."):
            return getattr(self.linear, name.split(".")[1])
        return getattr(self.rnn, name + self.layer_suffix)

    def trainable(self):
        return [p for p in (*self.rnn.parameters(), *self.linear.parameters()) if p.requires_grad]

    def params(self) -> Params:
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "linear.weight", "linear.bias")
        return canonical_from_rnn_layout({n: runtime.to_numpy(self.tensor(n)) for n in names})


class TorchRNN(_RNNLayout):
    layer_suffix: ClassVar[str] = "_l0"  # nn.RNN names its first layer's tensors weight_ih_l0, ...

    def make_recurrence(self, C: int, H: int) -> nn.Module:
        return nn.RNN(C, H, nonlinearity="tanh", batch_first=True)

    def logits(self, x, state):
        x_onehot = F.one_hot(x, self.config.num_classes).to(self.dtype)  # (B, T, C)
        outputs, final = self.rnn(x_onehot, state.unsqueeze(0))  # (B, T, H), (1, B, H)
        return self.linear(outputs), final.squeeze(0)


class TorchCell(_RNNLayout):
    layer_suffix: ClassVar[str] = ""

    def make_recurrence(self, C: int, H: int) -> nn.Module:
        return nn.RNNCell(C, H, nonlinearity="tanh")

    def logits(self, x, state):
        x_onehot = F.one_hot(x, self.config.num_classes).to(self.dtype)  # (B, T, C)
        outputs = []
        for t in range(x.shape[1]):
            state = self.rnn(x_onehot[:, t], state)
            outputs.append(state)
        return self.linear(torch.stack(outputs, dim=1)), state


class TorchManual(_TorchBase):
    """The canonical cell written with tensor ops; W, b, U, c are the trained leaves themselves."""

    def make_model(self, params: Params) -> None:
        self.weights = [torch.tensor(p, device=self.device, dtype=self.dtype, requires_grad=True) for p in params]

    def trainable(self):
        return self.weights

    def logits(self, x, state):
        W, b, U, c = self.weights
        C = self.config.num_classes
        input_part = W[:C][x]  # (B, T, H): onehot(x_t) @ W[:C] as a row gather
        W_rec = W[C:]
        outputs = []
        for t in range(x.shape[1]):
            state = torch.tanh(input_part[:, t] + state @ W_rec + b)
            outputs.append(state)
        return torch.stack(outputs, dim=1) @ U + c, state  # (B, T, C)

    def params(self) -> Params:
        return Params.from_arrays(VANILLA_KEYS, (runtime.to_numpy(w) for w in self.weights)).astype(np.float32)
