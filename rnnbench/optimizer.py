"""The optimizer every implementation runs: TF1 Adagrad (DESIGN.md).

    accum <- 0.1 (initial)      accum += g**2      p -= lr * g / sqrt(accum)      # no epsilon

``tf.compat.v1.train.AdagradOptimizer`` computes exactly this; ``torch.optim.Adagrad`` and Keras' Adagrad do with
``initial_accumulator_value=ADAGRAD_INITIAL_ACCUMULATOR`` and an epsilon of ``ADAGRAD_EPSILON``.
"""

ADAGRAD_INITIAL_ACCUMULATOR = 0.1  # TF1 AdagradOptimizer's default
ADAGRAD_EPSILON = 0.0
