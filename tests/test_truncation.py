"""Truncation styles (DESIGN.md, "Tasks"; Williams & Peng's BPTT(k2, k1)): the windows, the configuration field
and its checks, and the NumPy reference's gradients and carried state, in float64."""

import numpy as np
import pytest
from conftest import PARITY_STEPS, assert_matches_central_differences, truncation_parity_config

from rnnbench.commands.cli import main
from rnnbench.errors import ConfigError, UnsupportedError
from rnnbench.impl_numpy.model import Model
from rnnbench.spec import registry
from rnnbench.spec.config import RunConfig
from rnnbench.spec.params import init_params
from rnnbench.tasks.base import cut_rows, window_count

CELLS = ("rnn", "lstm", "gru")


def test_windows_of_k2_start_every_k1_steps_and_k1_equal_k2_cuts_them_side_by_side():
    rows = np.arange(2 * 11).reshape(2, 11)
    windows = cut_rows(rows, 4, 3)  # starts 0, 3, 6; 9 + 4 > 11
    assert windows.shape == (3, 2, 4) and window_count(11, 4, 3) == 3
    np.testing.assert_array_equal(windows[1], rows[:, 3:7])
    np.testing.assert_array_equal(windows[2], rows[:, 6:10])
    side_by_side = rows[:, :8].reshape(2, 2, 4).swapaxes(0, 1)  # today's TF-style cut
    np.testing.assert_array_equal(cut_rows(rows, 4), side_by_side)
    np.testing.assert_array_equal(cut_rows(rows, 4, 4), side_by_side)
    features = np.arange(2 * 11 * 3.0).reshape(2, 11, 3)
    assert cut_rows(features, 5, 1).shape == (7, 2, 5, 3)


def test_k1_equal_to_k2_is_tf_style_and_bad_pairs_name_the_field():
    assert RunConfig(num_steps=5, shift=5) == RunConfig(num_steps=5)  # one name for one thing
    assert RunConfig(num_steps=5).truncation == "tf" and RunConfig(num_steps=10, shift=5).truncation == "10,5"
    config = RunConfig(num_steps=10, shift=5, size=200 * 100)
    assert config.k1 == 5 and config.windows_per_epoch == (100 - 10) // 5 + 1
    for k1 in (0, 6, -1, 2.5):
        with pytest.raises(ConfigError, match="truncation: k1 must be an integer from 1 to k2"):
            RunConfig(num_steps=5, shift=k1)
    with pytest.raises(ConfigError, match="truncation: BPTT.*task digits has independent sequences"):
        RunConfig.for_task("digits", shift=2)


@pytest.mark.parametrize("argv, message", [
    (["--truncation", "5,10"], "argument --truncation: K1 (the steps a window advances) must be at most K2"),
    (["--truncation", "0,0"], "argument --truncation: K2 and K1 must be at least 1"),
    (["--truncation", "ten"], "argument --truncation: expected tf or K2,K1"),
    (["--truncation", "10,5", "--num-steps", "7"], "--num-steps 7 disagrees with --truncation 10,5"),
    (["--truncation", "2000,1", "--size", "1000"], "num_steps: a window of 2000 is longer than a row"),
    (["--truncation", "10,5", "--task", "digits"], "truncation: BPTT(k2, k1) with k1 < k2 needs a stream"),
    (["--truncation", "10,5", "--impl", "tf-cell"], "truncation: tf-cell trains TF-style windows only"),
])
def test_bad_truncation_is_refused_before_any_work(capsys, tmp_path, argv, message):
    out = tmp_path / "run.json"
    impl = [] if "--impl" in argv else ["--impl", "numpy"]
    try:
        code = main(["train", *impl, *argv, "--out", str(out)])
    except SystemExit as exc:  # argparse's refusal of the option's own syntax
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_only_the_variants_that_truncate_accept_bptt_k2_k1():
    config = truncation_parity_config(10, 5)
    with pytest.raises(UnsupportedError, match="truncation: torch-fused trains TF-style windows only"):
        registry.entry("torch-fused").check(config)
    assert registry.entry("numpy").unsupported(config) is None
    families = {e.framework for e in registry.ENTRIES if e.truncation}
    assert families == {"numpy", "tensorflow", "torch", "jax"}  # one variant of every family at least


def small_problem(task: str, cell: str, k2: int = 5, k1: int = 2):
    """Float64, 3 units, one window of k2 steps over 3 rows, nonzero biases, random data and carried state."""
    config = RunConfig.for_task(task, cell=cell, state_size=3, num_steps=k2, shift=k1, batch_size=3, size=3 * k2,
                                dtype="float64", threads=1)
    rng = np.random.default_rng(1)
    p = init_params(config).astype(np.float64).map(lambda a: a if a.ndim == 2 else rng.normal(0, 0.3, a.shape))
    B = 3
    x = (rng.integers(0, config.input_size, (B, k2)) if config.task_spec.tokens
         else rng.normal(0, 1, (B, k2, config.input_size)))
    y = (rng.integers(0, config.output_size, (B, k2)) if config.task_spec.loss == "xent"
         else rng.normal(0, 1, (B, k2, config.output_size)))
    model = Model(config)
    state = tuple(rng.normal(0, 0.5, (B, 3)) for _ in model.cell.states)
    return model, p, x, y, state


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("task", ["binary", "sin2cos"])
def test_bptt_k2_k1_gradients_equal_central_finite_differences_float64(task, cell):
    """The loss is the mean over the window's last k1 positions; its gradient reaches every step of the window,
    and the state carried on is the one after the first k1 steps."""
    model, p, x, y, state = small_problem(task, cell)
    loss, grads, carried = model.loss_and_grads(p, x, y, state)
    assert_matches_central_differences(model, p, x, y, state, grads)
    tf_style = Model(model_config := RunConfig.for_task(task, cell=cell, state_size=3, num_steps=2, batch_size=3,
                                                          size=6, dtype="float64", threads=1))
    assert model_config.shift is None
    first_k1 = tf_style.forward(p, x[:, :2], state).final_state  # the first k1 = 2 steps alone
    for ours, theirs in zip(carried, first_k1):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    # the loss counts the last k1 positions only: targets before them change nothing
    y_changed = y.copy()
    y_changed[:, 0] = (y[:, 0] + 1) % 2 if task == "binary" else y[:, 0] + 1.0
    assert model.loss(p, x, y_changed, state)[0] == loss


@pytest.mark.parametrize("cell", CELLS)
def test_k1_equal_to_k2_reproduces_tf_style_bit_for_bit(cell):
    """The BPTT(k2, k1) code path at k1 = k2 gives exactly today's loss, gradients and carried state."""
    model, p, x, y, state = small_problem("binary", cell)
    tf_style = Model(RunConfig.for_task("binary", cell=cell, state_size=3, num_steps=5, batch_size=3, size=15,
                                        dtype="float64", threads=1))
    model.k1 = 5  # the window's length: every position scored, the last state carried
    ours, theirs = model.loss_and_grads(p, x, y, state), tf_style.loss_and_grads(p, x, y, state)
    assert ours[0] == theirs[0]
    for a, b in zip([*ours[1], *ours[2]], [*theirs[1], *theirs[2]]):
        np.testing.assert_array_equal(a, b)


def test_the_parity_configuration_has_fifty_windows():
    for k2, k1 in ((10, 5), (8, 1)):
        assert truncation_parity_config(k2, k1).windows_per_epoch == PARITY_STEPS


def synthetic_study(losses: dict) -> dict:
    """A study document whose runs have the given final losses: {(style, n): [loss per seed]}."""
    from rnnbench.studies import truncation

    runs = [{"style": s, "n": n, "k2": truncation.STYLES[s].window(n)[0], "k1": truncation.STYLES[s].window(n)[1],
             "seed": i, "final_loss": v, "steps": 1, "seconds": 0.1}
            for (s, n), values in losses.items() for i, v in enumerate(values)]
    levels = truncation.levels()
    return {"study": "truncation", "schema_version": 1, "impl": "numpy", "styles": sorted({s for s, _ in losses}),
            "style_labels": {k: s.label for k, s in truncation.STYLES.items()},
            "epochs": 1, "seeds": [0, 1, 2], "base": truncation.BASE, "levels": levels,
            "thresholds": truncation.thresholds(levels), "seconds": 1.0, "machine": {"cpu": "test"}, "runs": runs}


def test_the_smallest_n_is_where_the_median_over_seeds_crosses_each_midpoint_and_the_finding_says_so():
    from rnnbench.results.studies import truncation_summary

    doc = synthetic_study({("tf", 4): [0.62, 0.60, 0.58], ("tf", 8): [0.55, 0.50, 0.56], ("tf", 16): [0.47] * 3,
                           ("true", 4): [0.52] * 3, ("true", 8): [0.50, 0.46, 0.47], ("true", 16): [0.455] * 3})
    assert doc["thresholds"] == pytest.approx({"t-3": 0.5904, "t-8": 0.4869}, abs=1e-4)
    summary = truncation_summary(doc)
    assert summary["smallest"] == {"tf": {"t-3": 8, "t-8": 16}, "true": {"t-3": 4, "t-8": 8}}
    row = next(r for r in summary["table"] if r["style"] == "true" and r["n"] == 8)
    assert row == {"style": "true", "n": 8, "k2,k1": "8,1", "median final loss": 0.47, "seeds": 3,
                   "seeds learning t-3": 3, "seeds learning t-8": 2}
    assert summary["finding"].startswith("TF style, num_steps = n learned t-3 from n >= 8 and t-8 from n >= 16; "
                                         "true, BPTT(n, 1) learned t-3 from n >= 4 and t-8 from n >= 8.")
    assert "\"true n ~ TF-style 2n\" holds here (t-3: TF style needed 8, true truncation 4 (2x)" in summary["finding"]
    # learned at 4 by luck, not at 8: from 16 on
    flaky = truncation_summary(synthetic_study({("tf", 4): [0.58] * 3, ("tf", 8): [0.6] * 3, ("tf", 16): [0.5] * 3}))
    assert flaky["smallest"] == {"tf": {"t-3": 16, "t-8": None}}
    never = truncation_summary(synthetic_study({("tf", 4): [0.6] * 3, ("true", 4): [0.6] * 3}))
    assert "t-3 from no n up to 4 (not reached)" in never["finding"] and "2n" not in never["finding"]


def test_the_study_runs_writes_its_json_and_the_report_gives_it_a_section(tmp_path, capsys):
    from rnnbench.reports.build import build_report

    out = tmp_path / "study.json"
    code = main(["study", "truncation", "--n", "2", "--seed", "0", "--epochs", "1", "--style", "tf", "true",
                 "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = __import__("json").loads(out.read_text())
    assert [(r["style"], r["n"], r["k2"], r["k1"]) for r in doc["runs"]] == [("tf", 2, 2, 2), ("true", 2, 2, 1)]
    assert all(0.4 < r["final_loss"] < 0.8 and r["steps"] > 0 for r in doc["runs"])
    assert "[2/2]" in captured.err and "learned t-3" in captured.out
    section = next(s for s in build_report([out]).sections if s.key == "study-truncation")
    assert section.description.startswith("TF style, num_steps = n learned") and section.figure is not None
    assert list(section.table["style"]) == ["tf", "true"]


@pytest.mark.parametrize("argv, message", [
    (["--n", "0"], "argument --n: "),
    (["--seed", "0", "0"], "--seed: 0, 0 names a value twice"),
    (["--impl", "tf-cell"], "impl: tf-cell trains TF-style windows only"),
    (["--n", "3000", "--style", "half"], "--n 3000: BPTT(2n, n) at n = 3000: num_steps: a window of 6000 is longer"),
    (["--style", "other"], "argument --style: invalid choice"),
])
def test_bad_study_input_is_refused_before_any_work(capsys, tmp_path, argv, message):
    out = tmp_path / "study.json"
    try:
        code = main(["study", "truncation", *argv, "--json", str(out)])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_the_truncation_benchmark_sweeps_k1_on_the_variants_that_truncate():
    from rnnbench.harness.cases import truncation_cases
    from rnnbench.spec.references import TRUNCATION_SHIFTS

    points = truncation_cases(["numpy", "torch-fused", "jax-jit"], threads=1, device="cpu")
    assert [(n, ref.label, ref.config.k1) for n, ref in points] == [
        (n, "binary-rnn-T10-S16" + ("" if k1 == 10 else f"-K{k1}"), k1) for k1 in TRUNCATION_SHIFTS
        for n in ("numpy", "jax-jit")]
    assert points[0][1].config.shift is None  # k1 = k2: TF style itself
