import numpy as np
import pytest
from conftest import REFERENCES, assert_learns

from rnnbench.config import RunConfig
from rnnbench.impl_numpy.rnn import Adagrad, NumpyRNN, loss_and_grads, run_forward
from rnnbench.params import Params, init_params
from rnnbench.task import epoch_stream
from rnnbench.train import train


def _small_problem():
    config = RunConfig(num_steps=6, state_size=5, batch_size=4, size=4 * 6, dtype="float64")
    rng = np.random.default_rng(0)
    p = init_params(config).astype(np.float64)
    p = Params(p.W, rng.normal(0, 0.3, p.b.shape), p.U, rng.normal(0, 0.3, p.c.shape))
    x = rng.integers(0, 2, (4, 6))
    y = rng.integers(0, 2, (4, 6))
    s0 = rng.normal(0, 0.5, (4, 5))  # a carried state, not zero, so the recurrent path is exercised
    return p, x, y, s0


def test_gradients_equal_central_finite_differences_float64():
    p, x, y, s0 = _small_problem()
    _, grads, _ = loss_and_grads(p, x, y, s0)
    h = 1e-6
    for name, param, grad in zip(Params._fields, p, grads):
        numeric = np.zeros_like(param)
        for idx in np.ndindex(param.shape):
            old = param[idx]
            param[idx] = old + h
            up = loss_and_grads(p, x, y, s0)[0]
            param[idx] = old - h
            down = loss_and_grads(p, x, y, s0)[0]
            param[idx] = old
            numeric[idx] = (up - down) / (2 * h)
        scale = np.abs(numeric).max()
        assert scale > 1e-4, name  # the check is not vacuous
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6 * scale, err_msg=name)


def test_forward_returns_probabilities_and_the_carried_final_state():
    p, x, y, s0 = _small_problem()
    states, log_probs = run_forward(p, x, s0)
    assert states.shape == (7, 4, 5) and log_probs.shape == (6, 4, 2)
    np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0)
    # the first step by the concat formula of the design notes
    onehot = np.eye(2)[x[:, 0]]
    s1 = np.tanh(np.concatenate([onehot, s0], axis=1) @ p.W + p.b)
    np.testing.assert_allclose(states[1], s1)
    loss, _, final = loss_and_grads(p, x, y, s0)
    np.testing.assert_array_equal(final, states[-1])
    logits = states[1:] @ p.U + p.c
    manual = np.mean(np.log(np.exp(logits).sum(-1)) - np.take_along_axis(logits, y.T[..., None], -1)[..., 0])
    assert loss == pytest.approx(manual, rel=1e-12)


def test_adagrad_has_tf1_semantics():
    p = Params(np.ones((3, 2)), np.ones(2), np.ones((2, 2)), np.ones(2))
    g = Params(*(np.full_like(a, 0.5) for a in p))
    opt = Adagrad(p, 0.1)
    opt.update(p, g)
    np.testing.assert_allclose(p.W, 1 - 0.1 * 0.5 / np.sqrt(0.1 + 0.25))
    opt.update(p, g)
    np.testing.assert_allclose(p.W, 1 - 0.1 * 0.5 / np.sqrt(0.35) - 0.1 * 0.5 / np.sqrt(0.6))


def test_impl_forward_does_not_update_and_train_step_carries_state(tiny_config):
    impl = NumpyRNN()
    impl.build(tiny_config, init_params(tiny_config))
    x, y = epoch_stream(1000, 0)
    xw, yw = x[:1000].reshape(200, 5), y[:1000].reshape(200, 5)
    probs = impl.forward(xw)
    assert probs.shape == (200, 5, 2) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(impl.params().W, init_params(tiny_config).W)
    assert not impl.state.any()
    impl.train_step(xw, yw)
    assert impl.state.any()
    assert not np.array_equal(impl.params().W, init_params(tiny_config).W)
    impl.reset_state()
    assert not impl.state.any()


def test_float32_by_default_float64_on_request(tiny_config):
    for dtype in ("float32", "float64"):
        impl = NumpyRNN()
        impl.build(tiny_config.replace(dtype=dtype), init_params(tiny_config))
        assert impl.weights.W.dtype == np.dtype(dtype) and impl.state.dtype == np.dtype(dtype)
        assert impl.params().W.dtype == np.float32


def test_one_epoch_at_5_4_learns_the_t3_dependency():
    result = train("numpy", REFERENCES["T5-S4"].config)
    assert result.steps == 1000
    assert_learns(result, "T5-S4")


@pytest.mark.slow
def test_five_epochs_at_10_16_learn_both_dependencies():
    result = train("numpy", REFERENCES["T10-S16"].config)
    assert result.steps == 2500
    assert_learns(result, "T10-S16")
