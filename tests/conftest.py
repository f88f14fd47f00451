import os

import pytest

from rnnbench.spec import families
from rnnbench.spec.cells import CELLS
from rnnbench.spec.references import reference_configs
from rnnbench.tasks import TASKS

# Keep BLAS and framework pools small and equal in tests; results do not depend on it.
os.environ.setdefault("OMP_NUM_THREADS", "2")


# TensorFlow and PyTorch never share an interpreter (importing both aborts the process). Each such family's
# tests live in test_<marker>.py and carry its marker. A marker expression that leaves out a family keeps its
# test module from being imported at all; with both selected, whichever family is imported second is skipped,
# with the reason.
FAMILY_TEST_FILES = {f"test_{f.marker}.py": f for f in families.FAMILIES if f.own_process}


def pytest_ignore_collect(collection_path, config):
    if collection_path.name not in FAMILY_TEST_FILES:
        return None
    marker = FAMILY_TEST_FILES[collection_path.name].marker
    markexpr = config.getoption("markexpr", "")
    if not markexpr:
        return None
    # The family's own marker is set, the other families' are not; any other marker (slow, ...) may go either way.
    family_markers = {f.marker for f in FAMILY_TEST_FILES.values()}
    selected = [marker_expression_holds(markexpr, lambda name, free=free: name == marker if name in family_markers
                                        else free) for free in (True, False)]
    if None in selected:  # an expression this reading does not follow: collect, and let pytest select
        return None
    return True if not any(selected) else None


def marker_expression_holds(text: str, is_set) -> bool | None:
    """``-m``'s expression (identifiers, ``and``, ``or``, ``not``, parentheses) under ``is_set(name)``; None for
    anything else it may hold."""
    import ast

    def value(node):
        if isinstance(node, ast.BoolOp):
            parts = [value(v) for v in node.values]
            return None if None in parts else (all(parts) if isinstance(node.op, ast.And) else any(parts))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = value(node.operand)
            return None if inner is None else not inner
        if isinstance(node, ast.Name):
            return bool(is_set(node.id))
        return None

    try:
        return value(ast.parse(text, mode="eval").body)
    except SyntaxError:
        return None


def skip_if_other_framework_loaded(own: str) -> None:
    """Module-level guard for each own-process family's test file."""
    module = families.conflicting_module(own)
    if module:
        pytest.skip(
            f"{module} is already imported in this interpreter and {own} never shares one with it; "
            f"run this family alone (pytest -m {families.family(own).marker}, or its tox env)",
            allow_module_level=True,
        )


def skip_unless_supported(name: str, config) -> None:
    """Skip, with the registry's reason, a point of the grid ``name`` declares it does not do."""
    from rnnbench.spec import registry

    reason = registry.entry(name).unsupported(config)
    if reason:
        pytest.skip(reason)


REFERENCES = {ref.label: ref for ref in reference_configs(threads=2)}  # every task's, with bands, levels, goals


def assert_reaches_task_goal(name: str, task: str) -> None:
    """``name`` trained at ``task``'s (first) reference configuration reaches its band and goal; a point the
    registry says ``name`` does not do is skipped with the reason."""
    from rnnbench.training.train import train

    label = next(r.label for r in REFERENCES.values() if r.task == task)
    skip_unless_supported(name, REFERENCES[label].config)
    assert_learns(train(name, REFERENCES[label].config, progress=False), label)


def assert_learns(result, label: str) -> None:
    """The run ended in the loss band of reference ``label`` and reached what it should: its goal on held-out
    data, else the theory level."""
    ref = REFERENCES[label]
    low, high = ref.loss_band
    assert low <= result.final_loss <= high, f"{result.impl}: final_loss {result.final_loss:.4f} not in {ref.loss_band}"
    assert ref.learned(result.final_loss, result.levels, result.metrics), (result.impl, result.metrics)


@pytest.fixture
def tiny_config():
    from rnnbench.spec.config import RunConfig

    # 50 windows of (batch 200, num_steps 5) per epoch
    return RunConfig(num_steps=5, state_size=4, batch_size=200, size=50 * 200 * 5, threads=2)


PARITY_STEPS = 50
PARITY_TOLERANCE = 1e-4  # float32, DESIGN.md: rnnbench.spec.parity's, which parity_tolerance gives every grid point


def parity_config(num_steps: int, state_size: int):
    from rnnbench.spec.config import RunConfig

    # exactly PARITY_STEPS windows in one epoch
    return RunConfig(num_steps=num_steps, state_size=state_size, size=PARITY_STEPS * 200 * num_steps, threads=2)


@pytest.fixture(scope="session")
def numpy_reference():
    """The NumPy run each parity test compares against, cached per configuration."""
    from rnnbench.training.train import train

    cache = {}

    def get(num_steps: int, state_size: int):
        key = (num_steps, state_size)
        if key not in cache:
            cache[key] = train("numpy", parity_config(num_steps, state_size))
        return cache[key]

    return get


@pytest.fixture
def assert_parity(numpy_reference):
    """Train ``name`` for 50 steps from the canonical weights and data; losses and params must match NumPy."""
    import numpy as np

    from rnnbench.training.train import train

    def check(name: str, num_steps: int, state_size: int, **changes):
        reference = numpy_reference(num_steps, state_size)
        result = train(name, parity_config(num_steps, state_size).replace(**changes))
        assert result.steps == PARITY_STEPS
        np.testing.assert_allclose(result.losses, reference.losses, rtol=0, atol=PARITY_TOLERANCE,
                                   err_msg=f"{name}: per-step losses")
        for field, ours, theirs in zip(reference.final_params.names, result.final_params, reference.final_params):
            assert ours.shape == theirs.shape and ours.dtype == np.float32, field
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=PARITY_TOLERANCE,
                                       err_msg=f"{name}: {field} after {PARITY_STEPS} steps")
        # not vacuous: the parameters moved well beyond the tolerance
        from rnnbench.spec.params import init_params

        assert np.abs(result.final_params.W - init_params(result.config).W).max() > 10 * PARITY_TOLERANCE
        return result

    return check




TRUNCATIONS = [(10, 5), (8, 1)]  # BPTT(k2, k1) points every family's truncating variants are held to NumPy at


def truncation_parity_config(k2: int, k1: int, cell: str = "rnn", **changes):
    """The binary task with BPTT(k2, k1): windows of k2 every k1 steps, exactly PARITY_STEPS of them."""
    from rnnbench.spec.config import RunConfig

    row_length = (PARITY_STEPS - 1) * k1 + k2
    return RunConfig(cell=cell, num_steps=k2, shift=k1, state_size=8, batch_size=20, size=20 * row_length,
                     threads=2, **changes)


def truncating(names) -> list[str]:
    """The implementations among ``names`` that train BPTT(k2, k1)."""
    from rnnbench.spec import registry

    return [n for n in names if registry.entry(n).truncation]


CLIP_NORM = 0.05  # below every step's gradient norm at clip_parity_config: clipping acts at every step


def clip_parity_config(**changes):
    """The (5, 4) parity configuration with global-norm clipping that acts at every one of its 50 steps."""
    return parity_config(5, 4).replace(clip_norm=CLIP_NORM, **changes)


def clipping(names) -> list[str]:
    """The implementations among ``names`` that clip gradients by their global norm."""
    from rnnbench.spec import registry

    return [n for n in names if registry.entry(n).clips]


def random_grads(seed: int = 0) -> list:
    """Float32 arrays of the canonical layout's shapes, for the clipping functions."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1, s).astype(np.float32) for s in ((6, 4), (4,), (4, 2), (2,))]


def task_parity_config(task: str, **changes):
    """The task's reference configuration cut to at least PARITY_STEPS windows: 50 windows of a stream or of
    sequences; digits, whose training set holds 22 windows of 64, for 3 epochs (66 steps)."""
    from rnnbench.spec.config import RunConfig
    from rnnbench.tasks import task as task_by_name

    config = RunConfig.for_task(task, threads=2, dtype=task_by_name(task).parity_dtype, **changes)
    if task == "digits":
        return config.replace(epochs=-(-PARITY_STEPS // config.windows_per_epoch))
    per_window = config.batch_size * (config.num_steps if config.task_spec.carries_state else 1)
    return config.replace(size=PARITY_STEPS * per_window, epochs=1)


@pytest.fixture(scope="session")
def assert_parity_at():
    """Train ``name`` at ``config`` from the canonical weights (nonzero biases) and the task's data: every step
    loss and every parameter after the run match NumPy's within 1e-4 (NumPy's loop: a parallel way through time
    is held to the sequential reference)."""
    import numpy as np

    from rnnbench.spec.params import init_params
    from rnnbench.training.train import train

    references = {}

    def weights(config):
        rng = np.random.default_rng(11)
        return init_params(config).map(lambda a: a if a.ndim == 2 else rng.normal(0, 0.1, a.shape).astype(np.float32))

    def check(name: str, config):
        from rnnbench.spec.parity import parity_tolerance

        assert parity_tolerance(config) == PARITY_TOLERANCE  # the grid is held to DESIGN.md's tolerance
        sequential = config.replace(time_mode="sequential")  # a parallel scan is held to NumPy's loop
        if sequential not in references:
            references[sequential] = train("numpy", sequential, params=weights(config), progress=False)
        reference = references[sequential]
        result = train(name, config, params=weights(config), progress=False)
        assert result.steps == reference.steps >= PARITY_STEPS
        np.testing.assert_allclose(result.losses, reference.losses, rtol=0, atol=PARITY_TOLERANCE,
                                   err_msg=f"{name}: per-step losses")
        for field in reference.final_params.names:
            np.testing.assert_allclose(result.final_params[field], reference.final_params[field], rtol=0,
                                       atol=PARITY_TOLERANCE, err_msg=f"{name}: {field} after {result.steps} steps")
        moved = np.abs(result.final_params.W - weights(config).W).max()
        assert moved > 10 * PARITY_TOLERANCE, f"{name}: the weights hardly moved ({moved})"  # not vacuous
        return result

    return check


# One step's gradients at a peer's size (glample's LSTM 128: input 100, 30 steps, batch 32) and at a stacked
# bidirectional point: every implementation's against NumPy's, in float64 (tests/conftest.assert_gradients_at).
GRADIENT_POINTS = {"glample-lstm-128-b32": None,
                   "random-lstm-bi-x2": dict(cell="lstm", bidirectional=True, layers=2, num_steps=8, state_size=24,
                                             input_width=10, batch_size=16)}


def gradient_config(point: str):
    """One window of ``point`` under Adagrad at learning rate 1 (the step that ``recovered_gradients`` inverts)."""
    from rnnbench.spec.config import RunConfig
    from rnnbench.spec.peers import PEERS

    changes = GRADIENT_POINTS[point]
    config = PEERS[point].config(threads=2) if changes is None else RunConfig.for_task("random", threads=2, **changes)
    return config.replace(size=config.batch_size, epochs=1, optimizer="adagrad", learning_rate=1.0)


def recovered_gradients(before, after, learning_rate: float) -> dict:
    """Each parameter's gradient of a first Adagrad step, from the parameters before and after it: the update is
    u = -lr * g / sqrt(a0 + g^2) (rnnbench.spec.optimizer: a0 the initial accumulator, no epsilon), so
    g = -u * sqrt(a0) / sqrt(lr^2 - u^2), in float64. Exact up to the rounding of p1 - p0."""
    import numpy as np

    from rnnbench.spec.optimizer import ADAGRAD_INITIAL_ACCUMULATOR

    out = {}
    for name in before.names:
        u = np.asarray(after[name], np.float64) - np.asarray(before[name], np.float64)
        assert np.abs(u).max() < learning_rate, f"{name}: an update at the step size cannot be inverted"
        out[name] = -u * np.sqrt(ADAGRAD_INITIAL_ACCUMULATOR) / np.sqrt(learning_rate**2 - u**2)
    return out


@pytest.fixture(scope="session")
def assert_gradients_at():
    """Train ``name`` one step of ``gradient_config(point)`` (skipped where its registry row declares the point
    unsupported) from the canonical weights (nonzero biases): its loss
    within the point's parity tolerance of NumPy's float64 loss, and each parameter's gradient (recovered from the
    step) within ``gradient_tolerance`` of NumPy's, relative to the largest element of NumPy's."""
    import numpy as np

    from rnnbench.spec.params import init_params
    from rnnbench.spec.parity import gradient_tolerance, parity_tolerance
    from rnnbench.training.train import train

    references = {}

    def weights(config, dtype):
        rng = np.random.default_rng(11)
        return init_params(config).map(
            lambda a: (a if a.ndim == 2 else rng.normal(0, 0.1, a.shape).astype(np.float32)).astype(dtype))

    def check(name: str, point: str) -> float:
        config = gradient_config(point)
        skip_unless_supported(name, config)
        if point not in references:
            wide = config.replace(dtype="float64")
            ran = train("numpy", wide, params=weights(config, np.float64), progress=False)
            references[point] = ran.losses[0], recovered_gradients(weights(config, np.float64), ran.final_params,
                                                                   config.learning_rate)
        loss, grads = references[point]
        result = train(name, config, params=weights(config, np.float32), progress=False)
        assert result.steps == 1
        assert abs(result.losses[0] - loss) <= parity_tolerance(config), f"{name}: the step's loss"
        ours, tol, worst = recovered_gradients(weights(config, np.float32), result.final_params,
                                               config.learning_rate), gradient_tolerance(config), 0.0
        for field, g in grads.items():
            scale = np.abs(g).max()
            assert scale > 0, f"{field}: NumPy's gradient is zero (a vacuous check)"
            error = np.abs(ours[field] - g).max() / scale
            assert error <= tol, f"{name}: {field}'s gradient lies {error:.2e} from NumPy's (tolerance {tol:.2e})"
            worst = max(worst, error)
        return worst

    return check


@pytest.fixture(scope="module")
def built_at_parity():
    """Each implementation built once per test module at the (5, 4) parity configuration, from a zero state each
    time it is handed out; an unavailable one skips with its reason."""
    from rnnbench.spec import registry
    from rnnbench.spec.params import init_params

    cache = {}

    def get(name: str):
        ok, reason = registry.entry(name).available()
        if not ok:
            pytest.skip(reason)
        if name not in cache:
            config = parity_config(5, 4)
            cache[name] = registry.create(name, config)
            cache[name].build(config, init_params(config))
        cache[name].reset_state()
        return cache[name]

    return get


def assert_forward_matches_numpy(impl) -> None:
    """``forward`` on a fresh build gives NumPy's probabilities for the first parity window and updates nothing."""
    import numpy as np

    from rnnbench.spec import registry
    from rnnbench.spec.params import init_params
    config = parity_config(5, 4)
    params = init_params(config)
    x = config.task_spec.epoch_batches(config, 0)[0][0]  # (200, 5)
    probs = impl.forward(x)
    assert probs.shape == (200, 5, 2)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    reference = registry.create("numpy")
    reference.build(config, params)
    np.testing.assert_allclose(probs, reference.forward(x), atol=1e-5)
    for ours, theirs in zip(impl.params(), params):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-7)


# Every cell on the binary task at (10,16); every other task at its seed configuration; bidirectional where the
# task allows it; Adam on the binary task (the other tasks' optimizer) too. Each framework's variants match NumPy
# at every point.
GRID = [
    ("binary", dict(cell="lstm", num_steps=10, state_size=16)),
    ("binary", dict(cell="gru", num_steps=10, state_size=16)),
    ("binary", dict(num_steps=10, state_size=16, optimizer="adam", learning_rate=0.01)),
    ("sine", {}),
    ("sine", dict(bidirectional=True)),
    ("sin2cos", {}),
    ("digits", {}),
    ("digits", dict(cell="gru", bidirectional=True)),
    # random data at a width of its own: features and classes at each step, and a bidirectional GRU read at the last
    ("random", dict(num_steps=6, state_size=12, input_width=5, classes=3)),
    ("random", dict(cell="gru", bidirectional=True, target_at="last", num_steps=6, state_size=12, input_width=7)),
    # at a peer's size: glample's LSTM 128 (input 100, 30 steps, batch 32, the last state read)
    ("random", dict(cell="lstm", input_width=100, state_size=128, num_steps=30, batch_size=32, target_at="last")),
    # two stacked bidirectional layers (the second reads both directions' states of the first)
    ("random", dict(cell="lstm", bidirectional=True, layers=2, num_steps=6, state_size=12, input_width=5, classes=3)),
]
GRID_IDS = ["-".join([task, *(f"{k}={v}" for k, v in changes.items())]) for task, changes in GRID]

# The minimal cells, each way through time, at every task's parity configuration (binary at (10,16), its state
# carried from window to window): each framework's implementations that build them against NumPy's loop.
MIN_GRID = [(task, dict(cell=cell, time_mode=way, **(dict(num_steps=10, state_size=16) if task == "binary" else {})))
            for task in ("binary", "sine", "sin2cos", "digits") for cell in ("mingru", "minlstm")
            for way in ("sequential", "parallel")]
MIN_GRID_IDS = [f"{task}-{c['cell']}-{c['time_mode']}" for task, c in MIN_GRID]
# Points where float32 misses 1e-4 (AMD EPYC, 2026-12-07): autodiff through the scan in log space at digits, after 66
# Adam steps (minLSTM's there: 8.3e-5; JAX's associative scan and the hand-written backward pass stay within
# 6e-6). The same code in float64 equals NumPy's exactly: the float32 rounding of logcumsumexp's gradient.
MIN_FLOAT32_MISSES = {("torch-manual", "digits", "mingru", "parallel"): 1.19e-4,
                      ("tf-function", "digits", "mingru", "parallel"): 1.13e-4}


def check_minimal_parity(name: str, point, every_task: set, assert_parity_at) -> None:
    """``assert_parity_at`` at a MIN_GRID point (the implementations not in ``every_task`` at binary's only, CI's
    time; a point ``name`` does not do skipped with the registry's reason); at a known float32 miss, parity in
    float64 instead, and the float32 miss asserted still there (strict: a fix fails it, so that the entry goes)."""
    task, changes = point
    config = task_parity_config(task, **changes)
    skip_unless_supported(name, config)
    if name not in every_task and task != "binary":
        pytest.skip(f"{name}: the minimal cells' parity at binary's points only (CI's time); "
                    f"{', '.join(sorted(every_task))} at every task")
    miss = MIN_FLOAT32_MISSES.get((name, config.task, config.cell, config.time_mode))
    if miss is None:
        assert_parity_at(name, config)
        return
    assert_parity_at(name, config.replace(dtype="float64"))
    with pytest.raises(AssertionError):
        assert_parity_at(name, config)
    pytest.xfail(f"{name}: float32 parity misses 1e-4 here ({miss:.2e} measured; float64 equals NumPy)")

# Every task × cell × direction the tasks allow: where hand-written gradients are checked against autodiff.
HAND_WRITTEN = [(task, cell, bi) for task, spec in TASKS.items() for cell in CELLS for bi in (False, True)
                if not bi or spec.bidirectional_ok]
# stacked layers (task, cell, bidirectional, layers): each loss kind and target position, each cell, both directions
STACKED = [("sine", "rnn", False, 2), ("digits", "lstm", True, 2), ("random", "gru", True, 3)]
# the cells linear in h by the parallel scan (task, cell, bidirectional, layers, "parallel"): every task, the two
# cells in turn, both directions, and a stacked pair (the loop's points are every cell's above)
PARALLEL = [(task, ("mingru", "minlstm")[k % 2], False, 1, "parallel") for k, task in enumerate(TASKS)] + [
    ("sine", "minlstm", True, 1, "parallel"), ("digits", "mingru", True, 1, "parallel"),
    ("random", "minlstm", True, 2, "parallel")]
HAND_WRITTEN += STACKED + PARALLEL
HAND_WRITTEN_IDS = [f"{p[0]}-{p[1]}" + ("-bi" if p[2] else "") + (f"-x{p[3]}" if len(p) > 3 and p[3] > 1 else "")
                    + ("-parallel" if len(p) > 4 else "") for p in HAND_WRITTEN]


def hand_written_config(point):
    """A small float64 configuration of a HAND_WRITTEN point: (task, cell, bidirectional[, layers[, time_mode]])."""
    from rnnbench.spec.config import RunConfig

    task, cell, bidirectional, *rest = point
    shape = {} if task == "digits" else dict(num_steps=6)  # digits: as many steps as the images have rows
    return RunConfig.for_task(task, cell=cell, bidirectional=bidirectional, state_size=5, batch_size=3,
                              dtype="float64", layers=rest[0] if rest else 1,
                              time_mode=rest[1] if len(rest) > 1 else "sequential", **shape)


def assert_round_trip(name: str, cell: str, bidirectional: bool):
    """Build ``name`` from random canonical weights (sine, 4 steps): its parameters read back exactly. Returns the
    built implementation and the weights."""
    import numpy as np

    from rnnbench.spec import registry
    from rnnbench.spec.config import RunConfig
    from rnnbench.spec.params import init_params

    config = RunConfig.for_task("sine", cell=cell, bidirectional=bidirectional, num_steps=4, size=100, threads=2)
    rng = np.random.default_rng(3)
    params = init_params(config).map(lambda a: rng.normal(0, 0.5, a.shape).astype(np.float32))
    impl = registry.create(name, config)
    impl.build(config, params)
    back = impl.params()
    assert back.names == params.names
    for key in params.names:
        np.testing.assert_array_equal(back[key], params[key], err_msg=key)
    return impl, params


def _log_softmax(x):
    import numpy as np

    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _numpy_ops():
    """NumPy's operations for ``rnnbench.model`` (tests only: the NumPy reference never uses the shared model)."""
    import numpy as np

    from rnnbench.model.ops import Ops

    return Ops(
        matmul=lambda a, b, transpose_a=False, transpose_b=False: (a.T if transpose_a else a) @ (b.T if transpose_b
                                                                                                 else b),
        project=lambda x, W, b: x @ W + b, cat=np.concatenate, stack=lambda xs, axis: np.stack(xs, axis),
        split=lambda x, n, axis: np.split(x, n, axis), sigmoid=lambda x: 1 / (1 + np.exp(-x)), tanh=np.tanh,
        exp=np.exp, expm1=np.expm1, sqrt=np.sqrt, log_softmax=_log_softmax, softmax=lambda x: np.exp(_log_softmax(x)),
        sum0=lambda x: x.sum(0), total=np.sum, zeros_like=np.zeros_like, full_like=np.full_like,
        scalar=lambda value, like: np.asarray(value, like.dtype),
        one_hot=lambda ids, n, dtype: np.eye(n, dtype=dtype)[ids], cast=lambda x, dtype: x.astype(dtype),
        swapaxes=np.swapaxes, reshape=np.reshape,
        xent=lambda out, y: -np.take_along_axis(_log_softmax(out), y[..., None], -1).mean(),
        mse=lambda out, y: np.mean((out - y) ** 2),
        where=np.where, relu=lambda x: np.maximum(x, 0), log=np.log, softplus=lambda x: np.logaddexp(0, x),
        cumsum=lambda x, axis: np.cumsum(x, axis), logcumsumexp=lambda x, axis: np.logaddexp.accumulate(x, axis),
        flip=np.flip)


NUMPY_OPS = _numpy_ops()


# A value for each field some measure needs (``rnnbench.results.records.MEASURE_FIELDS``): binary's (5,4) point
FAKE_FIELDS = {"label": "binary-rnn-T5-S4", "task": "binary", "cell": "rnn", "bidirectional": False,
               "optimizer": "adagrad", "num_steps": 5, "state_size": 4, "batch_size": 200, "steps": 1,
               "final_loss": 0.5204, "nearest_level": "lag3", "learned": True, "target": 0.53, "reached": True,
               "sweep": "state_size", "sweep_value": 4, "inputs": "normal", "peak_rss_mb": 12.0,
               "framework_rss_mb": 10.0, "model_rss_mb": 1.0, "size": 1000}


def fake_info(impl: str, measure: str, framework: str = "numpy", **more) -> dict:
    """A made-up record's ``extra_info``: the fields every record carries, ``more``, and whatever else its measure
    needs (``FAKE_FIELDS``) where ``more`` leaves it out."""
    from rnnbench.results.records import MEASURE_FIELDS, Record, checked

    needed = {k: FAKE_FIELDS[k] for k in MEASURE_FIELDS.get(measure, ()) if more.get(k) is None}
    return checked(Record, {"impl": impl, "framework": framework, "version": "1.0", "device": "cpu", "threads": 1,
                            "measure": measure, **more, **needed})


def fake_run_info(**changes) -> dict:
    """A made-up run's ``machine_info.rnnbench``: this machine's, as ``rnnbench bench`` writes it, changed."""
    from rnnbench.harness.provenance import machine_info

    return {**machine_info(threads=2, device="cpu", profile="quick", frameworks=["numpy"]), **changes}


def dispatch_of(name: str, num_steps: int):
    """What one train step of ``name`` dispatches (``rnnbench.spec.dispatch``) on a small binary configuration with
    ``num_steps`` steps a window, after a first step (which traces and compiles)."""
    from rnnbench.spec import dispatch, registry
    from rnnbench.spec.config import RunConfig
    from rnnbench.spec.params import init_params

    cfg = RunConfig(num_steps=num_steps, state_size=4, batch_size=8, size=8 * num_steps * 3, threads=2)
    impl = registry.create(name, cfg)
    impl.build(cfg, init_params(cfg))
    xs, ys = cfg.task_spec.epoch_batches(cfg, 0)
    impl.train_step(xs[0], ys[0])
    return dispatch.count(registry.entry(name).framework, impl, lambda: impl.train_step(xs[1], ys[1]))


def assert_dispatch_follows_the_model(name: str):
    """``name``'s count of ops grows with each step added to the window (it unrolls the window): a count that does
    not follow the model counts nothing of it."""
    counts = [dispatch_of(name, t) for t in (4, 5, 6)]
    assert counts[0].how
    for field in ("launches", "ops"):
        values = [getattr(c, field) for c in counts]
        assert values[0] > 0, (field, values)
    ops = [c.ops for c in counts]
    assert ops[0] < ops[1] < ops[2], ops


def assert_matches_central_differences(model, p, x, y, state, grads, h: float = 1e-6) -> None:
    """Every gradient of the NumPy model's loss at ``p`` (float64) against central differences of ``model.loss``;
    each parameter's numeric gradient must be far from zero, so that the check is not vacuous."""
    import numpy as np

    for name, param in p.items():
        numeric = np.zeros_like(param)
        for idx in np.ndindex(param.shape):
            old = param[idx]
            param[idx] = old + h
            up = model.loss(p, x, y, state)[0]
            param[idx] = old - h
            down = model.loss(p, x, y, state)[0]
            param[idx] = old
            numeric[idx] = (up - down) / (2 * h)
        scale = np.abs(numeric).max()
        assert scale > 1e-4, name
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-6 * scale, err_msg=name)
