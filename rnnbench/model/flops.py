"""Floating-point operations of one train step (one window: forward, backward, update), counted from the model's
shapes, for any task × cell × direction: the roofline's numerator.

Counted: every product, as 2·m·k·n for (m, k) @ (k, n), the way the canonical model writes it (the input product
of one-hot tokens as a dense product too, as the frameworks compute it), and the optimizer's update per parameter
element. Not counted: the cells' elementwise work (gates, nonlinearities) and the loss, which are small next to the
products and memory-bound; so the count is a lower bound of what runs, and the same bound for every implementation.

    forward, per direction:   x @ W[:n_in]  over T·B rows        2·T·B·n_in·G·H
                              h @ W[n_in:]  at each of T steps   2·T·B·H·G·H
    readout:                  [h, g] @ U    over R rows          2·R·D·O       (R = T·B at each step, else B)
    backward, per direction:  dW[:n_in], dW[n_in:]  over T·B rows   2·T·B·G·H·(n_in + H)
                              dh @ W[n_in:].T  at each step a gradient reaches    2·S·B·G·H·H
    readout:                  dU, d[h, g]                        4·R·D·O
    update:                   UPDATE_FLOPS[optimizer] per parameter element

with G the cell's gate blocks, H the state size, D = H per direction, O the outputs, and S the steps through which
a gradient goes on to the step before: T - 1 per direction (the window's start state is a constant of the window:
truncated backpropagation), except for the backward direction of a last-step task, whose read state is the first
it computed: 0. The minimal cells (mingru, minlstm) have no recurrent rows: their terms in H·G·H are zero, and
their scan's elementwise work, like every cell's, is not counted. Stacked layers: each layer's products with n_in
the width it reads (the input's for the first, D for the others); below the top, a gradient reaches every step of
both directions (S = T - 1 each), and each layer above the first adds the gradient at its input, d_xw @ W[:n_in].T
over T·B rows (2·T·B·G·H·n_in per direction).
``tests/test_flops.py`` checks the products against a count of the hand-written BPTT's (``rnnbench.model.backprop``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rnnbench.spec.cells import cell, param_shapes
from rnnbench.spec.config import RunConfig

# Operations per parameter element of one update (rnnbench.spec.optimizer's formulas).
UPDATE_FLOPS = {
    "adagrad": 5,  # g*g, accum + ., sqrt, g / ., p - lr * .
    "adam": 12,  # m: 3, v: 4, sqrt, / sqrt(1 - b2^t), + eps, m / ., p - step * .
}


@dataclass(frozen=True)
class StepFlops:
    forward: int
    backward: int
    update: int

    @property
    def total(self) -> int:
        return self.forward + self.backward + self.update


def step_flops(config: RunConfig) -> StepFlops:
    """The FLOPs of one train step of ``config`` (see the module's docstring for what is counted)."""
    B, T, H = config.batch_size, config.num_steps, config.state_size
    n_in, n_out = config.input_size, config.output_size
    G = cell(config.cell).gates
    R_h = cell(config.cell).recurrent_rows(H)  # the rows of W that multiply h: none for the minimal cells
    directions = 2 if config.bidirectional else 1
    D = directions * H
    R = T * B if config.task_spec.each_step else B
    forward, backward = 2 * R * D * n_out, 4 * R * D * n_out
    for layer in range(config.layers):
        top = layer == config.layers - 1
        width = n_in if layer == 0 else D  # a stacked layer reads every direction's states of the one below
        # steps a gradient goes back through: a layer below the top gets one at every step, in both directions
        reached = (T - 1) * (directions if config.task_spec.each_step or not top else 1)
        forward += directions * 2 * T * B * G * H * (width + R_h)
        backward += directions * 2 * T * B * G * H * (width + R_h) + reached * 2 * B * G * H * R_h
        if layer:  # the gradient at the layer below's states: d_xw @ W[:width].T over T*B rows
            backward += directions * 2 * T * B * G * H * width
    n_params = sum(math.prod(s) for s in param_shapes(config.cell, n_in, H, n_out, config.bidirectional,
                                                      config.layers).values())
    return StepFlops(forward, backward, UPDATE_FLOPS[config.optimizer] * n_params)
