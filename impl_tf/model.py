"""TensorFlow's side of the canonical model (``rnnbench.model``): its operations (``OPS``, and
``SMALL_MATMUL_OPS`` for the multiply-and-reduce trick) and ``Model``, the model's rules over them: what
``tf-cell`` builds into a TF1 graph and ``tf-function``, ``tf-xla`` and ``tf-xla-epoch`` trace. Works on tensors,
eager or in a graph. The optimizers are ``rnnbench.model.optim``'s over ``OPS``.
"""

from __future__ import annotations

from dataclasses import replace

from rnnbench.impl_tf import runtime
from rnnbench.model import forward
from rnnbench.model.ops import Ops
from rnnbench.spec import tricks

tf = runtime.tf


def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False):
    return tf.matmul(a, b, transpose_a=transpose_a, transpose_b=transpose_b)


def small_matmul(a, b, transpose_a: bool = False, transpose_b: bool = False):
    """``tf.matmul``, a small right-hand side as multiply-and-reduce (a named trick: ``rnnbench.spec.tricks``)."""
    a = tf.transpose(a) if transpose_a else a
    b = tf.transpose(b) if transpose_b else b
    return tricks.small_matmul(a, b, tf.matmul, tf.reduce_sum)


def project(x, W, b):
    """x (..., K) @ W (K, N) + b as one 2-D product and a row-broadcast add."""
    return tf.reshape(tf.matmul(tf.reshape(x, [-1, x.shape[-1]]), W) + b, [*x.shape[:-1], W.shape[1]])


def _swapaxes(x, a: int, b: int):
    perm = list(range(len(x.shape)))
    perm[a], perm[b] = perm[b], perm[a]
    return tf.transpose(x, perm)


def _xent(out, y):
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=out))


OPS = Ops(
    matmul=matmul, project=project, cat=lambda xs, axis: tf.concat(xs, axis), stack=lambda xs, axis: tf.stack(xs, axis),
    split=lambda x, n, axis: tf.split(x, n, axis), sigmoid=tf.sigmoid, tanh=tf.tanh, exp=tf.exp, expm1=tf.math.expm1,
    sqrt=tf.sqrt,
    log_softmax=tf.nn.log_softmax, softmax=tf.nn.softmax, sum0=lambda x: tf.reduce_sum(x, 0), total=tf.reduce_sum,
    zeros_like=tf.zeros_like, full_like=lambda x, value: tf.fill(tf.shape(x), tf.constant(value, x.dtype)),
    scalar=lambda value, like: tf.constant(value, like.dtype), xent=_xent,
    one_hot=lambda ids, n, dtype: tf.one_hot(ids, n, dtype=dtype), cast=tf.cast, swapaxes=_swapaxes,
    reshape=tf.reshape,
    mse=lambda out, y: tf.reduce_mean(tf.square(out - tf.cast(y, out.dtype))),
    where=tf.where, relu=tf.nn.relu, log=tf.math.log, softplus=tf.math.softplus,
    cumsum=lambda x, axis: tf.math.cumsum(x, axis),
    logcumsumexp=lambda x, axis: tf.math.cumulative_logsumexp(x, axis),
    flip=lambda x, axis: tf.reverse(x, [axis]))
SMALL_MATMUL_OPS = replace(OPS, matmul=small_matmul)


def clipped(grads: list, clip_norm: float | None) -> list:
    """The gradients clipped by ``tf.clip_by_global_norm`` where the config clips (``RunConfig.clip_norm``)."""
    return grads if clip_norm is None else tf.clip_by_global_norm(grads, clip_norm)[0]


class Model(forward.Model):
    """The config's model over TensorFlow's operations."""

    ops = OPS

    def zero_state(self, batch: int, dtype) -> tuple:
        return tuple(tf.zeros((batch, self.spec.state_size), dtype) for _ in self.cell.states)
