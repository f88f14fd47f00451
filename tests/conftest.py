import os

import pytest

# Keep BLAS and framework pools small and equal in tests; results do not depend on it.
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture
def tiny_config():
    from rnnbench.config import RunConfig

    # 50 windows of (batch 200, num_steps 5) per epoch
    return RunConfig(num_steps=5, state_size=4, batch_size=200, size=50 * 200 * 5, threads=2)
