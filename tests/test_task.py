import math

import numpy as np
import pytest

from rnnbench.spec.config import RunConfig
from rnnbench.tasks import TASKS, digits, sin2cos, sine
from rnnbench.tasks.binary import (
    batch_windows,
    epoch_stream,
    expected_entropy,
    generate,
    target_probability,
    theory_levels,
)


def test_generate_shapes_and_values():
    x, y = generate(1000, np.random.default_rng(0))
    assert x.shape == y.shape == (1000,)
    assert x.dtype == y.dtype == np.int32
    assert set(np.unique(x)) == {0, 1} and set(np.unique(y)) == {0, 1}


def test_generate_follows_the_rule_with_burn_in_and_no_wraparound():
    """The same draws, sample by sample, as the original loop would do it with 8 burn-in inputs."""
    size = 5000
    x, y = generate(size, np.random.default_rng(7))
    rng = np.random.default_rng(7)
    history = rng.integers(0, 2, size=size + 8, dtype=np.int8)
    u = rng.random(size, dtype=np.float32)
    expected_y = np.empty(size, dtype=np.int32)
    for t in range(size):  # x_t is history[t + 8]
        p = 0.5 + 0.5 * history[t + 8 - 3] - 0.25 * history[t + 8 - 8]
        expected_y[t] = u[t] < p
    np.testing.assert_array_equal(x, history[8:])
    np.testing.assert_array_equal(y, expected_y)


def test_epoch_streams_are_seeded_fresh_and_reproducible():
    a0 = epoch_stream(1000, seed=3, epoch=0)
    a1 = epoch_stream(1000, seed=3, epoch=1)
    b0 = epoch_stream(1000, seed=3, epoch=0)
    c0 = epoch_stream(1000, seed=4, epoch=0)
    np.testing.assert_array_equal(a0[0], b0[0])
    np.testing.assert_array_equal(a0[1], b0[1])
    assert not np.array_equal(a0[0], a1[0])
    assert not np.array_equal(a0[0], c0[0])


def test_theory_levels_to_four_places():
    levels = theory_levels()
    assert round(levels.as_dict()["nothing"], 4) == 0.6616
    assert round(levels.as_dict()["lag3"], 4) == 0.5192
    assert round(levels.as_dict()["both"], 4) == 0.4545
    assert levels.as_dict()["nothing"] > levels.as_dict()["lag3"] > levels.as_dict()["both"]


def _conditional_cross_entropy(y: np.ndarray, keys: np.ndarray) -> float:
    """Cross-entropy of predicting y by its empirical frequency within each key group."""
    total = 0.0
    for k in np.unique(keys):
        group = y[keys == k]
        p = group.mean()
        total += len(group) * -(p * np.log(p) + (1 - p) * np.log(1 - p)) if 0 < p < 1 else 0.0
    return total / len(y)


def test_theory_matches_conditional_frequencies_of_two_million_samples():
    x, y = generate(2_000_000, np.random.default_rng(11))
    t = np.arange(8, len(x))  # targets whose lags lie inside the returned stream
    y_t, lag3, lag8 = y[t], x[t - 3], x[t - 8]
    levels = theory_levels()
    assert _conditional_cross_entropy(y_t, np.zeros_like(y_t)) == pytest.approx(levels.as_dict()["nothing"], abs=1e-3)
    assert _conditional_cross_entropy(y_t, lag3) == pytest.approx(levels.as_dict()["lag3"], abs=1e-3)
    assert _conditional_cross_entropy(y_t, 2 * lag3 + lag8) == pytest.approx(levels.as_dict()["both"], abs=1e-3)
    # and the conditional frequencies themselves follow the rule
    for a in (0, 1):
        for b in (0, 1):
            freq = y_t[(lag3 == a) & (lag8 == b)].mean()
            assert freq == pytest.approx(target_probability(a, b), abs=3e-3)


def _h(p: float) -> float:
    """Binary entropy in nats, written out here apart from the suite's own."""
    return 0.0 if p in (0.0, 1.0) else -(p * math.log(p) + (1 - p) * math.log(1 - p))


def test_the_levels_equal_their_closed_forms_from_the_design():
    """DESIGN.md's formulas, by hand: P(y=1) is 0.5, 1.0, 0.25, 0.75 for (x_{t-3}, x_{t-8}) = 00, 10, 01, 11."""
    levels = theory_levels()
    assert levels.as_dict()["nothing"] == pytest.approx(_h(0.625), abs=1e-12)
    assert levels.as_dict()["lag3"] == pytest.approx(0.5 * _h(0.875) + 0.5 * _h(0.375), abs=1e-12)
    assert levels.as_dict()["both"] == pytest.approx(0.5 * _h(0.75) + 0.25 * _h(0.5) + 0.25 * _h(1.0), abs=1e-12)
    # knowing only t-8: P = 0.75 given x_{t-8} = 0, 0.5 given 1; worth less than knowing t-3
    assert expected_entropy((8,)) == pytest.approx(0.5 * _h(0.75) + 0.5 * _h(0.5), abs=1e-12)
    assert expected_entropy((8,)) > levels.as_dict()["lag3"]


def test_batch_windows_cuts_contiguous_rows_and_takes_windows_in_order():
    n, batch, steps = 103, 4, 3  # rows of 25 columns; 8 windows; the last column of each row is dropped
    x = np.arange(n)
    xs, ys = batch_windows(x, x + 1000, batch, steps)
    assert xs.shape == ys.shape == (8, 4, 3)
    assert xs.flags.c_contiguous
    for i in range(8):
        for r in range(batch):
            np.testing.assert_array_equal(xs[i, r], r * 25 + i * steps + np.arange(steps))
    np.testing.assert_array_equal(ys, xs + 1000)
    # window i+1 of a row continues window i of the same row
    assert xs[1, 2, 0] == xs[0, 2, -1] + 1


def test_batch_windows_rejects_rows_shorter_than_a_window():
    with pytest.raises(ValueError, match="shorter than num_steps"):
        batch_windows(np.arange(10), np.arange(10), 5, 3)


# --- the other tasks: data as specified, levels derived and checked against data -----------------------------


def test_sine_levels_are_derived_and_match_the_data():
    levels = TASKS["sine"].levels().as_dict()
    assert levels["zero"] == pytest.approx(0.5, abs=1e-12)
    assert levels["repeat_last"] == pytest.approx(1 - math.cos(10 / 49), abs=1e-12)
    assert round(levels["repeat_last"], 4) == 0.0208 and abs(levels["exact"]) < 1e-12
    x, y = sine.sequences(20_000, 49, np.random.default_rng(1))
    assert np.mean(y**2) == pytest.approx(levels["zero"], abs=0.01)
    assert np.mean((y - x) ** 2) == pytest.approx(levels["repeat_last"], abs=0.001)
    two_tap = 2 * math.cos(sine.DELTA) * x[:, 1:] - x[:, :-1]  # x_{t+1} from x_t and x_{t-1}
    assert np.abs(two_tap - y[:, 1:]).max() < 1e-5


def test_sine_sequences_are_seeded_shifted_by_one_point_and_fresh_per_epoch():
    config = RunConfig.for_task("sine", size=200)
    xs, ys = TASKS["sine"].epoch_batches(config, 0)
    assert xs.shape == ys.shape == (4, 50, 49, 1) and xs.dtype == np.float32
    np.testing.assert_array_equal(xs[:, :, 1:], ys[:, :, :-1])
    np.testing.assert_array_equal(xs, TASKS["sine"].epoch_batches(config, 0)[0])
    assert not np.array_equal(xs, TASKS["sine"].epoch_batches(config, 1)[0])
    start = np.arcsin(np.clip(xs[0, 0, :2, 0], -1, 1))
    assert abs(np.sin(start[0] + sine.DELTA) - xs[0, 0, 1, 0]) < 1e-5 or abs(
        np.sin(np.pi - start[0] + sine.DELTA) - xs[0, 0, 1, 0]) < 1e-5


def test_sin2cos_rows_are_continuous_streams_carried_across_windows():
    config = RunConfig.for_task("sin2cos", size=5000)
    xs, ys = TASKS["sin2cos"].epoch_batches(config, 0)
    assert xs.shape == (10, 50, 10, 1)
    np.testing.assert_allclose(xs**2 + ys**2, 1.0, atol=1e-6)
    phase = np.unwrap(np.arctan2(xs[..., 0], ys[..., 0]).transpose(1, 0, 2).reshape(50, -1), axis=1)
    np.testing.assert_allclose(np.diff(phase, axis=1), sin2cos.DELTA, atol=1e-5)  # one stream per row
    levels = TASKS["sin2cos"].levels().as_dict()
    assert levels == {"memoryless": pytest.approx(0.5), "exact": 0.0}
    assert np.mean(ys**2) == pytest.approx(levels["memoryless"], abs=0.05)


def test_digits_split_is_fixed_stratified_and_the_default_epoch_is_the_training_set():
    data = digits.bundled_digits()
    assert data["x_train"].shape == (1437, 8, 8) and data["x_test"].shape == (360, 8, 8)
    assert 0.0 <= data["x_train"].min() and data["x_train"].max() <= 1.0
    assert RunConfig.for_task("digits").size == len(data["x_train"])
    assert np.bincount(data["y_test"]).min() >= 35  # stratified: every class about a tenth
    config = RunConfig.for_task("digits")
    xs, ys = TASKS["digits"].epoch_batches(config, 0)
    assert xs.shape == (22, 64, 8, 8) and ys.shape == (22, 64) and ys.dtype == np.int32
    assert not np.array_equal(ys, TASKS["digits"].epoch_batches(config, 1)[1])  # a fresh order each epoch
    ex, ey = TASKS["digits"].eval_batches(config.replace(seed=7))
    np.testing.assert_array_equal(ey[0], data["y_test"])  # the test set, whatever the run's seed
    assert TASKS["digits"].levels().as_dict() == {"chance": pytest.approx(math.log(10))}


def test_every_task_declares_what_it_is():
    for task in TASKS.values():
        config = RunConfig.for_task(task.name)
        assert config.windows_per_epoch > 0 and config.input_size > 0 and config.output_size > 0
        assert task.loss in ("xent", "mse") and len(task.levels()) >= 1 and task.references()
        assert task.bidirectional_ok == (not task.carries_state)


def test_window_shapes_are_what_each_task_hands_to_the_implementations():
    for task in TASKS.values():
        config = RunConfig.for_task(task.name, size=RunConfig.for_task(task.name).size)
        xs, ys = task.epoch_batches(config, 0)
        zx, zy = task.zero_windows(config, 2)
        assert (zx.shape[1:], zx.dtype, zy.shape[1:], zy.dtype) == (xs.shape[1:], xs.dtype, ys.shape[1:], ys.dtype)


def test_random_data_is_seeded_sized_by_the_run_and_at_chance_ln_c():
    """N(0, 1) inputs of the run's width, uniform class ids at each step or the last, fresh per epoch and the same
    for the same seed; the one level is ln C of the run's classes, and the label names the sizes."""
    from rnnbench.spec.references import config_label

    config = RunConfig.for_task("random", input_width=6, classes=4, num_steps=7, batch_size=50, size=5000)
    xs, ys = config.task_spec.epoch_batches(config, 0)
    assert xs.shape == (100, 50, 7, 6) and xs.dtype == np.float32 and ys.shape == (100, 50, 7)
    assert abs(float(xs.mean())) < 0.01 and abs(float(xs.std()) - 1) < 0.01
    assert set(np.unique(ys)) == {0, 1, 2, 3} and np.bincount(ys.ravel()).min() > 0.24 * ys.size
    again, _ = config.task_spec.epoch_batches(config, 0)
    later, _ = config.task_spec.epoch_batches(config, 1)
    np.testing.assert_array_equal(xs, again)
    assert not np.allclose(xs, later)
    assert config.task_spec.levels().as_dict() == {"chance": pytest.approx(math.log(4))}
    assert config_label(config) == "random-lstm-T7-S64-I6-C4"
    last = config.replace(target_at="last", classes=10)
    assert last.task_spec.levels().as_dict() == {"chance": pytest.approx(math.log(10))}
    assert last.task_spec.epoch_batches(last, 0)[1].shape == (100, 50) and not last.task_spec.each_step
    assert config_label(last) == "random-lstm-T7-S64-I6-last"
    assert RunConfig.for_task("random").task_spec is TASKS["random"]  # the defaults: the table's own


@pytest.mark.parametrize("fields, message", [
    (dict(task="binary", input_width=8), "input_size: applies to task random only; task binary has its own"),
    (dict(task="sine", classes=3), "classes: applies to task random only"),
    (dict(task="random", input_width=0), "input_size: must be an integer >= 1, got 0"),
    (dict(task="random", classes=1), "classes: must be an integer >= 2, got 1"),
    (dict(task="random", target_at="middle"), "target: must be one of each, last, got 'middle'"),
])
def test_the_sizes_of_random_are_refused_elsewhere_and_out_of_range(fields, message):
    from rnnbench.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        RunConfig(**fields)


def test_nothing_is_learned_from_random_data_the_numpy_reference_stays_at_chance():
    from rnnbench.spec.references import reference_configs
    from rnnbench.training.train import train

    ref = next(r for r in reference_configs(threads=2) if r.task == "random")
    assert not ref.timed and ref.expected_level == "chance"
    result = train("numpy", ref.config, progress=False)
    low, high = ref.loss_band
    assert result.steps == 100 and low < result.final_loss < high
    assert ref.config.task_spec.levels().nearest(result.final_loss) == "chance"
    assert result.losses[0] > result.final_loss - 0.05  # it starts near chance too: nothing to fall towards
