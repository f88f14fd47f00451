"""Data generation: the vectorised generator against the original sample-by-sample loop, same run.

Target: 1,000,000 samples in at most 20 ms on a 2-core machine (the original loop: about 700 ms).
"""

import numpy as np
import pytest

from rnnbench.harness.provenance import record_info
from rnnbench.spec.measures import Measure
from rnnbench.tasks.binary import generate, target_probability

SIZE = 1_000_000


def original_loop(size: int, rng: np.random.Generator):
    """The tutorial's generator, one Python iteration per sample (with burn-in instead of wrap-around)."""
    x = rng.integers(0, 2, size=size + 8)
    y = []
    for i in range(8, size + 8):
        p = target_probability(x[i - 3], x[i - 8])
        y.append(0 if rng.random() > p else 1)
    return x[8:], np.array(y)


def generator_info(request, impl: str) -> dict:
    return record_info(impl, "numpy", np.__version__, device="cpu", threads=request.config.getoption("--threads"),
                       measure=Measure.GENERATE, size=SIZE)


@pytest.mark.benchmark(group="generate-1M")
def test_generate_vectorised(benchmark, request):
    benchmark.extra_info.update(generator_info(request, "generator-vectorised"))
    x, y = benchmark(generate, SIZE, np.random.default_rng(0))
    assert len(x) == len(y) == SIZE


@pytest.mark.benchmark(group="generate-1M")
def test_generate_original_loop(benchmark, request, profile):
    benchmark.extra_info.update(generator_info(request, "generator-original-loop"))
    x, y = benchmark.pedantic(original_loop, args=(SIZE, np.random.default_rng(0)), rounds=profile.original_loop_rounds,
                              iterations=1)
    assert len(x) == len(y) == SIZE
