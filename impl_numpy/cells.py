"""The cells' math in NumPy, one direction over one window: forward, and backpropagation through it.

Time-major inside: ``xw`` is the window's input product x_t @ W[:n_in] for every step, (T, B, G*H), computed once
for the whole window by the model; each cell adds the recurrent product per step. ``state`` is a tuple of (B, H)
arrays (h, and c for the LSTM). ``backward`` takes the gradient reaching each step's output h_t, (T, B, H), and
returns the gradient at xw and those of the recurrent weights and the biases; no gradient leaves the window
(truncated backpropagation). Given a ``record`` array (T, B, H), it also writes there the whole gradient reaching
each h_t (its own output's and what comes back from later steps): the gradient-flow study reads it. The
formulas are DESIGN.md's (and ``rnnbench.spec.cells``'); tests check every gradient
against central differences in float64.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z), written through tanh so that no exp overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class RNNCell:
    """h' = tanh(x W_x + h W_h + b)."""

    @staticmethod
    def forward(xw, Wh, b, bh, state):
        (h0,) = state
        T = xw.shape[0]
        states = np.empty((T + 1, *h0.shape), dtype=Wh.dtype)  # (T+1, B, H)
        states[0] = h0
        for t in range(T):
            states[t + 1] = np.tanh(xw[t] + states[t] @ Wh + b)
        return states[1:], states, (states[-1],)

    @staticmethod
    def state_at(cache, t: int) -> tuple:
        """The state after the window's first t steps, from ``forward``'s cache."""
        return (cache[t],)

    @staticmethod
    def backward(dhs, states, Wh, record=None):
        hidden = states[1:]
        H = hidden.shape[-1]
        Wh_T = Wh.T
        d_pre = np.empty_like(hidden)  # gradient at tanh's input, per step
        carry = np.zeros_like(states[0])  # gradient reaching h_t from h_{t+1}
        for t in range(len(hidden) - 1, -1, -1):
            if record is not None:
                record[t] = dhs[t] + carry
            d_pre[t] = (dhs[t] + carry) * (1.0 - hidden[t] * hidden[t])
            carry = d_pre[t] @ Wh_T
        d_pre_flat = d_pre.reshape(-1, H)
        return d_pre, states[:-1].reshape(-1, H).T @ d_pre_flat, d_pre_flat.sum(axis=0), None


class LSTMCell:
    """z = x W_x + h W_h + b in blocks i, f, g, o; c' = f c + i g; h' = o tanh(c')."""

    @staticmethod
    def forward(xw, Wh, b, bh, state):
        h0, c0 = state
        T, H = xw.shape[0], h0.shape[-1]
        hs = np.empty((T + 1, *h0.shape), dtype=Wh.dtype)
        cs = np.empty_like(hs)
        acts = np.empty(xw.shape, dtype=Wh.dtype)  # (T, B, 4H): i, f, g, o after their nonlinearities
        hs[0], cs[0] = h0, c0
        for t in range(T):
            z = xw[t] + hs[t] @ Wh + b
            a = acts[t]
            a[:, : 2 * H] = sigmoid(z[:, : 2 * H])
            a[:, 2 * H : 3 * H] = np.tanh(z[:, 2 * H : 3 * H])
            a[:, 3 * H :] = sigmoid(z[:, 3 * H :])
            cs[t + 1] = a[:, H : 2 * H] * cs[t] + a[:, :H] * a[:, 2 * H : 3 * H]
            hs[t + 1] = a[:, 3 * H :] * np.tanh(cs[t + 1])
        return hs[1:], (hs, cs, acts), (hs[-1], cs[-1])

    @staticmethod
    def state_at(cache, t: int) -> tuple:
        hs, cs, _ = cache
        return hs[t], cs[t]

    @staticmethod
    def backward(dhs, cache, Wh, record=None):
        hs, cs, acts = cache
        T, H = len(dhs), hs.shape[-1]
        Wh_T = Wh.T
        dz = np.empty_like(acts)
        dh_next = np.zeros_like(hs[0])
        dc_next = np.zeros_like(cs[0])
        for t in range(T - 1, -1, -1):
            a = acts[t]
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            tc = np.tanh(cs[t + 1])
            dh = dhs[t] + dh_next
            if record is not None:
                record[t] = dh
            dc = dc_next + dh * o * (1.0 - tc * tc)
            d = dz[t]
            d[:, :H] = dc * g * i * (1.0 - i)
            d[:, H : 2 * H] = dc * cs[t] * f * (1.0 - f)
            d[:, 2 * H : 3 * H] = dc * i * (1.0 - g * g)
            d[:, 3 * H :] = dh * tc * o * (1.0 - o)
            dc_next = dc * f
            dh_next = d @ Wh_T
        dz_flat = dz.reshape(-1, 4 * H)
        return dz, hs[:-1].reshape(-1, H).T @ dz_flat, dz_flat.sum(axis=0), None


class GRUCell:
    """Reset-after: a = x W_x + b, r_h = h W_h + bh in blocks r, z, n; r, z = sigmoid(a + r_h); n = tanh(a_n + r r_h_n);
    h' = (1 - z) n + z h."""

    @staticmethod
    def forward(xw, Wh, b, bh, state):
        (h0,) = state
        T, H = xw.shape[0], h0.shape[-1]
        hs = np.empty((T + 1, *h0.shape), dtype=Wh.dtype)
        rzn = np.empty(xw.shape, dtype=Wh.dtype)  # (T, B, 3H): r, z, n after their nonlinearities
        rh_n = np.empty((T, *h0.shape), dtype=Wh.dtype)  # the recurrent product's n block, reset inside
        hs[0] = h0
        a = xw + b
        for t in range(T):
            rh = hs[t] @ Wh + bh
            g = rzn[t]
            g[:, : 2 * H] = sigmoid(a[t, :, : 2 * H] + rh[:, : 2 * H])
            rh_n[t] = rh[:, 2 * H :]
            g[:, 2 * H :] = np.tanh(a[t, :, 2 * H :] + g[:, :H] * rh_n[t])
            z, n = g[:, H : 2 * H], g[:, 2 * H :]
            hs[t + 1] = (1.0 - z) * n + z * hs[t]
        return hs[1:], (hs, rzn, rh_n), (hs[-1],)

    @staticmethod
    def state_at(cache, t: int) -> tuple:
        return (cache[0][t],)

    @staticmethod
    def backward(dhs, cache, Wh, record=None):
        hs, rzn, rh_n = cache
        T, H = len(dhs), hs.shape[-1]
        Wh_T = Wh.T
        da = np.empty_like(rzn)  # at the input product + b
        drh = np.empty_like(rzn)  # at the recurrent product + bh
        dh_next = np.zeros_like(hs[0])
        for t in range(T - 1, -1, -1):
            g = rzn[t]
            r, z, n = g[:, :H], g[:, H : 2 * H], g[:, 2 * H :]
            dh = dhs[t] + dh_next
            if record is not None:
                record[t] = dh
            dn_pre = dh * (1.0 - z) * (1.0 - n * n)
            da[t, :, :H] = dn_pre * rh_n[t] * r * (1.0 - r)
            da[t, :, H : 2 * H] = dh * (hs[t] - n) * z * (1.0 - z)
            da[t, :, 2 * H :] = dn_pre
            drh[t, :, : 2 * H] = da[t, :, : 2 * H]
            drh[t, :, 2 * H :] = dn_pre * r
            dh_next = dh * z + drh[t] @ Wh_T
        drh_flat = drh.reshape(-1, 3 * H)
        return da, hs[:-1].reshape(-1, H).T @ drh_flat, da.reshape(-1, 3 * H).sum(axis=0), drh_flat.sum(axis=0)


def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def candidate(k: np.ndarray) -> np.ndarray:
    """The minimal cells' g: k + 0.5 for k >= 0, sigmoid(k) below (positive everywhere)."""
    return np.where(k >= 0, k + 0.5, sigmoid(k))


def candidate_grad(k: np.ndarray) -> np.ndarray:
    s = sigmoid(k)
    return np.where(k >= 0, 1.0, s * (1.0 - s)).astype(k.dtype, copy=False)


def log_candidate(k: np.ndarray) -> np.ndarray:
    return np.where(k >= 0, np.log(np.maximum(k, 0.0) + 0.5), -softplus(-k))


class LinearCell:
    """A minimal cell (Feng et al. 2024): h' = a h + b with a, b from x alone, no recurrent weight (W is (n_in,
    G*H)). A subclass gives ``parts`` (a, b and what the chain rule needs), ``chain`` (the gradient at k = xw + b
    from G, the whole gradient reaching h_t, and h_{t-1}) and ``log_parts`` (log a, log b) for the scan."""

    @classmethod
    def forward(cls, xw, Wh, b, bh, state):
        (h0,) = state
        k = xw + b
        a, bb, _ = cls.parts(k)
        hs = np.empty((len(k) + 1, *h0.shape), dtype=k.dtype)
        hs[0] = h0
        for t in range(len(k)):
            hs[t + 1] = a[t] * hs[t] + bb[t]
        return hs[1:], (hs, k, a), (hs[-1],)

    @staticmethod
    def state_at(cache, t: int) -> tuple:
        return (cache[0][t],)

    @classmethod
    def backward(cls, dhs, cache, Wh, record=None):
        hs, k, a = cache
        G = np.empty_like(dhs)
        carry = np.zeros_like(hs[0])
        for t in range(len(dhs) - 1, -1, -1):
            G[t] = dhs[t] + carry
            carry = G[t] * a[t]
        if record is not None:
            record[:] = G
        return cls.gradients(G, hs[:-1], k)

    @classmethod
    def gradients(cls, G, h_prev, k):
        d = cls.chain(G, h_prev, k, cls.parts(k)[2])
        return d, np.zeros((0, d.shape[-1]), d.dtype), d.reshape(-1, d.shape[-1]).sum(axis=0), None


class MinGRUCell(LinearCell):
    """k = x W + b in blocks z, h: z = sigmoid(k_z), h' = (1 - z) h + z g(k_h)."""

    @staticmethod
    def parts(k):
        H = k.shape[-1] // 2
        z, cand = sigmoid(k[..., :H]), candidate(k[..., H:])
        return 1.0 - z, z * cand, (z, cand)

    @staticmethod
    def chain(G, h_prev, k, saved):
        H = k.shape[-1] // 2
        z, cand = saved
        return np.concatenate([G * (cand - h_prev) * z * (1.0 - z), G * z * candidate_grad(k[..., H:])], axis=-1)

    @staticmethod
    def log_parts(k):
        H = k.shape[-1] // 2
        return -softplus(k[..., :H]), -softplus(-k[..., :H]) + log_candidate(k[..., H:])


class MinLSTMCell(LinearCell):
    """k = x W + b in blocks f, i, h: f, i = sigmoid(k_f), sigmoid(k_i); f' = f / (f + i);
    h' = f' h + (1 - f') g(k_h)."""

    @staticmethod
    def parts(k):
        H = k.shape[-1] // 3
        f, i, cand = sigmoid(k[..., :H]), sigmoid(k[..., H : 2 * H]), candidate(k[..., 2 * H :])
        fn = f / (f + i)
        return fn, (1.0 - fn) * cand, (f, i, fn, cand)

    @staticmethod
    def chain(G, h_prev, k, saved):
        H = k.shape[-1] // 3
        f, i, fn, cand = saved
        d_fn = G * (h_prev - cand) * fn * (1.0 - fn)
        return np.concatenate([d_fn * (1.0 - f), -d_fn * (1.0 - i), G * (1.0 - fn) * candidate_grad(k[..., 2 * H :])],
                              axis=-1)

    @staticmethod
    def log_parts(k):
        H = k.shape[-1] // 3
        d = softplus(-k[..., :H]) - softplus(-k[..., H : 2 * H])
        return -softplus(d), -softplus(-d) + log_candidate(k[..., 2 * H :])


def _scan_parallel(cell):
    """``cell`` (a LinearCell) computed by the scan in log space (Heinsen 2023) instead of a loop: with
    a*_t = cumsum(log a), h_t = e^{a*_t} h_0 + exp(a*_t + logcumsumexp(log b - a*)_t); backward, the whole gradient
    reaching h_t, G_t = sum_{s>=t} d_s e^{a*_s - a*_t}, as two reversed logcumsumexps (the positive and the negative
    parts of d)."""

    class Parallel(cell):
        @classmethod
        def forward(cls, xw, Wh, b, bh, state):
            (h0,) = state
            k = xw + b
            log_a, log_b = cls.log_parts(k)
            a_star = np.cumsum(log_a, axis=0)
            h = np.exp(a_star) * h0 + np.exp(a_star + np.logaddexp.accumulate(log_b - a_star, axis=0))
            hs = np.concatenate([h0[None], h.astype(k.dtype, copy=False)])
            return hs[1:], (hs, k, a_star), (hs[-1],)

        @classmethod
        def backward(cls, dhs, cache, Wh, record=None):
            hs, k, a_star = cache
            with np.errstate(divide="ignore"):  # log 0 = -inf: a zero of d adds nothing
                def part(x):
                    return np.exp(np.logaddexp.accumulate((a_star + np.log(x))[::-1], axis=0)[::-1] - a_star)

                G = (part(np.maximum(dhs, 0.0)) - part(np.maximum(-dhs, 0.0))).astype(dhs.dtype, copy=False)
            if record is not None:
                record[:] = G
            return cls.gradients(G, hs[:-1], k)

    Parallel.__name__ = Parallel.__qualname__ = f"Parallel{cell.__name__}"
    return Parallel


CELL_MATH = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell, "mingru": MinGRUCell, "minlstm": MinLSTMCell}
PARALLEL_MATH = {name: _scan_parallel(c) for name, c in CELL_MATH.items() if issubclass(c, LinearCell)}
