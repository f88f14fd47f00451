"""The NumPy reference: gradients against central differences for every cell, loss kind and target position,
uni- and bidirectional, and for the minimal cells both ways through time (a loop and the scan in log space); the
forward pass against the DESIGN formulas; both optimizers' semantics."""

import numpy as np
import pytest
from conftest import (
    GRADIENT_POINTS,
    MIN_GRID,
    MIN_GRID_IDS,
    REFERENCES,
    assert_learns,
    assert_matches_central_differences,
    recovered_gradients,
    task_parity_config,
)

from rnnbench.impl_numpy.cells import sigmoid
from rnnbench.impl_numpy.model import Model
from rnnbench.impl_numpy.optim import Adagrad, Adam
from rnnbench.impl_numpy.reference import NumpyReference
from rnnbench.spec.config import RunConfig
from rnnbench.spec.params import Params, init_params
from rnnbench.tasks.binary import epoch_stream
from rnnbench.training.train import train

CELLS = ("rnn", "lstm", "gru", "mingru", "minlstm")
# (cell, time_mode): every cell by its loop, and the cells linear in h by the parallel scan too
WAYS = [(c, "sequential") for c in CELLS] + [("mingru", "parallel"), ("minlstm", "parallel")]
# (task, bidirectional): tokens + each-step cross-entropy with a carried state; features + each-step squared error;
# features + last-step cross-entropy; and both directions for the two tasks of independent sequences
SETUPS = [("binary", False), ("sine", False), ("digits", False), ("sine", True), ("digits", True)]


def small_problem(task: str, cell: str, bidirectional: bool = False, layers: int = 1, time_mode: str = "sequential"):
    """A float64 model with 3 units over windows of 4 steps and 3 rows, nonzero biases, random data and state."""
    config = RunConfig.for_task(task, cell=cell, bidirectional=bidirectional, state_size=3, num_steps=4,
                                batch_size=3, size=12, dtype="float64", threads=1, layers=layers,
                                time_mode=time_mode)
    rng = np.random.default_rng(0)
    p = init_params(config).astype(np.float64)
    p = p.map(lambda a: a if a.ndim == 2 else rng.normal(0, 0.3, a.shape))  # nonzero biases
    B, T = 3, 4
    if config.task_spec.tokens:
        x = rng.integers(0, config.input_size, (B, T))
    else:
        x = rng.normal(0, 1, (B, T, config.input_size))
    if config.task_spec.loss == "mse":
        y = rng.normal(0, 1, (B, T, config.output_size))
    else:
        y = rng.integers(0, config.output_size, (B, T) if config.task_spec.each_step else (B,))
    model = Model(config)
    state = tuple(rng.normal(0, 0.5, (B, 3)) for _ in model.cell.states)  # carried, so the recurrent path counts
    return model, p, x, y, state


@pytest.mark.parametrize("cell,time_mode", WAYS)
@pytest.mark.parametrize("task,bidirectional", SETUPS)
def test_gradients_equal_central_finite_differences_float64(task, bidirectional, cell, time_mode):
    model, p, x, y, state = small_problem(task, cell, bidirectional, time_mode=time_mode)
    _, grads, _ = model.loss_and_grads(p, x, y, state)
    assert grads.names == p.names
    assert_matches_central_differences(model, p, x, y, state, grads)


def test_a_first_adagrad_step_inverts_to_the_gradient_it_took():
    """The inversion the one-step gradient parity reads gradients with: from the parameters before and after one
    Adagrad step at learning rate 1, the gradient the step used, to float64's rounding."""
    model, p, x, y, state = small_problem("random", "lstm", True, layers=2)
    _, grads, _ = model.loss_and_grads(p, x, y, state)
    after = p.map(np.copy)
    Adagrad(after, 1.0).update(after, grads)
    for name, g in recovered_gradients(p, after, 1.0).items():
        np.testing.assert_allclose(g, grads[name], rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("point", GRADIENT_POINTS)
def test_numpy_float32_one_step_gradients_at_size_match_its_float64(point, assert_gradients_at):
    """The reference in float32 against itself in float64: the rounding the tolerance allows for, measured."""
    assert assert_gradients_at("numpy", point) < 1e-5


# stacked layers: each stacked layer's gradient flows through the one above's inputs (each step and last-step
# targets, one and two directions)
STACKED_SETUPS = [("sine", False, 2), ("digits", True, 2), ("random", False, 3)]


@pytest.mark.parametrize("cell,time_mode", WAYS)
@pytest.mark.parametrize("task,bidirectional,layers", STACKED_SETUPS)
def test_stacked_gradients_equal_central_finite_differences_float64(task, bidirectional, layers, cell, time_mode):
    model, p, x, y, state = small_problem(task, cell, bidirectional, layers, time_mode)
    assert [n for n in p.names if n.endswith("W")][-1] == f"l{layers}_" + ("bwd_W" if bidirectional else "W")
    _, grads, _ = model.loss_and_grads(p, x, y, state)
    assert grads.names == p.names
    assert_matches_central_differences(model, p, x, y, state, grads)


def design_step(cell: str, p: Params, x_row: np.ndarray, state: tuple, prefix: str = "") -> tuple:
    """One step of DESIGN.md's formulas, written from the concat form, for the forward test."""
    W, b = p[prefix + "W"], p[prefix + "b"]
    h = state[0]
    if cell == "rnn":
        return (np.tanh(np.concatenate([x_row, h], 1) @ W + b),)
    if cell == "lstm":
        z = np.concatenate([x_row, h], 1) @ W + b
        i, f, g, o = np.split(z, 4, axis=1)
        c = sigmoid(f) * state[1] + sigmoid(i) * np.tanh(g)
        return sigmoid(o) * np.tanh(c), c
    if cell in ("mingru", "minlstm"):  # no recurrent rows: W is (n_in, G*H); g(k) = k + 0.5 or sigmoid(k)
        blocks = np.split(x_row @ W + b, 2 if cell == "mingru" else 3, axis=1)
        cand = np.where(blocks[-1] >= 0, blocks[-1] + 0.5, sigmoid(blocks[-1]))
        if cell == "mingru":
            z = sigmoid(blocks[0])
            return ((1 - z) * h + z * cand,)
        f, i = sigmoid(blocks[0]), sigmoid(blocks[1])
        return (f / (f + i) * h + i / (f + i) * cand,)
    n_in = x_row.shape[1]
    a, r_h = x_row @ W[:n_in] + b, h @ W[n_in:] + p[prefix + "bh"]
    (a_r, a_z, a_n), (h_r, h_z, h_n) = np.split(a, 3, axis=1), np.split(r_h, 3, axis=1)
    r, z = sigmoid(a_r + h_r), sigmoid(a_z + h_z)
    n = np.tanh(a_n + r * h_n)
    return ((1 - z) * n + z * h,)


@pytest.mark.parametrize("cell,time_mode", WAYS)
@pytest.mark.parametrize("task,bidirectional", SETUPS)
def test_forward_follows_the_design_formulas(task, bidirectional, cell, time_mode):
    model, p, x, y, state = small_problem(task, cell, bidirectional, time_mode=time_mode)
    rows = (np.eye(model.input_size)[x] if model.tokens else x)  # (B, T, n_in)
    T = rows.shape[1]
    fwd, s = [], state
    for t in range(T):
        s = design_step(cell, p, rows[:, t], s)
        fwd.append(s[0])
    feats = np.stack(fwd)
    if bidirectional:
        bwd, g = [None] * T, tuple(np.zeros_like(a) for a in state)
        for t in reversed(range(T)):
            g = design_step(cell, p, rows[:, t], g, "bwd_")
            bwd[t] = g[0]
        feats = np.concatenate([feats, np.stack(bwd)], -1)
    out = (feats if model.each_step else feats[-1]) @ p.U + p.c
    ours = model.forward(p, x, state)
    np.testing.assert_allclose(ours.out, out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.final_state[0], s[0], rtol=1e-12, atol=1e-12)
    predicted, _ = model.predict(p, x, state)
    if model.classifies:
        np.testing.assert_allclose(predicted.sum(-1), 1.0)
        assert predicted.shape == ((*x.shape[:2], model_out(p)) if model.each_step else (x.shape[0], model_out(p)))
    else:
        np.testing.assert_allclose(predicted, np.swapaxes(out, 0, 1))


def model_out(p: Params) -> int:
    return p.c.shape[0]


def test_binary_cross_entropy_is_the_mean_over_batch_and_steps():
    model, p, x, y, state = small_problem("binary", "rnn")
    f = model.forward(p, x, state)
    logits = f.out
    manual = np.mean(np.log(np.exp(logits).sum(-1)) - np.take_along_axis(logits, y.T[..., None], -1)[..., 0])
    assert model.loss(p, x, y, state)[0] == pytest.approx(manual, rel=1e-12)


def test_adagrad_has_tf1_semantics():
    p = Params(W=np.ones((3, 2)), b=np.ones(2), U=np.ones((2, 2)), c=np.ones(2))
    g = p.map(lambda a: np.full_like(a, 0.5))
    opt = Adagrad(p, 0.1)
    opt.update(p, g)
    np.testing.assert_allclose(p.W, 1 - 0.1 * 0.5 / np.sqrt(0.1 + 0.25))
    opt.update(p, g)
    np.testing.assert_allclose(p.W, 1 - 0.1 * 0.5 / np.sqrt(0.35) - 0.1 * 0.5 / np.sqrt(0.6))


def test_adam_has_torch_semantics():
    """Two steps by torch.optim.Adam's documented algorithm, written out: eps added to the corrected root."""
    p = Params(W=np.ones((2, 2)), b=np.zeros(2), U=np.ones((2, 1)), c=np.zeros(1))
    grads = [p.map(lambda a: np.full_like(a, 0.5)), p.map(lambda a: np.full_like(a, -0.2))]
    opt = Adam(p, 0.01)
    m = v = 0.0
    expected = 1.0
    for t, g in enumerate((0.5, -0.2), 1):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        expected -= 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        opt.update(p, grads[t - 1])
        np.testing.assert_allclose(p.W, expected, rtol=1e-12)


def test_impl_forward_does_not_update_and_train_step_carries_state(tiny_config):
    impl = NumpyReference()
    impl.build(tiny_config, init_params(tiny_config))
    x, y = epoch_stream(1000, 0)
    xw, yw = x[:1000].reshape(200, 5), y[:1000].reshape(200, 5)
    probs = impl.forward(xw)
    assert probs.shape == (200, 5, 2) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(impl.params().W, init_params(tiny_config).W)
    assert not impl.state[0].any()
    impl.train_step(xw, yw)
    assert impl.state[0].any()
    assert not np.array_equal(impl.params().W, init_params(tiny_config).W)
    impl.reset_state()
    assert not impl.state[0].any()


def test_independent_sequences_start_every_window_from_zero():
    """On sine, the same window gives the same forward output however many windows were trained before it."""
    config = RunConfig.for_task("sine", size=100, batch_size=50, threads=1)
    impl = NumpyReference()
    impl.build(config, init_params(config))
    xs, ys = config.task_spec.epoch_batches(config, 0)
    before = impl.forward(xs[0])
    zero = NumpyReference()
    zero.build(config, impl.params())
    impl.train_step(xs[0], ys[0])
    zero.train_step(xs[0], ys[0])
    np.testing.assert_array_equal(impl.forward(xs[1]), zero.forward(xs[1]))
    assert before.shape == (50, 49, 1)


def test_float32_by_default_float64_on_request(tiny_config):
    for dtype in ("float32", "float64"):
        impl = NumpyReference()
        impl.build(tiny_config.replace(dtype=dtype), init_params(tiny_config))
        assert impl.weights.W.dtype == np.dtype(dtype) and impl.state[0].dtype == np.dtype(dtype)
        assert impl.params().W.dtype == np.float32


def test_one_epoch_at_5_4_learns_the_t3_dependency():
    result = train("numpy", REFERENCES["binary-rnn-T5-S4"].config)
    assert result.steps == 1000
    assert_learns(result, "binary-rnn-T5-S4")


@pytest.mark.slow
def test_five_epochs_at_10_16_learn_both_dependencies():
    result = train("numpy", REFERENCES["binary-rnn-T10-S16"].config)
    assert result.steps == 2500
    assert_learns(result, "binary-rnn-T10-S16")


@pytest.mark.parametrize("label", ["sine-rnn-T49-S16", "sin2cos-rnn-T10-S32", "digits-lstm-T8-S64"])
def test_each_task_reaches_its_goal_at_its_seed_configuration(label):
    """sine: held-out MSE <= 0.1 x the repeat-last level; sin2cos: <= 0.05; digits: test accuracy >= 0.90 (LSTM)."""
    ref = REFERENCES[label]
    assert RunConfig.for_task(ref.task, threads=2) == ref.config  # `rnnbench train --task T` trains exactly this
    result = train("numpy", ref.config)
    assert_learns(result, label)
    if ref.task == "sine":
        assert result.metrics["eval_loss"] <= 0.1 * result.levels.as_dict()["repeat_last"]
        assert 0 < result.metrics["free_run_mse"] < 1.0  # generated, and bounded: it does not blow up
    if ref.task == "digits":
        assert result.metrics["test_accuracy"] >= 0.90


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_learn_both_dependencies_at_10_16_within_5_epochs(cell):
    result = train("numpy", REFERENCES[f"binary-{cell}-T10-S16"].config)
    assert result.steps == 2500 and result.final_loss <= 0.465
    assert_learns(result, f"binary-{cell}-T10-S16")


def test_bidirectional_sine_trains_and_declares_no_free_run():
    """The backward direction sees the target (the next value), so it learns fast; it cannot generate freely."""
    result = train("numpy", RunConfig.for_task("sine", bidirectional=True, epochs=2, threads=2))
    assert result.final_params.names == ("W", "b", "bwd_W", "bwd_b", "U", "c")
    assert result.metrics["eval_loss"] < 0.01 and "free_run_mse" not in result.metrics


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
@pytest.mark.parametrize("label", ["sine-rnn-T49-S16", "sin2cos-rnn-T10-S32"])
def test_the_minimal_cells_reach_the_sine_and_sin2cos_goals(label, cell):
    """minGRU and minLSTM at the task's reference configuration with the cell swapped reach its held-out goal (and
    its theory level, exact). At binary and digits they do not (docs/findings.md, "In parallel over time")."""
    ref = REFERENCES[label]
    result = train("numpy", ref.config.replace(cell=cell), progress=False)
    assert ref.goal.met(result.metrics[ref.goal.metric]), result.metrics
    assert result.levels.nearest(result.final_loss) == ref.expected_level


@pytest.mark.parametrize("point", [p for p in MIN_GRID if p[1]["time_mode"] == "parallel"],
                         ids=[i for p, i in zip(MIN_GRID, MIN_GRID_IDS) if p[1]["time_mode"] == "parallel"])
def test_the_scan_in_log_space_matches_the_loop_at_every_task(point, assert_parity_at):
    """The reference's parallel scan against its own loop, at every task's parity configuration, within 1e-4."""
    task, changes = point
    assert_parity_at("numpy", task_parity_config(task, **changes))
