"""The original tutorial's three TensorFlow RNNs, as TF1 graphs on today's TensorFlow.

- ``tf-cell``: the hand-written cell, ``tanh(concat([x_t, s_{t-1}]) @ W + b)`` with ``tf.compat.v1`` variables,
  unrolled in Python over the window.
- ``tf-static``: ``tf.compat.v1.nn.static_rnn`` over a ``BasicRNNCell`` (the graph unrolled by TensorFlow).
- ``tf-dynamic``: ``tf.compat.v1.nn.dynamic_rnn`` over a ``BasicRNNCell`` (a ``while_loop`` in the graph).

All three run as the tutorial did: each graph in its own ``tf.Graph`` with its own ``Session``; the window's
inputs and the initial state are fed through placeholders, the final state is fetched and fed back as the next
window's initial state, and ``tf.compat.v1.train.AdagradOptimizer`` trains. Eager execution stays on for the
rest of the process.

Why ``BasicRNNCell`` through ``tf_keras`` rather than a cell of our own: it is the very class the tutorial used
(``tf.contrib.rnn.BasicRNNCell`` became ``tf.compat.v1.nn.rnn_cell.BasicRNNCell``), so static_rnn and
dynamic_rnn are measured with their real cell, variable scoping and all. Under Keras 3 it lives on only in the
``tf_keras`` package, selected by ``TF_USE_LEGACY_KERAS=1`` before TensorFlow is imported (``runtime`` does
that). Its kernel is ``(num_classes + state_size, state_size)`` over ``concat([inputs, state])``, which is
exactly the canonical W, so the canonical parameters load without any reshuffling.
"""

from __future__ import annotations

import warnings

import numpy as np

from rnnbench.config import RunConfig
from rnnbench.errors import UnsupportedError
from rnnbench.impl_tf import runtime
from rnnbench.interface import StepwiseEpoch
from rnnbench.optimizer import ADAGRAD_INITIAL_ACCUMULATOR
from rnnbench.params import VANILLA_KEYS, Params

tf = runtime.tf
v1 = tf.compat.v1


class _TF1Graph(StepwiseEpoch):
    """Placeholders, the softmax layer, the loss, Adagrad and the Session; subclasses supply the recurrence."""

    def recurrence(self, x_onehot, init_state, params: Params, dtype):
        """Return (outputs (B, T, H) or a list of T tensors (B, H), final state (B, H), [W, b] variables)."""
        raise NotImplementedError

    def build(self, config: RunConfig, params: Params) -> None:
        runtime.start(config)
        self.config = config
        B, T, H, C = config.batch_size, config.num_steps, config.state_size, config.num_classes
        dtype = runtime.tf_dtype(config)
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.x = v1.placeholder(tf.int32, [B, T], name="x")
            self.y = v1.placeholder(tf.int32, [B, T], name="y")
            self.init_state = v1.placeholder(dtype, [B, H], name="init_state")
            x_onehot = tf.one_hot(self.x, C, dtype=dtype)  # (B, T, C)
            outputs, self.final_state, (W, b) = self.recurrence(x_onehot, self.init_state, params, dtype)
            if isinstance(outputs, list):
                outputs = tf.stack(outputs, axis=1)  # (B, T, H)
            with v1.variable_scope("softmax"):
                U = v1.get_variable("U", initializer=params.U.astype(dtype.as_numpy_dtype))
                c = v1.get_variable("c", initializer=params.c.astype(dtype.as_numpy_dtype))
            logits = tf.reshape(tf.matmul(tf.reshape(outputs, [-1, H]), U) + c, [B, T, C])
            self.probabilities = tf.nn.softmax(logits)
            self.loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=self.y, logits=logits))
            optimizer = v1.train.AdagradOptimizer(config.learning_rate,
                                                   initial_accumulator_value=ADAGRAD_INITIAL_ACCUMULATOR)
            self.train_op = optimizer.minimize(self.loss)
            self.variables = [W, b, U, c]
            # BasicRNNCell makes its own kernel and bias; these load the canonical values into them.
            init = [v1.global_variables_initializer()]
            load = [v1.assign(v, p.astype(dtype.as_numpy_dtype)) for v, p in zip(self.variables, params)]
        self.graph.finalize()
        self.session = v1.Session(graph=self.graph, config=runtime.session_config(config))
        self.session.run(init)
        self.session.run(load)
        # Warm-up: the first run of a fetch set prunes and optimises the graph. Do it here, then start again.
        zeros = np.zeros((B, T), np.int32)
        self.reset_state()
        self.session.run([self.loss, self.final_state, self.train_op], self._feed(zeros, zeros))
        self.session.run(self.probabilities, self._feed(zeros))
        self.session.run(init)
        self.session.run(load)

    def _feed(self, x, y=None):
        feed = {self.x: x, self.init_state: self.state}
        if y is not None:
            feed[self.y] = y
        return feed

    def reset_state(self) -> None:
        self.state = np.zeros((self.config.batch_size, self.config.state_size), dtype=self.config.dtype)

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        loss, self.state, _ = self.session.run([self.loss, self.final_state, self.train_op], self._feed(x, y))
        return float(loss)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(self.probabilities, self._feed(x))

    def params(self) -> Params:
        return Params.from_arrays(VANILLA_KEYS, (np.asarray(a, np.float32) for a in self.session.run(self.variables)))

    def versions(self) -> dict[str, str]:
        return runtime.versions()

    def __del__(self):
        session = getattr(self, "session", None)
        if session is not None:
            session.close()


class TFCell(_TF1Graph):
    """The tutorial's first version: its own rnn_cell function, unrolled in Python."""

    def recurrence(self, x_onehot, init_state, params, dtype):
        with v1.variable_scope("rnn_cell"):
            W = v1.get_variable("W", initializer=params.W.astype(dtype.as_numpy_dtype))
            b = v1.get_variable("b", initializer=params.b.astype(dtype.as_numpy_dtype))
        state, outputs = init_state, []
        for x_t in tf.unstack(x_onehot, axis=1):
            state = tf.tanh(tf.matmul(tf.concat([x_t, state], 1), W) + b)
            outputs.append(state)
        return outputs, state, (W, b)


def _basic_rnn_cell(state_size: int):
    try:
        with warnings.catch_warnings():  # its deprecation notice: we use it on purpose, see the docstring
            warnings.simplefilter("ignore", UserWarning)
            return v1.nn.rnn_cell.BasicRNNCell(state_size)
    except Exception as exc:  # Keras 3 without tf_keras (or TF imported before TF_USE_LEGACY_KERAS was set)
        raise UnsupportedError(
            f"BasicRNNCell is not available ({exc}); install tf_keras (pip install 'rnnbench[tf]') and make "
            "sure nothing imports tensorflow before impl_tf"
        ) from None


class TFStatic(_TF1Graph):
    """static_rnn: TensorFlow unrolls the cell over a Python list of per-step inputs."""

    def recurrence(self, x_onehot, init_state, params, dtype):
        cell = _basic_rnn_cell(self.config.state_size)
        outputs, final = v1.nn.static_rnn(cell, tf.unstack(x_onehot, axis=1), initial_state=init_state)
        kernel, bias = cell.weights
        return outputs, final, (kernel, bias)


class TFDynamic(_TF1Graph):
    """dynamic_rnn: the cell inside a graph-level while_loop over a (B, T, C) tensor."""

    def recurrence(self, x_onehot, init_state, params, dtype):
        cell = _basic_rnn_cell(self.config.state_size)
        outputs, final = v1.nn.dynamic_rnn(cell, x_onehot, initial_state=init_state)
        kernel, bias = cell.weights
        return outputs, final, (kernel, bias)
