"""``ModelSpec``: what the model's rules need of a run config, derived once (DESIGN.md, "Cells" and "Tasks")."""

from __future__ import annotations

from dataclasses import dataclass

from rnnbench.spec.cells import BACKWARD_PREFIX, cell, layer_prefixes
from rnnbench.spec.config import RunConfig
from rnnbench.tasks.base import XENT


@dataclass(frozen=True)
class ModelSpec:
    """Sizes, directions, readout, loss and the state-carry rule of a config's model. Hashable."""

    cell: str  # a name of rnnbench.spec.cells.CELLS
    n_in: int  # input width: classes for tokens (one-hot), features otherwise
    state_size: int
    n_out: int  # classes or values per target
    n_states: int  # the carried arrays of the cell: (h,) or (h, c)
    directions: tuple[str, ...]  # parameter-name prefixes: "" and, bidirectional, BACKWARD_PREFIX
    tokens: bool  # x holds class ids (one-hot inside), else rows of features
    each_step: bool  # a target at every step, else at the last
    classifies: bool  # softmax cross-entropy over class ids, else mean squared error over values
    carries_state: bool  # the forward state carries from window to window, else every window starts at zero
    batch_size: int
    # BPTT(k2, k1)'s k1 where it is below the window (RunConfig.shift): the forward state carried on is the one
    # after the window's first k1 steps, and the loss is taken on its last k1 positions. None: TF style.
    shift: int | None = None
    layers: tuple[str, ...] = ("",)  # the stacked layers' parameter-name prefixes, bottom first ("", "l2_", ...)
    recurrent_rows: int | None = None  # the rows of W that multiply h (None: state_size; 0 for the minimal cells)
    parallel: bool = False  # through time by a parallel scan (RunConfig.time_mode), for a cell linear in h

    @classmethod
    def of(cls, config: RunConfig) -> ModelSpec:
        task = config.task_spec
        return cls(config.cell, config.input_size, config.state_size, config.output_size,
                   len(cell(config.cell).states), ("", BACKWARD_PREFIX) if config.bidirectional else ("",),
                   task.tokens, task.each_step, task.loss == XENT, task.carries_state, config.batch_size,
                   config.shift, layer_prefixes(config.layers), cell(config.cell).recurrent_rows(config.state_size),
                   config.parallel)

    @staticmethod
    def is_backward(prefix: str) -> bool:
        """Whether ``prefix`` (a direction's, with or without its layer's: "bwd_", "l2_bwd_") is a backward one."""
        return prefix.endswith(BACKWARD_PREFIX)

    def n_in_of(self, W) -> int:
        """The input width of the layer whose W this is: the rows above the recurrent ones."""
        return W.shape[0] - (self.state_size if self.recurrent_rows is None else self.recurrent_rows)

    @property
    def carry_at(self) -> int | None:
        """After how many steps of the window the forward state to carry on is taken (None: the last)."""
        return self.shift

    def scored(self, out, y):
        """The outputs and targets the loss is taken on: every position, or BPTT(k2, k1)'s last k1 (batch-major
        (B, T, ...) at each step)."""
        return (out, y) if self.shift is None else (out[:, -self.shift:], y[:, -self.shift:])

    def start(self, ops, state: tuple) -> tuple:
        """A window's forward start, the one place the state-carry rule is applied: the carried state, or zero
        for independent sequences."""
        return state if self.carries_state else tuple(ops.zeros_like(s) for s in state)
