"""The original tutorial's three TensorFlow RNNs, as TF1 graphs on today's TensorFlow, for every task, cell and
direction.

- ``tf-cell``: the hand-written cell with ``tf.compat.v1`` variables, unrolled in Python over the window: the
  tutorial's ``tanh(concat([x_t, s_{t-1}]) @ W + b)`` for the vanilla cell, and the LSTM and GRU of
  ``rnnbench.impl_tf.model`` (the canonical math) for the others.
- ``tf-static``: ``tf.compat.v1.nn.static_rnn`` (``static_bidirectional_rnn``) over a TF1 cell object (the graph
  unrolled by TensorFlow).
- ``tf-dynamic``: ``tf.compat.v1.nn.dynamic_rnn`` (``bidirectional_dynamic_rnn``): a ``while_loop`` in the graph.

All three run as the tutorial did: each graph in its own ``tf.Graph`` with its own ``Session``; the window's
inputs and the initial state are fed through placeholders, the final state is fetched and fed back as the next
window's initial state (zeros for tasks of independent sequences), and ``tf.compat.v1.train.AdagradOptimizer``
or Adam trains. Eager execution stays on for the rest of the process.

The cells static_rnn and dynamic_rnn run, and how the canonical arrays map into them (``CELL_LAYOUTS``):

- vanilla: ``BasicRNNCell``, the tutorial's own class (through ``tf_keras``, selected by ``TF_USE_LEGACY_KERAS=1``
  before TensorFlow is imported: ``runtime`` does that). Its kernel over ``concat([inputs, state])`` is exactly W.
- LSTM: ``BasicLSTMCell(forget_bias=0)``. Its blocks are ordered i, j(=g), f, o, so the canonical i, f, g, o
  columns are permuted into it and back; it adds ``forget_bias`` inside the cell, which is why it is built with 0.
  Its state is ``LSTMStateTuple(c, h)``, the canonical (h, c) swapped.
- GRU: TF1's ``GRUCell`` is the reset-before form (``r`` applied to h before the product), which cannot express
  the canonical reset-after GRU; ``CanonicalCell`` here is a minimal cell object (``state_size``,
  ``output_size``, ``zero_state``, ``__call__``) computing the canonical cell with W, b and bh as they are. The
  minimal cells (minGRU, minLSTM), which TF1 does not have, are ``CanonicalCell`` too.

Adam is written out as graph ops with ``torch.optim.Adam``'s semantics (``written_out_adam``): ``AdamOptimizer`` adds
its epsilon to the root before the bias correction of v, where torch adds it after, and that moved the losses of
parameters with tiny gradients beyond the parity tolerance.
"""

from __future__ import annotations

import warnings

import numpy as np

from rnnbench.errors import UnsupportedError
from rnnbench.impl_tf import runtime
from rnnbench.impl_tf.model import OPS, Model, clipped
from rnnbench.model import forward, optim
from rnnbench.model.cells import cell_math
from rnnbench.spec.cells import permute_blocks
from rnnbench.spec.config import RunConfig
from rnnbench.spec.interface import StepwiseEpoch
from rnnbench.spec.optimizer import ADAGRAD_INITIAL_ACCUMULATOR
from rnnbench.spec.params import Params

tf = runtime.tf
v1 = tf.compat.v1

LSTM_TO_TF1 = [0, 2, 1, 3]  # canonical blocks i, f, g, o -> TF1's i, j(=g), f, o (its own inverse)


class CanonicalCell:
    """A canonical cell as a TF1 cell object for static_rnn and dynamic_rnn, its step ``rnnbench.model.cells``':
    the reset-after GRU (TF1's own GRUCell is reset-before and cannot express it) and the minimal cells (TF1 has
    none). Its variables W, b (and bh) are the canonical arrays as they are."""

    def __init__(self, cell_name: str, state_size: int, input_size: int, params: Params, prefix: str, dtype):
        self.state_size = self.output_size = state_size
        self.n_in = input_size
        self.step = cell_math(cell_name).step
        with v1.variable_scope(f"{prefix or 'fw_'}{cell_name}_cell"):
            self.weights = [v1.get_variable(k, initializer=params[prefix + k].astype(dtype.as_numpy_dtype))
                            for k in ("W", "b", "bh") if prefix + k in params]
        self.W, self.b = self.weights[:2]
        self.bh = self.weights[2] if len(self.weights) > 2 else None

    def zero_state(self, batch_size, dtype):
        return tf.zeros([batch_size, self.state_size], dtype)

    def __call__(self, inputs, state, scope=None):
        (h,), _ = self.step(OPS, tf.matmul(inputs, self.W[: self.n_in]) + self.b, (state,), self.W[self.n_in :],
                            self.bh)
        return h, h


def _tf1_cell(cell_name: str, state_size: int, input_size: int, params: Params, prefix: str, dtype):
    """The TF1 cell object for one direction."""
    if cell_name not in ("rnn", "lstm"):
        return CanonicalCell(cell_name, state_size, input_size, params, prefix, dtype)
    try:
        with warnings.catch_warnings():  # their deprecation notices: we use them on purpose, see the docstring
            warnings.simplefilter("ignore", UserWarning)
            if cell_name == "lstm":
                return v1.nn.rnn_cell.BasicLSTMCell(state_size, forget_bias=0.0, state_is_tuple=True)
            return v1.nn.rnn_cell.BasicRNNCell(state_size)
    except Exception as exc:  # Keras 3 without tf_keras (or TF imported before TF_USE_LEGACY_KERAS was set)
        raise UnsupportedError(
            f"BasicRNNCell is not available ({exc}); install tf_keras (pip install 'rnnbench[tf]') and make "
            "sure nothing imports tensorflow before impl_tf"
        ) from None


def written_out_adam(loss, variables: list, learning_rate: float, clip_norm: float | None = None):
    """torch.optim.Adam as graph ops (``rnnbench.model.optim``'s): AdamOptimizer would add epsilon before the
    bias correction of v, which at step 1 acts as 1e-8 / sqrt(1 - 0.999) = 3.2e-7 on the corrected root; on
    parameters with tiny gradients that moved digits' losses 1.3e-3 from NumPy's within 66 steps."""
    adam = optim.optimizer("adam")
    grads = clipped(tf.gradients(loss, variables), clip_norm)
    values = [v.read_value() for v in variables]
    slots = [v1.Variable(s, trainable=False) for s in adam.slots(OPS, values)]
    new_values, new_slots = adam.apply(OPS, learning_rate, values, [s.read_value() for s in slots], grads)
    with tf.control_dependencies([*new_values, *new_slots]):  # every read before any write
        return tf.group(*(v1.assign(var, value) for var, value in zip((*variables, *slots), (*new_values, *new_slots))))


def _lstm_state(state: tuple):
    return v1.nn.rnn_cell.LSTMStateTuple(c=state[1], h=state[0])


class _TF1Graph(StepwiseEpoch):
    """Placeholders, the readout, the loss, the optimizer and the Session; subclasses supply the recurrence."""

    def recurrence(self, rows, init_state: tuple, params: Params, dtype):
        """Return (per-step outputs: T tensors (B, D) or a tensor (B, T, D), the forward final state as a tuple,
        {canonical name: variable} of the recurrent layer, in canonical order, with a loader per variable)."""
        raise NotImplementedError

    def build(self, config: RunConfig, params: Params) -> None:
        runtime.start(config)
        self.config = config
        self.model = Model(config)
        self.names = params.names
        self.carries_state = config.task_spec.carries_state
        B, H = config.batch_size, config.state_size
        dtype = runtime.tf_dtype(config)
        (x_shape, x_dtype), (y_shape, y_dtype) = config.task_spec.window_shapes(config)
        as_tf = {np.int32: tf.int32, np.float32: dtype}
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.x = v1.placeholder(as_tf[x_dtype], x_shape, name="x")
            self.y = v1.placeholder(as_tf[y_dtype], y_shape, name="y")
            self.init_state = tuple(v1.placeholder(dtype, [B, H], name=f"init_{k}") for k in self.model.cell.states)
            rows = self.model.inputs(self.x, dtype)  # (B, T, n_in)
            outputs, final, recurrent = self.recurrence(rows, self.init_state, params, dtype)
            self.final_state = tuple(final)
            with v1.variable_scope("softmax"):
                U = v1.get_variable("U", initializer=params.U.astype(dtype.as_numpy_dtype))
                c = v1.get_variable("c", initializer=params.c.astype(dtype.as_numpy_dtype))
            logits = forward.readout(OPS, self.model.spec, {"U": U, "c": c}, outputs)
            self.predictions = self.model.predictions(logits)
            self.loss = self.model.loss(logits, self.y)
            self.layout = {**recurrent, "U": (U, _identity), "c": (c, _identity)}
            if config.optimizer == "adam":
                self.train_op = written_out_adam(self.loss, [var for var, _ in self.layout.values()],
                                                 config.learning_rate, config.clip_norm)
            else:
                optimizer = v1.train.AdagradOptimizer(config.learning_rate,
                                                       initial_accumulator_value=ADAGRAD_INITIAL_ACCUMULATOR)
                grads, variables = zip(*optimizer.compute_gradients(self.loss))  # minimize(), clipped between
                self.train_op = optimizer.apply_gradients(zip(clipped(list(grads), config.clip_norm), variables))
            # TF1's cells make their own kernels and biases; these load the canonical values into them.
            init = [v1.global_variables_initializer()]
            load = [v1.assign(var, to_layout(params[name]).astype(dtype.as_numpy_dtype))
                    for name, (var, to_layout) in self.layout.items()]
        self.graph.finalize()
        self.session = v1.Session(graph=self.graph, config=runtime.session_config(config))
        self.session.run(init)
        self.session.run(load)
        # Warm-up: the first run of a fetch set prunes and optimises the graph. Do it here, then start again.
        x, y = config.task_spec.zero_windows(config)
        self.reset_state()
        self.session.run([self.loss, self.final_state, self.train_op], self._feed(x, y))
        self.session.run(self.predictions, self._feed(x))
        self.session.run(init)
        self.session.run(load)

    def _feed(self, x, y=None):
        state = self.state if self.carries_state else self.zero
        feed = {self.x: x, **dict(zip(self.init_state, state))}
        if y is not None:
            feed[self.y] = y
        return feed

    def reset_state(self) -> None:
        self.zero = tuple(np.zeros((self.config.batch_size, self.config.state_size), dtype=self.config.dtype)
                          for _ in self.model.cell.states)
        self.state = self.zero

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        loss, self.state, _ = self.session.run([self.loss, self.final_state, self.train_op], self._feed(x, y))
        return float(loss)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(self.predictions, self._feed(x))

    def params(self) -> Params:
        values = self.session.run({name: var for name, (var, _) in self.layout.items()})
        return Params({name: self.from_layout(name, values[name]) for name in self.names}).astype(np.float32)

    def from_layout(self, name: str, value: np.ndarray) -> np.ndarray:
        """A variable's value in canonical form (the inverse of its loader)."""
        return value

    def versions(self) -> dict[str, str]:
        return runtime.versions()

    def __del__(self):
        session = getattr(self, "session", None)
        if session is not None:
            session.close()


def _identity(a):
    return a


class TFCell(_TF1Graph):
    """The tutorial's first version: its own cell function, unrolled in Python."""

    def recurrence(self, rows, init_state, params, dtype):
        variables = {}

        def run(prefix, rows, start):
            with v1.variable_scope(f"{prefix}rnn_cell"):
                p = {prefix + k: v1.get_variable(k, initializer=params[prefix + k].astype(dtype.as_numpy_dtype))
                     for k in ("W", "b", "bh") if prefix + k in params}
            variables.update({k: (v, _identity) for k, v in p.items()})
            if prefix == "" and self.config.cell == "rnn":  # the tutorial's own cell, in the concat form
                W, b = p["W"], p["b"]
                return forward.unroll(lambda x_t, s: (tf.tanh(tf.matmul(tf.concat([x_t, s[0]], 1), W) + b),),
                                      tf.unstack(rows, axis=1), start)
            return self.model.direction(p, prefix, rows, start)

        spec = self.model.spec
        steps, final = forward.layers(OPS, spec, init_state, rows, lambda lp, r, s: forward.directions(
            OPS, spec, s, lambda prefix, start: run(lp + prefix, r, start)))
        return steps, final, variables


class _TF1CellObjects(_TF1Graph):
    """static_rnn and dynamic_rnn: the TF1 cell objects of ``_tf1_cell``, one per direction and stacked layer.
    Stacked layers are one call per layer on the outputs of the one below, in its own variable scope (as
    ``tf.contrib.rnn.stack_bidirectional_rnn`` did)."""

    def layer_calls(self, rows, init_state, params, dtype, call) -> tuple:
        """``call(cells, rows, start, scope)`` -> (outputs, final) for each stacked layer in turn; returns the top
        layer's outputs, the first layer's final state and every cell's variables in canonical form."""
        cfg, spec = self.config, self.model.spec
        layout, outputs, final = {}, rows, None
        for k, lp in enumerate(spec.layers):
            width = cfg.input_size if k == 0 else len(spec.directions) * cfg.state_size
            cells = [_tf1_cell(cfg.cell, cfg.state_size, width, params, lp + prefix, dtype)
                     for prefix in spec.directions]
            start = init_state if k == 0 else tuple(tf.zeros_like(s) for s in init_state)
            outputs, last = call(cells, outputs, start, None if k == 0 else f"{lp}rnn")
            if k == 0:
                final = last
            layout.update(self.layout_of(cells, lp))
        return outputs, self.unwrap(final), layout

    def layout_of(self, cells, lp: str = "") -> dict:
        """{canonical name: (variable, canonical -> cell layout)}: one layer's cells' weights, built by now."""
        lstm = self.config.cell == "lstm"
        to_cell = (lambda a: permute_blocks(a, LSTM_TO_TF1)) if lstm else _identity
        names = ("W", "b", "bh")
        return {lp + prefix + names[k]: (var, to_cell)
                for prefix, cell in zip(self.model.prefixes, cells) for k, var in enumerate(cell.weights)}

    def from_layout(self, name, value):
        recurrent = name.rsplit("_", 1)[-1] in ("W", "b")
        return permute_blocks(value, LSTM_TO_TF1) if self.config.cell == "lstm" and recurrent else value

    def wrap(self, state: tuple):
        return _lstm_state(state) if self.config.cell == "lstm" else state[0]

    def unwrap(self, state) -> tuple:
        return (state.h, state.c) if self.config.cell == "lstm" else (state,)


class TFStatic(_TF1CellObjects):
    """static_rnn: TensorFlow unrolls the cell over a Python list of per-step inputs."""

    def recurrence(self, rows, init_state, params, dtype):
        def call(cells, inputs, start, scope):
            if len(cells) == 1:
                return v1.nn.static_rnn(cells[0], inputs, initial_state=self.wrap(start), scope=scope)
            outputs, final, _ = v1.nn.static_bidirectional_rnn(cells[0], cells[1], inputs,
                                                               initial_state_fw=self.wrap(start), dtype=dtype,
                                                               scope=scope)
            return outputs, final

        return self.layer_calls(tf.unstack(rows, axis=1), init_state, params, dtype, call)


class TFDynamic(_TF1CellObjects):
    """dynamic_rnn: the cell inside a graph-level while_loop over a (B, T, n_in) tensor."""

    def recurrence(self, rows, init_state, params, dtype):
        def call(cells, inputs, start, scope):
            if len(cells) == 1:
                return v1.nn.dynamic_rnn(cells[0], inputs, initial_state=self.wrap(start), scope=scope)
            (out_fw, out_bw), (final, _) = v1.nn.bidirectional_dynamic_rnn(
                cells[0], cells[1], inputs, initial_state_fw=self.wrap(start), dtype=dtype, scope=scope)
            return tf.concat([out_fw, out_bw], axis=2), final

        return self.layer_calls(rows, init_state, params, dtype, call)
