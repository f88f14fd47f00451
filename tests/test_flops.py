"""The roofline's FLOP count (``rnnbench.model.flops``) against a count made another way: the products the hand-written
BPTT (``rnnbench.model.backprop``) actually calls, summed from their shapes, and the parameter elements."""

from dataclasses import replace

import numpy as np
import pytest
from conftest import HAND_WRITTEN, HAND_WRITTEN_IDS, NUMPY_OPS, REFERENCES, hand_written_config

from rnnbench.model import backprop
from rnnbench.model.flops import UPDATE_FLOPS, step_flops
from rnnbench.model.spec import ModelSpec
from rnnbench.spec.cells import cell
from rnnbench.spec.params import init_params


def counted_products(config) -> int:
    """2·m·k·n summed over every matmul of one window of ``rnnbench.model.backprop`` (NumPy operations)."""
    total = 0

    def matmul(a, b, transpose_a=False, transpose_b=False):
        nonlocal total
        a, b = (a.T if transpose_a else a), (b.T if transpose_b else b)
        total += 2 * a.shape[0] * a.shape[1] * b.shape[1]
        return a @ b

    ops = replace(NUMPY_OPS, matmul=matmul)
    B, T = config.batch_size, config.num_steps
    rows = np.ones((T * B, config.input_size))
    n_target = T * B if config.task_spec.each_step else B
    target = np.full((n_target, config.output_size), 1 / config.output_size)
    state = tuple(np.full((B, config.state_size), 0.1) for _ in cell(config.cell).states)
    backprop.loss_and_grads(ops, ModelSpec.of(config), dict(init_params(config).items()), rows, target, state)
    return total


CONFIGS = [hand_written_config(p) for p in HAND_WRITTEN] + [r.config for r in REFERENCES.values()]
IDS = HAND_WRITTEN_IDS + list(REFERENCES)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_the_counted_products_are_those_the_backpropagation_calls(config):
    flops = step_flops(config)
    assert flops.forward + flops.backward == counted_products(config)
    elements = sum(a.size for a in init_params(config))
    assert flops.update == UPDATE_FLOPS[config.optimizer] * elements
    assert flops.total == flops.forward + flops.backward + flops.update


def test_the_count_grows_with_the_state_size_squared():
    config = REFERENCES["binary-rnn-T5-S4"].config
    small, large = step_flops(config.replace(state_size=512)), step_flops(config.replace(state_size=1024))
    assert 3.9 < large.total / small.total < 4.0
    # the backward pass of a product costs twice its forward pass, less the recurrent product of the window's first
    # step: no gradient goes on into the start state, a constant of the window
    assert large.backward / large.forward == pytest.approx(2 - 1 / config.num_steps, rel=0.01)
