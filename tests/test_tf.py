"""TensorFlow implementations: parity with NumPy, convergence to the theory levels, TF1 conditions."""

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
    hand_written_config,
    parity_config,
    random_grads,
    skip_if_other_framework_loaded,
    task_parity_config,
    truncating,
    truncation_parity_config,
)

skip_if_other_framework_loaded("tensorflow")
pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'rnnbench[tf]')")

from rnnbench.errors import UnsupportedError  # noqa: E402
from rnnbench.spec import registry  # noqa: E402
from rnnbench.spec.config import RunConfig  # noqa: E402
from rnnbench.spec.params import init_params  # noqa: E402
from rnnbench.tasks.binary import TASK as BINARY  # noqa: E402
from rnnbench.training.train import train  # noqa: E402

pytestmark = pytest.mark.tf

TF_NAMES = [e.name for e in registry.ENTRIES if e.framework == "tensorflow"]
THREADS = 2  # TensorFlow fixes its pools when it starts: every test here runs at this one (REFERENCES' too)


@pytest.fixture(scope="module", autouse=True)
def runtime_started():
    """TensorFlow's pools set to THREADS before any test of this module, whichever runs first."""
    from rnnbench.impl_tf.runtime import start

    start(RunConfig(threads=THREADS))
FASTEST = "tf-xla-epoch"


def _available(name):
    ok, reason = registry.entry(name).available()
    if not ok:
        pytest.skip(reason)


def test_entries_satisfy_the_interface():
    from test_registry_train import assert_entries_satisfy_the_interface

    assert_entries_satisfy_the_interface("tensorflow")


def test_the_required_variants_are_registered():
    assert {"tf-cell", "tf-static", "tf-dynamic", "tf-function", "tf-keras", FASTEST} <= set(TF_NAMES)
    assert registry.entry(FASTEST).target.endswith("TFXLAEpoch")


@pytest.mark.parametrize("shape", [(5, 4), (10, 16)], ids=["binary-rnn-T5-S4", "binary-rnn-T10-S16"])
@pytest.mark.parametrize("name", TF_NAMES)
def test_parity_with_numpy(name, shape, assert_parity):
    _available(name)
    assert_parity(name, *shape)


@pytest.mark.parametrize("point", GRADIENT_POINTS)
@pytest.mark.parametrize("name", TF_NAMES)
def test_one_step_gradients_at_size_match_numpy_float64(name, point, assert_gradients_at):
    """Parity at size, gradients first hand: the step's loss and every parameter's gradient against NumPy's in
    float64, within rnnbench.spec.parity's tolerances for the point."""
    _available(name)
    assert_gradients_at(name, point)


@pytest.mark.parametrize("point", GRID, ids=GRID_IDS)
@pytest.mark.parametrize("name", TF_NAMES)
def test_parity_with_numpy_across_tasks_and_cells(name, point, assert_parity_at):
    _available(name)
    task, changes = point
    assert_parity_at(name, task_parity_config(task, **changes))


@pytest.mark.parametrize("name", ["tf-static", "tf-dynamic", "tf-keras"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_canonical_weights_round_trip_through_each_framework_layout(name, cell, bidirectional):
    """canonical -> the TF1 cell's or Keras layer's own layout (permuted gate blocks, split biases) -> canonical
    is exact, for every cell and direction."""
    _available(name)
    assert_round_trip(name, cell, bidirectional)


def test_keras_gru_layout_is_z_r_h_with_a_two_row_bias():
    from rnnbench.impl_tf.keras3 import canonical_weights, keras_weights

    config = RunConfig.for_task("sine", cell="gru", state_size=2, num_steps=3, size=100)
    params = init_params(config).map(lambda a: np.arange(a.size, dtype=np.float32).reshape(a.shape))
    kernel, recurrent, bias = keras_weights("gru", params, "", 1)
    np.testing.assert_array_equal(kernel[0], params.W[0, [2, 3, 0, 1, 4, 5]])  # z, r, h from r, z, n
    assert bias.shape == (2, 6)
    np.testing.assert_array_equal(bias[1], params.bh[[2, 3, 0, 1, 4, 5]])
    back = canonical_weights("gru", [kernel, recurrent, bias], "")
    for key in ("W", "b", "bh"):
        np.testing.assert_array_equal(back[key], params[key])


@pytest.mark.slow
@pytest.mark.parametrize("task", ["sine", "sin2cos", "digits"])
@pytest.mark.parametrize("name", TF_NAMES)
def test_every_variant_reaches_each_tasks_goal(name, task):
    _available(name)
    assert_reaches_task_goal(name, task)


@pytest.mark.parametrize("name", TF_NAMES)
def test_forward_gives_probabilities_without_updating(name, built_at_parity):
    assert_forward_matches_numpy(built_at_parity(name))


def _traced_functions(impl) -> dict:
    return {k: f for k, f in vars(impl).items() if hasattr(f, "experimental_get_tracing_count")}


@pytest.mark.parametrize("name", TF_NAMES)
def test_build_traces_what_training_calls_and_training_traces_nothing(name):
    """Graph construction, and the tracing and XLA compilation of what training calls (the window step, or a
    whole-epoch variant's epoch), are timed as build: training adds none. A function training never calls (forward,
    a whole-epoch variant's window step) traces at its first call, once."""
    _available(name)
    config = parity_config(5, 4)
    impl = registry.create(name, config)
    impl.build(config, init_params(config))
    xs, ys = BINARY.epoch_batches(config, 0)
    functions = _traced_functions(impl)
    if hasattr(impl, "graph"):  # TF1: the graph is finished; adding an op while training would raise
        assert impl.graph.finalized and not functions
    trains = "_train_epoch" if impl.whole_epoch else "_train_step"
    assert all(f.experimental_get_tracing_count() == (k == trains) for k, f in functions.items())

    def train_once():
        if impl.whole_epoch:
            impl.train_epoch(xs, ys)
        else:
            for i in range(3):
                impl.train_step(xs[i], ys[i])

    train_once()
    assert all(f.experimental_get_tracing_count() == (k == trains) for k, f in functions.items())
    for i in range(3):
        impl.train_step(xs[i], ys[i])
        impl.forward(xs[i])
    train_once()
    assert all(f.experimental_get_tracing_count() == 1 for f in functions.values())


@pytest.mark.parametrize("name", TF_NAMES)
def test_one_epoch_at_5_4_learns_the_t3_dependency(name):
    _available(name)
    result = train(name, REFERENCES["binary-rnn-T5-S4"].config)
    assert_learns(result, "binary-rnn-T5-S4")
    import tensorflow as tf

    assert result.versions["tensorflow"] == tf.__version__


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tf-cell", FASTEST])
def test_five_epochs_at_10_16_learn_both(name):
    _available(name)
    assert_learns(train(name, REFERENCES["binary-rnn-T10-S16"].config), "binary-rnn-T10-S16")


def test_tf1_variants_keep_eager_execution_on_and_use_their_own_graph():
    import tensorflow as tf

    op_types = {}
    for name in ("tf-cell", "tf-static", "tf-dynamic"):
        _available(name)
        impl = registry.create(name)
        impl.build(RunConfig(size=1000, threads=THREADS), init_params(RunConfig()))
        assert tf.executing_eagerly()
        assert impl.session.graph is impl.graph and impl.graph is not tf.compat.v1.get_default_graph()
        op_types[name] = {op.type for op in impl.graph.get_operations()}
        assert {"Placeholder", "ResourceApplyAdagrad"} <= op_types[name] or {
            "Placeholder", "ApplyAdagrad"} <= op_types[name], name
    loops = {"While", "StatelessWhile", "Enter"}
    assert op_types["tf-dynamic"] & loops  # dynamic_rnn: a loop in the graph
    assert not op_types["tf-static"] & loops and not op_types["tf-cell"] & loops  # unrolled


def test_threads_are_set_before_tensorflow_starts_and_a_change_is_refused():
    import tensorflow as tf

    impl = registry.create("tf-function")
    impl.build(RunConfig(size=1000, threads=THREADS), init_params(RunConfig()))
    tf.constant(1.0) + 1.0  # the runtime has started: its pools are fixed from here on
    assert tf.config.threading.get_intra_op_parallelism_threads() == THREADS
    assert tf.config.threading.get_inter_op_parallelism_threads() == THREADS
    with pytest.raises(UnsupportedError, match=f"threads: TensorFlow already started in this process with {THREADS}"):
        registry.create("tf-cell").build(RunConfig(size=1000, threads=THREADS + 1), init_params(RunConfig()))


@pytest.mark.parametrize("name", TF_NAMES)
def test_cuda_is_refused_with_a_clear_error(name):
    with pytest.raises(UnsupportedError, match=f"device: {name} runs on cpu only, got 'cuda'"):
        train(name, RunConfig(size=1000, threads=THREADS, device="cuda"))


@pytest.mark.parametrize("point", HAND_WRITTEN, ids=HAND_WRITTEN_IDS)
def test_hand_written_gradients_equal_autodiff(point):
    """tf-xla-epoch's gradients written by hand (``rnnbench.model.backprop`` over TensorFlow's operations) equal
    GradientTape's of the model, in float64, for every task, cell and direction.
    Run eagerly: the math, not the compiler."""
    import tensorflow as tf

    from rnnbench.impl_tf.eager import TFFunction, TFXLAEpoch
    from rnnbench.impl_tf.model import Model

    config = hand_written_config(point)
    impl = TFXLAEpoch()  # what build would set, without compiling anything
    impl.config, impl.model = config, Model(config)
    rng = np.random.default_rng(1)
    weights = init_params(config)
    impl.names = weights.names
    params = [tf.constant(v.astype(np.float64) + 0.1 * rng.standard_normal(v.shape)) for v in weights]
    xs, ys = config.task_spec.epoch_batches(config, 0)
    x, y = tf.constant(xs[0]), tf.constant(ys[0])
    state = impl.model.zero_state(3, tf.float64)
    if config.task_spec.carries_state:
        state = tuple(s + 0.3 * rng.standard_normal(s.shape) for s in state)
    loss, final, grads = impl.loss_and_grads(params, x, y, state)
    expected_loss, expected_final, expected = TFFunction.loss_and_grads(impl, params, x, y, state)  # autodiff
    assert float(loss) == pytest.approx(float(expected_loss), rel=1e-12)
    for name, g, e in zip(impl.names, grads, expected, strict=True):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
    for a, b in zip(final, expected_final, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_dispatch_counts_known_computations():
    """Eager: one launch per operation; a tf.function: one launch whatever it holds, its graph's nodes as ops; a
    Session: one launch, the kernels it ran as ops (a layer adds three: MatMul, AddV2, Tanh)."""
    from rnnbench.impl_tf.runtime import count_dispatch, start, tf

    start(RunConfig(threads=THREADS))

    w, b = tf.ones((3, 3)), tf.ones(3)

    def layers(h, n):
        for _ in range(n):
            h = tf.tanh(h @ w + b)
        return h

    eager = count_dispatch(None, lambda: layers(tf.ones((2, 3)), 2))
    assert (eager.launches, eager.ops) == (7, 7)  # the input's Fill, then three a layer
    functions = [tf.function(lambda x, n=n: layers(x, n)) for n in (1, 2)]
    x = tf.ones((2, 3))
    for f in functions:
        f(x)  # traced before it is counted
    one, two = (count_dispatch(None, lambda f=f: f(x)) for f in functions)
    assert one.launches == two.launches == 1
    assert two.ops - one.ops == 3
    graph_counts = []
    for n in (1, 2):
        with tf.Graph().as_default():
            feed = tf.compat.v1.placeholder(tf.float32, (2, 3))
            weight = tf.compat.v1.placeholder(tf.float32, (3, 3))
            h = feed
            for _ in range(n):
                h = tf.tanh(h @ weight + 1.0)
            with tf.compat.v1.Session() as session:
                run = {feed: np.ones((2, 3)), weight: np.ones((3, 3))}
                session.run(h, run)
                graph_counts.append(count_dispatch(None, lambda session=session, h=h, run=run: session.run(h, run)))
    assert [c.launches for c in graph_counts] == [1, 1]
    assert graph_counts[1].ops - graph_counts[0].ops == 3


def test_dispatch_follows_the_window():
    assert_dispatch_follows_the_model("tf-cell")


def test_the_path_reads_onednn_tf32_and_threads_back_from_the_process():
    from rnnbench.impl_tf import runtime

    p = runtime.path()
    assert isinstance(p["tf_onednn"], bool) and isinstance(p["tf_tf32"], bool)
    assert isinstance(p["tf_flushes_denormals"], bool)
    assert p["tf_threads"].startswith("intra ") and "inter " in p["tf_threads"]


@pytest.mark.parametrize("k2, k1", TRUNCATIONS, ids=[f"bptt-{k2}-{k1}" for k2, k1 in TRUNCATIONS])
@pytest.mark.parametrize("name", truncating(TF_NAMES))
def test_truncation_parity_with_numpy(name, k2, k1, assert_parity_at):
    """BPTT(k2, k1): windows of k2 every k1 steps, the loss on the last k1 positions, the state after the first k1
    carried on: every step loss and parameter within 1e-4 of NumPy over 50 steps."""
    assert_parity_at(name, truncation_parity_config(k2, k1))


@pytest.mark.parametrize("name", clipping(TF_NAMES))
def test_clipping_parity_with_numpy(name, assert_parity_at):
    """Global-norm clipping before the update, acting at every step: every loss and parameter within 1e-4 of
    NumPy's over 50 steps."""
    assert_parity_at(name, clip_parity_config())


def test_clipping_parity_with_numpy_in_a_tf1_graph_under_adam(assert_parity_at):
    """The TF1 graphs clip before their written-out Adam (the other parity test takes TF1's Adagrad path)."""
    assert_parity_at("tf-cell", clip_parity_config(optimizer="adam"))


def test_clip_by_global_norm_is_the_reference_global_norm_clipping():
    import tensorflow as tf

    from rnnbench.impl_numpy.reference import clip_by_global_norm
    from rnnbench.spec.params import Params

    arrays = random_grads()
    clipped, norm = tf.clip_by_global_norm([tf.constant(a) for a in arrays], 2.0)
    ours = clip_by_global_norm(Params(dict(zip("W b U c".split(), arrays))), 2.0)
    assert float(norm) > 2.0  # it clipped
    for t, a in zip(clipped, ours):
        np.testing.assert_allclose(t.numpy(), a, rtol=2e-6)


# The minimal cells both ways through time at every task: tf-function and tf-dynamic at every point, the others at
# binary's (their builds compile or unroll each configuration: CI's time).
MIN_EVERY_TASK = {"tf-function", "tf-dynamic"}


@pytest.mark.parametrize("point", MIN_GRID, ids=MIN_GRID_IDS)
@pytest.mark.parametrize("name", TF_NAMES)
def test_minimal_cells_match_numpy_both_ways_through_time(name, point, assert_parity_at):
    """minGRU and minLSTM by the family's loop and by its parallel scan against NumPy's loop, within 1e-4 (float32;
    sine in float64), from the same weights and data, the binary task's carried state included."""
    _available(name)
    check_minimal_parity(name, point, MIN_EVERY_TASK, assert_parity_at)
