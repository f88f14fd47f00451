"""TensorFlow 2 idioms for the same models: eager variables, ``tf.function``, XLA and a whole-epoch loop, for every
task, cell and direction (the model's math is ``rnnbench.impl_tf.model``).

- ``tf-function``: one ``tf.function`` per window (GradientTape over the cell unrolled over the window, the
  optimizer as variable updates), called once per window from Python.
- ``tf-xla``: the same window step compiled by XLA (``jit_compile=True``).
- ``tf-xla-epoch``: a whole epoch in one XLA-compiled ``tf.function``: a ``tf.while_loop`` over the windows
  carries the state, the parameters and the optimizer slots, so Python is entered once per epoch instead of once
  per window (independent-sequence tasks start every window from zero). Two named tricks, both because XLA on a
  CPU pays per operation: gradients written by hand rather than taken by GradientTape, for every task, cell and
  direction (``rnnbench.model.backprop``, the NumPy reference's algebra, given TensorFlow's operations: the
  headline configuration runs the same code as the rest of the grid), and products
  with a small right-hand side written as multiply-and-reduce, which XLA fuses instead of calling GEMM. Its
  ``train_step`` is the same computation for one window.

The cells are the canonical ones, written in split form: ``x_t @ W[:n_in] + h @ W[n_in:] + b`` equals
``concat([x_t, h]) @ W + b``. Adagrad follows TF1 (accumulator from 0.1, no epsilon), Adam torch (epsilon added
to the bias-corrected root). Tracing and XLA compilation happen in ``build`` (a warm-up call, after which the
state, parameters and optimizer slots are restored) for what training calls: the window step, or for
``tf-xla-epoch`` the epoch. Every other function (``forward``; ``tf-xla-epoch``'s ``train_step``) traces and
compiles at its first call, which the benchmarks' warm-up takes: training never calls it, and compiling it in
every build would double the build of a long window (sine's 49 steps) for nothing.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from rnnbench.impl_tf import runtime
from rnnbench.impl_tf.model import OPS, SMALL_MATMUL_OPS, Model, clipped
from rnnbench.model import backprop, optim
from rnnbench.spec.config import RunConfig
from rnnbench.spec.interface import StepwiseEpoch
from rnnbench.spec.params import Params

tf = runtime.tf


class TF2Driver(StepwiseEpoch):
    """What every TF2 variant shares: the carried state in variables, and ``tf.function``s driven from NumPy.

    Subclasses set ``self.state`` (a list of variables), ``self._train_step`` and ``self._forward`` in ``build``.
    """

    def reset_state(self) -> None:
        for v in self.state:
            v.assign(tf.zeros_like(v))

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self._train_step(tf.constant(x), tf.constant(y)))

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._forward(tf.constant(x)).numpy()

    def versions(self) -> dict[str, str]:
        return runtime.versions()

    def compile_training(self, variables) -> None:
        """Trace and compile the window step on zero windows, then put ``variables`` back as they were."""
        x, y = self.config.task_spec.zero_windows(self.config)
        self.run_and_restore(variables, lambda: self.train_step(x, y))

    @staticmethod
    def run_and_restore(variables, warm_up) -> None:
        """Run ``warm_up`` (tracing, compiling), then put every variable back as it was."""
        saved = [np.array(v.numpy()) for v in variables]
        warm_up()
        for v, value in zip(variables, saved):
            v.assign(value)


class TFFunction(TF2Driver):
    """A tf.function per window, run eagerly from Python; variables hold parameters, optimizer slots, state."""

    jit_compile: ClassVar[bool] = False

    def build(self, config: RunConfig, params: Params) -> None:
        runtime.start(config)
        self.config = config
        dtype = runtime.tf_dtype(config)
        self.model = Model(config)
        self.names = params.names
        self.variables = [tf.Variable(p, dtype=dtype, name=n) for n, p in params.items()]
        self.optimizer = optim.optimizer(config.optimizer)
        self.slots = [tf.Variable(s) for s in self.optimizer.slots(OPS, [v.read_value() for v in self.variables])]
        self.state = [tf.Variable(z) for z in self.model.zero_state(config.batch_size, dtype)]
        self._train_step = tf.function(self._train_window, jit_compile=self.jit_compile)
        self._forward = tf.function(self._predictions, jit_compile=self.jit_compile)
        self.warm_up()

    def warm_up(self) -> None:
        """Trace and compile the window step; the parameters, optimizer slots and state are put back."""
        self.compile_training((*self.variables, *self.slots, *self.state))

    def loss_and_grads(self, params: list, x, y, state: tuple):
        """Autodiff of the window loss; a subclass may supply the gradients another way."""
        with tf.GradientTape() as tape:
            tape.watch(params)
            out, final = self.model.outputs(dict(zip(self.names, params)), x, state)
            loss = self.model.loss(out, y)
        return loss, final, tape.gradient(loss, params)

    def _train_window(self, x, y):
        params = [v.read_value() for v in self.variables]
        start = self.model.start(tuple(v.read_value() for v in self.state))
        loss, final, grads = self.loss_and_grads(params, x, y, start)
        grads = clipped(grads, self.config.clip_norm)
        new_params, new_slots = self.optimizer.apply(OPS, self.config.learning_rate, params,
                                                     [s.read_value() for s in self.slots], grads)
        for var, value in zip((*self.variables, *self.slots), (*new_params, *new_slots)):
            var.assign(value)
        for var, value in zip(self.state, final):
            var.assign(value)
        return loss

    def _predictions(self, x):
        params = dict(zip(self.names, (v.read_value() for v in self.variables)))
        out, _ = self.model.outputs(params, x, self.model.start(tuple(v.read_value() for v in self.state)))
        return self.model.predictions(out)

    def params(self) -> Params:
        return Params.from_arrays(self.names, (v.numpy().astype(np.float32) for v in self.variables))


class TFXLA(TFFunction):
    """The window step compiled by XLA."""

    jit_compile: ClassVar[bool] = True


class TFXLAEpoch(TFXLA):
    """A whole epoch in one XLA-compiled call: a while_loop over windows, everything carried on device.

    The gradients are written by hand (the named trick) in both the epoch loop and train_step, for every task, cell
    and direction by ``rnnbench.model.backprop``.
    """

    whole_epoch: ClassVar[bool] = True

    def loss_and_grads(self, params, x, y, state):
        model = self.model
        dtype = params[0].dtype
        loss, grads, final = backprop.loss_and_grads(SMALL_MATMUL_OPS, model.spec, dict(zip(self.names, params)),
                                                     model.rows(x, dtype), model.targets(y, dtype), state)
        return loss, final, [grads[n] for n in self.names]

    def build(self, config: RunConfig, params: Params) -> None:
        self._train_epoch = tf.function(self._epoch_loop, jit_compile=True)
        super().build(config, params)

    def warm_up(self) -> None:
        """Compile the epoch for this run's epoch length (its window step compiles at its first call)."""
        xs, ys = self.config.task_spec.zero_windows(self.config, self.config.windows_per_epoch)
        self.run_and_restore((*self.variables, *self.slots, *self.state), lambda: self.train_epoch(xs, ys))

    def _epoch_loop(self, xs, ys):
        n = xs.shape[0]

        def body(i, state, params, slots, losses):
            loss, final, grads = self.loss_and_grads(params, xs[i], ys[i], self.model.start(tuple(state)))
            params, slots = self.optimizer.apply(OPS, self.config.learning_rate, params, slots,
                                                 clipped(grads, self.config.clip_norm))
            return i + 1, list(final), list(params), list(slots), losses.write(i, loss)

        start = (
            tf.constant(0),
            [v.read_value() for v in self.state],
            [v.read_value() for v in self.variables],
            [s.read_value() for s in self.slots],
            tf.TensorArray(self.variables[0].dtype, size=n),
        )
        _, state, params, slots, losses = tf.while_loop(lambda i, *_: i < n, body, start)
        for var, value in zip((*self.variables, *self.slots, *self.state), (*params, *slots, *state)):
            var.assign(value)
        return losses.stack()

    def train_epoch(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        return self._train_epoch(tf.constant(xs), tf.constant(ys)).numpy()
