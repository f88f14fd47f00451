"""The model's rules written once (``rnnbench.model``) against the NumPy reference, which is written apart from
them by hand: the forward pass, the hand-written BPTT and the functional optimizers over NumPy's operations give
what the reference gives, in float64, at every task, cell and direction. Each framework's own tests then check
its binding of ``Ops`` (and its idiomatic variants) against the same reference."""

import numpy as np
import pytest
from conftest import HAND_WRITTEN, HAND_WRITTEN_IDS, NUMPY_OPS, hand_written_config

from rnnbench.errors import UserError
from rnnbench.impl_numpy.model import Model as Reference
from rnnbench.impl_numpy.optim import OPTIMIZERS as REFERENCE_OPTIMIZERS
from rnnbench.model import backprop, forward, optim
from rnnbench.model.cells import CELL_MATH, cell_math
from rnnbench.model.spec import ModelSpec
from rnnbench.spec.cells import CELLS
from rnnbench.spec.params import init_params


def _point(point):
    """A float64 config, perturbed parameters, one window and a nonzero start state."""
    config = hand_written_config(point)
    rng = np.random.default_rng(3)
    params = init_params(config).map(lambda a: a + 0.1 * rng.standard_normal(a.shape))
    xs, ys = config.task_spec.epoch_batches(config, 0)
    state = tuple(0.3 * rng.standard_normal((config.batch_size, config.state_size)) for _ in CELLS[config.cell].states)
    return config, params, xs[0], ys[0], state


@pytest.mark.parametrize("point", HAND_WRITTEN, ids=HAND_WRITTEN_IDS)
def test_forward_pass_equals_the_reference(point):
    config, params, x, y, state = _point(point)
    spec = ModelSpec.of(config)
    out, final = forward.outputs(NUMPY_OPS, spec, dict(params.items()), forward.inputs(NUMPY_OPS, spec, x, np.float64),
                                  state)
    expected, expected_final = Reference(config).predict(params, x, state)
    np.testing.assert_allclose(forward.predictions(NUMPY_OPS, spec, out), expected, rtol=1e-12, atol=1e-14)
    for a, b in zip(final, expected_final, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    loss, _ = Reference(config).loss(params, x, y, state)
    assert forward.loss(NUMPY_OPS, spec, out, y) == pytest.approx(loss, rel=1e-12)


@pytest.mark.parametrize("point", HAND_WRITTEN, ids=HAND_WRITTEN_IDS)
def test_hand_written_bptt_equals_the_reference(point):
    config, params, x, y, state = _point(point)
    spec = ModelSpec.of(config)
    rows, target = forward.rows(NUMPY_OPS, spec, x, np.float64), forward.targets(NUMPY_OPS, spec, y, np.float64)
    loss, grads, final = backprop.loss_and_grads(NUMPY_OPS, spec, dict(params.items()), rows, target, state)
    # the shared BPTT applies the state-carry rule itself (a task of independent sequences starts from zero)
    expected_loss, expected, expected_final = Reference(config).loss_and_grads(params, x, y,
                                                                               spec.start(NUMPY_OPS, state))
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    assert set(grads) == set(params.names)
    for name in params.names:
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-9, atol=1e-13, err_msg=name)
        assert np.abs(grads[name]).max() > 1e-6, name  # not vacuous
    for a, b in zip(final, expected_final, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
def test_functional_optimizers_equal_the_reference(name):
    config = hand_written_config(("binary", "gru", False))
    rng = np.random.default_rng(5)
    params = init_params(config).map(lambda a: a.astype(np.float64))
    reference = REFERENCE_OPTIMIZERS[name](params, config.learning_rate)
    ours = optim.optimizer(name)
    values = tuple(np.array(a) for a in params)
    slots = ours.slots(NUMPY_OPS, values)
    for _ in range(4):
        grads = params.map(lambda a: rng.standard_normal(a.shape))
        reference.update(params, grads)
        values, slots = ours.apply(NUMPY_OPS, config.learning_rate, values, slots, tuple(grads))
    for n, a, b in zip(params.names, values, params, strict=True):
        # Adam's corrections here are -expm1(t ln beta), the reference's 1 - beta^t: the last bits differ
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, err_msg=n)


def test_every_cell_has_its_math_and_an_unknown_one_is_refused():
    assert set(CELL_MATH) == set(CELLS)
    with pytest.raises(UserError, match="cell: unknown cell 'peephole'; valid: rnn, lstm, gru, mingru, minlstm"):
        cell_math("peephole")
    with pytest.raises(UserError, match="optimizer: unknown optimizer 'sgd'"):
        optim.optimizer("sgd")


@pytest.mark.parametrize("point", HAND_WRITTEN, ids=HAND_WRITTEN_IDS)
def test_time_major_rows_and_targets_of_stacked_windows(point):
    """``rows`` and ``targets`` put row t*B + r at step t of sequence r, for one window and for windows stacked
    in front (a whole epoch at once)."""
    config = hand_written_config(point)
    spec = ModelSpec.of(config)
    xs, ys = config.task_spec.epoch_batches(config, 0)
    xs, ys = xs[:2], ys[:2]
    rows, target = forward.rows(NUMPY_OPS, spec, xs, np.float64), forward.targets(NUMPY_OPS, spec, ys, np.float64)
    B, T = config.batch_size, xs.shape[2]
    assert rows.shape == (2, T * B, spec.n_in)
    assert target.shape == (2, T * B if spec.each_step else B, spec.n_out)
    t, r = T - 1, B - 1
    step_input = xs[1, r, t]
    expected_row = np.eye(spec.n_in)[step_input] if spec.tokens else step_input
    np.testing.assert_array_equal(rows[1, t * B + r], expected_row)
    expected_target = ys[1, r, t] if spec.each_step else ys[1, r]
    if spec.classifies:
        expected_target = np.eye(spec.n_out)[expected_target]
    np.testing.assert_array_equal(target[1, t * B + r if spec.each_step else r], expected_target)
    np.testing.assert_array_equal(forward.rows(NUMPY_OPS, spec, xs[1], np.float64), rows[1])
