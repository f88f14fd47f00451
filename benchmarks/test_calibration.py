"""Machine-speed calibration: fixed code, timed in every run, so that ``rnnbench compare`` can divide out how
fast the machine is. Three probes, for the kinds of cost the implementations pay: a float32 BLAS matmul on one
thread (compute; one thread because a shared machine's second core comes and goes, which would make the probe
bimodal), a pure-Python loop (the interpreter), and a loop of small NumPy calls (per-call dispatch, which
dominates these small RNNs).

Never change these functions: stored baselines are normalised by them.
"""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

MATMUL_SIZE = 256
PYTHON_LOOP = 20_000
SMALL_CALLS = 50


def python_loop() -> int:
    total = 0
    for i in range(PYTHON_LOOP):
        total += i * i % 7
    return total


def small_numpy_calls(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    for _ in range(SMALL_CALLS):
        y = np.tanh(x @ w + 1.0)
    return y


def calibration_info(request, impl: str) -> dict:
    return {"impl": impl, "framework": "calibration", "version": np.__version__, "device": "cpu",
            "threads": request.config.getoption("--threads"), "measure": "calibration", "final_loss": None}


@pytest.mark.benchmark(group="calibration")
def test_calibration_matmul(benchmark, request):
    a = np.random.default_rng(0).random((MATMUL_SIZE, MATMUL_SIZE), dtype=np.float32)
    benchmark.extra_info.update(calibration_info(request, "calibration-matmul"))
    with threadpool_limits(limits=1):
        assert benchmark(np.matmul, a, a).shape == (MATMUL_SIZE, MATMUL_SIZE)


@pytest.mark.benchmark(group="calibration")
def test_calibration_python(benchmark, request):
    benchmark.extra_info.update(calibration_info(request, "calibration-python"))
    assert benchmark(python_loop) > 0


@pytest.mark.benchmark(group="calibration")
def test_calibration_small_numpy_calls(benchmark, request):
    x, w = np.zeros((200, 4)), np.ones((4, 4))
    benchmark.extra_info.update(calibration_info(request, "calibration-small-calls"))
    assert benchmark(small_numpy_calls, x, w).shape == (200, 4)
