"""A whole model in NumPy for any task × cell, uni- or bidirectional: forward over a window, the loss, and
backpropagation through time to the canonical parameters.

    forward direction:   h_t = cell(x_t, h_{t-1})     from the carried state (stream tasks) or zero
    backward direction:  g_t = cell(x_t, g_{t+1})     from zero, over the window reversed (bidirectional only)
    out_t = [h_t, g_t] @ U + c                         at every step, or at the last step only (``each_step``)
    loss  = mean softmax cross-entropy (classes) or mean squared error (values) over the targets

Stacked layers: layer l > 1 reads the states of layer l - 1 (both directions', forward first) from a zero state;
its gradient flows back into them. At the last step a bidirectional model reads the backward direction after one
input, as ``nn.LSTM``'s ``output[:, -1]`` does. Time-major inside: (T, B, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnbench.impl_numpy.cells import CELL_MATH, PARALLEL_MATH
from rnnbench.spec.cells import BACKWARD_PREFIX, cell, layer_prefixes
from rnnbench.spec.config import RunConfig
from rnnbench.spec.params import Params
from rnnbench.tasks.base import XENT


def log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))


def cross_entropy(out: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy of logits ``out`` (..., C) against class ids ``y`` (...), and its gradient."""
    log_probs = log_softmax(out)
    picked = np.take_along_axis(log_probs, y[..., None], axis=-1)
    loss = float(-picked.mean())
    d_out = np.exp(log_probs)  # softmax - onehot(y), over the mean's denominator
    np.put_along_axis(d_out, y[..., None], np.take_along_axis(d_out, y[..., None], -1) - 1, -1)
    d_out /= y.size
    return loss, d_out


def squared_error(out: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error of ``out`` against ``y`` (same shape), and its gradient."""
    diff = out - y
    return float(np.mean(diff * diff)), (2.0 / diff.size) * diff


@dataclass
class Layer:
    """One layer's pass over the window: what it read and, per direction, its cell's cache."""

    inputs: np.ndarray  # time-major: (T, B) ids or (T, B, F) features (the first), the layer below's states (others)
    caches: list  # one per direction


@dataclass
class Forward:
    """What backpropagation needs from a forward pass."""

    layers: list  # a Layer per stacked layer, bottom first
    features: np.ndarray  # (T, B, D): the top layer's directions' states side by side
    out: np.ndarray  # (T, B, O) or (B, O)
    final_state: tuple  # the first layer's forward direction's state after the window

    @property
    def caches(self) -> list:
        """The top layer's caches, one per direction (the readout's)."""
        return self.layers[-1].caches


class Model:
    """The model of a config: its cell, its inputs and targets, its directions and stacked layers."""

    def __init__(self, config: RunConfig):
        task = config.task_spec
        self.cell = cell(config.cell)
        self.math = (PARALLEL_MATH if config.time_mode == "parallel" else CELL_MATH)[config.cell]
        self.tokens = task.tokens
        self.each_step = task.each_step
        self.loss_fn = cross_entropy if task.loss == XENT else squared_error
        self.classifies = task.loss == XENT
        self.input_size = config.input_size
        self.prefixes = ("", BACKWARD_PREFIX) if config.bidirectional else ("",)
        self.layer_prefixes = layer_prefixes(config.layers)
        self.dtype = np.dtype(config.dtype)
        # BPTT(k2, k1): carry the state after the first k1 steps, take the loss on the last k1 (None: TF style)
        self.k1 = config.shift

    def zero_state(self, batch: int, state_size: int) -> tuple:
        return tuple(np.zeros((batch, state_size), self.dtype) for _ in self.cell.states)

    def _time_major(self, x: np.ndarray) -> np.ndarray:
        return x.T if self.tokens else np.swapaxes(x, 0, 1).astype(self.dtype, copy=False)

    def _input_product(self, Wx: np.ndarray, x_tm: np.ndarray) -> np.ndarray:
        """x_t @ W[:n_in] for every step, (T, B, G*H): a row gather for one-hot tokens."""
        return Wx[x_tm] if self.tokens and x_tm.ndim == 2 else x_tm @ Wx

    def forward(self, p: Params, x: np.ndarray, state: tuple, carry_at: int | None = None) -> Forward:
        """The window from ``state`` (the first layer's forward direction; every other direction and layer starts
        from zero); its ``final_state`` is that direction's last, or the one after ``carry_at`` steps (training
        BPTT(k2, k1))."""
        inputs, layers, final = self._time_major(x), [], state
        for layer, lp in enumerate(self.layer_prefixes):
            directions, caches = [], []
            for prefix in self.prefixes:
                W = p[lp + prefix + "W"]
                H = W.shape[1] // self.cell.gates
                n_in = W.shape[0] - self.cell.recurrent_rows(H)
                backward = prefix == BACKWARD_PREFIX
                xs = inputs[::-1] if backward else inputs
                start = state if layer == 0 and not backward else self.zero_state(inputs.shape[1], H)
                hs, cache, last = self.math.forward(self._input_product(W[:n_in], xs), W[n_in:], p[lp + prefix + "b"],
                                                    p.get(lp + prefix + "bh"), start)
                directions.append(hs[::-1] if backward else hs)
                caches.append(cache)
                if layer == 0 and not backward:
                    final = last if carry_at is None else self.math.state_at(cache, carry_at)
            layers.append(Layer(inputs, caches))
            inputs = directions[0] if len(directions) == 1 else np.concatenate(directions, axis=-1)
        out = (inputs if self.each_step else inputs[-1]) @ p.U + p.c
        return Forward(layers, inputs, out, final)

    def _targets(self, y: np.ndarray) -> np.ndarray:
        """Targets in the layout of ``out``: (T, B[, O]) at each step, (B[, O]) at the last; values in the model's
        dtype."""
        y = np.swapaxes(y, 0, 1) if self.each_step else y
        return y if self.classifies else y.astype(self.dtype, copy=False)

    def _predictions(self, f: Forward) -> np.ndarray:
        """Probabilities (classes) or values, batch-major: (B, T, O) at each step, (B, O) at the last."""
        out = np.exp(log_softmax(f.out)) if self.classifies else f.out
        return np.swapaxes(out, 0, 1) if self.each_step else out

    def loss_and_grads(self, p: Params, x: np.ndarray, y: np.ndarray, state: tuple):
        """Loss, gradients (Params in canonical order) and the final state of one window."""
        f = self.forward(p, x, state, self.k1)
        loss, d_out = self._scored_loss(f.out, self._targets(y))
        width, n_out = f.features.shape[-1], f.out.shape[-1]
        grads = {}
        if self.each_step:
            grads["U"] = f.features.reshape(-1, width).T @ d_out.reshape(-1, n_out)
            grads["c"] = d_out.reshape(-1, n_out).sum(axis=0)
            d_features = d_out @ p.U.T  # (T, B, D): what each step's states receive from its own output
        else:
            grads["U"] = f.features[-1].T @ d_out
            grads["c"] = d_out.sum(axis=0)
            d_features = np.zeros_like(f.features)
            d_features[-1] = d_out @ p.U.T

        for layer in reversed(range(len(f.layers))):  # top first: each passes the gradient at its inputs down
            lp, inputs, caches = self.layer_prefixes[layer], f.layers[layer].inputs, f.layers[layer].caches
            d_inputs = None
            for k, (prefix, cache) in enumerate(zip(self.prefixes, caches)):
                W = p[lp + prefix + "W"]
                H = W.shape[1] // self.cell.gates
                n_in = W.shape[0] - self.cell.recurrent_rows(H)
                d_hs = d_features[..., k * H : (k + 1) * H]
                backward = prefix == BACKWARD_PREFIX
                xs = inputs[::-1] if backward else inputs
                d_xw, dWh, db, dbh = self.math.backward(d_hs[::-1] if backward else d_hs, cache, W[n_in:])
                d_xw_flat = d_xw.reshape(-1, d_xw.shape[-1])
                if self.tokens and xs.ndim == 2:
                    onehot = np.eye(n_in, dtype=W.dtype)[xs].reshape(-1, n_in)  # (T*B, C)
                    dWx = onehot.T @ d_xw_flat
                else:
                    dWx = xs.reshape(-1, n_in).T @ d_xw_flat
                grads[lp + prefix + "W"] = np.concatenate([dWx, dWh])
                grads[lp + prefix + "b"] = db
                if dbh is not None:
                    grads[lp + prefix + "bh"] = dbh
                if layer:  # the gradient at this layer's inputs, the states of the layer below, in time order
                    d_in = d_xw @ W[:n_in].T
                    d_in = d_in[::-1] if backward else d_in
                    d_inputs = d_in if d_inputs is None else d_inputs + d_in
            d_features = d_inputs
        return loss, Params({k: grads[k] for k in p.names}), f.final_state

    def _scored_loss(self, out: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
        """The loss and its gradient at ``out``: over every position, or (BPTT(k2, k1)) over the window's last k1
        time-major positions only, the gradient zero at the others."""
        if self.k1 is None:
            return self.loss_fn(out, targets)
        loss, d_tail = self.loss_fn(out[-self.k1:], targets[-self.k1:])
        d_out = np.zeros_like(out)
        d_out[-self.k1:] = d_tail
        return loss, d_out

    def predict(self, p: Params, x: np.ndarray, state: tuple) -> tuple[np.ndarray, tuple]:
        """Outputs (``_predictions``) and the forward direction's final state."""
        f = self.forward(p, x, state)
        return self._predictions(f), f.final_state

    def loss(self, p: Params, x: np.ndarray, y: np.ndarray, state: tuple) -> tuple[float, tuple]:
        """The training loss of one window (``loss_and_grads``' without the gradients) and the state carried on."""
        f = self.forward(p, x, state, self.k1)
        return self._scored_loss(f.out, self._targets(y))[0], f.final_state

    def scored(self, p: Params, x: np.ndarray, y: np.ndarray, state: tuple) -> tuple[float, np.ndarray, tuple]:
        """Loss, outputs and final state from one forward pass (held-out evaluation)."""
        f = self.forward(p, x, state)
        return self.loss_fn(f.out, self._targets(y))[0], self._predictions(f), f.final_state

    def free_run(self, p: Params, first: np.ndarray, steps: int) -> np.ndarray:
        """Generation from a zero state: the first input is given, then each output is fed back as the next input.
        first: (B, F) with F equal to the output width. Returns (B, steps, O). One direction; each stacked layer
        keeps its own state."""
        states = [None] * len(self.layer_prefixes)
        inp = first.astype(self.dtype, copy=False)
        outputs = []
        for _ in range(steps):
            h = inp
            for layer, lp in enumerate(self.layer_prefixes):
                W = p[lp + "W"]
                H = W.shape[1] // self.cell.gates
                n_in = W.shape[0] - self.cell.recurrent_rows(H)
                start = states[layer] or self.zero_state(first.shape[0], H)
                hs, _, states[layer] = self.math.forward((h @ W[:n_in])[None], W[n_in:], p[lp + "b"], p.get(lp + "bh"),
                                                         start)
                h = hs[0]
            inp = h @ p.U + p.c
            outputs.append(inp)
        return np.stack(outputs, axis=1)
