"""What a trained model does on data it never trained on: held-out loss for every task, test accuracy for a
classifier read at the last step (digits), free-running generation for a task whose target is its next input
(sine).

Every implementation is judged by the same code: the metrics are computed from its final canonical parameters by
the NumPy reference's forward pass, in float64 (parity already shows that each implementation's own forward
agrees with it).
"""

from __future__ import annotations

import numpy as np

from rnnbench.spec.config import RunConfig
from rnnbench.spec.params import Params

FREE_RUN_EXAMPLE_POINTS = 100  # values kept of the example sequence, for the report's plot


def evaluate(config: RunConfig, params: Params, data: dict | None = None) -> dict:
    """{"eval_loss": ..., and "test_accuracy" or "free_run_mse" (with "free_run": one example) where they apply}."""
    from rnnbench.impl_numpy.model import Model  # the reference's forward pass

    task = config.task_spec
    model = Model(config.replace(dtype="float64"))
    p = params.astype(np.float64)
    xs, ys = task.eval_batches(config, data)
    state = model.zero_state(xs.shape[1], config.state_size)
    losses, correct = [], []
    for x, y in zip(xs, ys):
        start = state if task.carries_state else model.zero_state(x.shape[0], config.state_size)
        loss, out, state = model.scored(p, x, y, start)
        losses.append(loss)
        if model.classifies and not model.each_step:
            correct.append(out.argmax(axis=-1) == y)
    metrics = {"eval_loss": float(np.mean(losses))}
    if correct:
        metrics["test_accuracy"] = float(np.mean(np.concatenate(correct)))
    if task.generates and not config.bidirectional:
        x, y = xs.reshape(-1, *xs.shape[2:]), ys.reshape(-1, *ys.shape[2:])  # (S, T, 1)
        generated = model.free_run(p, x[:, 0], x.shape[1])
        metrics["free_run_mse"] = float(np.mean((generated - y) ** 2))
        keep = slice(0, FREE_RUN_EXAMPLE_POINTS)
        metrics["free_run"] = {"truth": [round(float(v), 5) for v in y[0, keep, 0]],
                               "generated": [round(float(v), 5) for v in generated[0, keep, 0]]}
    return metrics
