"""A pytest plugin for the gate's tests: RNNBENCH_TEST_SLOWDOWN=numpy makes the numpy implementation's
train_step and forward take twice as long (a busy wait as long as the call itself). Loaded into the benchmark
processes with PYTEST_ADDOPTS="-p slowdown_plugin" and tests/ on PYTHONPATH."""

import os
import time


def _doubled(method):
    def slow(*args, **kwargs):
        start = time.perf_counter()
        result = method(*args, **kwargs)
        end = time.perf_counter() + (time.perf_counter() - start)
        while time.perf_counter() < end:
            pass
        return result

    return slow


def pytest_configure(config):
    if os.environ.get("RNNBENCH_TEST_SLOWDOWN") == "numpy":
        from impl_numpy.rnn import NumpyRNN

        NumpyRNN.train_step = _doubled(NumpyRNN.train_step)
        NumpyRNN.forward = _doubled(NumpyRNN.forward)
