"""Backpropagation through time written out by hand, once, for any task × cell, uni- or bidirectional, over
duck-typed tensors: the named trick of the fastest TensorFlow and PyTorch variants (``tf-xla-epoch``,
``torch-fused``, ``torch-compile``), which pass their framework's operations as an ``Ops``. The core still
imports no framework.

The algebra is the NumPy reference's (``rnnbench.impl_numpy.cells`` and ``model``), time-major and functional
(lists of per-step tensors, no in-place writes, so that a tracer or compiler sees pure code): every product that
does not depend on the recurrence (the input product, the readout, dU, dW, the readout's share of each state's
gradient) is one matmul over all T*B rows, so only the recurrent product of each step stays sequential, once
forward and once backward. Autodiff graphs of the same loss keep each step's slices, concatenations and their
transposes apart; where each operation costs a dispatch (XLA and eager PyTorch on a CPU) the graph written out
here is smaller and faster. The tests check it against each framework's autodiff in float64.

Layout: a window's inputs are rows (T*B, n_in) in time-major order (row t*B + r is step t of sequence r); the
targets are one-hot rows for a classifier or values, (T*B, O) at every step or (B, O) at the last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rnnbench.cells import BACKWARD_PREFIX
from rnnbench.tasks.base import XENT


@dataclass(frozen=True)
class Ops:
    """A framework's operations, as the backpropagation below calls them."""

    matmul: Callable[..., Any]  # (a, b, transpose_a=False, transpose_b=False)
    cat: Callable[[list, int], Any]  # (tensors, axis)
    split: Callable[[Any, int, int], Any]  # (x, equal parts, axis) -> sequence
    sigmoid: Callable[[Any], Any]
    tanh: Callable[[Any], Any]
    exp: Callable[[Any], Any]
    log_softmax: Callable[[Any], Any]  # over the last axis
    sum0: Callable[[Any], Any]  # sum over the first axis
    total: Callable[[Any], Any]  # sum of every element
    zeros_like: Callable[[Any], Any]


# --- the cells: forward over a window keeping what backward needs, and backward --------------------------------
# xw: the window's input product (+ b), T tensors (B, G*H) in the order the direction reads them. Backward takes
# the gradient reaching each step's h (None for none) and returns the gradient at each step's xw (a list), and
# dW_h, db rows (T*B, G*H) to sum, dbh rows or None.


def _add(a, b):
    """a + b where either may be None (no gradient)."""
    return a if b is None else b if a is None else a + b


def rnn_forward(ops: Ops, xw, Wh, bh, state):
    hs = [state[0]]
    for x_t in xw:
        hs.append(ops.tanh(x_t + ops.matmul(hs[-1], Wh)))
    return hs[1:], hs, (hs[-1],)


def rnn_backward(ops: Ops, dhs, hs, Wh):
    d_pre, carry = [None] * len(dhs), None
    for t in reversed(range(len(dhs))):
        dh = _add(dhs[t], carry)
        if dh is None:  # no gradient reaches this step yet (a target at the last step only)
            d_pre[t] = ops.zeros_like(hs[t + 1])
            continue
        d_pre[t] = dh * (1 - hs[t + 1] * hs[t + 1])
        carry = ops.matmul(d_pre[t], Wh, transpose_b=True)
    d_flat = ops.cat(d_pre, 0)
    return d_pre, ops.matmul(ops.cat(hs[:-1], 0), d_flat, transpose_a=True), d_flat, None


def lstm_forward(ops: Ops, xw, Wh, bh, state):
    h, c = state
    hs, cs, acts = [h], [c], []
    for x_t in xw:
        i, f, g, o = ops.split(x_t + ops.matmul(h, Wh), 4, 1)
        i, f, g, o = ops.sigmoid(i), ops.sigmoid(f), ops.tanh(g), ops.sigmoid(o)
        c = f * c + i * g
        tc = ops.tanh(c)
        h = o * tc
        hs.append(h)
        cs.append(c)
        acts.append((i, f, g, o, tc))
    return hs[1:], (hs, cs, acts), (h, c)


def lstm_backward(ops: Ops, dhs, cache, Wh):
    hs, cs, acts = cache
    dz, dh_next, dc_next = [None] * len(dhs), None, None
    for t in reversed(range(len(dhs))):
        i, f, g, o, tc = acts[t]
        dh = _add(dhs[t], dh_next)
        if dh is None:  # no gradient reaches this step yet (dc_next is None too)
            dz[t] = ops.cat([ops.zeros_like(tc)] * 4, 1)
            continue
        dc = _add(dh * o * (1 - tc * tc), dc_next)
        dz[t] = ops.cat([dc * g * i * (1 - i), dc * cs[t] * f * (1 - f), dc * i * (1 - g * g),
                         dh * tc * o * (1 - o)], 1)
        dc_next = dc * f
        dh_next = ops.matmul(dz[t], Wh, transpose_b=True)
    d_flat = ops.cat(dz, 0)
    return dz, ops.matmul(ops.cat(hs[:-1], 0), d_flat, transpose_a=True), d_flat, None


def gru_forward(ops: Ops, xw, Wh, bh, state):
    h = state[0]
    hs, gates = [h], []
    for a_t in xw:
        a_r, a_z, a_n = ops.split(a_t, 3, 1)
        h_r, h_z, h_n = ops.split(ops.matmul(h, Wh) + bh, 3, 1)
        r, z = ops.sigmoid(a_r + h_r), ops.sigmoid(a_z + h_z)
        n = ops.tanh(a_n + r * h_n)
        h = (1 - z) * n + z * h
        hs.append(h)
        gates.append((r, z, n, h_n))
    return hs[1:], (hs, gates), (h,)


def gru_backward(ops: Ops, dhs, cache, Wh):
    hs, gates = cache
    T = len(dhs)
    da, drh, dh_next = [None] * T, [None] * T, None
    for t in reversed(range(T)):
        r, z, n, h_n = gates[t]
        dh = _add(dhs[t], dh_next)
        if dh is None:  # no gradient reaches this step yet
            da[t] = drh[t] = ops.cat([ops.zeros_like(n)] * 3, 1)
            continue
        dn_pre = dh * (1 - z) * (1 - n * n)
        d_r = dn_pre * h_n * r * (1 - r)
        d_z = dh * (hs[t] - n) * z * (1 - z)
        da[t] = ops.cat([d_r, d_z, dn_pre], 1)
        drh[t] = ops.cat([d_r, d_z, dn_pre * r], 1)
        dh_next = dh * z + ops.matmul(drh[t], Wh, transpose_b=True)
    drh_flat = ops.cat(drh, 0)
    return da, ops.matmul(ops.cat(hs[:-1], 0), drh_flat, transpose_a=True), ops.cat(da, 0), drh_flat


CELL_MATH = {"rnn": (rnn_forward, rnn_backward), "lstm": (lstm_forward, lstm_backward),
             "gru": (gru_forward, gru_backward)}


@dataclass(frozen=True)
class Shape:
    """What the backpropagation needs to know of a config."""

    cell: str
    input_size: int
    state_size: int
    directions: tuple[str, ...]  # "" and, for a bidirectional model, BACKWARD_PREFIX
    each_step: bool  # a target at every step, else at the last
    classifies: bool  # softmax cross-entropy, else mean squared error

    @classmethod
    def of(cls, config) -> Shape:
        task = config.task_spec
        return cls(config.cell, config.input_size, config.state_size,
                   ("", BACKWARD_PREFIX) if config.bidirectional else ("",), task.each_step, task.loss == XENT)


def loss_and_grads(ops: Ops, shape: Shape, p: dict, rows, target, state: tuple, zero_state: tuple):
    """One window: the loss, its gradients (a dict by canonical name) and the forward direction's final state.

    rows: (T*B, n_in) time-major inputs; target: one-hot rows or values, (T*B, O) or (B, O); state: the forward
    direction's start; zero_state: the backward direction's (zeros, (B, H) each).
    """
    n_in = shape.input_size
    B = state[0].shape[0]
    T = rows.shape[0] // B
    forward_fn, backward_fn = CELL_MATH[shape.cell]
    caches, per_direction, final = [], [], state
    for prefix in shape.directions:
        W = p[prefix + "W"]
        xw = list(ops.split(ops.matmul(rows, W[:n_in]) + p[prefix + "b"], T, 0))  # time order
        backward = prefix == BACKWARD_PREFIX
        hs, cache, last = forward_fn(ops, xw[::-1] if backward else xw, W[n_in:], p.get(prefix + "bh"),
                                     zero_state if backward else state)
        per_direction.append(hs[::-1] if backward else hs)
        caches.append(cache)
        if not backward:
            final = last
    features = [ops.cat(list(hs), 1) if len(hs) > 1 else hs[0] for hs in zip(*per_direction)]  # T of (B, D)
    U = p["U"]
    read = ops.cat(features, 0) if shape.each_step else features[-1]  # (T*B, D) or (B, D)
    out = ops.matmul(read, U) + p["c"]
    if shape.classifies:  # mean over the targets
        n = out.shape[0]
        log_probs = ops.log_softmax(out)
        loss = -ops.total(target * log_probs) / n
        d_out = (ops.exp(log_probs) - target) / n
    else:  # mean over every target value
        n = out.shape[0] * out.shape[1]
        diff = out - target
        loss = ops.total(diff * diff) / n
        d_out = diff * (2 / n)
    grads = {"U": ops.matmul(read, d_out, transpose_a=True), "c": ops.sum0(d_out)}
    d_read = ops.matmul(d_out, U, transpose_b=True)  # (T*B, D) or (B, D)
    H = shape.state_size
    for k, (prefix, cache) in enumerate(zip(shape.directions, caches)):
        W = p[prefix + "W"]
        d_h = d_read[:, k * H : (k + 1) * H]
        dhs = list(ops.split(d_h, T, 0)) if shape.each_step else [None] * (T - 1) + [d_h]  # time order
        backward = prefix == BACKWARD_PREFIX
        d_xw, dWh, db_rows, dbh_rows = backward_fn(ops, dhs[::-1] if backward else dhs, cache, W[n_in:])
        d_xw = ops.cat(d_xw[::-1] if backward else d_xw, 0)  # time order, (T*B, G*H)
        grads[prefix + "W"] = ops.cat([ops.matmul(rows, d_xw, transpose_a=True), dWh], 0)
        grads[prefix + "b"] = ops.sum0(db_rows)
        if dbh_rows is not None:
            grads[prefix + "bh"] = ops.sum0(dbh_rows)
    return loss, grads, final

