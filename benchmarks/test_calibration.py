"""Machine-speed calibration: fixed code, timed in every run, so that ``rnnbench compare`` can divide out how
fast the machine is. Three probes, for the kinds of cost the implementations pay: a float32 BLAS matmul on one
thread (compute; one thread because a shared machine's second core comes and goes, which would make the probe
bimodal), a pure-Python loop (the interpreter), and a loop of small NumPy calls (per-call dispatch, which
dominates these small RNNs).

Never change these functions: stored baselines are normalised by them.

Apart from them, ``test_peak_matmul`` measures the roofline's ceiling: the float32 matmul rate NumPy's BLAS
reaches at the run's thread count, with a product large enough to reach it (``PEAK_SIZE``; the 256² probe is
far too small: tf-xla-epoch at state size 1024 did more than twice its one-thread rate). It is not a calibration
probe (``compare`` never divides by it, nor judges it).
"""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from rnnbench.harness.provenance import record_info, record_rate
from rnnbench.spec.measures import Measure

MATMUL_SIZE = 256
PYTHON_LOOP = 20_000
SMALL_CALLS = 50
PEAK_SIZE = 2048  # 17 GFLOP per product: about 0.1 s at 2 threads here


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
    return record_info(impl, "calibration", np.__version__, device="cpu",
                       threads=request.config.getoption("--threads"), measure=Measure.CALIBRATION)


@pytest.mark.benchmark(group=Measure.CALIBRATION)
def test_calibration_matmul(benchmark, request):
    a = np.random.default_rng(0).random((MATMUL_SIZE, MATMUL_SIZE), dtype=np.float32)
    benchmark.extra_info.update(calibration_info(request, "calibration-matmul"))
    with threadpool_limits(limits=1):
        product = benchmark(np.matmul, a, a)
    np.testing.assert_allclose(product[:2], a[:2].astype(np.float64) @ a, rtol=1e-4)


@pytest.mark.benchmark(group=Measure.CALIBRATION)
def test_calibration_python(benchmark, request):
    benchmark.extra_info.update(calibration_info(request, "calibration-python"))
    # the same sum, computed apart: a probe that stopped doing its work would not match it
    assert benchmark(python_loop) == int((np.arange(PYTHON_LOOP, dtype=np.int64) ** 2 % 7).sum())


@pytest.mark.benchmark(group=Measure.CALIBRATION)
def test_calibration_small_numpy_calls(benchmark, request):
    x, w = np.zeros((200, 4)), np.ones((4, 4))
    benchmark.extra_info.update(calibration_info(request, "calibration-small-calls"))
    np.testing.assert_allclose(benchmark(small_numpy_calls, x, w), np.tanh(1.0))


@pytest.mark.benchmark(group=Measure.PEAK)
def test_peak_matmul(benchmark, request):
    """float32 (n, n) @ (n, n) at the run's thread count (the session's BLAS limit): flops and the median's
    gflops."""
    a = np.random.default_rng(0).random((PEAK_SIZE, PEAK_SIZE), dtype=np.float32)
    threads = request.config.getoption("--threads")
    benchmark.extra_info.update(record_info("peak-matmul", "calibration", np.__version__, device="cpu",
                                            threads=threads, measure=Measure.PEAK))
    product = benchmark(np.matmul, a, a)
    np.testing.assert_allclose(product[:2], a[:2].astype(np.float64) @ a, rtol=1e-4)
    record_rate(benchmark, 2 * PEAK_SIZE**3)
