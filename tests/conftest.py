import os
import sys

import pytest

# Keep BLAS and framework pools small and equal in tests; results do not depend on it.
os.environ.setdefault("OMP_NUM_THREADS", "2")


# TensorFlow and PyTorch never share an interpreter (importing both aborts the process). A marker expression
# that leaves out a family keeps its test module from being imported at all; with both selected, whichever
# family is imported second is skipped, with the reason.
FAMILY_MODULES = {"test_tf.py": ("tf", "tensorflow"), "test_torch.py": ("torch", "torch")}


def pytest_ignore_collect(collection_path, config):
    if collection_path.name not in FAMILY_MODULES:
        return None
    marker = FAMILY_MODULES[collection_path.name][0]
    markexpr = config.getoption("markexpr", "")
    if not markexpr:
        return None
    from _pytest.mark.expression import Expression

    selected = Expression.compile(markexpr).evaluate(lambda name, **kwargs: name == marker)
    return True if not selected else None


def skip_if_other_framework_loaded(own: str) -> None:
    """Module-level guard for test_tf.py and test_torch.py."""
    for _, module in FAMILY_MODULES.values():
        if module != own and module in sys.modules:
            pytest.skip(
                f"{module} is already imported in this interpreter and {own} never shares one with it; "
                f"run this family alone (pytest -m {'tf' if own == 'tensorflow' else 'torch'}, or its tox env)",
                allow_module_level=True,
            )


@pytest.fixture
def tiny_config():
    from rnnbench.config import RunConfig

    # 50 windows of (batch 200, num_steps 5) per epoch
    return RunConfig(num_steps=5, state_size=4, batch_size=200, size=50 * 200 * 5, threads=2)


PARITY_STEPS = 50
PARITY_TOLERANCE = 1e-4  # float32, DESIGN.md


def parity_config(num_steps: int, state_size: int):
    from rnnbench.config import RunConfig

    # exactly PARITY_STEPS windows in one epoch
    return RunConfig(num_steps=num_steps, state_size=state_size, size=PARITY_STEPS * 200 * num_steps, threads=2)


@pytest.fixture(scope="session")
def numpy_reference():
    """The NumPy run each parity test compares against, cached per configuration."""
    from rnnbench.train import train

    cache = {}

    def get(num_steps: int, state_size: int):
        key = (num_steps, state_size)
        if key not in cache:
            cache[key] = train("numpy", parity_config(num_steps, state_size))
        return cache[key]

    return get


@pytest.fixture
def assert_parity(numpy_reference):
    """Train ``name`` for 50 steps from the canonical weights and data; losses and params must match NumPy."""
    import numpy as np

    from rnnbench.train import train

    def check(name: str, num_steps: int, state_size: int, **changes):
        reference = numpy_reference(num_steps, state_size)
        result = train(name, parity_config(num_steps, state_size).replace(**changes))
        assert result.steps == PARITY_STEPS
        np.testing.assert_allclose(result.losses, reference.losses, rtol=0, atol=PARITY_TOLERANCE,
                                   err_msg=f"{name}: per-step losses")
        for field, ours, theirs in zip(("W", "b", "U", "c"), result.final_params, reference.final_params):
            assert ours.shape == theirs.shape and ours.dtype == np.float32, field
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=PARITY_TOLERANCE,
                                       err_msg=f"{name}: {field} after {PARITY_STEPS} steps")
        # not vacuous: the parameters moved well beyond the tolerance
        from rnnbench.params import init_params

        assert np.abs(result.final_params.W - init_params(result.config).W).max() > 10 * PARITY_TOLERANCE
        return result

    return check
