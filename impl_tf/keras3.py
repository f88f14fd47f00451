"""``tf-keras``: the Keras 3 way, ``keras.layers.SimpleRNN`` + ``keras.layers.Dense`` on the TensorFlow backend.

Keras is the API most TF2 users reach for. The layers are driven by a ``tf.function`` train step with
``keras.optimizers.Adagrad(initial_accumulator_value=0.1, epsilon=0)`` (``rnnbench.optimizer``), which with
epsilon 0 is exactly TF1 Adagrad. The state is carried by passing the previous window's final state as
``initial_state``.

Canonical parameters map as: SimpleRNN ``kernel = W[:C]``, ``recurrent_kernel = W[C:]``, ``bias = b``;
Dense ``kernel = U``, ``bias = c``. This imports ``keras`` (Keras 3) directly, so the legacy-Keras switch that
the TF1 variants need does not touch it.
"""

from __future__ import annotations

import numpy as np

from rnnbench.config import RunConfig
from rnnbench.errors import UnsupportedError
from rnnbench.impl_tf import runtime
from rnnbench.impl_tf.eager import TF2Driver
from rnnbench.optimizer import ADAGRAD_EPSILON, ADAGRAD_INITIAL_ACCUMULATOR
from rnnbench.params import Params

tf = runtime.tf


class TFKeras(TF2Driver):
    def build(self, config: RunConfig, params: Params) -> None:
        runtime.start(config)
        import keras

        if keras.config.backend() != "tensorflow":
            raise UnsupportedError(f"tf-keras needs KERAS_BACKEND=tensorflow, got {keras.config.backend()!r}")
        self.keras = keras
        self.config = config
        B, T, H, C = config.batch_size, config.num_steps, config.state_size, config.num_classes
        dtype = config.dtype
        self.rnn = keras.layers.SimpleRNN(H, return_sequences=True, return_state=True, dtype=dtype)
        self.dense = keras.layers.Dense(C, dtype=dtype)
        self.rnn.build((B, T, C))
        self.dense.build((B, T, H))
        self.rnn.set_weights([params.W[:C], params.W[C:], params.b])
        self.dense.set_weights([params.U, params.c])
        self.trainable = [*self.rnn.trainable_variables, *self.dense.trainable_variables]
        self.optimizer = keras.optimizers.Adagrad(
            learning_rate=config.learning_rate, initial_accumulator_value=ADAGRAD_INITIAL_ACCUMULATOR,
            epsilon=ADAGRAD_EPSILON,
        )
        self.optimizer.build(self.trainable)
        self.state = tf.Variable(tf.zeros((B, H), dtype))
        self._train_step = tf.function(self._train_window)
        self._forward = tf.function(self._probabilities)
        # Warm-up traces both functions; then the weights, the optimizer and the state are put back.
        zeros = np.zeros((B, T), np.int32)
        self.run_and_restore([*self.trainable, *self.optimizer.variables, self.state],
                             lambda: (self.train_step(zeros, zeros), self.forward(zeros)))

    def _logits(self, x):
        x_onehot = tf.one_hot(x, self.config.num_classes, dtype=self.state.dtype)  # (B, T, C)
        outputs, final = self.rnn(x_onehot, initial_state=[self.state])  # (B, T, H), (B, H)
        return self.dense(outputs), final  # (B, T, C)

    def _train_window(self, x, y):
        with tf.GradientTape() as tape:
            logits, final = self._logits(x)
            loss = tf.reduce_mean(self.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        self.optimizer.apply_gradients(zip(tape.gradient(loss, self.trainable), self.trainable))
        self.state.assign(final)
        return loss

    def _probabilities(self, x):
        return tf.nn.softmax(self._logits(x)[0])

    def params(self) -> Params:
        kernel, recurrent, bias = (v.numpy() for v in self.rnn.trainable_variables)
        U, c = (v.numpy() for v in self.dense.trainable_variables)
        return Params(W=np.concatenate([kernel, recurrent]), b=bias, U=U, c=c).astype(np.float32)

    def versions(self) -> dict[str, str]:
        return {**runtime.versions(), "keras": self.keras.__version__}
