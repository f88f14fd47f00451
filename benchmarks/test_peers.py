"""The peers profile's roofline at size (``--profile peers``): for each peer case, the float32 matmul rate NumPy's
BLAS reaches at the run's threads on *that case's* matrix shapes, split as the fused RNN kernels of cuDNN and
oneDNN split a step. Forward (``peak-at-size-forward``): the input projection of every step in one product,
(T·B, I) @ (I, G·H), then one (B, H) @ (H, G·H) a step. Train (``peak-at-size-train``): those, then backward one
(B, G·H) @ (G·H, H) a step for the state's gradient and the weights' gradients of every step in one product,
(I + H, T·B) @ (T·B, G·H): the products ``rnnbench.model.flops`` counts for a train step. An implementation's
GFLOP/s over the rate of its pass is its fraction of peak at size; the 2048² ``test_peak_matmul`` is the ceiling of
large products, which a batch of 1 or 16 never reaches.

The case's train-step and forward benchmarks are ``test_train_bench``'s, parametrised by the profile's peer cases
(``benchmarks/conftest.py``).
"""

import math

import numpy as np
import pytest

from rnnbench.harness.provenance import record_info, record_rate
from rnnbench.spec.cells import cell
from rnnbench.spec.measures import Measure

PASSES = ("forward", "train")


def step_products(x_all, w_x, w_h, h, steps: int, train: bool):
    """The products of one pass at one case's shapes (one direction), each on fixed inputs: values that ran
    through a step's product unsquashed would overflow, or sink into denormals, whose arithmetic is slower."""
    gates = x_all @ w_x
    for _ in range(steps):
        h @ w_h
    if not train:
        return gates
    batch = len(h)
    for k in range(steps):  # the state's gradient, a step at a time
        gates[k * batch:(k + 1) * batch] @ w_h.T
    inputs = np.concatenate([x_all, np.tile(h, (steps, 1))], axis=1)  # (T·B, I + H)
    return inputs.T @ gates  # the weights' gradient, every step at once


@pytest.mark.benchmark(group=Measure.PEAK)
@pytest.mark.parametrize("which", PASSES)
def test_peak_at_size(benchmark, peer_reference, which):
    config = peer_reference.config
    if which == "train" and Measure.TRAIN_STEP not in peer_reference.measures:
        pytest.skip(f"{peer_reference.label}: an inference case, its forward pass alone is timed")
    T, B, D, H = config.num_steps, config.batch_size, config.input_size, config.state_size
    G = cell(config.cell).gates
    rng = np.random.default_rng(0)
    x_all = rng.standard_normal((T * B, D), dtype=np.float32)
    w_x = rng.standard_normal((D, G * H), dtype=np.float32) / math.sqrt(D)  # a float: stays float32
    w_h = rng.standard_normal((H, G * H), dtype=np.float32) / math.sqrt(H)
    h = rng.standard_normal((B, H), dtype=np.float32)
    benchmark.extra_info.update(record_info(f"peak-at-size-{which}", "calibration", np.__version__, device="cpu",
                                            threads=config.threads, measure=Measure.PEAK,
                                            label=peer_reference.label, peer_source=peer_reference.source,
                                            cell=config.cell, num_steps=T,
                                            batch_size=B, state_size=H, input_width=D))
    out = benchmark(step_products, x_all, w_x, w_h, h, T, which == "train")
    assert out.dtype == np.float32 and out.shape == ((D + H, G * H) if which == "train" else (T * B, G * H))
    forward = 2 * T * B * G * H * (D + H)
    record_rate(benchmark, forward + (2 * T * B * G * H * H + 2 * T * B * G * H * (D + H) if which == "train" else 0))
