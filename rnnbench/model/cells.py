"""The cells' math, written once over ``Ops`` (DESIGN.md, "Cells"; ``rnnbench.spec.cells`` holds their layouts):
one step forward, keeping what the backward pass needs, and that backward pass over a window.

    step(ops, xw_t, state, Wh, bh) -> (new state, saved)
        xw_t: the step's input product with the bias, x_t @ W[:n_in] + b, (B, G*H); state: (h,) or (h, c);
        Wh = W[n_in:]; bh: the recurrent bias of a cell that has one (the GRU's), else None.
        A framework with autodiff drops ``saved`` (a graph prunes it; nothing in it costs an extra operation).
    backward(ops, dhs, states, saved, Wh_t) -> (d_xw, dWh or None, db rows, dbh rows or None)
        dhs: the gradient reaching each step's h from outside the recurrence (None for none); states: the
        window's start and every step's new state; saved: each step's ``saved``; Wh_t: Wh transposed, once per
        window. d_xw: the gradient at each step's xw (a list); dWh summed; the bias gradients as (T*B, G*H) rows
        to sum, db rows being d_xw concatenated in the order the steps ran. The start state is a constant of the
        window (truncated backpropagation), so no gradient is carried past the first step. A cell with no
        recurrent weight (mingru, minlstm) returns dWh None.

To add a cell: its row in ``rnnbench.spec.cells.CELLS``, its two functions here and its row in ``CELL_MATH``, and the
NumPy reference's own (``impl_numpy/cells.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rnnbench.errors import lookup
from rnnbench.model.ops import Ops


def _add(a, b):
    """a + b where either may be None (no gradient)."""
    return a if b is None else b if a is None else a + b


def _h(states) -> list:
    return [s[0] for s in states]


def rnn_step(ops: Ops, xw_t, state: tuple, Wh, bh):
    return (ops.tanh(xw_t + ops.matmul(state[0], Wh)),), ()


def rnn_backward(ops: Ops, dhs, states, saved, Wh_t):
    hs = _h(states)
    d_pre, carry = [None] * len(dhs), None
    for t in reversed(range(len(dhs))):
        dh = _add(dhs[t], carry)
        if dh is None:  # no gradient reaches this step yet (a target at the last step only)
            d_pre[t] = ops.zeros_like(hs[t + 1])
            continue
        d_pre[t] = dh * (1 - hs[t + 1] * hs[t + 1])
        if t:
            carry = ops.matmul(d_pre[t], Wh_t)
    d_flat = ops.cat(d_pre, 0)
    return d_pre, ops.matmul(ops.cat(hs[:-1], 0), d_flat, transpose_a=True), d_flat, None


def lstm_step(ops: Ops, xw_t, state: tuple, Wh, bh):
    h, c = state
    i, f, g, o = ops.split(xw_t + ops.matmul(h, Wh), 4, 1)
    i, f, g, o = ops.sigmoid(i), ops.sigmoid(f), ops.tanh(g), ops.sigmoid(o)
    c = f * c + i * g
    tc = ops.tanh(c)
    return (o * tc, c), (i, f, g, o, tc)


def lstm_backward(ops: Ops, dhs, states, saved, Wh_t):
    hs, cs = _h(states), [s[1] for s in states]
    dz, dh_next, dc_next = [None] * len(dhs), None, None
    for t in reversed(range(len(dhs))):
        i, f, g, o, tc = saved[t]
        dh = _add(dhs[t], dh_next)
        if dh is None:  # no gradient reaches this step yet (dc_next is None too)
            dz[t] = ops.cat([ops.zeros_like(tc)] * 4, 1)
            continue
        dc = _add(dh * o * (1 - tc * tc), dc_next)
        dz[t] = ops.cat([dc * g * i * (1 - i), dc * cs[t] * f * (1 - f), dc * i * (1 - g * g),
                         dh * tc * o * (1 - o)], 1)
        if t:
            dc_next = dc * f
            dh_next = ops.matmul(dz[t], Wh_t)
    d_flat = ops.cat(dz, 0)
    return dz, ops.matmul(ops.cat(hs[:-1], 0), d_flat, transpose_a=True), d_flat, None


def gru_step(ops: Ops, xw_t, state: tuple, Wh, bh):
    h = state[0]
    a_r, a_z, a_n = ops.split(xw_t, 3, 1)
    h_r, h_z, h_n = ops.split(ops.matmul(h, Wh) + bh, 3, 1)
    r, z = ops.sigmoid(a_r + h_r), ops.sigmoid(a_z + h_z)
    n = ops.tanh(a_n + r * h_n)
    return ((1 - z) * n + z * h,), (r, z, n, h_n)


def gru_backward(ops: Ops, dhs, states, saved, Wh_t):
    hs = _h(states)
    T = len(dhs)
    da, drh, dh_next = [None] * T, [None] * T, None
    for t in reversed(range(T)):
        r, z, n, h_n = saved[t]
        dh = _add(dhs[t], dh_next)
        if dh is None:  # no gradient reaches this step yet
            da[t] = drh[t] = ops.cat([ops.zeros_like(n)] * 3, 1)
            continue
        dn_pre = dh * (1 - z) * (1 - n * n)
        d_r = dn_pre * h_n * r * (1 - r)
        d_z = dh * (hs[t] - n) * z * (1 - z)
        da[t] = ops.cat([d_r, d_z, dn_pre], 1)
        drh[t] = ops.cat([d_r, d_z, dn_pre * r], 1)
        if t:
            dh_next = dh * z + ops.matmul(drh[t], Wh_t)
    drh_flat = ops.cat(drh, 0)
    return da, ops.matmul(ops.cat(hs[:-1], 0), drh_flat, transpose_a=True), ops.cat(da, 0), drh_flat


# The minimal cells (Feng et al. 2024), h' = a*h + b with a, b from the step's input alone. Their parts and chain
# rule are elementwise, so the same functions serve one step (B, G*H) and a whole window (T, B, G*H): the loop
# here and the parallel scan of ``rnnbench.model.scan`` share them.


def candidate(ops: Ops, k):
    """g(k): k + 0.5 for k >= 0, sigmoid(k) below; positive everywhere, so a scan in log space can take it."""
    return ops.where(k >= 0, k + 0.5, ops.sigmoid(k))


def candidate_grad(ops: Ops, k):
    """g'(k): 1 for k >= 0, sigmoid'(k) below."""
    s = ops.sigmoid(k)
    return ops.where(k >= 0, ops.full_like(k, 1.0), s * (1 - s))


def log_candidate(ops: Ops, k):
    """log g(k), without forming g where it is tiny: log(k + 0.5) for k >= 0, -softplus(-k) below."""
    return ops.where(k >= 0, ops.log(ops.relu(k) + 0.5), -ops.softplus(-k))


def mingru_parts(ops: Ops, xw):
    """(a, b, saved) of h' = a*h + b: a = 1 - z, b = z g(k_h); saved for the chain rule."""
    k_z, k_h = ops.split(xw, 2, -1)
    z, cand = ops.sigmoid(k_z), candidate(ops, k_h)
    return 1 - z, z * cand, (z, cand, k_h)


def mingru_chain(ops: Ops, G, h_prev, saved):
    """The gradient at the step's xw, given G, the whole gradient reaching its new h, and the h it started from."""
    z, cand, k_h = saved
    return ops.cat([G * (cand - h_prev) * z * (1 - z), G * z * candidate_grad(ops, k_h)], -1)


def mingru_log_parts(ops: Ops, xw):
    """(log a, log b) for the scan in log space: log(1 - z) = -softplus(k_z), log z = -softplus(-k_z)."""
    k_z, k_h = ops.split(xw, 2, -1)
    return -ops.softplus(k_z), -ops.softplus(-k_z) + log_candidate(ops, k_h)


def minlstm_parts(ops: Ops, xw):
    """(a, b, saved): a = f' = f / (f + i), b = i' g(k_h) with i' = 1 - f'."""
    k_f, k_i, k_h = ops.split(xw, 3, -1)
    f, i = ops.sigmoid(k_f), ops.sigmoid(k_i)
    fn, cand = f / (f + i), candidate(ops, k_h)
    return fn, (1 - fn) * cand, (f, i, fn, cand, k_h)


def minlstm_chain(ops: Ops, G, h_prev, saved):
    f, i, fn, cand, k_h = saved
    d_fn = G * (h_prev - cand) * fn * (1 - fn)  # d f'/d k_f = f' i' (1 - f), d f'/d k_i = -f' i' (1 - i)
    return ops.cat([d_fn * (1 - f), -d_fn * (1 - i), G * (1 - fn) * candidate_grad(ops, k_h)], -1)


def minlstm_log_parts(ops: Ops, xw):
    """(log f', log b): with d = log(i / f) = softplus(-k_f) - softplus(-k_i), log f' = -softplus(d) and
    log i' = -softplus(-d) (the paper's log-space minLSTM)."""
    k_f, k_i, k_h = ops.split(xw, 3, -1)
    d = ops.softplus(-k_f) - ops.softplus(-k_i)
    return -ops.softplus(d), -ops.softplus(-d) + log_candidate(ops, k_h)


def _linear_step(parts):
    def step(ops: Ops, xw_t, state: tuple, Wh, bh):
        a, b, saved = parts(ops, xw_t)
        return (a * state[0] + b,), (a, saved)

    return step


def _linear_backward(chain):
    def backward(ops: Ops, dhs, states, saved, Wh_t):
        hs = _h(states)
        d_xw, carry = [None] * len(dhs), None
        for t in reversed(range(len(dhs))):
            a, parts = saved[t]
            G = _add(dhs[t], carry)
            if G is None:  # no gradient reaches this step yet
                d_xw[t] = chain(ops, ops.zeros_like(hs[t + 1]), hs[t], parts)
                continue
            d_xw[t] = chain(ops, G, hs[t], parts)
            carry = G * a
        d_flat = ops.cat(d_xw, 0)
        return d_xw, None, d_flat, None  # no recurrent weight: no dWh

    return backward


@dataclass(frozen=True)
class CellMath:
    step: Callable
    backward: Callable
    # A cell linear in h (h' = a*h + b): (a, b, saved), elementwise over a step or a window; its chain rule
    # (G, h_prev, saved) -> d_xw; (log a, log b) for the scan in log space.
    parts: Callable | None = None
    chain: Callable | None = None
    log_parts: Callable | None = None


CELL_MATH: dict[str, CellMath] = {
    "rnn": CellMath(rnn_step, rnn_backward),
    "lstm": CellMath(lstm_step, lstm_backward),
    "gru": CellMath(gru_step, gru_backward),
    "mingru": CellMath(_linear_step(mingru_parts), _linear_backward(mingru_chain), mingru_parts, mingru_chain,
                       mingru_log_parts),
    "minlstm": CellMath(_linear_step(minlstm_parts), _linear_backward(minlstm_chain), minlstm_parts, minlstm_chain,
                        minlstm_log_parts),
}


def cell_math(name: str) -> CellMath:
    """The math of cell ``name``; an unknown name is refused, naming the cells there are."""
    return lookup(CELL_MATH, name, "cell", "cell")


def run(ops: Ops, step: Callable, xw, Wh, bh, state: tuple, reverse: bool = False):
    """The cell over a window: ``xw`` T inputs in time order, read in reverse for a backward direction.
    Returns (states, saved) in the order the steps ran: states[0] the start, states[k + 1] after step k."""
    states, saved = [state], []
    for xw_t in (reversed(xw) if reverse else xw):
        state, keep = step(ops, xw_t, state, Wh, bh)
        states.append(state)
        saved.append(keep)
    return states, saved
