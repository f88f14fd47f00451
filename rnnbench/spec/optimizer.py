"""The optimizers every implementation runs, with one semantics each (DESIGN.md). A task's seed picks one
(``Task.defaults``); ``--optimizer`` overrides it.

Adagrad, as TF1's ``AdagradOptimizer``:

    accum <- 0.1 (initial)      accum += g**2      p -= lr * g / sqrt(accum)      # no epsilon

``torch.optim.Adagrad`` and Keras' Adagrad compute it with ``initial_accumulator_value=ADAGRAD_INITIAL_ACCUMULATOR``
and an epsilon of ``ADAGRAD_EPSILON``.

Adam, as ``torch.optim.Adam`` (step t from 1):

    m <- b1*m + (1-b1)*g      v <- b2*v + (1-b2)*g**2
    p -= (lr / (1 - b1**t)) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)     # eps added to the bias-corrected root
"""

ADAGRAD_INITIAL_ACCUMULATOR = 0.1  # TF1 AdagradOptimizer's default
ADAGRAD_EPSILON = 0.0

ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999
ADAM_EPSILON = 1e-8
