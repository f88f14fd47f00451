"""``tf-keras``: the Keras 3 way, ``keras.layers.SimpleRNN`` / ``LSTM`` / ``GRU(reset_after=True)`` (in
``Bidirectional`` where asked) + ``keras.layers.Dense`` on the TensorFlow backend, for every task.

Keras is the API most TF2 users reach for. The layers are driven by a ``tf.function`` train step with Keras'
optimizers: ``Adagrad(initial_accumulator_value=0.1, epsilon=0)``, exactly TF1 Adagrad, or ``Adam`` with its
epsilon moved to where ``torch.optim.Adam`` adds it (``torch_epsilon_adam``: Keras' placement moved losses beyond
the parity tolerance). A stream task's state is carried by passing the previous window's final state as
``initial_state``; independent sequences start from zero. At the last step a bidirectional layer's output is
``outputs[:, -1]``: the forward state after the whole sequence and the backward state after one input. Stacked
layers are Keras layers called in turn, each on the one below's ``return_sequences`` output.

Canonical parameters map as (``keras_weights`` and ``canonical_weights``, round-tripped exactly in the tests):
``kernel = W[:n_in]``, ``recurrent_kernel = W[n_in:]``, ``bias = b``. The LSTM's blocks i, f, c, o are the
canonical i, f, g, o. The GRU's are z, r, h against the canonical r, z, n, so its columns are permuted, and its
bias is (2, 3H): the input bias b and the recurrent bias bh. Dense ``kernel = U``, ``bias = c``. This imports
``keras`` (Keras 3) directly, so the legacy-Keras switch that the TF1 variants need does not touch it.
"""

from __future__ import annotations

import numpy as np

from rnnbench.errors import UnsupportedError
from rnnbench.impl_tf import runtime
from rnnbench.impl_tf.eager import TF2Driver
from rnnbench.impl_tf.model import Model
from rnnbench.spec.cells import permute_blocks
from rnnbench.spec.config import RunConfig
from rnnbench.spec.optimizer import ADAGRAD_EPSILON, ADAGRAD_INITIAL_ACCUMULATOR, ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON
from rnnbench.spec.params import Params

tf = runtime.tf

LAYERS = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
GRU_TO_KERAS = [1, 0, 2]  # canonical blocks r, z, n -> Keras' z, r, h (its own inverse)


def keras_weights(cell: str, params: Params, prefix: str, n_in: int) -> list[np.ndarray]:
    """One direction's canonical arrays -> the Keras layer's ``set_weights`` list."""
    W, b = params[prefix + "W"], params[prefix + "b"]
    kernel, recurrent = W[:n_in], W[n_in:]
    if cell != "gru":
        return [kernel, recurrent, b]
    return [permute_blocks(kernel, GRU_TO_KERAS), permute_blocks(recurrent, GRU_TO_KERAS),
            np.stack([permute_blocks(b, GRU_TO_KERAS), permute_blocks(params[prefix + "bh"], GRU_TO_KERAS)])]


def canonical_weights(cell: str, weights: list[np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The inverse of ``keras_weights``."""
    kernel, recurrent, bias = weights
    if cell != "gru":
        return {prefix + "W": np.concatenate([kernel, recurrent]), prefix + "b": bias}
    return {prefix + "W": permute_blocks(np.concatenate([kernel, recurrent]), GRU_TO_KERAS),
            prefix + "b": permute_blocks(bias[0], GRU_TO_KERAS), prefix + "bh": permute_blocks(bias[1], GRU_TO_KERAS)}


def torch_epsilon_adam(keras):
    """``keras.optimizers.Adam`` with its epsilon where ``torch.optim.Adam`` puts it: after the bias correction of v.

    Keras computes ``alpha * m / (sqrt(v) + eps)`` with ``alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)``; torch's
    update is the same with ``eps * sqrt(1 - b2^t)`` in place of ``eps``. At step 1 the difference is 3.2e-7
    against 1e-8 on the root, which moved digits' losses 1.3e-3 from NumPy's within 66 steps. ``update_step`` is
    Keras' own extension point for an optimizer's rule; this one differs from Keras' in that term, and in making
    the betas tensors of the variable's dtype directly (Keras casts the Python float, which goes through float32:
    a float64 run then stepped 7e-6 off torch's rule).
    """
    ops = keras.ops

    class TorchEpsilonAdam(keras.optimizers.Adam):
        def update_step(self, gradient, variable, learning_rate):
            lr = ops.cast(learning_rate, variable.dtype)
            gradient = ops.cast(gradient, variable.dtype)
            local_step = ops.cast(self.iterations + 1, variable.dtype)
            # convert, not cast: casting a Python float goes through float32 first (0.999 -> 0.99900001)
            beta_1_power = ops.power(ops.convert_to_tensor(self.beta_1, variable.dtype), local_step)
            beta_2_power = ops.power(ops.convert_to_tensor(self.beta_2, variable.dtype), local_step)
            m = self._momentums[self._get_variable_index(variable)]
            v = self._velocities[self._get_variable_index(variable)]
            alpha = lr * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)
            self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
            self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
            eps = self.epsilon * ops.sqrt(1 - beta_2_power)
            self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), eps)))

    return TorchEpsilonAdam


class TFKeras(TF2Driver):
    def build(self, config: RunConfig, params: Params) -> None:
        runtime.start(config)
        import keras

        if keras.config.backend() != "tensorflow":
            raise UnsupportedError(f"tf-keras needs KERAS_BACKEND=tensorflow, got {keras.config.backend()!r}")
        self.keras = keras
        self.config = config
        self.model = Model(config)  # the task's inputs, loss and predictions
        self.names = params.names
        self.carries_state = config.task_spec.carries_state
        B, T, H, n_in = config.batch_size, config.num_steps, config.state_size, config.input_size
        dtype = config.dtype
        # Keras keeps some of its own numbers (the optimizer's learning rate, among others) in floatx: a float64
        # run must not step by a float32-rounded rate (2e-8 relative, enough to move sine's float64 parity 1e-3).
        keras.config.set_floatx(dtype)
        layer = getattr(keras.layers, LAYERS[config.cell])
        extra = {"reset_after": True} if config.cell == "gru" else {}
        self.rnns, self.directions = [], []  # one Keras layer per stacked layer; (layer, canonical prefix)
        width = len(self.model.prefixes) * H  # what a stacked layer reads: the one below's sequences, concatenated
        for k, lp in enumerate(self.model.spec.layers):
            rnn = layer(H, return_sequences=True, return_state=True, dtype=dtype, **extra)
            if config.bidirectional:
                rnn = keras.layers.Bidirectional(rnn, merge_mode="concat", dtype=dtype)
            rnn.build((B, T, n_in if k == 0 else width))
            directions = [rnn.forward_layer, rnn.backward_layer] if config.bidirectional else [rnn]
            for d, prefix in zip(directions, self.model.prefixes):
                d.set_weights(keras_weights(config.cell, params, lp + prefix, n_in if k == 0 else width))
                self.directions.append((d, lp + prefix))
            self.rnns.append(rnn)
        self.rnn = self.rnns[0]
        self.dense = keras.layers.Dense(config.output_size, dtype=dtype)
        self.dense.build((B, params.U.shape[0]))
        self.dense.set_weights([params.U, params.c])
        self.trainable = [*(v for r in self.rnns for v in r.trainable_variables), *self.dense.trainable_variables]
        clip = {} if config.clip_norm is None else {"global_clipnorm": config.clip_norm}  # tf.clip_by_global_norm
        if config.optimizer == "adam":
            self.optimizer = torch_epsilon_adam(keras)(learning_rate=config.learning_rate, beta_1=ADAM_BETA1,
                                                       beta_2=ADAM_BETA2, epsilon=ADAM_EPSILON, **clip)
        else:
            self.optimizer = keras.optimizers.Adagrad(
                learning_rate=config.learning_rate, initial_accumulator_value=ADAGRAD_INITIAL_ACCUMULATOR,
                epsilon=ADAGRAD_EPSILON, **clip,
            )
        self.optimizer.build(self.trainable)
        self.state = [tf.Variable(z) for z in self.model.zero_state(B, runtime.tf_dtype(config))]
        self._train_step = tf.function(self._train_window)
        self._forward = tf.function(self._predictions)
        # Trace the window step (forward traces at its first call); the weights, optimizer and state are put back.
        self.compile_training([*self.trainable, *self.optimizer.variables, *self.state])

    def _outputs(self, x):
        rows = self.model.inputs(x, self.state[0].dtype)  # (B, T, n_in)
        if self.config.bidirectional:  # independent sequences only: both directions start from zero
            outputs, *_ = self.rnn(rows)
            final = [v.read_value() for v in self.state]
        else:
            start = [v.read_value() for v in self.state] if self.carries_state else None
            outputs, *final = self.rnn(rows, initial_state=start)  # (B, T, D); h (and c)
        for rnn in self.rnns[1:]:  # stacked layers (independent sequences only): each reads the one below's outputs
            outputs = rnn(outputs)[0]
        out = outputs if self.config.task_spec.each_step else outputs[:, -1]
        return self.dense(out), final

    def _train_window(self, x, y):
        with tf.GradientTape() as tape:
            out, final = self._outputs(x)
            loss = self.model.loss(out, y)
        self.optimizer.apply_gradients(zip(tape.gradient(loss, self.trainable), self.trainable))
        for var, value in zip(self.state, final):
            var.assign(value)
        return loss

    def _predictions(self, x):
        return self.model.predictions(self._outputs(x)[0])

    def params(self) -> Params:
        arrays = {}
        for d, prefix in self.directions:
            arrays.update(canonical_weights(self.config.cell, [v.numpy() for v in d.trainable_variables], prefix))
        U, c = (v.numpy() for v in self.dense.trainable_variables)
        arrays.update(U=U, c=c)
        return Params({k: arrays[k] for k in self.names}).astype(np.float32)

    def versions(self) -> dict[str, str]:
        return {**runtime.versions(), "keras": self.keras.__version__}
