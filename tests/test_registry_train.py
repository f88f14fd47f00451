import subprocess
import sys
import time

import numpy as np
import pytest

from rnnbench.errors import DivergedError, UnsupportedError, UserError
from rnnbench.spec import families, registry
from rnnbench.spec.config import DEVICES
from rnnbench.spec.interface import RNNImplementation, StepwiseEpoch
from rnnbench.spec.params import init_params
from rnnbench.tasks.binary import batch_windows, epoch_stream
from rnnbench.training.train import train


def test_listing_imports_no_framework():
    code = (
        "import sys; from rnnbench.commands import cli; cli.main(['list']); "
        "assert not {'tensorflow', 'torch'} & set(sys.modules), sorted(sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].split()[:3] == ["numpy", "numpy", "available"]


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(UserError, match=r"impl: unknown implementation 'nope'; valid: numpy"):
        registry.entry("nope")


def test_missing_framework_is_unavailable_with_reason_and_install_command(monkeypatch):
    ghost = registry.Entry("torch-ghost", "ghost_mod:Ghost", "torch", "test", ("ghost_framework_xyz",))
    monkeypatch.setitem(registry._BY_NAME, "torch-ghost", ghost)
    ok, reason = ghost.available()
    assert not ok
    assert reason == "ghost_framework_xyz not installed (install: pip install 'rnnbench[torch]')"
    with pytest.raises(UserError, match="impl torch-ghost: unavailable: ghost_framework_xyz not installed"):
        registry.create("torch-ghost")


def test_a_device_the_entry_does_not_list_is_refused_before_anything_is_built(tiny_config):
    with pytest.raises(UnsupportedError, match="device: numpy runs on cpu only, got 'cuda'"):
        train("numpy", tiny_config.replace(device="cuda"))


def assert_entries_satisfy_the_interface(framework: str) -> None:
    """Every entry of one framework imports to a class that satisfies the interface (shared with test_tf/torch)."""
    names = [e.name for e in registry.ENTRIES if e.framework == framework]
    assert names
    for name in names:
        impl = registry.create(name)
        assert isinstance(impl, RNNImplementation), name
        assert isinstance(impl.whole_epoch, bool)
        # the registry entry is the one source of the name and the framework
        assert not {"name", "framework"} & set(dir(type(impl))), name


def test_numpy_entries_satisfy_the_interface():
    assert_entries_satisfy_the_interface("numpy")


def test_registry_rows_are_well_formed():
    for e in registry.ENTRIES:
        module, _, cls = e.target.partition(":")
        assert module.startswith("rnnbench.") and cls and e.summary and e.requires, e
        assert e.name.startswith(families.family(e.framework).prefix), e.name
        assert e.devices and set(e.devices) <= set(DEVICES), e.name
    assert len({e.name for e in registry.ENTRIES}) == len(registry.ENTRIES)


class Recorder(StepwiseEpoch):
    """A fake implementation that records what the loop feeds it."""

    nan_at: int | None = None

    def build(self, config, params):
        self.calls = []
        self.step = 0
        self.weights = params

    def reset_state(self):
        self.calls.append("reset")

    def train_step(self, x, y):
        self.calls.append((x.copy(), y.copy()))
        self.step += 1
        return float("nan") if self.step - 1 == self.nan_at else 0.5

    def forward(self, x):
        raise NotImplementedError

    def params(self):
        return self.weights

    def versions(self):
        return {"recorder": "0"}


@pytest.fixture
def recorder(monkeypatch):
    made = []

    def create(name, config=None):
        made.append(Recorder())
        return made[-1]

    monkeypatch.setitem(registry._BY_NAME, "numpy-recorder",
                        registry.Entry("numpy-recorder", "tests:Recorder", "numpy", "a fake", ("numpy",)))
    monkeypatch.setattr(registry, "create", create)
    return made


def test_loop_resets_each_epoch_feeds_windows_in_order_and_draws_fresh_streams(recorder, tiny_config):
    config = tiny_config.replace(epochs=2)
    result = train("numpy-recorder", config)
    calls = recorder[0].calls
    assert result.steps == 100 and len(calls) == 102
    assert calls[0] == "reset" and calls[51] == "reset"
    for epoch, offset in ((0, 1), (1, 52)):
        xs, ys = batch_windows(*epoch_stream(config.size, config.seed, epoch), 200, 5)
        for i in (0, 1, 49):
            np.testing.assert_array_equal(calls[offset + i][0], xs[i])
            np.testing.assert_array_equal(calls[offset + i][1], ys[i])
    assert not np.array_equal(calls[1][0], calls[52][0])


def test_loop_reuses_a_given_stream_every_epoch(recorder, tiny_config):
    x, y = epoch_stream(tiny_config.size, 99, 0)
    train("numpy-recorder", tiny_config.replace(epochs=2), data={"x": x, "y": y})
    calls = recorder[0].calls
    np.testing.assert_array_equal(calls[1][0], calls[52][0])
    np.testing.assert_array_equal(calls[1][0], batch_windows(x, y, 200, 5)[0][0])


def test_loop_stops_on_nan_naming_the_step(recorder, tiny_config, monkeypatch):
    monkeypatch.setattr(Recorder, "nan_at", 57)
    with pytest.raises(DivergedError, match="loss became nan at step 57"):
        train("numpy-recorder", tiny_config.replace(epochs=2))


def test_result_fields(tiny_config):
    result = train("numpy", tiny_config)
    record = result.to_json()
    for key in ("impl", "framework", "versions", "path", "config", "losses", "final_loss", "build_seconds",
                "train_seconds", "steps", "us_per_step"):
        assert key in record
    assert record["path"]["blas"] and record["path"]["numpy_flushes_denormals"] is False
    assert record["steps"] == len(record["losses"]) == 50
    assert record["final_loss"] == pytest.approx(np.mean(record["losses"]))
    assert record["config"]["num_steps"] == 5 and record["versions"]["numpy"] == np.__version__
    assert record["us_per_step"] == pytest.approx(1e6 * record["train_seconds"] / 50)
    assert result.final_params.W.shape == init_params(tiny_config).W.shape


def test_time_to_target_is_the_first_crossing_of_the_running_mean(recorder, tiny_config, monkeypatch):
    from rnnbench.training.train import TrainResult

    losses = np.r_[np.full(150, 0.6), np.full(150, 0.5)]
    result = TrainResult("x", "numpy", {}, tiny_config, losses, 0.0, 3.0, None, np.arange(1, 301) / 100)
    # mean of the last 100 falls below 0.55 once more than 50 of them are 0.5: after step 201
    assert result.time_to_target(0.55) == (201, 2.01)
    assert result.time_to_target(0.4) is None  # not reached: a result, not an error
    short = TrainResult("x", "numpy", {}, tiny_config, losses[:50], 0.0, 1.0, None, np.arange(50.0))
    assert short.time_to_target(0.7) is None


class TickingClock:
    """A synthetic perf_counter: every reading is one tick (1 ms) after the last."""

    def __init__(self):
        self.ticks = 0

    def __call__(self) -> float:
        self.ticks += 1
        return self.ticks / 1000


def test_build_and_training_time_and_step_seconds_come_from_the_right_clock_readings(recorder, tiny_config,
                                                                                      monkeypatch):
    monkeypatch.setattr(time, "perf_counter", TickingClock())
    result = train("numpy-recorder", tiny_config.replace(epochs=2))
    # build: one reading before, one after; each epoch: a start, one reading per step (50), an end
    assert result.build_seconds == pytest.approx(0.001)
    assert result.train_seconds == pytest.approx(2 * 0.051)
    expected = np.r_[np.arange(1, 51), 51 + np.arange(1, 51)] / 1000  # epoch 2 continues after epoch 1's total
    np.testing.assert_allclose(result.step_seconds, expected)
    assert result.us_per_step == pytest.approx(1e6 * 0.102 / 100)
    assert result.time_to_target(0.6) == (100, pytest.approx(0.101))  # every loss is 0.5: after the 100th step


def test_loss_curve_is_the_running_mean_subsampled(tiny_config):
    from rnnbench.training.train import TrainResult

    losses = np.linspace(1.0, 0.0, 1000)
    result = TrainResult("x", "numpy", {}, tiny_config, losses, 0.0, 1.0, None, np.arange(1000.0))
    curve = result.loss_curve(points=50)
    assert len(curve["step"]) == len(curve["loss"]) == 50
    assert curve["step"][0] == 100 and curve["step"][-1] == 1000
    assert curve["loss"][0] == pytest.approx(losses[:100].mean(), abs=1e-6)
    assert curve["loss"][-1] == pytest.approx(losses[-100:].mean(), abs=1e-6)
