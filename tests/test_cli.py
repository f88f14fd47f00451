import json
import subprocess
import sys

import numpy as np
import pytest

from rnnbench.cli import main
from rnnbench.params import init_params, save_params
from rnnbench.task import epoch_stream, theory_levels
from rnnbench.train import train

TINY = ["--size", "50000", "--threads", "2"]  # 50 windows of (200, 5)


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_theory_prints_the_three_levels(capsys):
    code, out, _ = run(capsys, "theory")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["0.6616", "0.5192", "0.4545"]


def test_list_names_framework_and_status(capsys):
    code, out, _ = run(capsys, "list")
    rows = {line.split()[0]: line for line in out.splitlines()}
    assert code == 0 and rows["numpy"].split()[1:] == ["numpy", "available"]
    for line in out.splitlines():
        status = line.split(None, 2)[2]
        assert status == "available" or status.startswith("unavailable: ") and "pip install" in status


def test_gen_writes_the_epoch_zero_stream(capsys, tmp_path):
    out_file = tmp_path / "d.npz"
    code, _, _ = run(capsys, "gen", "--size", "1000", "--seed", "5", "--out", str(out_file))
    assert code == 0
    with np.load(out_file) as d:
        x, y = epoch_stream(1000, 5, 0)
        np.testing.assert_array_equal(d["x"], x)
        np.testing.assert_array_equal(d["y"], y)


def test_train_writes_the_contracted_json(capsys, tmp_path):
    out_file = tmp_path / "r.json"
    code, out, _ = run(capsys, "train", "--impl", "numpy", *TINY, "--epochs", "3", "--out", str(out_file))
    assert code == 0 and "numpy: final_loss" in out
    record = json.loads(out_file.read_text())
    assert record["impl"] == "numpy" and record["framework"] == "numpy"
    assert record["steps"] == 150 and len(record["losses"]) == 150
    assert record["final_loss"] == pytest.approx(np.mean(record["losses"][-100:]))
    assert record["config"]["epochs"] == 3 and record["config"]["threads"] == 2
    assert record["build_seconds"] >= 0 and record["train_seconds"] > 0 and record["us_per_step"] > 0
    assert record["theory"] == theory_levels().as_dict()


def test_weights_in_and_data_in_reproduce_the_loss_trace(capsys, tmp_path):
    """A user checking their own RNN: same weights, same data, same loss trace."""
    from rnnbench.config import RunConfig

    config = RunConfig(size=20_000, threads=2, seed=0)
    weights = init_params(config.replace(seed=42))
    save_params(tmp_path / "w.npz", weights)
    x, y = epoch_stream(20_000, 77, 0)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    out_file = tmp_path / "r.json"
    code, _, err = run(capsys, "train", "--impl", "numpy", "--threads", "2", "--epochs", "2",
                       "--weights-in", str(tmp_path / "w.npz"), "--data-in", str(tmp_path / "d.npz"),
                       "--out", str(out_file))
    assert code == 0, err
    record = json.loads(out_file.read_text())
    expected = train("numpy", config.replace(epochs=2), params=weights, data=(x, y))
    np.testing.assert_allclose(record["losses"], expected.losses, rtol=0, atol=0)
    assert record["config"]["size"] == 20_000 and record["steps"] == 40
    assert record["losses"][0] != train("numpy", config).losses[0]  # the files were really used


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["train", "--impl", "nope"], "impl: unknown implementation 'nope'; valid: numpy"),
        (["train", "--impl", "numpy", "--num-steps", "0"], "--num-steps: expected a positive integer"),
        (["train", "--impl", "numpy", "--lr", "-1"], "--lr: expected a finite number > 0"),
        (["train", "--impl", "numpy", "--device", "tpu"], "--device: invalid choice: 'tpu'"),
        (["train", "--impl", "numpy", "--dtype", "int8"], "--dtype: invalid choice"),
        (["train", "--impl", "numpy", "--size", "1000", "--num-steps", "6"], "num_steps: a window of 6 is longer"),
        (["train", "--impl", "numpy", "--weights-in", "/nonexistent/w.npz"], "/nonexistent/w.npz: not a readable"),
        (["train", "--impl", "numpy", "--data-in", "/nonexistent/d.npz"], "/nonexistent/d.npz: not a readable"),
        (["train", "--impl", "numpy", "--device", "cuda", *TINY], "device: numpy runs on cpu only"),
        (["gen", "--size", "-5", "--out", "x.npz"], "--size: expected a positive integer"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["bench", "--impl", "nope"], "impl: unknown implementation 'nope'"),
    ],
)
def test_user_errors_exit_2_with_one_line(capsys, argv, needle):
    with pytest.raises(SystemExit) as info:
        sys.exit(main(argv))
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err


def test_bad_data_files_are_named(capsys, tmp_path):
    np.savez(tmp_path / "shape.npz", x=np.zeros(10, int), y=np.zeros(9, int))
    np.savez(tmp_path / "values.npz", x=np.full(10, 3), y=np.zeros(10, int))
    np.savez(tmp_path / "w.npz", W=np.zeros((3, 3)), b=np.zeros(3), U=np.zeros((3, 2)), c=np.zeros(2))
    for argv, needle in (
        (["--data-in", str(tmp_path / "shape.npz")], "shape.npz: x and y must be 1-D arrays of one length"),
        (["--data-in", str(tmp_path / "values.npz")], "values.npz: x values must be in 0..1"),
        (["--weights-in", str(tmp_path / "w.npz")], "w.npz: W has shape (3, 3), expected (6, 4)"),
    ):
        code, _, err = run(capsys, "train", "--impl", "numpy", *argv)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_a_failed_run_keeps_the_previous_output(capsys, tmp_path, monkeypatch):
    out_file = tmp_path / "r.json"
    out_file.write_text('{"previous": true}')
    import rnnbench.impl_numpy.rnn

    monkeypatch.setattr(rnnbench.impl_numpy.rnn.NumpyRNN, "train_step", lambda self, x, y: float("inf"))
    code, _, err = run(capsys, "train", "--impl", "numpy", *TINY, "--out", str(out_file))
    assert code == 1 and "loss became inf at step 0" in err
    assert json.loads(out_file.read_text()) == {"previous": True}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "rnnbench", "theory"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("0.6616")
