"""JAX, compiled: every task, cell and direction, with autodiff (``jax.value_and_grad``) through the cell math of
``rnnbench.impl_jax.model`` and optax's Adagrad and Adam with the canonical semantics.

- ``jax-jit``: one ``jax.jit``-compiled window step (forward, gradients, update), called from Python once per
  window.
- ``jax-scan``: a whole epoch in one compiled call, ``lax.scan`` over the windows, the state carried from window
  to window (or zero for independent sequences). A named trick, because XLA on a CPU pays per operation: a window
  of at most ``UNROLL_UP_TO`` steps takes its gradients written by hand (``rnnbench.model.backprop``, the NumPy
  reference's algebra, unrolled over time; tested against autodiff), a longer one ``jax.value_and_grad`` through
  the ``lax.scan`` over time, which is faster there. Its ``train_step`` is the same window compiled alone.

Both compile what training calls ahead of time in ``build`` (``jit(...).lower(...).compile()``, timed as build):
``jax-jit`` its window step, for the run's window shape, ``jax-scan`` its epoch, for the run's epoch length. What
training never calls (``forward``; ``jax-scan``'s ``train_step``) is jit-compiled at its first call (the
benchmarks' warm-up). The parameters, optimizer state and carried state stay on the device between calls (the
compiled functions donate nothing, so a caller's arrays are never invalidated); every timed call returns a host
value, which waits for the device (the ``block_until_ready`` of a float or a NumPy array).
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from rnnbench.impl_jax import runtime
from rnnbench.impl_jax.model import UNROLL_UP_TO, Model
from rnnbench.spec.config import RunConfig
from rnnbench.spec.params import Params


class JaxJit:
    whole_epoch: ClassVar[bool] = False

    def gradients(self, config: RunConfig):
        """How this variant takes a window's gradients: autodiff."""
        return self.model.grads_autodiff

    def build(self, config: RunConfig, params: Params) -> None:
        self.device = runtime.start(config)
        self.config = config
        self.dtype = runtime.jax_dtype(config)
        self.model = Model(config)
        self.names = params.names
        self.params_ = jax.device_put(self.layout(params), self.device)
        tx = runtime.optimizer(config)
        self.opt_state = jax.device_put(tx.init(self.params_), self.device)
        self.reset_state()
        self.grads = self.gradients(config)
        self.predict = jax.jit(self._predict)
        self.compile_training(tx, config)

    def compile_training(self, tx, config: RunConfig) -> None:
        """The window step, compiled now."""
        self.step = self._compile(partial(self.model.window_step, tx, self.grads),
                                  *config.task_spec.zero_windows(config))

    def layout(self, params: Params) -> dict:
        """The canonical arrays as this variant keeps them: a dict by canonical name."""
        return {n: jnp.asarray(a, self.dtype) for n, a in params.items()}

    def canonical(self) -> Params:
        """The inverse of ``layout``, on the host."""
        return Params.from_arrays(self.names, (np.asarray(self.params_[n]) for n in self.names))

    def _compile(self, fn, x: np.ndarray, y: np.ndarray):
        """``fn(params, opt_state, state, x, y)`` compiled now for these shapes (and placed on the device)."""
        x, y = jax.device_put((x, y), self.device)
        return jax.jit(fn).lower(self.params_, self.opt_state, self.state, x, y).compile()

    def reset_state(self) -> None:
        self.state = jax.device_put(self.model.zero_state(self.dtype), self.device)

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        loss, self.params_, self.opt_state, self.state = self.step(self.params_, self.opt_state, self.state,
                                                                   *jax.device_put((x, y), self.device))
        return float(loss)

    def train_epoch(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} trains one window per call")

    def _predict(self, p: dict, state: tuple, x):
        out, _ = self.model.outputs(p, x, self.model.start(state))
        return self.model.predictions(out)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.predict(self.params_, self.state, jax.device_put(x, self.device)))

    def params(self) -> Params:
        return self.canonical().astype(np.float32)

    def versions(self) -> dict[str, str]:
        return runtime.versions()


class JaxScan(JaxJit):
    whole_epoch: ClassVar[bool] = True

    def gradients(self, config: RunConfig):
        """Hand-written for a short window, autodiff through the scan over time for a long one."""
        return self.model.grads_by_hand if config.num_steps <= UNROLL_UP_TO else self.model.grads_autodiff

    def compile_training(self, tx, config: RunConfig) -> None:
        """The epoch, compiled now; the window step at its first call."""
        self.step = jax.jit(partial(self.model.window_step, tx, self.grads))
        xs, ys = config.task_spec.zero_windows(config, config.windows_per_epoch)
        self.epoch = self._compile(partial(self.model.epoch, tx, self.grads), xs, ys)
        self.epoch_windows = len(xs)

    def train_epoch(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        if len(xs) != self.epoch_windows:  # another epoch length (a --data-in stream): compile for it
            self.epoch = jax.jit(partial(self.model.epoch, runtime.optimizer(self.config), self.grads))
            self.epoch_windows = len(xs)
        losses, self.params_, self.opt_state, self.state = self.epoch(self.params_, self.opt_state, self.state,
                                                                      *jax.device_put((xs, ys), self.device))
        return np.asarray(losses)
