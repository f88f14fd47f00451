"""Speed of every implementation at the reference configurations, one framework family per process.

Groups (each a pytest-benchmark group, so a table compares like with like):

- ``train``: a whole reference run from the canonical weights (binary: 1 epoch at (5,4), 5 at (10,16); each
  other task at its seed's settings), built fresh. Its extra_info carries the final loss against the task's
  theory levels, the held-out metrics and the goal (``rnnbench.training.evaluate``), time-to-target (seconds and steps,
  or not reached) and the peak memory growth (RSS; on CUDA also the GPU's maximum allocated memory).
- ``build``: graph construction, and the tracing and compilation of what training calls (the window step, or a
  whole-epoch variant's epoch; a function training never calls compiles at its first call, in its measure's
  warm-up): one cold round, the training run's build where the case has one.
- ``train_step``: one window (forward, backward, update), the state carried from the previous call.
- ``forward``: inference on one window.
- ``epoch``: one epoch through the same ``run_epoch`` as ``rnnbench train``; a whole-epoch implementation
  gets all windows in one call. Per-step time is the round time over ``extra_info["steps"]``; ``flops`` is one
  step's (``rnnbench.model.flops``), so the report gives each its achieved rate against the run's matmul peak.

Each case is built once, by its training run: the build record takes that build's time, and ``train_step``,
``forward`` and ``epoch`` time the implementation that run trained (built outside every timing), each from a zero
state after a warm-up. The binary references are timed by every measure; the other tasks' by their training run
(whose record carries the build time) and the epoch (``Reference.measures``): one build per case, which keeps the
main job within its time. Where the training run had as many epochs after its first as the profile times, the
epoch record's rounds are those epochs (``timed_in: "training run"``), not epochs run again. Each timed call
returns only once its result is on the host (a float loss, a NumPy array).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnbench.errors import UnsupportedError
from rnnbench.harness.cases import (
    TIMED_IN_TRAINING,
    TRAINED_BUILDS,
    TRAINED_EPOCHS,
    keep_built,
    keep_trained,
    record_rounds,
    record_trained_dispatch,
    require,
    time_train_step,
)
from rnnbench.harness.memory import PeakMemory, fresh_process_memory
from rnnbench.harness.provenance import case_info, record_rate
from rnnbench.model.flops import step_flops
from rnnbench.results.schema import TRACE_STEPS
from rnnbench.spec import registry
from rnnbench.spec.measures import Measure
from rnnbench.spec.params import init_params
from rnnbench.spec.parity import parity_tolerance
from rnnbench.tasks.base import XENT
from rnnbench.training.evaluate import evaluate
from rnnbench.training.train import run_epoch, train

WARMUP_STEPS = 5


@pytest.mark.benchmark(group=Measure.TRAIN)
def test_train(benchmark, case, profile):
    """The reference run: final loss against theory, time-to-target and memory, from one fresh training."""
    name, ref = case
    with PeakMemory(ref.config.device) as memory:
        try:
            result = benchmark.pedantic(train, args=(name, ref.config),
                                        kwargs={"progress": False, "held_out": False}, rounds=1, iterations=1)
        except UnsupportedError as exc:
            pytest.skip(f"{name}: {exc}")
    result.metrics = evaluate(ref.config, result.final_params)  # after the clock: not part of the training run
    levels = result.levels
    reached = result.time_to_target(ref.target)
    benchmark.extra_info.update(case_info(
        name, ref, result.versions, Measure.TRAIN,
        final_loss=result.final_loss,
        expected_level=ref.expected_level,
        nearest_level=levels.nearest(result.final_loss),
        learned=ref.learned(result.final_loss, levels, result.metrics),
        **result.metrics,
        steps=result.steps,
        build_seconds=result.build_seconds,
        train_seconds=result.train_seconds,
        us_per_step=result.us_per_step,
        target=ref.target,
        loss_band=list(ref.loss_band),
        reached=reached is not None,
        steps_to_target=reached[0] if reached else None,
        seconds_to_target=reached[1] if reached else None,
        peak_rss_mb=memory.rss_growth_mb,
        cuda_max_allocated_mb=memory.cuda_max_allocated_mb,
        loss_curve=result.loss_curve(),
        first_losses=[float(v) for v in result.losses[:TRACE_STEPS]],  # the report's parity figure
        parity_tolerance=parity_tolerance(ref.config),  # how far from NumPy's its losses may lie (the figure's line)
    ))
    assert result.steps == ref.config.epochs * ref.config.windows_per_epoch
    assert np.isfinite(result.losses).all()
    record_trained_dispatch(benchmark, name, ref, result, profile)  # full profile, where no train step is timed
    keep_trained(name, ref, result, profile)


@pytest.mark.benchmark(group=Measure.BUILD)
def test_build(benchmark, case):
    """One cold build from the canonical parameters: the case's training run's (run just before it, its build
    timed the same way), else one of its own, whose implementation the case's later tests take."""
    name, ref = case
    require(ref, Measure.BUILD)
    trained = TRAINED_BUILDS.pop((name, ref.label), None)
    if trained is not None:
        seconds, versions = trained
        record_rounds(benchmark, [seconds])
        benchmark.extra_info.update(case_info(name, ref, versions, Measure.BUILD, timed_in=TIMED_IN_TRAINING))
        return
    params = init_params(ref.config)

    def fresh():
        return (registry.create(name, ref.config), ref.config, params), {}

    def build_only(impl, config, params):
        impl.build(config, params)
        return impl

    try:
        impl = benchmark.pedantic(build_only, setup=fresh, rounds=1, iterations=1)
    except UnsupportedError as exc:
        pytest.skip(f"{name}: {exc}")
    benchmark.extra_info.update(case_info(name, ref, impl.versions(), Measure.BUILD))
    for ours, canonical in zip(impl.params(), params):  # the build loaded the canonical weights
        np.testing.assert_allclose(ours, canonical, rtol=0, atol=1e-6)
    keep_built(name, ref, impl)


@pytest.mark.benchmark(group=Measure.MEMORY)
def test_memory(benchmark, case, profile):
    """The reference run's memory in a fresh process of its own (full profile: each one imports its framework)."""
    name, ref = case
    if not profile.fresh_memory:
        pytest.skip(f"{ref.label}: memory in a fresh process is measured in the full profile")
    result = benchmark.pedantic(fresh_process_memory, args=(name, ref.config), rounds=1, iterations=1)
    benchmark.extra_info.update(case_info(name, ref, result.pop("versions"), Measure.MEMORY, **result))
    assert result["model_rss_mb"] <= result["peak_rss_mb"]


@pytest.mark.benchmark(group=Measure.TRAIN_STEP)
def test_train_step(benchmark, case, request):
    require(case[1], Measure.TRAIN_STEP)  # before anything is built
    built = request.getfixturevalue("fresh_state")
    benchmark.extra_info.update(case_info(built.name, built.reference, built.impl.versions(), Measure.TRAIN_STEP,
                                          steps=1))
    assert math.isfinite(time_train_step(benchmark, built, WARMUP_STEPS))


@pytest.mark.benchmark(group=Measure.FORWARD)
def test_forward(benchmark, case, request):
    require(case[1], Measure.FORWARD)
    built = request.getfixturevalue("fresh_state")
    x = built.xs[0]
    for _ in range(WARMUP_STEPS):
        built.impl.forward(x)
    benchmark.extra_info.update(case_info(built.name, built.reference, built.impl.versions(), Measure.FORWARD,
                                          steps=1))
    out = benchmark(built.impl.forward, x)
    record_rate(benchmark, step_flops(built.config).forward)
    task = built.config.task_spec
    batch, steps = x.shape[:2]
    assert out.shape == ((batch, steps, built.config.output_size) if task.each_step
                         else (batch, built.config.output_size))
    if task.loss == XENT:  # probabilities
        np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.benchmark(group=Measure.EPOCH)
def test_epoch(benchmark, case, profile, request):
    name, ref = case
    require(ref, Measure.EPOCH)
    trained = TRAINED_EPOCHS.pop((name, ref.label), None)
    if trained is not None:  # the training run's epochs after its first: the same run_epoch, timed once already
        seconds, versions = trained
        record_rounds(benchmark, seconds)
        benchmark.extra_info.update(case_info(name, ref, versions, Measure.EPOCH,
                                              steps=ref.config.windows_per_epoch,
                                              flops=step_flops(ref.config).total, timed_in=TIMED_IN_TRAINING))
        return
    built = request.getfixturevalue("fresh_state")
    if not built.warm:  # warm already: a training run's implementation, or a stepwise one after its train step
        run_epoch(built.impl, built.xs, built.ys)  # warm-up: a first full epoch
    losses = benchmark.pedantic(run_epoch, args=(built.impl, built.xs, built.ys), rounds=profile.epoch_rounds,
                                iterations=1)
    assert losses.shape == (len(built.xs),) and np.isfinite(losses).all()
    benchmark.extra_info.update(case_info(built.name, built.reference, built.impl.versions(), Measure.EPOCH,
                                          steps=len(built.xs), flops=step_flops(built.config).total))
