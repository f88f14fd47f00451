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


CELL_MATH = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}
