"""TensorFlow implementations: parity with NumPy, convergence to the theory levels, TF1 conditions."""

import numpy as np
import pytest
from conftest import skip_if_other_framework_loaded

skip_if_other_framework_loaded("tensorflow")
pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'rnnbench[tf]')")

from rnnbench import registry  # noqa: E402
from rnnbench.config import RunConfig  # noqa: E402
from rnnbench.errors import UnsupportedError  # noqa: E402
from rnnbench.params import init_params  # noqa: E402
from rnnbench.task import epoch_stream, theory_levels  # noqa: E402
from rnnbench.train import train  # noqa: E402

pytestmark = pytest.mark.tf

TF_NAMES = [e.name for e in registry.ENTRIES if e.framework == "tensorflow"]
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


@pytest.mark.parametrize("shape", [(5, 4), (10, 16)], ids=["T5-S4", "T10-S16"])
@pytest.mark.parametrize("name", TF_NAMES)
def test_parity_with_numpy(name, shape, assert_parity):
    _available(name)
    assert_parity(name, *shape)


@pytest.mark.parametrize("name", TF_NAMES)
def test_forward_gives_probabilities_without_updating(name):
    _available(name)
    config = RunConfig(size=1000, threads=2)
    impl = registry.create(name)
    params = init_params(config)
    impl.build(config, params)
    x, _ = epoch_stream(1000, 0)
    probs = impl.forward(x.reshape(200, 5))
    assert probs.shape == (200, 5, 2)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    reference = registry.create("numpy")
    reference.build(config, params)
    np.testing.assert_allclose(probs, reference.forward(x.reshape(200, 5)), atol=1e-5)
    for ours, theirs in zip(impl.params(), params):
        np.testing.assert_allclose(ours, theirs, atol=1e-7)


@pytest.mark.parametrize("name", TF_NAMES)
def test_one_epoch_at_5_4_learns_the_t3_dependency(name):
    _available(name)
    result = train(name, RunConfig(num_steps=5, state_size=4, epochs=1, threads=2))
    assert 0.505 <= result.final_loss <= 0.535
    assert theory_levels().nearest(result.final_loss) == "lag3"
    assert result.build_seconds > 0 and result.versions["tensorflow"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tf-cell", FASTEST])
def test_five_epochs_at_10_16_learn_both(name):
    _available(name)
    result = train(name, RunConfig(num_steps=10, state_size=16, epochs=5, threads=2))
    assert result.final_loss <= 0.465


def test_tf1_variants_keep_eager_execution_on_and_use_their_own_graph():
    import tensorflow as tf

    op_types = {}
    for name in ("tf-cell", "tf-static", "tf-dynamic"):
        _available(name)
        impl = registry.create(name)
        impl.build(RunConfig(size=1000, threads=2), init_params(RunConfig()))
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
    impl.build(RunConfig(size=1000, threads=2), init_params(RunConfig()))
    assert tf.config.threading.get_intra_op_parallelism_threads() == 2
    assert tf.config.threading.get_inter_op_parallelism_threads() == 2
    with pytest.raises(UnsupportedError, match="threads: TensorFlow already started in this process with 2"):
        registry.create("tf-cell").build(RunConfig(size=1000, threads=3), init_params(RunConfig()))


def test_cuda_is_refused_with_a_clear_error():
    with pytest.raises(UnsupportedError, match="device: the tf-\\* implementations run on cpu only"):
        registry.create("tf-cell").build(RunConfig(size=1000, threads=2, device="cuda"), init_params(RunConfig()))
