"""Counting what a step dispatches (rnnbench.spec.dispatch): the family table's counters, and NumPy's counter on a
known computation and on the reference's step. Each framework's counter is tested in its own family's tests."""

import importlib.util

import numpy as np
from conftest import assert_dispatch_follows_the_model, dispatch_of

from rnnbench.impl_numpy.dispatch import count_calls
from rnnbench.spec import families


def test_every_family_names_a_counter_that_exists():
    for f in families.FAMILIES:
        module, function = f.counter.split(":")
        spec = importlib.util.find_spec(module.rsplit(".", 1)[0])
        assert spec is not None, f.counter
        source = importlib.util.find_spec(module)
        assert source is not None and f"def {function}(" in open(source.origin).read(), f.counter


def test_numpy_counts_each_operation_on_the_weights_once():
    x = np.ones((2, 3))

    def layer(p):  # matmul, add, tanh, then a reduction: four calls; reshape and indexing are none
        return np.tanh(x @ p["W"] + p["b"]).reshape(-1)[:3].sum()

    weights = {"W": np.ones((3, 3)), "b": np.ones(3)}
    assert count_calls(weights, layer) == 4
    assert count_calls(weights, lambda p: layer({"W": p["W"] @ p["W"], "b": p["b"]})) == 5  # one product more


def test_numpy_counts_in_place_updates_and_leaves_plain_arrays():
    w = np.ones(3)
    seen = []

    def update(p):
        p["w"] -= 0.5 * np.sqrt(p["w"])  # sqrt, multiply, subtract in place
        seen.append(type(p["w"]))

    assert count_calls({"w": w}, update) == 3
    np.testing.assert_allclose(w, 0.5)  # the update reached the caller's array
    assert type(w) is np.ndarray


def test_the_reference_step_counted_is_the_step_uncounted():
    from rnnbench.impl_numpy.dispatch import _Counted
    from rnnbench.spec import dispatch, registry
    from rnnbench.spec.config import RunConfig
    from rnnbench.spec.params import init_params

    cfg = RunConfig(num_steps=5, state_size=4, batch_size=8, size=8 * 5 * 3)
    xs, ys = cfg.task_spec.epoch_batches(cfg, 0)
    counted, plain = (registry.create("numpy", cfg) for _ in range(2))
    for impl in (counted, plain):
        impl.build(cfg, init_params(cfg))
    d = dispatch.count("numpy", counted, lambda: counted.train_step(xs[0], ys[0]))
    plain.train_step(xs[0], ys[0])
    assert d.launches == d.ops > 0
    assert counted.train_step(xs[1], ys[1]) == plain.train_step(xs[1], ys[1])
    left = [name for name, value in vars(counted).items()
            if any(isinstance(v, _Counted) for v in (value if isinstance(value, tuple) else (value,)))]
    assert not left and all(type(w) is np.ndarray for w in counted.weights)


def test_numpy_reference_count_follows_the_window():
    assert_dispatch_follows_the_model("numpy")
    ops = [dispatch_of("numpy", t).ops for t in (4, 5, 10)]
    assert (ops[2] - ops[1]) == 5 * (ops[1] - ops[0])  # each step of the window costs the same calls

