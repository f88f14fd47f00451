"""A window of a cell linear in h (mingru, minlstm: h_t = a_t h_{t-1} + b_t, a and b from x_t alone) computed by a
parallel scan over time instead of T dependent steps (``RunConfig.time_mode`` "parallel"; docs/cells-and-tasks.md,
"The minimal cells and the ways through time"). Written once over ``Ops``:

- where the framework has an associative scan (``Ops.linear_scan``: JAX's ``lax.associative_scan``), the pairs
  (a_t, b_t) are combined by (a1, b1) then (a2, b2) = (a2 a1, a2 b1 + b2), O(log T) deep, and
  h_t = A_t h_0 + B_t;
- elsewhere in log space (Heinsen, 2023): with a*_t = cumsum(log a)_t,
  h_t = e^{a*_t} h_0 + exp(a*_t + logcumsumexp(log b - a*)_t): two cumulative operations over the window, which
  needs b > 0 (the cells' candidate g keeps it so; the start state enters as its own term, so h_0 may be any sign).

The backward pass written out (``backward``, for the hand-written gradients of ``rnnbench.model.backprop``): the
whole gradient reaching each h_t is the reverse recurrence G_t = d_t + a_{t+1} G_{t+1}, a scan too, its values of
either sign: in log space G_t = e^{-a*_t} (sum_{s>=t} d_s^+ e^{a*_s} - sum_{s>=t} d_s^- e^{a*_s}), each sum a reversed
logcumsumexp. Then the cell's chain rule, elementwise over the whole window at once.

In float32 a long window loses digits in log space: a*_t grows like t (about -0.7 a step at z = 0.5), and
e^{a*_t - a*_s} is formed from two large numbers, relative error about |a*_t| times 6e-8 (1.7e-4 at T = 4,096).
"""

from __future__ import annotations

from rnnbench.model.cells import cell_math
from rnnbench.model.ops import Ops

# What a zero of d becomes in log space: log(0) would be -inf, which not every framework's logcumsumexp takes
# (TensorFlow's gives NaN); each such term adds at most TINY to a sum.
TINY = 1e-30


def combine(earlier, later):
    """The linear recurrence's associative operator on pairs (a, b), each the map s -> a s + b: ``earlier`` then
    ``later`` is s -> a2 (a1 s + b1) + b2 = (a2 a1, a2 b1 + b2). What ``Ops.linear_scan`` scans with."""
    a1, b1 = earlier
    a2, b2 = later
    return a2 * a1, a2 * b1 + b2


def _reverse_cumulative(ops: Ops, fn, x):
    return ops.flip(fn(ops.flip(x, 0), 0), 0)


def recurrence(ops: Ops, log_a, log_b, h0, reverse: bool = False):
    """h_t = a_t h_{t-1} + b_t over the first axis from h0 (reverse: h_t = a_t h_{t+1} + b_t from the end), a and b
    given by their logs, (T, B, H); returns every h_t, (T, B, H), in time order."""
    if ops.linear_scan is not None:
        A, B = ops.linear_scan(ops.exp(log_a), ops.exp(log_b), reverse)
        return A * h0 + B
    if reverse:
        log_a, log_b = ops.flip(log_a, 0), ops.flip(log_b, 0)
    a_star = ops.cumsum(log_a, 0)
    h = ops.exp(a_star) * h0 + ops.exp(a_star + ops.logcumsumexp(log_b - a_star, 0))
    return ops.flip(h, 0) if reverse else h


def gradient_recurrence(ops: Ops, a, log_a, d):
    """G_t = d_t + a_{t+1} G_{t+1} (G_{T-1} = d_{T-1}) over the first axis, d of either sign."""
    if ops.linear_scan is not None:
        a_next = ops.cat([a[1:], ops.zeros_like(a[:1])], 0)
        return ops.linear_scan(a_next, d, True)[1]
    a_star = ops.cumsum(log_a, 0)

    def part(x):  # e^{-a*_t} sum_{s>=t} x_s e^{a*_s}, x >= 0
        return ops.exp(_reverse_cumulative(ops, ops.logcumsumexp, a_star + ops.log(x + TINY)) - a_star)

    return part(ops.relu(d)) - part(ops.relu(-d))


def states(ops: Ops, cell: str, xw, h0, reverse: bool = False):
    """A window's states by the scan: xw (T, B, G*H) time-major, the input product with its bias; h0 (B, H).
    Returns (h (T, B, H) in time order, log a)."""
    log_a, log_b = cell_math(cell).log_parts(ops, xw)
    return recurrence(ops, log_a, log_b, h0, reverse), log_a


def steps(ops: Ops, x) -> list:
    """(T, B, N) -> T tensors (B, N), one split."""
    T = x.shape[0]
    return list(ops.split(ops.reshape(x, (-1, x.shape[-1])), T, 0))


def run(ops: Ops, cell: str, xw, h0, reverse: bool = False):
    """``rnnbench.model.cells.run``'s result by the scan, for ``rnnbench.model.backprop``: xw (T, B, G*H) in time
    order. Returns (states, saved): states[0] the start and states[k + 1] after step k, in the order the steps ran;
    saved what ``backward`` needs."""
    h, log_a = states(ops, cell, xw, h0, reverse)
    a, _, parts = cell_math(cell).parts(ops, xw)
    hs = steps(ops, h)
    order = hs[::-1] if reverse else hs
    return [(h0,)] + [(x,) for x in order], (h, h0, a, log_a, parts)


def backward(ops: Ops, cell: str, dhs: list, saved, reverse: bool = False):
    """``rnnbench.model.cells``' backward for a window run by ``run``: dhs the gradient reaching each step's h from
    outside (None for none) in the order the steps ran. Returns (d_xw per step in that order, None, the d_xw rows,
    None)."""
    h, h0, a, log_a, parts = saved
    zero = ops.zeros_like(h0)
    d = ops.stack([zero if g is None else g for g in (dhs[::-1] if reverse else dhs)], 0)  # time order
    if reverse:  # run on the window reversed: h_t's predecessor is h_{t+1}
        G = ops.flip(gradient_recurrence(ops, ops.flip(a, 0), ops.flip(log_a, 0), ops.flip(d, 0)), 0)
        h_prev = ops.cat([h[1:], h0[None]], 0)
    else:
        G = gradient_recurrence(ops, a, log_a, d)
        h_prev = ops.cat([h0[None], h[:-1]], 0)
    d_xw = cell_math(cell).chain(ops, G, h_prev, parts)  # (T, B, G*H) in time order
    per_step = steps(ops, d_xw)
    return per_step[::-1] if reverse else per_step, None, ops.reshape(d_xw, (-1, d_xw.shape[-1])), None
