"""How the cost grows (full profile only): one train step while one parameter is swept from the (5,4)
reference: state_size 4..1024, num_steps 5..200, batch_size 1..2000. ``rnnbench bench`` fits the log-log
slope of time against state_size and num_steps for each implementation.
"""

from __future__ import annotations

import math

from conftest import build, extra_info, time_train_step

WARMUP_STEPS = 3


def test_scaling_train_step(benchmark, sweep_case):
    name, ref, field = sweep_case
    built = build(name, ref)
    benchmark.group = f"scaling-{field}"
    benchmark.extra_info.update(extra_info(name, ref, built.impl.versions(), measure="scaling", steps=1,
                                           sweep=field, sweep_value=getattr(ref.config, field)))
    assert math.isfinite(time_train_step(benchmark, built, WARMUP_STEPS))
