"""The canonical model in TensorFlow ops, for any task × cell, uni- or bidirectional: what ``tf-cell`` builds into
a TF1 graph and ``tf-function``, ``tf-xla`` and ``tf-xla-epoch`` trace. Works on tensors, eager or in a graph.

    forward direction:   h_t = cell(x_t, h_{t-1})     from the given state (zero for independent sequences)
    backward direction:  g_t = cell(x_t, g_{t+1})     from zero, over the window reversed
    out_t = [h_t, g_t] @ U + c                         at every step, or at the last step only

The cells are DESIGN.md's (``rnnbench.cells``), written step by step in the same form as the NumPy reference:
the input product of every step is one matmul over the window (a row gather for one-hot tokens costs the same
here), then the recurrent product per step. The optimizers are ``rnnbench.optimizer``'s, as tensor updates.
"""

from __future__ import annotations

from rnnbench.cells import BACKWARD_PREFIX, cell
from rnnbench.config import RunConfig
from rnnbench.impl_tf import runtime
from rnnbench.optimizer import ADAGRAD_INITIAL_ACCUMULATOR, ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON
from rnnbench.tasks.base import XENT

tf = runtime.tf


def cell_step(cell_name: str, xw_t, state: tuple, W_h, b, bh) -> tuple:
    """One step: xw_t = x_t @ W[:n_in] (B, G*H); state (h,) or (h, c). Returns the new state."""
    h = state[0]
    if cell_name == "rnn":
        return (tf.tanh(xw_t + tf.matmul(h, W_h) + b),)
    if cell_name == "lstm":
        i, f, g, o = tf.split(xw_t + tf.matmul(h, W_h) + b, 4, axis=1)
        c = tf.sigmoid(f) * state[1] + tf.sigmoid(i) * tf.tanh(g)
        return tf.sigmoid(o) * tf.tanh(c), c
    a_r, a_z, a_n = tf.split(xw_t + b, 3, axis=1)
    h_r, h_z, h_n = tf.split(tf.matmul(h, W_h) + bh, 3, axis=1)
    r, z = tf.sigmoid(a_r + h_r), tf.sigmoid(a_z + h_z)
    n = tf.tanh(a_n + r * h_n)
    return ((1 - z) * n + z * h,)


class Model:
    """The config's model as functions of a dict of parameter tensors (canonical names)."""

    def __init__(self, config: RunConfig):
        self.config = config
        self.task = config.task_spec
        self.cell = cell(config.cell)
        self.prefixes = ("", BACKWARD_PREFIX) if config.bidirectional else ("",)
        self.n_in = config.input_size

    def zero_state(self, batch: int, dtype) -> tuple:
        return tuple(tf.zeros((batch, self.config.state_size), dtype) for _ in self.cell.states)

    def inputs(self, x, dtype):
        """(B, T, n_in) float rows: one-hot for tokens."""
        return tf.one_hot(x, self.n_in, dtype=dtype) if self.task.tokens else tf.cast(x, dtype)

    def direction(self, p: dict, prefix: str, rows, state):
        """Run one direction over rows (B, T, n_in); returns the per-step outputs (T tensors (B, H)) in time order
        and the final state."""
        B, T = rows.shape[0], rows.shape[1]
        W = p[prefix + "W"]
        width = W.shape[1]
        xw = tf.reshape(tf.matmul(tf.reshape(rows, [B * T, self.n_in]), W[: self.n_in]), [B, T, width])
        W_h, b, bh = W[self.n_in :], p[prefix + "b"], p.get(prefix + "bh")
        steps = range(T - 1, -1, -1) if prefix == BACKWARD_PREFIX else range(T)
        outputs = [None] * T
        for t in steps:  # static window length: unrolled
            state = cell_step(self.cell.name, xw[:, t], state, W_h, b, bh)
            outputs[t] = state[0]
        return outputs, state

    def outputs(self, p: dict, x, state: tuple):
        """Logits or values: (B, T, n_out) at each step, (B, n_out) at the last; and the forward final state."""
        dtype = p["W"].dtype
        rows = self.inputs(x, dtype)
        B, T = rows.shape[0], rows.shape[1]
        per_direction, final = [], state
        for prefix in self.prefixes:
            start = state if prefix == "" else self.zero_state(B, dtype)
            outs, last = self.direction(p, prefix, rows, start)
            per_direction.append(outs)
            if prefix == "":
                final = last
        steps = [tf.concat(hs, axis=1) if len(hs) > 1 else hs[0] for hs in zip(*per_direction)]  # T of (B, D)
        U, c = p["U"], p["c"]
        if not self.task.each_step:
            return tf.matmul(steps[-1], U) + c, final
        D = steps[0].shape[1]
        out = tf.matmul(tf.reshape(tf.stack(steps, axis=1), [B * T, D]), U) + c
        return tf.reshape(out, [B, T, U.shape[1]]), final

    def loss(self, out, y):
        """Mean cross-entropy over every target, or mean squared error over every target value."""
        if self.task.loss == XENT:
            return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=out))
        return tf.reduce_mean(tf.square(out - tf.cast(y, out.dtype)))

    def predictions(self, out):
        """What ``forward`` returns: probabilities of a classifier, values of a regression."""
        return tf.nn.softmax(out) if self.task.loss == XENT else out


# --- optimizers as tensor updates (the semantics of rnnbench.optimizer) ------------------------------------


class Adagrad:
    """TF1 Adagrad: accum from 0.1, no epsilon. Slots: one accumulator per parameter."""

    def __init__(self, learning_rate: float):
        self.lr = learning_rate

    def slots(self, params: list) -> list:
        return [tf.fill(tf.shape(p), tf.constant(ADAGRAD_INITIAL_ACCUMULATOR, p.dtype)) for p in params]

    def apply(self, params: list, slots: list, grads: list) -> tuple[list, list]:
        accums = [a + g * g for a, g in zip(slots, grads)]
        return [p - self.lr * g / tf.sqrt(a) for p, g, a in zip(params, grads, accums)], accums


class Adam:
    """torch.optim.Adam: bias-corrected moments, epsilon added to the corrected root. Slots: m and v per
    parameter, then the step count."""

    def __init__(self, learning_rate: float):
        self.lr = learning_rate

    def slots(self, params: list) -> list:
        return [*(tf.zeros_like(p) for p in params), *(tf.zeros_like(p) for p in params),
                tf.zeros((), params[0].dtype)]

    def apply(self, params: list, slots: list, grads: list) -> tuple[list, list]:
        n = len(params)
        m, v, t = slots[:n], slots[n : 2 * n], slots[2 * n] + 1
        m = [ADAM_BETA1 * a + (1 - ADAM_BETA1) * g for a, g in zip(m, grads)]
        v = [ADAM_BETA2 * a + (1 - ADAM_BETA2) * g * g for a, g in zip(v, grads)]
        step = self.lr / (1 - tf.pow(tf.constant(ADAM_BETA1, t.dtype), t))
        root = tf.sqrt(1 - tf.pow(tf.constant(ADAM_BETA2, t.dtype), t))
        new = [p - step * a / (tf.sqrt(b) / root + ADAM_EPSILON) for p, a, b in zip(params, m, v)]
        return new, [*m, *v, t]


OPTIMIZERS = {"adagrad": Adagrad, "adam": Adam}
