"""JAX's side of the canonical model (``rnnbench.model``): its operations (``OPS``) and ``Model``, the model's
rules as pure functions with the loop over time a ``lax.scan``, and one window's training step, its gradients
either by ``jax.value_and_grad`` or written by hand (``rnnbench.model.backprop`` over ``OPS``), then an optax
update.

Parameters are a dict by canonical name (an optax pytree); the window's x and y arrive as the task gives them
(class ids are one-hot inside the compiled function).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

from rnnbench.model import backprop, forward, scan
from rnnbench.model.cells import cell_math
from rnnbench.model.ops import Ops

# A window of at most this many steps is unrolled whole: its scan over time (jax.value_and_grad's forward; jax-scan
# measured here: binary (5,4) 85 -> 70 us per step, (10,16) 317 -> 244), and jax-scan takes hand-written gradients
# for it (then 39 and 172 us; sin2cos 127 -> 96, digits 1223 -> 904). A longer one is not: sine's 49 steps took
# 382 us rolled with autodiff, 735 unrolled, 599 with hand-written gradients.
UNROLL_UP_TO = 10


def linear_scan(a, b, reverse: bool = False):
    """``rnnbench.model.ops.Ops.linear_scan`` by ``lax.associative_scan``: (cumulative products of a, states)."""
    return lax.associative_scan(scan.combine, (a, b), reverse=reverse, axis=0)


def _matmul(a, b, transpose_a: bool = False, transpose_b: bool = False):
    return (a.T if transpose_a else a) @ (b.T if transpose_b else b)


def _xent(out, y):
    log_probs = jax.nn.log_softmax(out, axis=-1)
    return -jnp.take_along_axis(log_probs, y[..., None].astype(jnp.int32), axis=-1).mean()


OPS = Ops(
    matmul=_matmul, project=lambda x, W, b: x @ W + b, cat=lambda xs, axis: jnp.concatenate(xs, axis),
    stack=lambda xs, axis: jnp.stack(xs, axis), split=lambda x, n, axis: jnp.split(x, n, axis),
    sigmoid=jax.nn.sigmoid, tanh=jnp.tanh, exp=jnp.exp, expm1=jnp.expm1, sqrt=jnp.sqrt,
    log_softmax=lambda x: jax.nn.log_softmax(x, axis=-1), softmax=lambda x: jax.nn.softmax(x, axis=-1),
    sum0=lambda x: x.sum(0), total=jnp.sum, zeros_like=jnp.zeros_like, full_like=jnp.full_like,
    scalar=lambda value, like: jnp.asarray(value, like.dtype), xent=_xent,
    one_hot=lambda ids, n, dtype: jax.nn.one_hot(ids, n, dtype=dtype), cast=lambda x, dtype: x.astype(dtype),
    swapaxes=jnp.swapaxes, reshape=jnp.reshape,
    mse=lambda out, y: jnp.mean((out - y.astype(out.dtype)) ** 2),
    where=jnp.where, relu=jax.nn.relu, log=jnp.log, softplus=jax.nn.softplus,
    cumsum=lambda x, axis: jnp.cumsum(x, axis), logcumsumexp=lambda x, axis: lax.cumlogsumexp(x, axis),
    flip=lambda x, axis: jnp.flip(x, axis), linear_scan=linear_scan)


def _scan_step(step, W_h, bh, state: tuple, xw_t):
    """A cell's step as a ``lax.scan`` body: the new state carried, its h stacked."""
    state, _ = step(OPS, xw_t, state, W_h, bh)
    return state, state[0]


class Model(forward.Model):
    """The config's model as pure functions of a dict of parameter arrays."""

    ops = OPS

    def zero_state(self, dtype, batch: int | None = None) -> tuple:
        shape = (batch or self.spec.batch_size, self.spec.state_size)
        return tuple(jnp.zeros(shape, dtype) for _ in range(self.spec.n_states))

    def outputs(self, p: dict, x, state: tuple):
        """Logits or values, (B, T, n_out) at each step or (B, n_out) at the last, and the forward final state:
        ``rnnbench.model.forward``'s, with the loop over time a ``lax.scan``."""
        rows = self.inputs(x, p["U"].dtype)  # (B, T, n_in)
        features, final = forward.layers(OPS, self.spec, state, rows,
                                         lambda lp, r, start: self._layer(p, lp, r, start))
        return forward.readout(OPS, self.spec, p, features), final

    def _layer(self, p: dict, lp: str, rows, state: tuple):
        """One layer's directions over rows (B, T, n_in), each a ``lax.scan``: its features ((B, T, D), one
        tensor) and its forward direction's final state."""
        step = cell_math(self.spec.cell).step
        per_direction, final = [], state
        for prefix in self.spec.directions:
            xw, W_h, bh = forward.direction_inputs(OPS, self.spec, p, lp + prefix, rows)
            backward = self.spec.is_backward(prefix)
            start = tuple(jnp.zeros_like(s) for s in state) if backward else state
            if self.spec.parallel:  # by lax.associative_scan (rnnbench.model.scan)
                hs, last = forward.parallel_direction(OPS, self.spec, jnp.swapaxes(xw, 0, 1), start, backward)
                per_direction.append(jnp.swapaxes(hs, 0, 1))
                final = final if backward else last
                continue
            body, unroll = partial(_scan_step, step, W_h, bh), xw.shape[1] <= UNROLL_UP_TO
            xw = jnp.swapaxes(xw, 0, 1)
            k1 = None if backward else self.spec.carry_at
            if k1 is None:
                last, hs = lax.scan(body, start, xw, reverse=backward, unroll=unroll)  # hs (T, B, H) in time order
            else:  # BPTT(k2, k1): the state to carry on is the one after the first k1 steps
                last, first = lax.scan(body, start, xw[:k1], unroll=unroll)
                hs = jnp.concatenate([first, lax.scan(body, last, xw[k1:], unroll=unroll)[1]])
            per_direction.append(hs)
            if not backward:
                final = last
        hs = jnp.concatenate(per_direction, axis=-1) if len(per_direction) > 1 else per_direction[0]
        return jnp.swapaxes(hs, 0, 1), final

    def grads_autodiff(self, p: dict, state: tuple, x, y):
        """(loss, gradients, final state) by ``jax.value_and_grad`` through the forward pass."""

        def loss_of(params):
            out, final = self.outputs(params, x, self.start(state))
            return self.loss(out, y), final

        (loss, final), grads = jax.value_and_grad(loss_of, has_aux=True)(p)
        return loss, grads, final

    def grads_by_hand(self, p: dict, state: tuple, x, y):
        """(loss, gradients, final state) written out: ``rnnbench.model.backprop`` over ``OPS``, unrolled over
        time."""
        dtype = p["U"].dtype
        return backprop.loss_and_grads(OPS, self.spec, p, self.rows(x, dtype), self.targets(y, dtype), state)

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
