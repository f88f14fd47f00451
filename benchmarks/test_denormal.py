"""Denormal honesty (full profile, or ``--measure denormal``): one train step of the LSTM reference that reads
features (``rnnbench.harness.cases.DENORMAL_AT``) on its inputs, then on the same inputs scaled into denormals
(``cases.denormal``), which drive every state, pre-activation and weight gradient below the smallest normal
number. Where a framework's arithmetic does not flush denormals, each operation on them may take a slow path
(oneDNN#561 measured an LSTM 18-27x slower); the report sets the two steps side by side with whether the framework
flushes (its path). Each implementation is built once for both.
"""

from __future__ import annotations

import math
from dataclasses import replace

from rnnbench.harness.cases import Built, build, denormal, time_train_step
from rnnbench.harness.provenance import case_info
from rnnbench.spec.measures import Measure

WARMUP_STEPS = 3
_BUILT: dict[str, Built] = {}  # the normal-input test's implementation, for the denormal test that follows it


def test_denormal_train_step(benchmark, denormal_case):
    name, ref, inputs = denormal_case
    built = _BUILT.pop(name, None) or build(name, ref)
    if inputs == "normal":
        _BUILT[name] = built
    else:
        built = replace(built, xs=denormal(built.xs))
    built.impl.reset_state()
    benchmark.group = Measure.DENORMAL
    benchmark.extra_info.update(case_info(name, ref, built.impl.versions(), Measure.DENORMAL, steps=1,
                                          inputs=inputs))
    assert math.isfinite(time_train_step(benchmark, built, WARMUP_STEPS))
