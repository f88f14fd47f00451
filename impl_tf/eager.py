"""TensorFlow 2 idioms for the same RNN: eager variables, ``tf.function``, XLA and a whole-epoch loop.

- ``tf-function``: one ``tf.function`` per window (GradientTape, hand-written cell unrolled over the window,
  TF1-style Adagrad as variable updates), called once per window from Python.
- ``tf-xla``: the same window step compiled by XLA (``jit_compile=True``).
- ``tf-xla-epoch``: a whole epoch in one XLA-compiled ``tf.function``: a ``tf.while_loop`` over the windows
  carries the state, the parameters and the Adagrad accumulators, so Python is entered once per epoch instead
  of once per window. Two named tricks make it the fastest TensorFlow variant, both because XLA on a CPU pays
  per operation: gradients written by hand (as in the NumPy reference) rather than taken by GradientTape,
  which halves the operations, and products with a small right-hand side written as multiply-and-reduce,
  which XLA fuses instead of calling GEMM. Its ``train_step`` is the same computation for one window.

The cell is the canonical one, written in split form: ``onehot(x_t) @ W[:C] + s @ W[C:] + b`` equals
``concat([onehot(x_t), s]) @ W + b``. Adagrad follows TF1 (accumulator from 0.1, no epsilon). Tracing and XLA
compilation happen in ``build`` (a warm-up call, after which the state and parameters are restored).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from rnnbench import tricks
from rnnbench.config import RunConfig
from rnnbench.impl_tf import runtime
from rnnbench.interface import StepwiseEpoch
from rnnbench.optimizer import ADAGRAD_INITIAL_ACCUMULATOR
from rnnbench.params import VANILLA_KEYS, Params

tf = runtime.tf


def window_loss(params, x, y, s0, num_classes: int):
    """Mean cross-entropy over one window, the final state, and the logits (B, T, C). Differentiable."""
    W, b, U, c = params
    B, T = x.shape
    H = W.shape[1]
    x_onehot = tf.reshape(tf.one_hot(x, num_classes, dtype=W.dtype), [B * T, num_classes])
    input_part = tf.reshape(tf.matmul(x_onehot, W[:num_classes]), [B, T, H])  # one matmul for the window
    W_rec = W[num_classes:]
    state, outputs = s0, []
    for t in range(T):  # static window length: unrolled, as static_rnn does
        state = tf.tanh(input_part[:, t] + tf.matmul(state, W_rec) + b)
        outputs.append(state)
    logits = tf.reshape(tf.matmul(tf.reshape(tf.stack(outputs, axis=1), [B * T, H]), U) + c, [B, T, -1])
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    return loss, state, logits


def small_matmul(a, b, transpose_a: bool = False, transpose_b: bool = False):
    """``tf.matmul``, with a small right-hand side as multiply-and-reduce (the named trick, ``rnnbench.tricks``)."""
    a = tf.transpose(a) if transpose_a else a
    b = tf.transpose(b) if transpose_b else b
    return tricks.small_matmul(a, b, tf.matmul, tf.reduce_sum)


def window_loss_and_grads(params, x, y, s0, num_classes: int):
    """Loss, final state and gradients for one window, backpropagation written out by hand.

    The same algebra as the NumPy reference, time-major: every product that does not depend on the
    recurrence (input part, logits, dU, dW, and the output's share of each state's gradient) is one matmul
    over all T*B rows, so only 2*T small matmuls stay sequential. XLA's autodiff graph of ``window_loss``
    has about twice the operations; on a CPU each costs a dispatch, and this runs faster (README: tf-xla-epoch).
    Small products go through ``small_matmul``.
    """
    W, b, U, c = params
    B, T = x.shape
    H = W.shape[1]
    C = num_classes
    W_rec = W[C:]
    x_onehot = tf.reshape(tf.one_hot(tf.transpose(x), C, dtype=W.dtype), [T * B, C])  # rows t*B + r
    y_onehot = tf.reshape(tf.one_hot(tf.transpose(y), C, dtype=W.dtype), [T * B, C])
    input_part = tf.reshape(small_matmul(x_onehot, W[:C]) + b, [T, B, H])
    states = [s0]
    for t in range(T):
        states.append(tf.tanh(input_part[t] + small_matmul(states[-1], W_rec)))
    hidden = tf.concat(states[1:], 0)  # (T*B, H)
    log_probs = tf.nn.log_softmax(small_matmul(hidden, U) + c)  # (T*B, C)
    n = tf.cast(B * T, W.dtype)
    loss = -tf.reduce_sum(y_onehot * log_probs) / n
    d_logits = (tf.exp(log_probs) - y_onehot) / n
    d_pre_out = tf.reshape(small_matmul(d_logits, U, transpose_b=True) * (1 - hidden * hidden), [T, B, H])
    d_pre, carry = [None] * T, tf.zeros_like(s0)
    for t in reversed(range(T)):
        d_pre[t] = d_pre_out[t] + small_matmul(carry, W_rec, transpose_b=True) * (1 - states[t + 1] * states[t + 1])
        carry = d_pre[t]
    d_pre = tf.concat(d_pre, 0)  # (T*B, H)
    dW = tf.concat([small_matmul(x_onehot, d_pre, transpose_a=True),
                    small_matmul(tf.concat(states[:-1], 0), d_pre, transpose_a=True)], 0)
    grads = [dW, tf.reduce_sum(d_pre, 0), small_matmul(hidden, d_logits, transpose_a=True), tf.reduce_sum(d_logits, 0)]
    return loss, states[-1], grads


def adagrad(params, accums, grads, lr):
    """TF1 Adagrad on tensors: returns the new (params, accums)."""
    accums = [a + g * g for a, g in zip(accums, grads)]
    params = [p - lr * g / tf.sqrt(a) for p, g, a in zip(params, grads, accums)]
    return params, accums


class TF2Driver(StepwiseEpoch):
    """What every TF2 variant shares: the carried state in a variable, and ``tf.function``s driven from NumPy.

    Subclasses set ``self.state``, ``self._train_step`` and ``self._forward`` in ``build``.
    """

    def reset_state(self) -> None:
        self.state.assign(tf.zeros_like(self.state))

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self._train_step(tf.constant(x), tf.constant(y)))

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._forward(tf.constant(x)).numpy()

    def versions(self) -> dict[str, str]:
        return runtime.versions()

    @staticmethod
    def run_and_restore(variables, warm_up) -> None:
        """Run ``warm_up`` (tracing, compiling), then put every variable back as it was."""
        saved = [np.array(v.numpy()) for v in variables]
        warm_up()
        for v, value in zip(variables, saved):
            v.assign(value)


class TFFunction(TF2Driver):
    """A tf.function per window, run eagerly from Python; variables hold parameters, accumulators, state."""

    jit_compile: ClassVar[bool] = False

    def build(self, config: RunConfig, params: Params) -> None:
        runtime.start(config)
        self.config = config
        dtype = runtime.tf_dtype(config)
        self.lr = tf.constant(config.learning_rate, dtype)
        self.variables = [tf.Variable(p, dtype=dtype, name=n) for n, p in params.items()]
        self.accums = [tf.Variable(tf.fill(p.shape, tf.constant(ADAGRAD_INITIAL_ACCUMULATOR, dtype)))
                       for p in params]
        self.state = tf.Variable(tf.zeros((config.batch_size, config.state_size), dtype))
        self._train_step = tf.function(self._train_window, jit_compile=self.jit_compile)
        self._forward = tf.function(self._probabilities, jit_compile=self.jit_compile)
        self.warm_up()

    def warm_up(self) -> None:
        """Trace and compile on zeros; the parameters, accumulators and state are put back afterwards."""
        zeros = np.zeros((self.config.batch_size, self.config.num_steps), np.int32)

        def run():
            self.train_step(zeros, zeros)
            self.forward(zeros)

        self.run_and_restore((*self.variables, *self.accums, self.state), run)

    def loss_and_grads(self, params, x, y, state):
        """Autodiff of the window loss; a subclass may supply the gradients another way."""
        with tf.GradientTape() as tape:
            tape.watch(params)
            loss, final, _ = window_loss(params, x, y, state, self.config.num_classes)
        return loss, final, tape.gradient(loss, params)

    def _train_window(self, x, y):
        loss, final, grads = self.loss_and_grads(self.variables, x, y, self.state)
        new_params, new_accums = adagrad(self.variables, self.accums, grads, self.lr)
        for var, value in zip((*self.variables, *self.accums), (*new_params, *new_accums)):
            var.assign(value)
        self.state.assign(final)
        return loss

    def _probabilities(self, x):
        _, _, logits = window_loss(self.variables, x, tf.zeros_like(x), self.state, self.config.num_classes)
        return tf.nn.softmax(logits)

    def params(self) -> Params:
        return Params.from_arrays(VANILLA_KEYS, (v.numpy().astype(np.float32) for v in self.variables))


class TFXLA(TFFunction):
    """The window step compiled by XLA."""

    jit_compile: ClassVar[bool] = True


class TFXLAEpoch(TFXLA):
    """A whole epoch in one XLA-compiled call: a while_loop over windows, everything carried on device.

    Gradients are written by hand (``window_loss_and_grads``), in both the epoch loop and train_step.
    """

    whole_epoch: ClassVar[bool] = True

    def loss_and_grads(self, params, x, y, state):
        return window_loss_and_grads(params, x, y, state, self.config.num_classes)

    def build(self, config: RunConfig, params: Params) -> None:
        self._train_epoch = tf.function(self._epoch_loop, jit_compile=True)
        super().build(config, params)

    def warm_up(self) -> None:
        zeros = np.zeros((self.config.windows_per_epoch, self.config.batch_size, self.config.num_steps), np.int32)
        self.run_and_restore((*self.variables, *self.accums, self.state),
                             lambda: self.train_epoch(zeros, zeros))  # compiles for this epoch's shape
        super().warm_up()

    def _epoch_loop(self, xs, ys):
        n = xs.shape[0]

        def body(i, state, params, accums, losses):
            loss, final, grads = self.loss_and_grads(params, xs[i], ys[i], state)
            params, accums = adagrad(params, accums, grads, self.lr)
            return i + 1, final, params, accums, losses.write(i, loss)

        start = (
            tf.constant(0),
            self.state.read_value(),
            [v.read_value() for v in self.variables],
            [a.read_value() for a in self.accums],
            tf.TensorArray(self.lr.dtype, size=n),
        )
        _, state, params, accums, losses = tf.while_loop(lambda i, *_: i < n, body, start)
        for var, value in zip((*self.variables, *self.accums), (*params, *accums)):
            var.assign(value)
        self.state.assign(state)
        return losses.stack()

    def train_epoch(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        return self._train_epoch(tf.constant(xs), tf.constant(ys)).numpy()
