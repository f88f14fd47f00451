"""``jax-flax``: the model as the Flax tutorials write it: ``nn.RNN`` over ``nn.SimpleCell`` or ``nn.LSTMCell``
(``nn.Bidirectional`` of two where asked; stacked layers one after another, named ``l2_forward`` ...) and an
``nn.Dense`` readout, trained by one ``jax.jit``-compiled window
step (``jax.value_and_grad`` of ``Module.apply``, then optax), called from Python per window as ``jax-jit`` is.

Flax's cells against DESIGN.md's:

- ``SimpleCell``: ``h' = tanh(W_i x + b_i + W_h h)``, one bias: the canonical vanilla cell. ``i`` holds
  ``W[:n_in]`` and ``b``, ``h`` holds ``W[n_in:]``.
- ``LSTMCell``: gates i, f, g, o (the canonical order), each from an input kernel (``ii`` … ``io``, no bias) and a
  recurrent kernel with the gate's one bias (``hi`` … ``ho``): the canonical LSTM, its (n_in+H, 4H) matrix cut into
  eight blocks. Its carry is (c, h) where the canonical state is (h, c).
- ``GRUCell`` cannot express the canonical GRU: it gives the r and z gates one bias each (``b_ir``, ``b_iz``) where
  the canonical GRU trains two that sum (``b`` and ``bh``), so its training could not match (its registry row
  declares the gap).

Both optimizers act elementwise, so cutting a canonical matrix into Flax's blocks changes no update: the parity
with NumPy is exact up to rounding.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from rnnbench.impl_jax import runtime
from rnnbench.impl_jax.jit import JaxJit
from rnnbench.spec.cells import BACKWARD_PREFIX, layer_prefix, layer_prefixes
from rnnbench.spec.config import RunConfig
from rnnbench.spec.params import Params

CELLS = {"rnn": nn.SimpleCell, "lstm": nn.LSTMCell}
# Per cell: the gates (suffixes of the dense layers' names) and which of a gate's two dense layers holds its bias.
GATES = {"rnn": ("",), "lstm": ("i", "f", "g", "o")}
BIAS_IN = {"rnn": "i", "lstm": "h"}
DIRECTIONS = {"": "forward", BACKWARD_PREFIX: "backward"}  # canonical prefix -> the cell's module name


class Net(nn.Module):
    """Recurrent layer + readout; ``carry`` is Flax's (a state, or (c, h) for the LSTM)."""

    cell: str
    state_size: int
    n_out: int
    bidirectional: bool
    each_step: bool
    dtype: Any = jnp.float32  # of the parameters, the computation and the zero carries Flax makes
    layers: int = 1  # stacked: each nn.RNN (nn.Bidirectional) reads the one below's sequence

    @nn.compact
    def __call__(self, rows, carry):
        make = partial(CELLS[self.cell], dtype=self.dtype, param_dtype=self.dtype)
        hs = rows
        for lp in layer_prefixes(self.layers):
            if self.bidirectional:  # independent sequences only: both directions start from zero
                hs = nn.Bidirectional(nn.RNN(make(self.state_size, name=lp + "forward")),
                                      nn.RNN(make(self.state_size, name=lp + "backward")))(hs)
            elif not lp:  # the first layer, from the carried state
                carry, hs = nn.RNN(make(self.state_size, name="forward"), return_carry=True)(hs, initial_carry=carry)
            else:  # a stacked layer (independent sequences only), from zero
                hs = nn.RNN(make(self.state_size, name=lp + "forward"))(hs)
        readout = nn.Dense(self.n_out, dtype=self.dtype, param_dtype=self.dtype, name="readout")
        return readout(hs if self.each_step else hs[:, -1]), carry


def _modules(names) -> list[tuple[str, str]]:
    """(canonical prefix, Flax module name) of every direction of every stacked layer: ("l2_bwd_", "l2_backward")."""
    out, layer = [], 1
    while layer_prefix(layer) + "W" in names:
        lp = layer_prefix(layer)
        out += [(lp + prefix, lp + module) for prefix, module in DIRECTIONS.items() if lp + prefix + "W" in names]
        layer += 1
    return out


def to_flax(cell: str, p: dict) -> dict:
    """Canonical arrays (by name) -> Flax's parameter tree."""
    tree = {"readout": {"kernel": p["U"], "bias": p["c"]}}
    gates = GATES[cell]
    for prefix, module in _modules(p):
        W, b = p[prefix + "W"], p[prefix + "b"]
        n_in = W.shape[0] - W.shape[1] // len(gates)
        blocks = zip(gates, np.split(np.arange(W.shape[1]), len(gates)))
        layers = {}
        for gate, cols in blocks:
            layers["i" + gate] = {"kernel": W[:n_in, cols]}
            layers["h" + gate] = {"kernel": W[n_in:, cols]}
            layers[BIAS_IN[cell] + gate]["bias"] = b[cols]
        tree[module] = layers
    return tree


def from_flax(cell: str, tree: dict, names: tuple[str, ...]) -> dict:
    """Flax's parameter tree -> canonical arrays (by name): the inverse of ``to_flax``."""
    out = {"U": tree["readout"]["kernel"], "c": tree["readout"]["bias"]}
    gates = GATES[cell]
    for prefix, module in _modules(names):
        layers = tree[module]
        out[prefix + "W"] = jnp.concatenate([jnp.concatenate([layers["i" + g]["kernel"] for g in gates], axis=1),
                                             jnp.concatenate([layers["h" + g]["kernel"] for g in gates], axis=1)])
        out[prefix + "b"] = jnp.concatenate([layers[BIAS_IN[cell] + g]["bias"] for g in gates])
    return out


class JaxFlax(JaxJit):
    """Flax linen modules, one jit-compiled window step per call."""

    def build(self, config: RunConfig, params: Params) -> None:
        self.net = Net(config.cell, config.state_size, config.output_size, config.bidirectional,
                       config.task_spec.each_step, runtime.jax_dtype(config), config.layers)
        super().build(config, params)

    def layout(self, params: Params) -> dict:
        return jax.tree.map(lambda a: jnp.asarray(a, self.dtype), to_flax(self.config.cell, dict(params.items())))

    def canonical(self) -> Params:
        arrays = from_flax(self.config.cell, self.params_, self.names)
        return Params.from_arrays(self.names, (np.asarray(arrays[n]) for n in self.names))

    def gradients(self, config: RunConfig):
        return self.flax_grads

    def apply(self, p: dict, x, state: tuple):
        """Outputs and the forward final state (canonical order) from a canonical start state."""
        carry = state[0] if len(state) == 1 else (state[1], state[0])  # Flax's LSTM carry is (c, h)
        out, carry = self.net.apply({"params": p}, self.model.inputs(x, p["readout"]["kernel"].dtype), carry)
        return out, (carry,) if len(state) == 1 else (carry[1], carry[0])

    def flax_grads(self, p: dict, state: tuple, x, y):
        """(loss, gradients, final state) by ``jax.value_and_grad`` of ``Module.apply``."""

        def loss_of(params):
            out, final = self.apply(params, x, self.model.start(state))
            return self.model.loss(out, y), final

        (loss, final), grads = jax.value_and_grad(loss_of, has_aux=True)(p)
        return loss, grads, final

    def _predict(self, p: dict, state: tuple, x):
        out, _ = self.apply(p, x, self.model.start(state))
        return self.model.predictions(out)

    def tensor(self, name: str, direction: str = "") -> np.ndarray:
        """A Flax parameter by its path, e.g. ``tensor("hi/kernel")`` or ``tensor("ii/kernel", "bwd_")``."""
        layer, leaf = name.split("/")
        return np.asarray(self.params_[DIRECTIONS[direction]][layer][leaf])
