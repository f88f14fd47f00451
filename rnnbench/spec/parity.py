"""How far an implementation's step losses may lie from the NumPy reference's, from the same canonical weights and
data: one tolerance for every implementation, derived from the configuration, never tuned per implementation.

At the tutorials' sizes it is DESIGN.md's 1e-4 (``PARITY_TOLERANCE``, what the tests hold every point of their grid
to). At the peers' sizes the rounding of longer sums could reach further, so the tolerance is the larger of that and
what float32 accumulation predicts for the case (docs/cells-and-tasks.md, "Parity at size", has the derivation):

    tol = max(1e-4, λ · u · sqrt(n · T) · L0)

- u: the unit roundoff of the run's dtype (2^-24 for float32);
- n: the longest reduction of a step, the inner dimension of its longest product: n_in + H for the first layer's
  [x, h] @ W, D + H for a stacked layer's, D for the readout (D = H per direction);
- T: the steps a state goes through. A product of n terms carries a relative error of at most λ·u·sqrt(n) with
  probability 1 - 2·exp(-λ²/2) (Higham & Mary 2019, probabilistic rounding error analysis; λ = 6: 3e-8 per
  product); T steps of a contracting recurrence (tanh and sigmoid have slopes of at most 1) add T such errors,
  independently, so sqrt(T) times as much;
- L0: the loss's scale, its "nothing learned" level (ln C for C classes, the mean square of the targets), which
  turns that relative error into a loss difference. The mean over the batch's targets is not credited (its
  terms share the weights), so the bound is a conservative one.

Measured against it, NumPy's own float32 run lies 2.6e-7 from its float64 run over 20 steps of the fastrnns case
(LSTM 512 x 100 x 64), whose tolerance is 2.6e-4.

One step's gradients (``gradient_tolerance``) are held to a relative tolerance of the same form, without the
loss's scale: each parameter's gradient within ``max(1e-4, λ · u · sqrt(n_g · T))`` of the largest element of NumPy's
(float64), where n_g is the longest reduction the backward pass makes: a weight's gradient sums over every step of
every sequence (T·B rows), so n_g = max(n, T·B).
"""

from __future__ import annotations

import math

PARITY_TOLERANCE = 1e-4  # DESIGN.md: every implementation's step losses within this of NumPy's at the tutorials' sizes
UNIT_ROUNDOFF = {"float32": 2.0**-24, "float64": 2.0**-53}
CONFIDENCE = 6.0  # λ of the probabilistic bound


def longest_reduction(config) -> int:
    """The inner dimension of a step's longest product: [x, h] @ W of the first layer, a stacked layer's
    [states below, h] @ W, or the readout's [h, g] @ U."""
    D = (2 if config.bidirectional else 1) * config.state_size
    return max(config.input_size + config.state_size, (D + config.state_size) if config.layers > 1 else 0, D)


def parity_tolerance(config) -> float:
    """The largest |step loss - NumPy's step loss| that parity allows at ``config`` (a RunConfig)."""
    scale = config.task_spec.levels().nothing_learned()
    predicted = CONFIDENCE * UNIT_ROUNDOFF[config.dtype] * math.sqrt(longest_reduction(config) * config.num_steps)
    return max(PARITY_TOLERANCE, predicted * scale)


def gradient_reduction(config) -> int:
    """The longest reduction of one step's backward pass: a step's longest product, or a weight gradient's sum over
    every step of every sequence in the window (T·B rows)."""
    return max(longest_reduction(config), config.num_steps * config.batch_size)


def gradient_tolerance(config) -> float:
    """The largest max|g - g_NumPy| / max|g_NumPy| one step's gradient of a parameter may show at ``config``."""
    predicted = CONFIDENCE * UNIT_ROUNDOFF[config.dtype] * math.sqrt(gradient_reduction(config) * config.num_steps)
    return max(PARITY_TOLERANCE, predicted)
