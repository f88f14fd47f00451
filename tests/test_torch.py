"""PyTorch implementations: parity with NumPy, parameter layouts, convergence, threads and devices."""

import numpy as np
import pytest
from conftest import (
    GRADIENT_POINTS,
    GRID,
    GRID_IDS,
    HAND_WRITTEN,
    HAND_WRITTEN_IDS,
    MIN_GRID,
    MIN_GRID_IDS,
    REFERENCES,
    TRUNCATIONS,
    assert_dispatch_follows_the_model,
    assert_forward_matches_numpy,
    assert_learns,
    assert_reaches_task_goal,
    assert_round_trip,
    check_minimal_parity,
    clip_parity_config,
    clipping,
    dispatch_of,
    hand_written_config,
    parity_config,
    random_grads,
    skip_if_other_framework_loaded,
    skip_unless_supported,
    task_parity_config,
    truncating,
    truncation_parity_config,
)

skip_if_other_framework_loaded("torch")
pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'rnnbench[torch]')")

import torch  # noqa: E402

from rnnbench.errors import UnsupportedError  # noqa: E402
from rnnbench.spec import registry  # noqa: E402
from rnnbench.spec.config import RunConfig  # noqa: E402
from rnnbench.spec.params import init_params  # noqa: E402
from rnnbench.tasks.binary import TASK as BINARY  # noqa: E402
from rnnbench.training.train import train  # noqa: E402

pytestmark = pytest.mark.torch

TORCH_NAMES = [e.name for e in registry.ENTRIES if e.framework == "torch"]
FASTEST = "torch-compile"
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible to PyTorch")


def test_entries_satisfy_the_interface():
    from test_registry_train import assert_entries_satisfy_the_interface

    assert_entries_satisfy_the_interface("torch")


def test_the_required_variants_are_registered():
    assert {"torch-rnn", "torch-cell", "torch-manual", "torch-fused", FASTEST} <= set(TORCH_NAMES)


@pytest.mark.parametrize("shape", [(5, 4), (10, 16)], ids=["binary-rnn-T5-S4", "binary-rnn-T10-S16"])
@pytest.mark.parametrize("name", TORCH_NAMES)
def test_parity_with_numpy(name, shape, assert_parity):
    assert_parity(name, *shape)


@pytest.mark.parametrize("point", GRADIENT_POINTS)
@pytest.mark.parametrize("name", TORCH_NAMES)
def test_one_step_gradients_at_size_match_numpy_float64(name, point, assert_gradients_at):
    """Parity at size, gradients first hand: the step's loss and every parameter's gradient against NumPy's in
    float64, within rnnbench.spec.parity's tolerances for the point."""
    assert_gradients_at(name, point)


@pytest.mark.parametrize("point", GRID, ids=GRID_IDS)
@pytest.mark.parametrize("name", TORCH_NAMES)
def test_parity_with_numpy_across_tasks_and_cells(name, point, assert_parity_at):
    task, changes = point
    config = task_parity_config(task, **changes)
    skip_unless_supported(name, config)
    if name == FASTEST and task == "sine" and config.bidirectional:
        pytest.skip("torch-compile's sine-bi build takes 33 s cold, too long for CI; its compiled bidirectional "
                    "code is checked at digits, its sine code at sine")
    assert_parity_at(name, config)


@pytest.mark.parametrize("name", ["torch-rnn", "torch-cell"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_canonical_weights_round_trip_through_the_module_layouts(name, cell, bidirectional):
    """canonical -> nn.RNN/LSTM/GRU (…_l0, …_l0_reverse) or the cell modules' tensors -> canonical is exact; the
    gate blocks are the canonical ones; the second bias of the vanilla RNN and the LSTM is zero and frozen, both
    of the GRU's train."""
    impl, params = assert_round_trip(name, cell, bidirectional)
    for prefix in ("", "bwd_") if bidirectional else ("",):
        W, b = params[prefix + "W"], params[prefix + "b"]
        np.testing.assert_array_equal(impl.tensor("weight_ih", prefix).detach().numpy(), W[:1].T)
        np.testing.assert_array_equal(impl.tensor("weight_hh", prefix).detach().numpy(), W[1:].T)
        bias_hh = impl.tensor("bias_hh", prefix)
        if cell == "gru":
            np.testing.assert_array_equal(bias_hh.detach().numpy(), params[prefix + "bh"])
            assert bias_hh.requires_grad
        else:
            np.testing.assert_array_equal(impl.tensor("bias_ih", prefix).detach().numpy(), b)
            assert not bias_hh.requires_grad and not bias_hh.detach().any()
    if name == "torch-rnn" and bidirectional:
        assert impl.rnn.weight_hh_l0_reverse is impl.tensor("weight_hh", "bwd_")


def test_nn_rnn_layout_on_the_binary_task():
    impl = registry.create("torch-rnn")
    params = init_params(RunConfig(state_size=16)).copy()
    params.b[:] = np.arange(16)  # non-zero biases, so the bias mapping is exercised
    impl.build(RunConfig(state_size=16, size=2000, threads=2), params)
    np.testing.assert_array_equal(impl.rnn.weight_ih_l0.detach().numpy(), params.W[:2].T)
    np.testing.assert_array_equal(impl.rnn.bias_ih_l0.detach().numpy(), params.b)
    assert impl.linear.weight.shape == (2, 16)
    for ours, theirs in zip(impl.params(), params):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("point", HAND_WRITTEN, ids=HAND_WRITTEN_IDS)
def test_hand_written_window_equals_autograd(point):
    """torch-fused's window (``rnnbench.model.backprop`` over PyTorch's operations) gives the loss, the
    final state and, through the optimizer, the parameters that autograd of the model and
    torch.optim give, in float64, for every task, cell and direction."""
    config = hand_written_config(point)
    rng = np.random.default_rng(1)
    params = init_params(config).map(lambda a: a + 0.1 * rng.standard_normal(a.shape))
    fused, manual = registry.create("torch-fused", config), registry.create("torch-manual", config)
    fused.build(config, params)
    manual.build(config, params)
    if config.task_spec.carries_state:
        start = [rng.standard_normal(s.shape) * 0.3 for s in fused.state]
        fused.state = manual.state = tuple(torch.tensor(s) for s in start)
    xs, ys = config.task_spec.epoch_batches(config, 0)
    for x, y in zip(xs[:3], ys[:3]):
        assert fused.train_step(x, y) == pytest.approx(manual.train_step(x, y), rel=1e-12)
    for a, b in zip(fused.state, manual.state, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    theirs = {n: w.detach().numpy() for n, w in manual.weights.items()}
    for name, w in zip(fused.names, fused.weights, strict=True):
        np.testing.assert_allclose(w.numpy(), theirs[name], rtol=1e-9, atol=1e-12, err_msg=name)
        assert not np.array_equal(w.numpy(), params[name]), name  # every parameter moved


def test_optimizer_has_tf1_adagrad_semantics():
    impl = registry.create("torch-rnn")
    impl.build(RunConfig(size=2000, threads=2), init_params(RunConfig()))
    group = impl.optimizer.param_groups[0]
    assert isinstance(impl.optimizer, torch.optim.Adagrad)
    assert group["eps"] == 0 and group["initial_accumulator_value"] == 0.1 and group["lr"] == 0.1


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_forward_gives_probabilities_without_updating(name, built_at_parity):
    assert_forward_matches_numpy(built_at_parity(name))


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_one_epoch_at_5_4_learns_the_t3_dependency(name):
    result = train(name, REFERENCES["binary-rnn-T5-S4"].config)
    assert_learns(result, "binary-rnn-T5-S4")
    assert result.versions["torch"] == torch.__version__


@pytest.mark.slow
@pytest.mark.parametrize("name", ["torch-rnn", FASTEST])
def test_five_epochs_at_10_16_learn_both(name):
    assert_learns(train(name, REFERENCES["binary-rnn-T10-S16"].config), "binary-rnn-T10-S16")


@pytest.mark.slow
@pytest.mark.parametrize("task", ["sine", "sin2cos", "digits"])
@pytest.mark.parametrize("name", TORCH_NAMES)
def test_every_variant_reaches_each_tasks_goal(name, task):
    assert_reaches_task_goal(name, task)


def test_adam_is_torch_optim_adam():
    impl = registry.create("torch-rnn")
    config = RunConfig.for_task("digits", threads=2)
    impl.build(config, init_params(config))
    group = impl.optimizer.param_groups[0]
    assert isinstance(impl.optimizer, torch.optim.Adam)
    assert group["eps"] == 1e-8 and group["betas"] == (0.9, 0.999) and group["lr"] == config.learning_rate


def test_compilation_happens_in_build_and_at_the_first_step_and_nothing_after():
    """torch-compile compiles its epoch loop in build (timed as build) and its window step at the first
    ``train_step`` (the train-step benchmark's warm-up takes it); the steps, forward windows and whole epochs of
    training that follow make Dynamo compile no further graph. (Built here, not shared: every torch-compile build
    starts from empty Dynamo caches, which would recompile an older one.)"""
    from torch._dynamo.utils import counters

    def graphs():
        return counters["stats"].get("unique_graphs", 0)

    config = parity_config(5, 4)
    impl = registry.create(FASTEST, config)
    before_build = graphs()
    impl.build(config, init_params(config))
    assert graphs() - before_build == 1  # the epoch loop
    xs, ys = BINARY.epoch_batches(parity_config(5, 4), 0)
    impl.train_epoch(xs, ys)
    assert graphs() - before_build == 1
    for i in range(3):
        impl.train_step(xs[i], ys[i])
        impl.forward(xs[i])
    assert graphs() - before_build == 2  # and the window step
    compiled = dict(counters["stats"])
    impl.train_epoch(xs, ys)
    impl.train_step(xs[0], ys[0])
    assert dict(counters["stats"]) == compiled


def test_threads_are_applied_and_a_change_is_refused_once_pytorch_has_started(monkeypatch):
    registry.create("torch-rnn").build(RunConfig(size=1000, threads=2), init_params(RunConfig()))
    assert torch.get_num_threads() == 2 and torch.get_num_interop_threads() == 2

    def started(n):  # what PyTorch does once its inter-op pool has run work
        raise RuntimeError("Error: cannot set number of interop threads after parallel work has started")

    monkeypatch.setattr(torch, "set_num_interop_threads", started)
    with pytest.raises(UnsupportedError, match="threads: PyTorch already started in this process with 2"):
        registry.create("torch-rnn").build(RunConfig(size=1000, threads=3), init_params(RunConfig()))
    torch.set_num_threads(2)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error given without a GPU")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(UnsupportedError, match="device: cuda was asked for, but PyTorch sees no CUDA GPU"):
        registry.create("torch-rnn").build(RunConfig(size=1000, threads=2, device="cuda"), init_params(RunConfig()))


@needs_cuda
@pytest.mark.parametrize("name", TORCH_NAMES)
def test_cuda_parity_with_numpy(name, assert_parity):
    result = assert_parity(name, 5, 4, device="cuda")
    assert result.versions.get("gpu")


@needs_cuda
@pytest.mark.parametrize("point", GRID, ids=GRID_IDS)
@pytest.mark.parametrize("name", TORCH_NAMES)
def test_cuda_parity_with_numpy_across_tasks_and_cells(name, point, assert_parity_at):
    task, changes = point
    config = task_parity_config(task, device="cuda", **changes)
    skip_unless_supported(name, config)
    assert_parity_at(name, config)


@needs_cuda
@pytest.mark.parametrize("name", ["torch-rnn", FASTEST])
def test_cuda_one_epoch_learns_the_t3_dependency(name):
    assert_learns(train(name, REFERENCES["binary-rnn-T5-S4"].config.replace(device="cuda")), "binary-rnn-T5-S4")


# --- the NumPy reference's new cells against an independent one: torch autograd of DESIGN.md's formulas ----------


def design_cell_step(cell: str, p: dict, x_row, state):
    """One step of DESIGN.md's LSTM or GRU, written from the formulas in torch (not from the NumPy code)."""
    W, b = p["W"], p["b"]
    h = state[0]
    if cell == "lstm":
        i, f, g, o = torch.chunk(torch.cat([x_row, h], 1) @ W + b, 4, dim=1)
        c = torch.sigmoid(f) * state[1] + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    n_in = x_row.shape[1]
    a_r, a_z, a_n = torch.chunk(x_row @ W[:n_in] + b, 3, dim=1)
    h_r, h_z, h_n = torch.chunk(h @ W[n_in:] + p["bh"], 3, dim=1)
    r, z = torch.sigmoid(a_r + h_r), torch.sigmoid(a_z + h_z)
    n = torch.tanh(a_n + r * h_n)
    return ((1 - z) * n + z * h,)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_numpy_lstm_and_gru_match_torch_autograd_of_the_design_math(cell):
    """50 steps on the binary task at (10,16) from canonical weights with nonzero biases: the NumPy reference's
    per-step losses and final parameters against torch autograd + torch.optim.Adagrad(initial 0.1, eps 0) in
    float64, state carried from window to window."""
    config = parity_config(10, 16).replace(cell=cell)
    rng = np.random.default_rng(5)
    params = init_params(config).map(lambda a: a if a.ndim == 2 else rng.normal(0, 0.2, a.shape).astype(np.float32))
    reference = train("numpy", config, params=params)

    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    opt = torch.optim.Adagrad(list(p.values()), lr=config.learning_rate, initial_accumulator_value=0.1, eps=0)
    xs, ys = BINARY.epoch_batches(config, 0)
    state = tuple(torch.zeros(config.batch_size, 16, dtype=torch.float64) for _ in range(2 if cell == "lstm" else 1))
    losses = []
    for x, y in zip(xs, ys):
        rows = torch.nn.functional.one_hot(torch.from_numpy(x).long(), 2).double()  # (B, T, 2)
        outputs = []
        for t in range(x.shape[1]):
            state = design_cell_step(cell, p, rows[:, t], state)
            outputs.append(state[0] @ p["U"] + p["c"])
        logits = torch.stack(outputs, 1).reshape(-1, 2)
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y).long().reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        state = tuple(s.detach() for s in state)  # truncated backpropagation: no gradient across windows
        losses.append(loss.item())
    assert reference.steps == len(losses) == 50
    np.testing.assert_allclose(reference.losses, losses, rtol=0, atol=1e-4)
    for name, ours in reference.final_params.items():
        np.testing.assert_allclose(ours, p[name].detach().numpy(), rtol=0, atol=1e-4, err_msg=name)
    assert np.abs(reference.final_params.W - params.W).max() > 1e-2  # the weights really moved


def test_numpy_adam_is_torch_optim_adam():
    """The same gradients through the NumPy reference's Adam and torch.optim.Adam: the same parameters."""
    from rnnbench.impl_numpy.optim import Adam
    from rnnbench.spec.params import Params

    rng = np.random.default_rng(0)
    ours = Params(W=rng.normal(size=(3, 4)), b=rng.normal(size=4))
    theirs = [torch.tensor(a, requires_grad=True) for a in ours]
    opt, torch_opt = Adam(ours, 0.01), torch.optim.Adam(theirs, lr=0.01)
    for _ in range(20):
        grads = ours.map(lambda a: rng.normal(scale=1e-3, size=a.shape))
        opt.update(ours, grads)
        for t, g in zip(theirs, grads):
            t.grad = torch.tensor(g)
        torch_opt.step()
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a, t.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_dispatch_counts_a_known_computation():
    """torch.profiler sees the operators called: matmul (whose mm runs inside it), add and tanh a layer."""
    from rnnbench.impl_torch.runtime import count_dispatch

    x, w, b = torch.ones(2, 3), torch.ones(3, 3), torch.ones(3)

    def layers(n):
        def run():
            h = x
            for _ in range(n):
                h = torch.tanh(h @ w + b)
        return run

    one, two = count_dispatch(None, layers(1)), count_dispatch(None, layers(2))
    assert (one.launches, one.ops) == (3, 3)
    assert (two.launches, two.ops) == (6, 6)


def test_dispatch_follows_the_window():
    assert_dispatch_follows_the_model("torch-manual")


def test_a_compiled_step_launches_less_than_an_eager_one():
    eager, compiled = dispatch_of("torch-fused", 5), dispatch_of("torch-compile", 5)
    assert compiled.launches < eager.launches / 3, (compiled, eager)


def test_the_path_reads_onednn_and_the_lstm_kernel_back_from_the_process():
    """PyTorch's path (``rnnbench.spec.path``) is read from the running process: switching oneDNN off shows as a
    path that says so and an LSTM that took PyTorch's own kernel."""
    from rnnbench.impl_torch import runtime

    on = runtime.path()
    assert set(on) >= {"torch_onednn", "torch_lstm_kernel", "torch_float32_matmul_precision",
                       "torch_flushes_denormals", "torch_threads"}
    assert on["torch_float32_matmul_precision"] == torch.get_float32_matmul_precision()
    assert isinstance(on["torch_flushes_denormals"], bool)
    with torch.backends.mkldnn.flags(enabled=False):
        off = runtime.path()
    assert off["torch_onednn"] is False and off["torch_lstm_kernel"].startswith("native")
    if torch.set_flush_denormal(True):  # this CPU can flush: the path measures it
        try:
            assert runtime.path()["torch_flushes_denormals"] is True
        finally:
            torch.set_flush_denormal(False)
    assert runtime.path()["torch_flushes_denormals"] is False


def test_no_onednn_switches_it_off_in_every_benchmark_process_and_the_path_says_so():
    """``rnnbench bench --no-onednn``: the family processes get the environment that switches oneDNN off, and a
    PyTorch process started with it reads its path back as oneDNN off, nn.LSTM on PyTorch's own kernel."""
    import json
    import os
    import subprocess
    import sys

    from rnnbench.commands.bench import family_environment, request_of
    from rnnbench.commands.cli import build_parser

    env = family_environment(request_of(build_parser().parse_args(["bench", "--no-onednn"])))
    assert env["RNNBENCH_ONEDNN"] == "0" and env["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert family_environment(request_of(build_parser().parse_args(["bench"]))) is None  # this process's, unchanged
    code = "import json; from rnnbench.impl_torch import runtime; print(json.dumps(runtime.path()))"
    off = json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                    check=True).stdout.splitlines()[-1])
    assert off["torch_onednn"] is False and off["torch_lstm_kernel"].startswith("native")
    if torch.backends.mkldnn.is_available():
        on = json.loads(subprocess.run([sys.executable, "-c", code], env={**os.environ, "RNNBENCH_ONEDNN": "1"},
                                       capture_output=True, text=True, check=True).stdout.splitlines()[-1])
        assert on["torch_onednn"] is True


@pytest.mark.parametrize("k2, k1", TRUNCATIONS, ids=[f"bptt-{k2}-{k1}" for k2, k1 in TRUNCATIONS])
@pytest.mark.parametrize("name", truncating(TORCH_NAMES))
def test_truncation_parity_with_numpy(name, k2, k1, assert_parity_at):
    """BPTT(k2, k1): windows of k2 every k1 steps, the loss on the last k1 positions, the state after the first k1
    carried on: every step loss and parameter within 1e-4 of NumPy over 50 steps."""
    assert_parity_at(name, truncation_parity_config(k2, k1))


@pytest.mark.parametrize("name", clipping(TORCH_NAMES))
def test_clipping_parity_with_numpy(name, assert_parity_at):
    """Global-norm clipping before the update, acting at every step: every loss and parameter within 1e-4 of
    NumPy's over 50 steps."""
    assert_parity_at(name, clip_parity_config())


def test_clip_grad_norm_is_the_reference_global_norm_clipping():
    from rnnbench.impl_numpy.reference import clip_by_global_norm
    from rnnbench.spec.params import Params

    arrays = random_grads()
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    for t, a in zip(tensors, arrays):
        t.grad = torch.tensor(a)
    torch.nn.utils.clip_grad_norm_(tensors, 2.0)
    ours = clip_by_global_norm(Params(dict(zip("W b U c".split(), arrays))), 2.0)
    for t, a in zip(tensors, ours):
        np.testing.assert_allclose(t.grad.numpy(), a, rtol=2e-6)


# The minimal cells both ways through time at every task: torch-manual and torch-fused at every point, the others at
# binary's (their builds compile or unroll each configuration: CI's time).
MIN_EVERY_TASK = {"torch-manual", "torch-fused"}


@pytest.mark.parametrize("point", MIN_GRID, ids=MIN_GRID_IDS)
@pytest.mark.parametrize("name", TORCH_NAMES)
def test_minimal_cells_match_numpy_both_ways_through_time(name, point, assert_parity_at):
    """minGRU and minLSTM by the family's loop and by its parallel scan against NumPy's loop, within 1e-4 (float32;
    sine in float64), from the same weights and data, the binary task's carried state included."""
    check_minimal_parity(name, point, MIN_EVERY_TASK, assert_parity_at)
