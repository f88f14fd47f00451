"""The recurrent cells, as data: their blocks, biases and state, and the canonical parameter layout of a model
built from one (DESIGN.md, "Cells"). Every framework maps its own layout to these; the math is written twice on
purpose: once over any framework's operations (``rnnbench.model.cells``) and once by hand in the NumPy reference
(``rnnbench.impl_numpy.cells``), which the parity tests compare.

    rnn   h' = tanh([x, h] @ W + b)                        W: (n_in+H, H)   b: (H,)
    lstm  z  = [x, h] @ W + b, blocks i, f, g, o           W: (n_in+H, 4H)  b: (4H,)   state (h, c)
          c' = sigmoid(f)*c + sigmoid(i)*tanh(g);  h' = sigmoid(o)*tanh(c')
    gru   a = x @ W[:n_in] + b;  r_h = h @ W[n_in:] + bh   W: (n_in+H, 3H)  b, bh: (3H,)  blocks r, z, n
          r, z = sigmoid(a + r_h)[r, z];  n = tanh(a_n + r*r_h_n);  h' = (1-z)*n + z*h   (reset-after)
    mingru   k = x @ W + b, blocks z, h                   W: (n_in, 2H)    b: (2H,)    no recurrent weight
             z = sigmoid(k_z);  h~ = g(k_h);  h' = (1-z)*h + z*h~
    minlstm  k = x @ W + b, blocks f, i, h                W: (n_in, 3H)    b: (3H,)    no recurrent weight
             f, i = sigmoid(k_f), sigmoid(k_i);  f' = f/(f+i), i' = i/(f+i);  h' = f'*h + i'*g(k_h)

The last two are Feng et al.'s minimal cells ("Were RNNs All We Needed?", 2024), in the paper's log-space-safe
form: g(x) = x + 0.5 for x >= 0 and sigmoid(x) otherwise keeps every candidate state positive, so a state that
starts at zero or above stays positive. Their update is linear in h, h' = a*h + b with a, b from x alone
(``Cell.linear``), so a window can be computed by a parallel scan as well as by a loop (``TIME_MODES``;
docs/cells-and-tasks.md, "The minimal cells and the ways through time").

The readout is the same for every cell: ``out_t = h_t @ U + c``; a bidirectional model adds the backward
direction's ``bwd_W``, ``bwd_b`` (``bwd_bh``), and ``U`` then has 2H rows, the forward state's first. Stacked
layers (``layers`` > 1): layer l > 1 has the same arrays prefixed ``l{l}_``, its input the states of the layer
below (both directions', forward first); ``U`` reads the top layer.
To add a cell: docs/extending.md lists every file.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnbench.errors import lookup

BACKWARD_PREFIX = "bwd_"


@dataclass(frozen=True)
class Cell:
    name: str
    blocks: tuple[str, ...]  # the column blocks of W and b, in canonical order
    recurrent_bias: bool  # a second bias bh on the recurrent product (the GRU's reset-after form)
    states: tuple[str, ...]  # the carried state arrays, each (batch, H)
    summary: str
    recurrent: bool = True  # W has H recurrent rows below the input's (the minimal cells' gates read x only)
    linear: bool = False  # the update is h' = a*h + b with a, b from x alone: a parallel scan over time can run it

    @property
    def gates(self) -> int:
        return len(self.blocks)

    def recurrent_rows(self, state_size: int) -> int:
        """The rows of W that multiply h: H, or none for a cell whose gates read x only."""
        return state_size if self.recurrent else 0

    def direction_shapes(self, input_size: int, state_size: int) -> dict[str, tuple[int, ...]]:
        """One direction's arrays: W, b and (GRU) bh."""
        width = self.gates * state_size
        shapes = {"W": (input_size + self.recurrent_rows(state_size), width), "b": (width,)}
        if self.recurrent_bias:
            shapes["bh"] = (width,)
        return shapes


CELLS: dict[str, Cell] = {c.name: c for c in (
    Cell("rnn", ("h",), False, ("h",), "vanilla (Elman) RNN: tanh"),
    Cell("lstm", ("i", "f", "g", "o"), False, ("h", "c"), "LSTM, blocks i, f, g, o, no peepholes, no forget bias"),
    Cell("gru", ("r", "z", "n"), True, ("h",), "GRU, reset-after (cuDNN, nn.GRU, Keras reset_after=True)"),
    Cell("mingru", ("z", "h"), False, ("h",), "minGRU (Feng et al. 2024): gates from x alone, h' = (1-z) h + z g(k_h)",
         recurrent=False, linear=True),
    Cell("minlstm", ("f", "i", "h"), False, ("h",),
         "minLSTM (Feng et al. 2024): normalised f, i from x alone, h' = f' h + i' g(k_h)", recurrent=False,
         linear=True),
)}

# The ways through time (``RunConfig.time_mode``): a loop of dependent steps, or a parallel scan over the window,
# which only a cell whose update is linear in h can take (``Cell.linear``).
SEQUENTIAL, PARALLEL = "sequential", "parallel"
TIME_MODES = (SEQUENTIAL, PARALLEL)
CLASSIC_CELLS = tuple(name for name, c in CELLS.items() if not c.linear)  # the cells every framework has a layer of


def linear_cells() -> tuple[str, ...]:
    """The cells a parallel scan can run."""
    return tuple(name for name, c in CELLS.items() if c.linear)


def cell(name: str) -> Cell:
    return lookup(CELLS, name, "cell", "cell")


def permute_blocks(a, order: list[int]):
    """``a`` (..., G*H) with its G column blocks reordered: ``order[k]`` is the block that goes to place k.
    Frameworks whose gate order differs from the canonical one map through it (TF1's LSTM, Keras' GRU)."""
    import numpy as np

    blocks = np.split(a, len(order), axis=-1)
    return np.concatenate([blocks[k] for k in order], axis=-1)


def layer_prefix(layer: int) -> str:
    """The npz prefix of stacked layer ``layer`` (1-based): "" for the first, so a one-layer model keeps its keys,
    then "l2_", "l3_", ... (``l2_W``, ``l2_bwd_b``)."""
    return "" if layer == 1 else f"l{layer}_"


def layer_prefixes(layers: int) -> tuple[str, ...]:
    return tuple(layer_prefix(k) for k in range(1, layers + 1))


def param_shapes(cell_name: str, input_size: int, state_size: int, output_size: int,
                 bidirectional: bool = False, layers: int = 1) -> dict[str, tuple[int, ...]]:
    """The canonical npz keys and shapes of a model, in canonical order: W b [bh] [bwd_W bwd_b [bwd_bh]], then each
    stacked layer's the same under its prefix (``l2_W`` ...: its input is the layer below's states, every
    direction's), then U c."""
    spec = cell(cell_name)
    directions = 2 if bidirectional else 1
    shapes = {}
    for k, prefix in enumerate(layer_prefixes(layers)):
        one = spec.direction_shapes(input_size if k == 0 else directions * state_size, state_size)
        shapes.update({prefix + name: v for name, v in one.items()})
        if bidirectional:
            shapes.update({prefix + BACKWARD_PREFIX + name: v for name, v in one.items()})
    shapes["U"] = (directions * state_size, output_size)
    shapes["c"] = (output_size,)
    return shapes
