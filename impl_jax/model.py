"""The canonical model as pure JAX functions, for any task × cell, uni- or bidirectional: the forward pass with
``lax.scan`` over time, the loss, and one window's training step, its gradients either by ``jax.value_and_grad``
or written by hand (``rnnbench.backprop`` over JAX's operations, ``OPS``), then an optax update.

    forward direction:   h_t = cell(x_t, h_{t-1})     from the given state (zero for independent sequences)
    backward direction:  g_t = cell(x_t, g_{t+1})     from zero, over the window reversed (``scan(reverse=True)``)
    out_t = [h_t, g_t] @ U + c                         at every step, or at the last step only

The cells are DESIGN.md's (``rnnbench.cells``), in the NumPy reference's form: the input product of every step
is one matmul over the window, then the recurrent product per step inside the scan. Parameters are a dict by
canonical name (an optax pytree); the window's x and y arrive as the task gives them (class ids are one-hot
inside the compiled function).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

from rnnbench import backprop
from rnnbench.cells import BACKWARD_PREFIX, cell
from rnnbench.config import RunConfig
from rnnbench.tasks.base import XENT

# A window of at most this many steps is unrolled whole: its scan over time (jax.value_and_grad's forward; jax-scan
# measured here: binary (5,4) 85 -> 70 us per step, (10,16) 317 -> 244), and jax-scan takes hand-written gradients
# for it (then 39 and 172 us; sin2cos 127 -> 96, digits 1223 -> 904). A longer one is not: sine's 49 steps took
# 382 us rolled with autodiff, 735 unrolled, 599 with hand-written gradients.
UNROLL_UP_TO = 10


def _matmul(a, b, transpose_a: bool = False, transpose_b: bool = False):
    return (a.T if transpose_a else a) @ (b.T if transpose_b else b)


OPS = backprop.Ops(
    matmul=_matmul, cat=lambda xs, axis: jnp.concatenate(xs, axis), split=lambda x, n, axis: jnp.split(x, n, axis),
    sigmoid=jax.nn.sigmoid, tanh=jnp.tanh, exp=jnp.exp, log_softmax=lambda x: jax.nn.log_softmax(x, axis=-1),
    sum0=lambda x: x.sum(0), total=jnp.sum, zeros_like=jnp.zeros_like)


def cell_step(cell_name: str, W_h, bh, state: tuple, xw_t) -> tuple:
    """One step: xw_t = x_t @ W[:n_in] + b, (B, G*H); state (h,) or (h, c). Returns the new state."""
    h = state[0]
    if cell_name == "rnn":
        return (jnp.tanh(xw_t + h @ W_h),)
    if cell_name == "lstm":
        i, f, g, o = jnp.split(xw_t + h @ W_h, 4, axis=1)
        c = jax.nn.sigmoid(f) * state[1] + jax.nn.sigmoid(i) * jnp.tanh(g)
        return jax.nn.sigmoid(o) * jnp.tanh(c), c
    a_r, a_z, a_n = jnp.split(xw_t, 3, axis=1)
    h_r, h_z, h_n = jnp.split(h @ W_h + bh, 3, axis=1)
    r, z = jax.nn.sigmoid(a_r + h_r), jax.nn.sigmoid(a_z + h_z)
    n = jnp.tanh(a_n + r * h_n)
    return ((1 - z) * n + z * h,)


def _scan_step(cell_name: str, W_h, bh, state: tuple, xw_t):
    """``cell_step`` as a ``lax.scan`` body: the new state carried, its h stacked."""
    state = cell_step(cell_name, W_h, bh, state, xw_t)
    return state, state[0]


@dataclass(frozen=True)
class Model:
    """What the pure functions need of a config (hashable, so it can be a static argument)."""

    cell: str
    n_in: int
    state_size: int
    n_states: int
    directions: tuple[str, ...]
    tokens: bool
    each_step: bool
    classifies: bool
    carries_state: bool
    batch_size: int
    n_out: int

    @classmethod
    def of(cls, config: RunConfig) -> Model:
        task = config.task_spec
        return cls(config.cell, config.input_size, config.state_size, len(cell(config.cell).states),
                   ("", BACKWARD_PREFIX) if config.bidirectional else ("",), task.tokens, task.each_step,
                   task.loss == XENT, task.carries_state, config.batch_size, config.output_size)

    def zero_state(self, dtype, batch: int | None = None) -> tuple:
        shape = (batch or self.batch_size, self.state_size)
        return tuple(jnp.zeros(shape, dtype) for _ in range(self.n_states))

    def outputs(self, p: dict, x, state: tuple):
        """Logits or values, (B, T, n_out) at each step or (B, n_out) at the last, and the forward final state."""
        dtype = p["U"].dtype
        rows = self.inputs(x, dtype)  # (B, T, n_in)
        per_direction, final = [], state
        for prefix in self.directions:
            W = p[prefix + "W"]
            xw = jnp.swapaxes(rows @ W[: self.n_in] + p[prefix + "b"], 0, 1)  # (T, B, G*H), time-major
            backward = prefix == BACKWARD_PREFIX
            start = self.zero_state(dtype, x.shape[0]) if backward else state

            step = partial(_scan_step, self.cell, W[self.n_in :], p.get(prefix + "bh"))
            last, hs = lax.scan(step, start, xw, reverse=backward,
                                unroll=len(xw) <= UNROLL_UP_TO)  # hs (T, B, H) in time order
            per_direction.append(hs)
            if not backward:
                final = last
        hs = jnp.concatenate(per_direction, axis=-1) if len(per_direction) > 1 else per_direction[0]
        if not self.each_step:
            return hs[-1] @ p["U"] + p["c"], final
        return jnp.swapaxes(hs, 0, 1) @ p["U"] + p["c"], final

    def loss(self, out, y):
        """Mean cross-entropy over every target, or mean squared error over every target value."""
        if self.classifies:
            log_probs = jax.nn.log_softmax(out, axis=-1)
            return -jnp.take_along_axis(log_probs, y[..., None].astype(jnp.int32), axis=-1).mean()
        return jnp.mean((out - y.astype(out.dtype)) ** 2)

    def predictions(self, out):
        return jax.nn.softmax(out, axis=-1) if self.classifies else out

    def start(self, state: tuple) -> tuple:
        """A window's forward start: the carried state, or zero for independent sequences."""
        return state if self.carries_state else tuple(jnp.zeros_like(s) for s in state)

    @property
    def shape(self) -> backprop.Shape:
        return backprop.Shape(self.cell, self.n_in, self.state_size, self.directions, self.each_step,
                              self.classifies)

    def inputs(self, x, dtype):
        """(B, T[, F]) -> (B, T, n_in) float rows in ``dtype``: one-hot for tokens."""
        return jax.nn.one_hot(x, self.n_in, dtype=dtype) if self.tokens else x.astype(dtype)

    def rows(self, x, dtype):
        """(B, T[, F]) -> (T*B, n_in) time-major input rows (``rnnbench.backprop``'s layout)."""
        return jnp.swapaxes(self.inputs(x, dtype), 0, 1).reshape(-1, self.n_in)

    def targets(self, y, dtype):
        """y -> one-hot rows (classes) or value rows, time-major: (T*B, O) at each step, (B, O) at the last."""
        if self.classifies:
            return jax.nn.one_hot((y.T if self.each_step else y).reshape(-1), self.n_out, dtype=dtype)
        return (jnp.swapaxes(y, 0, 1) if self.each_step else y).reshape(-1, self.n_out).astype(dtype)

    def grads_autodiff(self, p: dict, state: tuple, x, y):
        """(loss, gradients, final state) by ``jax.value_and_grad`` through the forward pass."""

        def loss_of(params):
            out, final = self.outputs(params, x, self.start(state))
            return self.loss(out, y), final

        (loss, final), grads = jax.value_and_grad(loss_of, has_aux=True)(p)
        return loss, grads, final

    def grads_by_hand(self, p: dict, state: tuple, x, y):
        """(loss, gradients, final state) written out: ``rnnbench.backprop`` over ``OPS``, unrolled over time."""
        dtype = p["U"].dtype
        zero = tuple(jnp.zeros_like(s) for s in state)
        return backprop.loss_and_grads(OPS, self.shape, p, self.rows(x, dtype), self.targets(y, dtype),
                                       self.start(state), zero)

    def window_step(self, tx, grads, p: dict, opt_state, state: tuple, x, y):
        """One window: the loss and gradients by ``grads`` (``grads_autodiff`` or ``grads_by_hand``), then the
        optax update. Pure: returns (loss, new params, new optimizer state, final state)."""
        loss, g, final = grads(p, state, x, y)
        updates, opt_state = tx.update(g, opt_state, p)
        return loss, jax.tree.map(jnp.add, p, updates), opt_state, final

    def epoch(self, tx, grads, p: dict, opt_state, state: tuple, xs, ys):
        """Every window of an epoch in order, ``lax.scan`` over the windows with the state carried. Returns
        (losses (N,), new params, new optimizer state, final state)."""

        def body(carry, window):
            p, opt_state, state = carry
            loss, p, opt_state, state = self.window_step(tx, grads, p, opt_state, state, *window)
            return (p, opt_state, state), loss

        (p, opt_state, state), losses = lax.scan(body, (p, opt_state, state), (xs, ys))
        return losses, p, opt_state, state
