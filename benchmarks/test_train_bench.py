"""Training speed of every implementation at the reference configurations.

- ``test_train_step``: one window (forward, backward, update), the state carried from the previous call.
- ``test_epoch``: one epoch through the same ``run_epoch`` as ``rnnbench train``: a whole-epoch
  implementation gets all windows in one call, any other one window per call. Per-step time is the round
  time over ``extra_info["steps"]``.

Building (graph construction, tracing, compilation) happens in the ``built`` fixture, outside every timing,
and each benchmark warms up before its rounds.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from rnnbench.train import run_epoch

WARMUP_STEPS = 5


@pytest.mark.benchmark(group="train_step")
def test_train_step(benchmark, built):
    windows = itertools.cycle(range(len(built.xs)))

    def step() -> float:
        i = next(windows)
        return built.impl.train_step(built.xs[i], built.ys[i])

    for _ in range(WARMUP_STEPS):
        step()
    benchmark.extra_info.update(built.extra_info(measure="train_step", steps=1))
    loss = benchmark(step)
    assert math.isfinite(loss)


@pytest.mark.benchmark(group="epoch")
def test_epoch(benchmark, built):
    run_epoch(built.impl, built.xs, built.ys)  # warm-up: a first full epoch
    losses = benchmark.pedantic(run_epoch, args=(built.impl, built.xs, built.ys), rounds=3, iterations=1)
    assert losses.shape == (len(built.xs),) and np.isfinite(losses).all()
    benchmark.extra_info.update(
        built.extra_info(measure="epoch", steps=len(built.xs), final_loss=float(losses[-100:].mean()))
    )
