"""A window's forward pass, the readout, the loss and the predictions, written once over ``Ops``; and ``Model``,
these rules bound to a config and a framework's operations, which each framework's model subclasses.

    forward direction:   h_t = cell(x_t, h_{t-1})     from the given state (zero for independent sequences)
    backward direction:  g_t = cell(x_t, g_{t+1})     from zero, over the window reversed
    out_t = [h_t, g_t] @ U + c                         at every step, or at the last step only
    stacked layers: layer l > 1 reads layer l - 1's [h_t, g_t] in place of x_t, from zero

BPTT(k2, k1) (``ModelSpec.shift``): the window is k2 steps long, its loss is taken on its last k1 positions only
and the state carried on is the one after its first k1 steps, so that every error is backpropagated at least
k2 - k1 + 1 steps; with k1 = k2 (the default) this is TF style.

The input product of every step, with its bias, is one product over the window (a row gather for one-hot tokens
costs the same), then the recurrent product per step (``rnnbench.model.cells``). The loss is the mean over every
target: cross-entropy over class ids, or the squared error over every target value.
"""

from __future__ import annotations

from typing import ClassVar

from rnnbench.model import scan
from rnnbench.model.cells import cell_math
from rnnbench.model.ops import Ops
from rnnbench.model.spec import ModelSpec
from rnnbench.spec.cells import cell
from rnnbench.spec.config import RunConfig


def direction_inputs(ops: Ops, spec: ModelSpec, p: dict, prefix: str, rows):
    """One direction's (xw, Wh, bh): xw = rows @ W[:n_in] + b, (B, T, G*H), from rows (B, T, n_in); ``prefix`` is
    its layer's and its own ("l2_bwd_")."""
    W = p[prefix + "W"]
    n_in = spec.n_in_of(W)
    return ops.project(rows, W[:n_in], p[prefix + "b"]), W[n_in:], p.get(prefix + "bh")


def unroll(step, seq, state: tuple, backward: bool = False, carry_at: int | None = None):
    """``state = step(x_t, state)`` over the T steps of seq, a (B, T, ...) tensor or a list of T step inputs, in
    reverse for a backward direction: the h of every step (T tensors (B, H), in time order) and the state to carry
    on: the final one, or the one after ``carry_at`` steps (BPTT(k2, k1)'s k1, ``ModelSpec.carry_at``)."""
    listed = isinstance(seq, list)
    T = len(seq) if listed else seq.shape[1]
    outs, carried = [None] * T, None
    for t in range(T - 1, -1, -1) if backward else range(T):
        state = step(seq[t] if listed else seq[:, t], state)
        outs[t] = state[0]
        if t + 1 == carry_at:
            carried = state
    return outs, state if carried is None else carried


def direction(ops: Ops, spec: ModelSpec, p: dict, prefix: str, rows, state: tuple):
    """One direction of the canonical cell unrolled over rows (B, T, n_in) from ``state`` (``unroll``'s result).

    The input product of every step is one time-major product split into the T steps' (B, G*H): the gradient of
    a split is one concatenation, where the gradient of each step's slice ``xw[:, t]`` would be a zero-padded
    window-sized tensor, T of them summed (autodiff's cost grew with T squared: 8.4 s a train step of tf-function
    at fastrnns' 100 steps against 0.72 s at 30)."""
    W = p[prefix + "W"]
    n_in = spec.n_in_of(W)
    T = rows.shape[1]
    time_major = ops.reshape(ops.swapaxes(rows, 0, 1), (-1, n_in))  # (T*B, n_in): row t*B + r is step t of r
    xw_rows = ops.matmul(time_major, W[:n_in]) + p[prefix + "b"]
    backward = spec.is_backward(prefix)
    if spec.parallel:
        return parallel_direction(ops, spec, ops.reshape(xw_rows, (T, -1, xw_rows.shape[-1])), state, backward)
    xw = list(ops.split(xw_rows, T, 0))
    Wh, bh = W[n_in:], p.get(prefix + "bh")
    step = cell_math(spec.cell).step
    return unroll(lambda xw_t, s: step(ops, xw_t, s, Wh, bh)[0], xw, state, backward,
                  None if backward else spec.carry_at)


def parallel_direction(ops: Ops, spec: ModelSpec, xw, state: tuple, backward: bool):
    """``direction``'s result by a parallel scan over the window (``rnnbench.model.scan``), for a cell linear in h:
    xw (T, B, G*H) time-major. The features are one tensor (B, T, H); the state carried on is the last, or (BPTT(k2,
    k1)) the one after ``carry_at`` steps."""
    h, _ = scan.states(ops, spec.cell, xw, state[0], backward)
    k = None if backward else spec.carry_at
    return ops.swapaxes(h, 0, 1), (h[-1] if k is None else h[k - 1],)


def directions(ops: Ops, spec: ModelSpec, state: tuple, run):
    """Every direction of the model: ``run(prefix, start)`` gives one direction's per-step h and final state (the
    forward direction starts from ``state``, the backward one from zero). Returns the features, T tensors (B, D)
    with the forward direction's h first, and the forward direction's final state."""
    per_direction, final = [], state
    for prefix in spec.directions:
        backward = spec.is_backward(prefix)
        outs, last = run(prefix, tuple(ops.zeros_like(s) for s in state) if backward else state)
        per_direction.append(outs)
        if not backward:
            final = last
    if not isinstance(per_direction[0], list):  # by a scan: (B, T, H) each
        return (ops.cat(per_direction, -1) if len(per_direction) > 1 else per_direction[0]), final
    return [ops.cat(list(hs), 1) if len(hs) > 1 else hs[0] for hs in zip(*per_direction)], final


def readout(ops: Ops, spec: ModelSpec, p: dict, features):
    """Logits or values, (B, T, n_out) at every step or (B, n_out) at the last, from the features: T tensors (B, D)
    in time order, or one (B, T, D)."""
    U, c = p["U"], p["c"]
    if isinstance(features, (list, tuple)):
        if not spec.each_step:
            return ops.matmul(features[-1], U) + c
        features = ops.stack(features, 1)
    return ops.project(features, U, c) if spec.each_step else ops.matmul(features[:, -1], U) + c


def layers(ops: Ops, spec: ModelSpec, state: tuple, rows, run_layer):
    """Every stacked layer, bottom first: ``run_layer(layer prefix, rows, start)`` gives a layer's features (T
    tensors (B, D), or one (B, T, D)) and its forward direction's final state from its rows (B, T, n_in); a layer
    above the first reads the one below's features, from zero. Returns the top layer's features and the first
    layer's final state (the one carried on)."""
    features, final = None, state
    for k, lp in enumerate(spec.layers):
        features, last = run_layer(lp, rows, state if k == 0 else tuple(ops.zeros_like(s) for s in state))
        if k == 0:
            final = last
        rows = ops.stack(features, 1) if isinstance(features, (list, tuple)) else features
    return features, final


def outputs(ops: Ops, spec: ModelSpec, p: dict, rows, state: tuple):
    """Every layer and direction over rows (B, T, n_in), then the readout; the first layer's forward direction's
    final state."""
    features, final = layers(ops, spec, state, rows, lambda lp, r, s: directions(
        ops, spec, s, lambda prefix, start: direction(ops, spec, p, lp + prefix, r, start)))
    return readout(ops, spec, p, features), final


def loss(ops: Ops, spec: ModelSpec, out, y):
    """Mean cross-entropy over every target, or mean squared error over every target value (BPTT(k2, k1): of the
    window's last k1 positions, ``ModelSpec.scored``)."""
    out, y = spec.scored(out, y)
    return ops.xent(out, y) if spec.classifies else ops.mse(out, y)


def predictions(ops: Ops, spec: ModelSpec, out):
    """What ``forward`` returns: probabilities of a classifier, values of a regression."""
    return ops.softmax(out) if spec.classifies else out


def inputs(ops: Ops, spec: ModelSpec, x, dtype):
    """x (..., B, T[, F]) -> (..., B, T, n_in) float rows in ``dtype``: one-hot for tokens."""
    return ops.one_hot(x, spec.n_in, dtype) if spec.tokens else ops.cast(x, dtype)


def rows(ops: Ops, spec: ModelSpec, x, dtype):
    """x (..., B, T[, F]) -> (..., T*B, n_in): ``rnnbench.model.backprop``'s time-major input rows."""
    r = ops.swapaxes(inputs(ops, spec, x, dtype), -2, -3)  # (..., T, B, n_in)
    return ops.reshape(r, (*r.shape[:-3], -1, spec.n_in))


def targets(ops: Ops, spec: ModelSpec, y, dtype):
    """y -> ``rnnbench.model.backprop``'s targets: one-hot rows (classes) or value rows, time-major, (..., T*B, O)
    at each step or (..., B, O) at the last."""
    if spec.classifies:
        y = ops.one_hot(ops.swapaxes(y, -1, -2) if spec.each_step else y, spec.n_out, dtype)  # (..., [T,] B, O)
    else:
        y = ops.cast(ops.swapaxes(y, -2, -3) if spec.each_step else y, dtype)
    return ops.reshape(y, (*y.shape[: -3 if spec.each_step else -2], -1, spec.n_out))


class Model:
    """The config's model over one framework's operations (``ops``, set by the framework's subclass), as functions
    of a dict of parameter tensors by canonical name. The subclass says how a zero state is made; it may drive the
    loop over time its own way (JAX's ``lax.scan``)."""

    ops: ClassVar[Ops]

    def __init__(self, config: RunConfig):
        self.config = config
        self.spec = ModelSpec.of(config)
        self.task = config.task_spec
        self.cell = cell(config.cell)
        self.prefixes = self.spec.directions
        self.n_in = self.spec.n_in

    def inputs(self, x, dtype):
        return inputs(self.ops, self.spec, x, dtype)

    def rows(self, x, dtype):
        return rows(self.ops, self.spec, x, dtype)

    def targets(self, y, dtype):
        return targets(self.ops, self.spec, y, dtype)

    def direction(self, p: dict, prefix: str, rows, state: tuple):
        return direction(self.ops, self.spec, p, prefix, rows, state)

    def outputs(self, p: dict, x, state: tuple):
        """Logits or values and the forward direction's final state, from x as the task gives it."""
        return outputs(self.ops, self.spec, p, self.inputs(x, p["U"].dtype), state)

    def loss(self, out, y):
        return loss(self.ops, self.spec, out, y)

    def predictions(self, out):
        return predictions(self.ops, self.spec, out)

    def start(self, state: tuple) -> tuple:
        """A window's forward start: the carried state, or zero for independent sequences."""
        return self.spec.start(self.ops, state)
