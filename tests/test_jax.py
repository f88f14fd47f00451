"""JAX implementations: parity with NumPy across the grid, the optax optimizers' semantics, compilation in build,
convergence, threads and devices."""

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
    check_minimal_parity,
    clip_parity_config,
    clipping,
    hand_written_config,
    parity_config,
    random_grads,
    skip_if_other_framework_loaded,
    skip_unless_supported,
    task_parity_config,
    truncating,
    truncation_parity_config,
)

skip_if_other_framework_loaded("jax")
pytest.importorskip("jax", reason="JAX is not installed (pip install 'rnnbench[jax]')")
pytest.importorskip("optax", reason="optax is not installed (pip install 'rnnbench[jax]')")

import jax  # noqa: E402
import optax  # noqa: E402

from rnnbench.errors import UnsupportedError  # noqa: E402
from rnnbench.spec import registry  # noqa: E402
from rnnbench.spec.config import RunConfig  # noqa: E402
from rnnbench.spec.params import init_params  # noqa: E402
from rnnbench.tasks.binary import TASK as BINARY  # noqa: E402
from rnnbench.training.train import train  # noqa: E402

pytestmark = pytest.mark.jax

JAX_NAMES = [e.name for e in registry.ENTRIES if e.framework == "jax"]
THREADS = 2  # JAX fixes its thread count when it starts: every test here runs at this one (REFERENCES' too)


@pytest.fixture(scope="module", autouse=True)
def runtime_started():
    """JAX started at THREADS before any test of this module, whichever runs first."""
    from rnnbench.impl_jax.runtime import start

    start(RunConfig(threads=THREADS))
needs_gpu = pytest.mark.skipif(not any(d.platform == "gpu" for d in jax.devices()), reason="no GPU visible to JAX")


def test_entries_satisfy_the_interface():
    from test_registry_train import assert_entries_satisfy_the_interface

    assert_entries_satisfy_the_interface("jax")


def test_the_required_variants_are_registered():
    assert {"jax-jit", "jax-scan", "jax-flax"} <= set(JAX_NAMES)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_canonical_weights_round_trip_through_flax_modules(cell, bidirectional):
    """canonical -> Flax's nn.SimpleCell / nn.LSTMCell and nn.Dense parameters -> canonical is exact; each gate's
    blocks sit in Flax's input and recurrent kernels (i, f, g, o), the one bias in the layer Flax gives it."""
    pytest.importorskip("flax", reason="Flax is not installed (pip install 'rnnbench[jax]')")
    config = RunConfig.for_task("sine" if bidirectional else "binary", cell=cell, bidirectional=bidirectional,
                                size=1000, threads=THREADS, dtype="float64")
    rng = np.random.default_rng(3)
    params = init_params(config).map(lambda a: rng.standard_normal(a.shape))
    impl = registry.create("jax-flax", config)
    impl.build(config, params)
    n_in, H = config.input_size, config.state_size
    for prefix in ("", "bwd_") if bidirectional else ("",):
        W, b = params[prefix + "W"], params[prefix + "b"]
        if cell == "rnn":
            np.testing.assert_array_equal(impl.tensor("i/kernel", prefix), W[:n_in])
            np.testing.assert_array_equal(impl.tensor("h/kernel", prefix), W[n_in:])
            np.testing.assert_array_equal(impl.tensor("i/bias", prefix), b)
        else:
            for k, gate in enumerate("ifgo"):
                block = slice(k * H, (k + 1) * H)
                np.testing.assert_array_equal(impl.tensor(f"i{gate}/kernel", prefix), W[:n_in, block])
                np.testing.assert_array_equal(impl.tensor(f"h{gate}/kernel", prefix), W[n_in:, block])
                np.testing.assert_array_equal(impl.tensor(f"h{gate}/bias", prefix), b[block])
    np.testing.assert_array_equal(np.asarray(impl.params_["readout"]["kernel"]), params["U"])
    for ours, theirs in zip(impl.canonical(), params, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_flax_declares_the_gru_it_cannot_express():
    assert "gru" not in registry.entry("jax-flax").cells
    assert "GRUCell gives the r and z gates one bias each" in registry.entry("jax-flax").gap


@pytest.mark.parametrize("shape", [(5, 4), (10, 16)], ids=["binary-rnn-T5-S4", "binary-rnn-T10-S16"])
@pytest.mark.parametrize("name", JAX_NAMES)
def test_parity_with_numpy(name, shape, assert_parity):
    assert_parity(name, *shape)


@pytest.mark.parametrize("point", GRADIENT_POINTS)
@pytest.mark.parametrize("name", JAX_NAMES)
def test_one_step_gradients_at_size_match_numpy_float64(name, point, assert_gradients_at):
    """Parity at size, gradients first hand: the step's loss and every parameter's gradient against NumPy's in
    float64, within rnnbench.spec.parity's tolerances for the point."""
    assert_gradients_at(name, point)


@pytest.mark.parametrize("point", GRID, ids=GRID_IDS)
@pytest.mark.parametrize("name", JAX_NAMES)
def test_parity_with_numpy_across_tasks_and_cells(name, point, assert_parity_at):
    task, changes = point
    config = task_parity_config(task, **changes)
    skip_unless_supported(name, config)
    assert_parity_at(name, config)


@pytest.mark.parametrize("name", JAX_NAMES)
def test_forward_gives_probabilities_without_updating(name, built_at_parity):
    assert_forward_matches_numpy(built_at_parity(name))


@pytest.mark.parametrize("point", HAND_WRITTEN, ids=HAND_WRITTEN_IDS)
def test_hand_written_gradients_equal_autodiff(point):
    """jax-scan's hand-written gradients (``rnnbench.model.backprop`` over JAX's operations) give the loss, the final
    state and every gradient that ``jax.value_and_grad`` of the model gives, in float64, for every task, cell and
    direction, from a nonzero carried state."""
    import jax.numpy as jnp

    from rnnbench.impl_jax.model import Model

    config = hand_written_config(point)
    model = Model(config)
    rng = np.random.default_rng(1)
    params = {n: jnp.asarray(a + 0.1 * rng.standard_normal(a.shape)) for n, a in init_params(config).items()}
    state = tuple(jnp.asarray(rng.standard_normal(s.shape) * 0.3) for s in model.zero_state(jnp.float64))
    xs, ys = config.task_spec.epoch_batches(config, 0)
    loss, grads, final = jax.jit(model.grads_by_hand)(params, state, xs[0], ys[0])
    their_loss, their_grads, their_final = jax.jit(model.grads_autodiff)(params, state, xs[0], ys[0])
    assert float(loss) == pytest.approx(float(their_loss), rel=1e-12)
    for a, b in zip(final, their_final, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert set(grads) == set(their_grads) == set(params)
    for name in params:
        np.testing.assert_allclose(grads[name], their_grads[name], rtol=1e-9, atol=1e-12, err_msg=name)
        assert np.abs(np.asarray(grads[name])).max() > 1e-6, name  # not vacuous


def test_optimizers_are_optax_with_the_canonical_semantics():
    """optax.adagrad from an accumulator of 0.1 with no epsilon (TF1's), and optax.adam with torch.optim.Adam's
    hyperparameters; one update of each against the formulas of ``rnnbench.spec.optimizer``."""
    from rnnbench.impl_jax import runtime

    g = np.array([0.5, -2.0])
    p = np.array([1.0, 1.0])
    adagrad = runtime.optimizer(RunConfig(learning_rate=0.1))
    state = adagrad.init(p)
    updates, _ = adagrad.update(g, state, p)
    np.testing.assert_allclose(optax.apply_updates(p, updates), p - 0.1 * g / np.sqrt(0.1 + g * g), rtol=1e-12)
    adam = runtime.optimizer(RunConfig(optimizer="adam", learning_rate=0.01))
    state = adam.init(p)
    for _ in range(2):  # the second step's bias corrections are not 1 - b**1
        updates, state = adam.update(g, state, p)
    m = 0.9 * (0.1 * g) + 0.1 * g
    v = 0.999 * (0.001 * g * g) + 0.001 * g * g
    expected = p - (0.01 / (1 - 0.9**2)) * m / (np.sqrt(v) / np.sqrt(1 - 0.999**2) + 1e-8)
    np.testing.assert_allclose(p + updates, expected, rtol=1e-7)


def _compiles(run) -> list[str]:
    """The compilations JAX logs while ``run()`` runs."""
    import logging

    compiled = []
    handler = logging.Handler()
    handler.emit = lambda record: compiled.append(record.getMessage())
    with jax.log_compiles(True):
        logging.getLogger("jax").addHandler(handler)
        try:
            run()
        finally:
            logging.getLogger("jax").removeHandler(handler)
    return [m for m in compiled if "Compiling" in m]


@pytest.mark.parametrize("name", ["jax-jit", "jax-scan"])
def test_build_compiles_what_training_calls_and_training_traces_nothing(name):
    """Build compiles, ahead of time (timed as build), what training calls: jax-jit's window step, jax-scan's
    epoch. Training then traces nothing new; jax-scan's window step, which training never calls, compiles once at
    its first call."""
    config = parity_config(5, 4)
    impl = registry.create(name, config)
    impl.build(config, init_params(config))
    xs, ys = BINARY.epoch_batches(config, 0)

    def steps():
        for i in range(3):
            impl.train_step(xs[i], ys[i])

    if impl.whole_epoch:
        assert isinstance(impl.epoch, jax.stages.Compiled)
        assert _compiles(lambda: (impl.train_epoch(xs, ys), impl.train_epoch(xs, ys))) == []
        assert len(_compiles(steps)) == 1
    else:
        assert isinstance(impl.step, jax.stages.Compiled)
        assert _compiles(steps) == []


def test_the_epoch_is_the_window_step_scanned():
    """jax-scan's compiled epoch (hand-written gradients at this window length) gives what jax-jit's window step
    (autodiff) gives called once per window, the state carried."""
    config = parity_config(10, 16).replace(cell="lstm")
    params = init_params(config)
    xs, ys = BINARY.epoch_batches(config, 0)
    scan, jit = registry.create("jax-scan", config), registry.create("jax-jit", config)
    scan.build(config, params)
    jit.build(config, params)
    np.testing.assert_allclose(scan.train_epoch(xs, ys), [jit.train_step(x, y) for x, y in zip(xs, ys)],
                               rtol=0, atol=1e-6)
    for a, b in zip(scan.params(), jit.params()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", JAX_NAMES)
def test_one_epoch_at_5_4_learns_the_t3_dependency(name):
    result = train(name, REFERENCES["binary-rnn-T5-S4"].config)
    assert_learns(result, "binary-rnn-T5-S4")
    assert result.versions["jax"] == jax.__version__ and result.versions["optax"] == optax.__version__


@pytest.mark.slow
@pytest.mark.parametrize("name", JAX_NAMES)
def test_five_epochs_at_10_16_learn_both(name):
    assert_learns(train(name, REFERENCES["binary-rnn-T10-S16"].config), "binary-rnn-T10-S16")


@pytest.mark.slow
@pytest.mark.parametrize("task", ["sine", "sin2cos", "digits"])
@pytest.mark.parametrize("name", JAX_NAMES)
def test_every_variant_reaches_each_tasks_goal(name, task):
    assert_reaches_task_goal(name, task)


def test_a_thread_change_is_refused_once_jax_has_started():
    registry.create("jax-jit").build(RunConfig(size=1000, threads=THREADS), init_params(RunConfig()))
    with pytest.raises(UnsupportedError, match=f"threads: JAX already started in this process with {THREADS} threads"):
        registry.create("jax-jit").build(RunConfig(size=1000, threads=THREADS + 1), init_params(RunConfig()))


@pytest.mark.skipif(any(d.platform == "gpu" for d in jax.devices()), reason="checks the error given without a GPU")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(UnsupportedError, match="device: cuda was asked for, but JAX sees no CUDA GPU"):
        registry.create("jax-jit").build(RunConfig(size=1000, threads=THREADS, device="cuda"), init_params(RunConfig()))


@needs_gpu
@pytest.mark.parametrize("point", GRID, ids=GRID_IDS)
@pytest.mark.parametrize("name", JAX_NAMES)
def test_cuda_parity_with_numpy_across_tasks_and_cells(name, point, assert_parity_at):
    task, changes = point
    config = task_parity_config(task, device="cuda", **changes)
    skip_unless_supported(name, config)
    assert_parity_at(name, config)


def test_dispatch_counts_known_computations():
    """Op by op, each operation is an executable of its own; jitted, the whole computation is one, and its kernels
    grow with it."""
    import jax.numpy as jnp

    from rnnbench.impl_jax.runtime import count_dispatch, start

    start(RunConfig(threads=THREADS))

    x, w, b = jnp.ones((2, 3)), jnp.ones((3, 3)), jnp.ones(3)

    def layers(h, n):
        for _ in range(n):
            h = jnp.tanh(h @ w + b)
        return h

    eager = count_dispatch(None, lambda: layers(x, 2).block_until_ready())
    assert eager.launches == 6 and eager.ops >= 6
    jitted = [jax.jit(lambda h, n=n: layers(h, n)) for n in (1, 2)]
    for f in jitted:
        f(x).block_until_ready()  # compiled before it is counted
    one, two = (count_dispatch(None, lambda f=f: f(x).block_until_ready()) for f in jitted)
    assert one.launches == two.launches == 1
    assert two.ops > one.ops > 0


def test_dispatch_follows_the_window():
    assert_dispatch_follows_the_model("jax-jit")


def test_the_path_reads_the_backend_precision_and_x64_back_from_the_process():
    from rnnbench.impl_jax import runtime

    p = runtime.path()
    assert p["jax_backend"] == jax.default_backend() and p["jax_enable_x64"] is True  # the runtime turns x64 on
    assert p["jax_default_matmul_precision"] == str(jax.config.jax_default_matmul_precision)
    assert isinstance(p["jax_flushes_denormals"], bool) and isinstance(p["xla_flags"], str)


@pytest.mark.parametrize("k2, k1", TRUNCATIONS, ids=[f"bptt-{k2}-{k1}" for k2, k1 in TRUNCATIONS])
@pytest.mark.parametrize("name", truncating(JAX_NAMES))
def test_truncation_parity_with_numpy(name, k2, k1, assert_parity_at):
    """BPTT(k2, k1): windows of k2 every k1 steps, the loss on the last k1 positions, the state after the first k1
    carried on: every step loss and parameter within 1e-4 of NumPy over 50 steps."""
    assert_parity_at(name, truncation_parity_config(k2, k1))


@pytest.mark.parametrize("name", clipping(JAX_NAMES))
def test_clipping_parity_with_numpy(name, assert_parity_at):
    """Global-norm clipping before the update, acting at every step: every loss and parameter within 1e-4 of
    NumPy's over 50 steps."""
    assert_parity_at(name, clip_parity_config())


def test_optax_clip_by_global_norm_is_the_reference_global_norm_clipping():
    from rnnbench.impl_numpy.reference import clip_by_global_norm
    from rnnbench.spec.params import Params

    arrays = random_grads()
    clipped, _ = optax.clip_by_global_norm(2.0).update(list(arrays), optax.EmptyState())
    ours = clip_by_global_norm(Params(dict(zip("W b U c".split(), arrays))), 2.0)
    for t, a in zip(clipped, ours):
        np.testing.assert_allclose(np.asarray(t), a, rtol=2e-6)


# The minimal cells both ways through time at every task: jax-jit at every point, the others at
# binary's (their builds compile or unroll each configuration: CI's time).
MIN_EVERY_TASK = {"jax-jit"}


@pytest.mark.parametrize("point", MIN_GRID, ids=MIN_GRID_IDS)
@pytest.mark.parametrize("name", JAX_NAMES)
def test_minimal_cells_match_numpy_both_ways_through_time(name, point, assert_parity_at):
    """minGRU and minLSTM by the family's loop and by its parallel scan against NumPy's loop, within 1e-4 (float32;
    sine in float64), from the same weights and data, the binary task's carried state included."""
    check_minimal_parity(name, point, MIN_EVERY_TASK, assert_parity_at)
