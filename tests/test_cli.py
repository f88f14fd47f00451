import json
import subprocess
import sys

import numpy as np
import pytest

from rnnbench.commands.cli import main
from rnnbench.spec.params import init_params, save_params
from rnnbench.tasks.binary import epoch_stream, theory_levels
from rnnbench.training.train import train

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
    assert record["levels"] == theory_levels().as_dict() and record["level_labels"]["lag3"] == "t-3 learned"
    assert (record["task"], record["cell"], record["bidirectional"], record["optimizer"]) == (
        "binary", "rnn", False, "adagrad")
    assert 0.4 < record["eval_loss"] < 0.7 and "test_accuracy" not in record and "free_run_mse" not in record


def test_weights_in_and_data_in_reproduce_the_loss_trace(capsys, tmp_path):
    """A user checking their own RNN: same weights, same data, same loss trace."""
    from rnnbench.spec.config import RunConfig

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
    expected = train("numpy", config.replace(epochs=2), params=weights, data={"x": x, "y": y})
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
        (["train", "--impl", "numpy", "--impl", "tf-cell"], "impl: train runs one implementation, got numpy, tf-cell"),
        (["train", "--impl", "numpy", "--task", "poetry"], "--task: invalid choice: 'poetry'"),
        (["train", "--impl", "numpy", "--cell", "transformer"], "--cell: invalid choice: 'transformer'"),
        (["train", "--impl", "numpy", "--bidirectional"], "bidirectional: task binary carries its state"),
        (["train", "--impl", "jax-flax", "--cell", "gru"], "cell: jax-flax builds rnn, lstm only, not gru (flax"),
        (["train", "--impl", "numpy", "--task", "digits", "--num-steps", "5"],
         "num_steps: the digit images have 8 rows, so num_steps must be 8"),
        (["train", "--impl", "numpy", "--task", "digits", "--size", "5000"], "size: at most the 1437 training images"),
        (["train", "--impl", "numpy", "--task", "random", "--input-size", "0"],
         "--input-size: expected a positive integer, got '0'"),
        (["train", "--impl", "numpy", "--task", "sine", "--input-size", "4"],
         "input_size: applies to task random only; task sine has its own (input width 1"),
        (["train", "--impl", "numpy", "--task", "random", "--classes", "1"],
         "--classes: expected an integer of at least 2, got '1'"),
        (["train", "--impl", "numpy", "--task", "random", "--target", "middle"], "--target: invalid choice"),
        (["train", "--impl", "numpy", "--task", "random", "--layers", "0"],
         "--layers: expected a positive integer, got '0'"),
        (["train", "--impl", "numpy", "--layers", "2"],
         "layers: task binary carries its state from window to window, one state per layer; stacked layers apply "
         "to tasks of independent sequences (sine, digits, random), got 2"),
        (["theory", "--task", "nope"], "--task: invalid choice: 'nope'"),
        (["gen", "--task", "nope", "--out", "x.npz"], "--task: invalid choice: 'nope'"),
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


@pytest.mark.parametrize("task, levels", [
    ("binary", ["0.6616", "0.5192", "0.4545"]),
    ("sine", ["0.5000", "0.0208", "0.0000"]),
    ("sin2cos", ["0.5000", "0.0000"]),
    ("digits", ["2.3026"]),
    ("random", ["2.3026"]),
])
def test_theory_of_each_task(capsys, task, levels):
    code, out, _ = run(capsys, "theory", "--task", task)
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == levels


def test_list_shows_what_an_implementation_does_not_support_without_importing_it(capsys):
    code, out, _ = run(capsys, "list", "--task", "sine", "--cell", "lstm", "--cell", "gru")
    rows = {line.split()[0]: line for line in out.splitlines()}
    assert code == 0 and rows["numpy"].split()[2] == "available"
    assert "n/a" not in rows["tf-cell"] and "n/a" not in rows["torch-rnn"]  # they do every task and cell
    assert "n/a" not in rows["torch-compile"] and "n/a" not in rows["jax-scan"]
    assert "n/a: cell: jax-flax builds rnn, lstm only, not gru (flax.linen.GRUCell gives" in rows["jax-flax"]


def test_bench_options_accumulate():
    from rnnbench.commands.cli import build_parser

    args = build_parser().parse_args(["bench", "--impl", "numpy", "--impl", "tf-cell", "torch-rnn",
                                      "--task", "sine", "--task", "digits", "--cell", "lstm"])
    assert args.impl == ["numpy", "tf-cell", "torch-rnn"]
    assert args.task == ["sine", "digits"] and args.cell == ["lstm"]


def test_benchmarks_run_at_one_thread_unless_told_and_training_at_all_cores():
    """One thread: the medians repeat from process to process there (rnnbench.spec.config.BENCH_THREADS); a training
    run is not a benchmark and takes every core."""
    import os

    from rnnbench.commands.bench import request_of
    from rnnbench.commands.cli import build_parser
    from rnnbench.commands.config_args import config_from_args

    parser = build_parser()
    assert request_of(parser.parse_args(["bench"])).threads == 1
    if (os.cpu_count() or 1) >= 2:
        assert request_of(parser.parse_args(["bench", "--threads", "2"])).threads == 2
    train = parser.parse_args(["train", "--impl", "numpy"])
    assert train.threads is None  # left out: the configuration's default, every core
    assert config_from_args(train).threads == (os.cpu_count() or 1)


@pytest.mark.parametrize("task", ["sine", "sin2cos", "digits", "random"])
def test_gen_and_data_in_round_trip_for_each_task(capsys, tmp_path, task):
    """What `gen --task T` writes, `train --task T --data-in` reads, and trains as if generated."""
    from rnnbench.spec.config import RunConfig

    small = {"sine": ["--size", "200"], "sin2cos": ["--size", "5000"], "digits": [], "random": ["--size", "640"]}[task]
    code, out, err = run(capsys, "gen", "--task", task, *small, "--out", str(tmp_path / "d.npz"))
    assert code == 0 and f"task {task}" in out, err
    code, out, err = run(capsys, "train", "--impl", "numpy", "--task", task, "--epochs", "1", "--threads", "2",
                         "--data-in", str(tmp_path / "d.npz"), "--out", str(tmp_path / "r.json"))
    assert code == 0, err
    record = json.loads((tmp_path / "r.json").read_text())
    config = RunConfig.for_task(task, epochs=1, threads=2, **({"size": int(small[1])} if small else {}))
    expected = train("numpy", config)
    np.testing.assert_allclose(record["losses"], expected.losses, rtol=0, atol=0)
    assert record["task"] == task and record["eval_loss"] == pytest.approx(expected.metrics["eval_loss"])


def test_digits_reads_a_keras_format_mnist_file(capsys, tmp_path):
    """The seed's real setup: 28x28 uint8 images, values / 255, 28 steps of 28 features."""
    rng = np.random.default_rng(0)
    labels = np.arange(120) % 10
    images = (rng.random((120, 28, 28)) * 60).astype(np.uint8)
    images[np.arange(120), :, labels * 2] = 255  # a bright column per class: learnable in a few steps
    np.savez(tmp_path / "mnist.npz", x_train=images[:100], y_train=labels[:100].astype(np.uint8),
             x_test=images[100:], y_test=labels[100:].astype(np.uint8))
    code, out, err = run(capsys, "train", "--impl", "numpy", "--task", "digits", "--data-in",
                         str(tmp_path / "mnist.npz"), "--batch-size", "20", "--epochs", "15", "--state-size", "16",
                         "--threads", "2", "--out", str(tmp_path / "r.json"))
    assert code == 0, err
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["config"]["num_steps"] == 28 and record["config"]["size"] == 100 and record["steps"] == 75
    assert record["test_accuracy"] >= 0.5 and record["level_labels"] == {"chance": "chance (accuracy 0.1)"}
    np.savez(tmp_path / "bad.npz", x_train=images[:, :, :20], y_train=labels, x_test=images, y_test=labels)
    code, _, err = run(capsys, "train", "--impl", "numpy", "--task", "digits", "--data-in", str(tmp_path / "bad.npz"))
    assert code == 2 and "bad.npz: x_train must hold square images" in err


def test_weights_in_checks_the_keys_and_shapes_of_each_cell(capsys, tmp_path):
    from rnnbench.spec.config import RunConfig

    gru = init_params(RunConfig.for_task("sine", cell="gru", bidirectional=True))
    assert gru.names == ("W", "b", "bh", "bwd_W", "bwd_b", "bwd_bh", "U", "c") and gru.U.shape == (32, 1)
    save_params(tmp_path / "gru.npz", gru)
    base = ["train", "--impl", "numpy", "--task", "sine", "--size", "100", "--epochs", "1", "--threads", "2"]
    code, _, err = run(capsys, *base, "--cell", "gru", "--bidirectional", "--weights-in", str(tmp_path / "gru.npz"))
    assert code == 0, err
    code, _, err = run(capsys, *base, "--cell", "lstm", "--weights-in", str(tmp_path / "gru.npz"))
    assert code == 2 and "gru.npz: W has shape (17, 48), expected (17, 64) for cell=lstm" in err
    np.savez(tmp_path / "nobh.npz", **{k: v for k, v in gru.items() if k != "bh"})
    code, _, err = run(capsys, *base, "--cell", "gru", "--bidirectional", "--weights-in", str(tmp_path / "nobh.npz"))
    assert code == 2 and "nobh.npz: missing arrays bh" in err
    # stacked layers: the second layer's arrays under its prefix, reading both directions' states
    stacked = init_params(RunConfig.for_task("sine", cell="rnn", bidirectional=True, layers=2))
    assert stacked.names == ("W", "b", "bwd_W", "bwd_b", "l2_W", "l2_b", "l2_bwd_W", "l2_bwd_b", "U", "c")
    assert stacked.l2_W.shape == (32 + 16, 16) and stacked.U.shape == (32, 1)
    save_params(tmp_path / "x2.npz", stacked)
    code, out, err = run(capsys, *base, "--bidirectional", "--layers", "2", "--weights-in", str(tmp_path / "x2.npz"))
    assert code == 0, err
    code, _, err = run(capsys, *base, "--bidirectional", "--weights-in", str(tmp_path / "x2.npz"))
    assert code == 0, err  # a one-layer run reads its own arrays and ignores the rest


def test_a_failed_run_keeps_the_previous_output(capsys, tmp_path, monkeypatch):
    out_file = tmp_path / "r.json"
    out_file.write_text('{"previous": true}')
    import rnnbench.impl_numpy.reference

    monkeypatch.setattr(rnnbench.impl_numpy.reference.NumpyReference, "train_step", lambda self, x, y: float("inf"))
    code, _, err = run(capsys, "train", "--impl", "numpy", *TINY, "--out", str(out_file))
    assert code == 1 and "loss became inf at step 0" in err
    assert json.loads(out_file.read_text()) == {"previous": True}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "rnnbench", "theory"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("0.6616")
