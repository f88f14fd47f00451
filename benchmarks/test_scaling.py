"""How the cost grows (full profile only): one train step while one parameter is swept from the (5,4)
reference: state_size 4..1024, num_steps 5..200, batch_size 1..2000. ``rnnbench bench`` fits the log-log
slope of time against state_size and num_steps for each implementation.
"""

from __future__ import annotations

import math

from rnnbench.harness.cases import build, time_train_step
from rnnbench.harness.provenance import case_info
from rnnbench.spec.measures import Measure

WARMUP_STEPS = 3


def test_scaling_train_step(benchmark, sweep_case):
    name, ref, field = sweep_case
    built = build(name, ref)
    benchmark.group = f"scaling-{field}"
    benchmark.extra_info.update(case_info(name, ref, built.impl.versions(), Measure.SCALING, steps=1,
                                          sweep=field, sweep_value=getattr(ref.config, field)))
    assert math.isfinite(time_train_step(benchmark, built, WARMUP_STEPS))
