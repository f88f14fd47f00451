"""Backpropagation through time written out by hand, once, for any task × cell, uni- or bidirectional, over
duck-typed tensors: the named trick of the fastest TensorFlow and PyTorch variants (``tf-xla-epoch``,
``torch-fused``, ``torch-compile``), which pass their framework's operations as an ``Ops``. The core still
imports no framework.

The algebra is the NumPy reference's (``rnnbench.impl_numpy.cells`` and ``model``), each cell's step and
backward pass ``rnnbench.model.cells``'s, time-major and functional
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

from rnnbench.model import scan
from rnnbench.model.cells import cell_math, run
from rnnbench.model.ops import Ops
from rnnbench.model.spec import ModelSpec


def _zero(ops: Ops, spec: ModelSpec, start: tuple) -> tuple:
    """A backward direction's start: zero, which the forward start already is for independent sequences."""
    return tuple(ops.zeros_like(s) for s in start) if spec.carries_state else start


def loss_and_grads(ops: Ops, spec: ModelSpec, p: dict, rows, target, state: tuple):
    """One window: the loss, its gradients (a dict by canonical name) and the forward direction's final state.

    Stacked layers: layer l > 1's rows are layer l - 1's states (both directions', forward first), (T*B, D)
    time-major, from a zero state; the gradient at them, d_xw @ W[:n_in].T, is what layer l - 1's states receive at
    every step.

    rows: (T*B, n_in) time-major inputs; target: one-hot rows or values, (T*B, O) or (B, O); state: the state
    carried into the window, (B, H) each (the forward direction starts from it by ``ModelSpec.start``; a backward
    direction from zero).
    """
    B = state[0].shape[0]
    T = rows.shape[0] // B
    math = cell_math(spec.cell)
    start = spec.start(ops, state)
    per_layer, final, inputs, features = [], start, rows, []
    for k, lp in enumerate(spec.layers):
        if k:  # a layer above the first reads the one below's states, (T*B, D) time-major, from zero
            inputs = ops.cat(features, 0)
        layer_start = start if k == 0 else tuple(ops.zeros_like(s) for s in start)
        kept, per_direction = [], []
        for prefix in spec.directions:
            W = p[lp + prefix + "W"]
            n_in = spec.n_in_of(W)
            xw = ops.matmul(inputs, W[:n_in]) + p[lp + prefix + "b"]  # (T*B, G*H), time-major
            backward = spec.is_backward(prefix)
            first = _zero(ops, spec, layer_start) if backward else layer_start
            if spec.parallel:  # a cell linear in h, by a scan over the window (rnnbench.model.scan)
                states, saved = scan.run(ops, spec.cell, ops.reshape(xw, (T, -1, xw.shape[-1])), first[0],
                                         reverse=backward)
            else:  # the steps' inputs in time order
                states, saved = run(ops, math.step, list(ops.split(xw, T, 0)), W[n_in:], p.get(lp + prefix + "bh"),
                                    first, reverse=backward)
            hs = [s[0] for s in states[1:]]
            per_direction.append(hs[::-1] if backward else hs)
            kept.append((states, saved))
            if k == 0 and not backward:
                final = states[-1]
        per_layer.append((inputs, kept))
        features = [ops.cat(list(hs), 1) if len(hs) > 1 else hs[0] for hs in zip(*per_direction)]  # T of (B, D)
    U = p["U"]
    read = ops.cat(features, 0) if spec.each_step else features[-1]  # (T*B, D) or (B, D)
    out = ops.matmul(read, U) + p["c"]
    if spec.classifies:  # mean over the targets
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
    H = spec.state_size
    each_step = spec.each_step
    for layer in reversed(range(len(spec.layers))):  # top first: each passes the gradient at its rows down
        lp, (inputs, kept) = spec.layers[layer], per_layer[layer]
        d_rows = None
        for k, (prefix, (states, saved)) in enumerate(zip(spec.directions, kept)):
            W = p[lp + prefix + "W"]
            n_in = spec.n_in_of(W)
            d_h = d_read if len(kept) == 1 else d_read[:, k * H : (k + 1) * H]
            dhs = list(ops.split(d_h, T, 0)) if each_step else [None] * (T - 1) + [d_h]  # time order
            backward = spec.is_backward(prefix)
            if spec.parallel:
                d_xw, dWh, db_rows, dbh_rows = scan.backward(ops, spec.cell, dhs[::-1] if backward else dhs, saved,
                                                             reverse=backward)
            else:
                d_xw, dWh, db_rows, dbh_rows = math.backward(ops, dhs[::-1] if backward else dhs, states, saved,
                                                             ops.swapaxes(W[n_in:], 0, 1))
            d_xw = ops.cat(d_xw[::-1], 0) if backward else db_rows  # time order, (T*B, G*H)
            dWx = ops.matmul(inputs, d_xw, transpose_a=True)
            grads[lp + prefix + "W"] = dWx if dWh is None else ops.cat([dWx, dWh], 0)  # no recurrent rows: no dWh
            grads[lp + prefix + "b"] = ops.sum0(db_rows)
            if dbh_rows is not None:
                grads[lp + prefix + "bh"] = ops.sum0(dbh_rows)
            if layer:  # the gradient at this layer's rows: the states of the layer below, every step
                d_in = ops.matmul(d_xw, W[:n_in], transpose_b=True)
                d_rows = d_in if d_rows is None else d_rows + d_in
        d_read, each_step = d_rows, True  # a layer below the top gets a gradient at every step
    return loss, grads, final
