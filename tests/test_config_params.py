import numpy as np
import pytest

from rnnbench.errors import ConfigError, UserError
from rnnbench.spec.config import RunConfig
from rnnbench.spec.params import init_params, load_params, save_params


@pytest.mark.parametrize(
    "changes, field, hint",
    [
        ({"num_steps": 0}, "num_steps", "positive integer"),
        ({"state_size": -3}, "state_size", "positive integer"),
        ({"batch_size": 0}, "batch_size", "positive integer"),
        ({"size": 0}, "size", "positive integer"),
        ({"epochs": 0}, "epochs", "positive integer"),
        ({"threads": 0}, "threads", "positive integer"),
        ({"task": "poetry"}, "task", "binary, sine, sin2cos, digits"),
        ({"cell": "transformer"}, "cell", "rnn, lstm, gru"),
        ({"optimizer": "sgd"}, "optimizer", "adagrad, adam"),
        ({"bidirectional": True}, "bidirectional", "applies to sine and digits"),
        ({"bidirectional": 1}, "bidirectional", "true or false"),
        ({"seed": -1}, "seed", "non-negative"),
        ({"learning_rate": 0.0}, "learning_rate", "> 0"),
        ({"learning_rate": -0.1}, "learning_rate", "> 0"),
        ({"learning_rate": float("nan")}, "learning_rate", "> 0"),
        ({"device": "tpu"}, "device", "cpu, cuda"),
        ({"dtype": "float16"}, "dtype", "float32, float64"),
        ({"size": 1000, "batch_size": 200, "num_steps": 6}, "num_steps", "at most 5"),
        ({"size": 100, "batch_size": 200}, "batch_size", "at most size"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(changes, field, hint):
    with pytest.raises(ConfigError) as info:
        RunConfig(**changes)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert hint in str(info.value)


def test_config_defaults_and_derived_sizes():
    c = RunConfig()
    assert (c.num_steps, c.state_size, c.batch_size, c.learning_rate, c.size, c.dtype) == (
        5, 4, 200, 0.1, 1_000_000, "float32"
    )
    assert c.row_length == 5000 and c.windows_per_epoch == 1000
    with pytest.raises(AttributeError):
        c.num_steps = 3  # frozen


def test_init_params_shapes_dtypes_and_glorot_bounds():
    c = RunConfig(state_size=16)
    p = init_params(c)
    assert p.W.shape == (18, 16) and p.b.shape == (16,) and p.U.shape == (16, 2) and p.c.shape == (2,)
    assert all(a.dtype == np.float32 for a in p)
    assert np.abs(p.W).max() <= np.sqrt(6 / (18 + 16)) and np.abs(p.U).max() <= np.sqrt(6 / (16 + 2))
    assert not p.b.any() and not p.c.any()
    assert np.abs(p.W).max() > 0.5 * np.sqrt(6 / 34)  # really drawn over the range, not tiny


def test_init_params_depends_on_seed_only():
    a = init_params(RunConfig(seed=1))
    b = init_params(RunConfig(seed=1, learning_rate=0.5, num_steps=10))
    c = init_params(RunConfig(seed=2))
    np.testing.assert_array_equal(a.W, b.W)
    assert not np.array_equal(a.W, c.W)


def test_params_round_trip_and_shape_errors_name_the_file(tmp_path):
    c = RunConfig(state_size=8)
    p = init_params(c)
    path = tmp_path / "w.npz"
    save_params(path, p)
    q = load_params(path, c)
    for a, b in zip(p, q):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(UserError, match=r"w\.npz: W has shape \(10, 8\), expected \(6, 4\)"):
        load_params(path, RunConfig(state_size=4))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    with pytest.raises(UserError, match=r"bad\.npz: not a readable \.npz"):
        load_params(bad, c)
    with pytest.raises(UserError, match="missing.npz"):
        load_params(tmp_path / "missing.npz", c)
    np.savez(tmp_path / "partial.npz", W=p.W)
    with pytest.raises(UserError, match=r"partial\.npz: missing arrays b, U, c"):
        load_params(tmp_path / "partial.npz", c)
