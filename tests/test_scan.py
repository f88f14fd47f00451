"""The parallel scan over time (``rnnbench.model.scan``) and the minimal cells' two ways through time: the
associative operator's associativity (Hypothesis), the log-space form against the plain product form and a loop,
the backward recurrence against a loop, an associative scan (as JAX's) against the log-space one, and the
errors a parallel way through time gives where it cannot run."""

from dataclasses import replace

import numpy as np
import pytest
from conftest import NUMPY_OPS
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnbench.commands.cli import main
from rnnbench.errors import ConfigError, UnsupportedError
from rnnbench.model import scan
from rnnbench.spec import registry
from rnnbench.spec.cells import CLASSIC_CELLS, linear_cells
from rnnbench.spec.config import RunConfig

FINITE = st.floats(-4, 4, allow_nan=False, allow_infinity=False)
PAIR = st.tuples(FINITE, FINITE)


@settings(max_examples=200, deadline=None)
@given(PAIR, PAIR, PAIR, FINITE)
def test_the_combine_operator_is_associative_and_composes_the_steps(x, y, z, s):
    """(x then y) then z equals x then (y then z); and a pair applied to s is the steps applied one by one."""
    left, right = scan.combine(scan.combine(x, y), z), scan.combine(x, scan.combine(y, z))
    np.testing.assert_allclose(left, right, rtol=1e-12, atol=1e-9)
    a, b = left
    step = s
    for p, q in (x, y, z):
        step = p * step + q
    assert a * s + b == pytest.approx(step, rel=1e-12, abs=1e-9)


def doubling_scan(a, b, reverse: bool = False):
    """An associative scan by recursive doubling (Hillis and Steele) over ``scan.combine``, in NumPy: log2 T rounds
    of whole-array operations, as ``Ops.linear_scan`` asks (cumulative products, states)."""
    if reverse:
        A, B = doubling_scan(a[::-1], b[::-1])
        return A[::-1], B[::-1]
    A, B = a.copy(), b.copy()
    shift = 1
    while shift < len(A):
        A_new, B_new = scan.combine((A[:-shift], B[:-shift]), (A[shift:], B[shift:]))
        A, B = np.concatenate([A[:shift], A_new]), np.concatenate([B[:shift], B_new])
        shift *= 2
    return A, B


def _window(T: int, seed: int = 0, positive_start: bool = False):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.05, 0.95, (T, 3, 4))
    b = rng.uniform(0.01, 2.0, (T, 3, 4))
    h0 = rng.uniform(0, 1, (3, 4)) if positive_start else rng.normal(0, 1, (3, 4))
    return a, b, h0


def _loop(a, b, h0, reverse: bool = False):
    h, out = h0, np.empty_like(a)
    for t in (reversed(range(len(a))) if reverse else range(len(a))):
        h = a[t] * h + b[t]
        out[t] = h
    return out


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("T", [1, 7, 64])
def test_the_log_space_form_equals_the_plain_product_form_and_the_loop(T, reverse):
    """Where the plain product form is defined (no cumulative product underflows): h_t = A_t (h_0 + sum_{s<=t}
    b_s / A_s), A_t the product of a up to t. The log space form gives it, and so does a loop, from a start of
    either sign."""
    a, b, h0 = _window(T)
    order = slice(None, None, -1) if reverse else slice(None)
    A = np.cumprod(a[order], axis=0)
    product = (A * (h0 + np.cumsum(b[order] / A, axis=0)))[order]
    ours = scan.recurrence(NUMPY_OPS, np.log(a), np.log(b), h0, reverse)
    np.testing.assert_allclose(ours, product, rtol=1e-10)
    np.testing.assert_allclose(ours, _loop(a, b, h0, reverse), rtol=1e-10)


def test_the_log_space_form_holds_where_the_product_form_underflows():
    """At 4,096 steps the cumulative product of a underflows to zero and the product form divides by it; the log
    space form does not, and keeps the loop's states in float64."""
    a, b, h0 = _window(4096, positive_start=True)
    assert np.cumprod(a, axis=0)[-1].max() == 0.0  # the plain form's 1 / A_t is inf here
    np.testing.assert_allclose(scan.recurrence(NUMPY_OPS, np.log(a), np.log(b), h0), _loop(a, b, h0), rtol=1e-8)


@pytest.mark.parametrize("T", [1, 5, 33])
def test_an_associative_scan_gives_what_the_log_space_form_gives(T):
    """``Ops.linear_scan`` (here a doubling scan in NumPy, JAX's lax.associative_scan in impl_jax) forward and for
    the gradient's reverse recurrence, against the log-space forms and a loop."""
    a, b, h0 = _window(T, seed=1)
    associative = replace(NUMPY_OPS, linear_scan=doubling_scan)
    for reverse in (False, True):
        np.testing.assert_allclose(scan.recurrence(associative, np.log(a), np.log(b), h0, reverse),
                                   scan.recurrence(NUMPY_OPS, np.log(a), np.log(b), h0, reverse), rtol=1e-10)
    d = np.random.default_rng(2).normal(0, 1, a.shape)  # a gradient: either sign
    d[0, 0, 0] = 0.0  # a zero, which log space floors at TINY
    expected = _loop(np.concatenate([a[1:], np.zeros_like(a[:1])]), d, np.zeros_like(h0), reverse=True)
    for ops in (NUMPY_OPS, associative):
        np.testing.assert_allclose(scan.gradient_recurrence(ops, a, np.log(a), d), expected, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("cell", linear_cells())
def test_the_minimal_cells_log_parts_are_the_logs_of_their_parts(cell):
    from rnnbench.model.cells import cell_math

    math = cell_math(cell)
    k = np.random.default_rng(3).normal(0, 3, (6, 2, 3 * (2 if cell == "mingru" else 3)))
    a, b, _ = math.parts(NUMPY_OPS, k)
    log_a, log_b = math.log_parts(NUMPY_OPS, k)
    np.testing.assert_allclose(log_a, np.log(a), rtol=1e-12)
    np.testing.assert_allclose(log_b, np.log(b), rtol=1e-12)
    assert (a > 0).all() and (a < 1).all() and (b > 0).all()


@pytest.mark.parametrize("cell", CLASSIC_CELLS)
def test_a_parallel_way_through_time_for_a_cell_not_linear_in_h_is_refused_naming_the_field(cell):
    with pytest.raises(ConfigError, match=rf"^time_mode: parallel needs a cell whose update is linear in h "
                                          rf"\(mingru, minlstm\); {cell} is not$"):
        RunConfig(cell=cell, time_mode="parallel")
    with pytest.raises(ConfigError, match="time_mode: must be one of sequential, parallel, got 'scan'"):
        RunConfig(cell="mingru", time_mode="scan")


def test_an_implementation_without_the_parallel_way_or_the_cell_says_which_can():
    config = RunConfig(cell="mingru", time_mode="parallel")
    with pytest.raises(UnsupportedError, match=r"^time_mode: tf-dynamic runs sequential only, not parallel; "
                                               r"numpy, tf-function, .*jax-scan run it \(cells mingru, minlstm\)$"):
        registry.entry("tf-dynamic").check(config)
    with pytest.raises(UnsupportedError, match=r"^cell: torch-rnn builds rnn, lstm, gru only, not mingru "
                                               r"\(torch.nn has no minGRU or minLSTM layer\)$"):
        registry.entry("torch-rnn").check(config.replace(time_mode="sequential"))
    every_family = {registry.entry(e.name).framework for e in registry.ENTRIES if "parallel" in e.time_modes}
    assert every_family == {"numpy", "tensorflow", "torch", "jax"}


def test_train_refuses_a_parallel_lstm_in_one_line_exit_2(capsys):
    assert main(["train", "--impl", "numpy", "--cell", "lstm", "--time-mode", "parallel"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "time_mode: parallel needs a cell whose update is linear in h (mingru, minlstm)" in err[0]


def test_a_minimal_cell_trains_both_ways_to_the_same_losses():
    """The NumPy reference's loop and its scan in log space, float32, 50 windows of binary (10,16) with the state
    carried: the same step losses and parameters within 1e-4."""
    from rnnbench.training.train import train

    config = RunConfig(cell="minlstm", num_steps=10, state_size=16, size=50 * 200 * 10, threads=1)
    loop = train("numpy", config, progress=False)
    by_scan = train("numpy", config.replace(time_mode="parallel"), progress=False)
    np.testing.assert_allclose(by_scan.losses, loop.losses, rtol=0, atol=1e-4)
    for name in loop.final_params.names:
        np.testing.assert_allclose(by_scan.final_params[name], loop.final_params[name], rtol=0, atol=1e-4)
    assert by_scan.losses[-1] < by_scan.losses[0] - 0.01  # it learned something
