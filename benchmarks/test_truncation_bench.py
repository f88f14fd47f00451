"""What truncation costs (full profile, or ``--measure truncation``): one train step of the binary (10,16)
reference as BPTT(10, k1) for k1 = 10 (TF style), 5, 2 and 1 (``rnnbench.spec.references.TRUNCATION_SHIFTS``), on
the implementations that train it. A window of k2 steps advances the stream by k1, so the report divides each
step's time by k1: the cost per time step processed, which R2RT's follow-up expects evenly spread truncation to
pay about k2 / k1 times over when written the plain way (each window recomputed)."""

from __future__ import annotations

import math

from rnnbench.harness.cases import build, time_train_step
from rnnbench.harness.provenance import case_info
from rnnbench.spec.measures import Measure

WARMUP_STEPS = 3


def test_truncation_train_step(benchmark, truncation_case):
    name, ref = truncation_case
    built = build(name, ref)
    benchmark.group = Measure.TRUNCATION
    benchmark.extra_info.update(case_info(name, ref, built.impl.versions(), Measure.TRUNCATION, steps=1))
    assert math.isfinite(time_train_step(benchmark, built, WARMUP_STEPS))
