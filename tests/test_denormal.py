"""Denormal honesty: the inputs the denormal benchmark scales put the LSTM's states and weight gradients into
denormals (in NumPy, which does not flush them), and the benchmark's selection."""

import numpy as np

from rnnbench.harness.cases import DENORMAL_INPUTS, denormal, denormal_cases
from rnnbench.impl_numpy.model import Model
from rnnbench.spec.params import init_params
from rnnbench.spec.references import DENORMAL_AT, reference_configs


def test_scaled_inputs_put_every_lstm_state_and_weight_gradient_into_denormals():
    ref = next(r for r in reference_configs(timed=True) if r.label == DENORMAL_AT)
    config = ref.config
    assert config.cell == "lstm" and not config.task_spec.tokens
    xs, ys = config.task_spec.epoch_batches(config, 0)
    x, y = xs[0], ys[0]
    tiny = np.finfo(np.float32).tiny
    scaled = denormal(x)
    assert scaled.dtype == x.dtype and np.all((scaled == 0) == (x == 0)) and np.abs(scaled).max() < tiny
    model = Model(config)
    p = init_params(config)
    state = model.zero_state(x.shape[0], config.state_size)
    normal = model.forward(p, x, state).features
    f = model.forward(p, scaled, state)
    nonzero = np.abs(f.features[f.features != 0])
    assert np.abs(normal).max() > tiny  # the same model on the plain inputs: normal states
    assert len(nonzero) > 0.9 * f.features.size and nonzero.max() < tiny  # denormal, not flushed to zero
    _, grads, _ = model.loss_and_grads(p, scaled, y, state)
    assert 0 < np.abs(grads.W).max() < tiny  # the update keeps the weights' part in denormals too


def test_each_implementation_is_timed_on_normal_inputs_then_on_denormal_ones():
    points = denormal_cases(["numpy", "torch-rnn"], threads=1, device="cpu")
    assert [(n, ref.label, inputs) for n, ref, inputs in points] == [
        (n, DENORMAL_AT, i) for n in ("numpy", "torch-rnn") for i in DENORMAL_INPUTS]
    assert DENORMAL_INPUTS == ("normal", "denormal")
    assert denormal_cases(["numpy"], threads=1, device="cpu", tasks=["binary"]) == []
