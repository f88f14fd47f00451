"""The regression gate: normalisation by the machine, significance over rounds, strict loss bands."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import REFERENCES, fake_info, fake_run_info

from rnnbench.commands.cli import main
from rnnbench.results.compare import DEFAULT_THRESHOLD_PCT, compare, format_comparison, load_run, machine_factor
from rnnbench.results.schema import BENCH_SCHEMA_VERSION

pytest.importorskip("scipy", reason="scipy is not installed")

BAND = list(REFERENCES["binary-rnn-T5-S4"].loss_band)


def make_run(seed: int, speed: float = 1.0, slow_impl: str | None = None, loss: float = 0.5204) -> dict:
    """A run with noisy rounds: calibration, two implementations' train steps and epochs, one training run."""
    rng = np.random.default_rng(seed)

    def record(name, impl, measure, median, rounds=200, **info):
        data = (median * speed * rng.lognormal(0, 0.05, rounds)).tolist()
        return {"name": name, "extra_info": fake_info(impl, measure, **info),
                "stats": {"median": float(np.median(data)), "rounds": rounds, "data": data}}

    slow = {impl: 2.0 if impl == slow_impl else 1.0 for impl in ("numpy", "tf-cell")}
    benchmarks = [
        record("test_calibration_matmul", "calibration-matmul", "calibration", 3e-4),
        record("test_calibration_python", "calibration-python", "calibration", 8e-4),
    ]
    for impl, us in (("numpy", 200e-6), ("tf-cell", 400e-6)):
        benchmarks.append(record(f"test_train_step[{impl}-binary-rnn-T5-S4-B200]", impl, "train_step", us * slow[impl]))
        benchmarks.append(record(f"test_epoch[{impl}-binary-rnn-T5-S4-B200]", impl, "epoch", 1000 * us * slow[impl],
                                 rounds=3))
        benchmarks.append(record(f"test_train[{impl}-binary-rnn-T5-S4-B200]", impl, "train", 0.3, rounds=1,
                                 final_loss=loss, loss_band=BAND))
    return {"machine_info": {"rnnbench": fake_run_info()}, "benchmarks": benchmarks}


def test_two_runs_of_the_same_code_pass():
    result = compare(make_run(1), make_run(2))
    assert not result.failed
    assert {r.verdict for r in result.rows} <= {"same", "untested"}
    assert [r.verdict for r in result.rows if r.name.startswith("test_train[")] == ["untested", "untested"]


def test_an_implementation_slowed_twice_fails_the_gate_and_is_named():
    result = compare(make_run(1), make_run(2, slow_impl="numpy"))
    assert result.failed
    assert {r.impl for r in result.regressions} == {"numpy"}
    # the epoch has 3 rounds a side: a rank test there can reach p = 0.05 at best, so it is not significant
    assert {r.name for r in result.regressions} == {"test_train_step[numpy-binary-rnn-T5-S4-B200]"}
    assert all(1.8 < r.ratio < 2.2 and r.p_value < 0.05 for r in result.regressions)
    text = format_comparison(result, 25)
    assert "SLOWER beyond 25% (significant): numpy" in text and text.endswith(", 0 loss regressions")
    assert "gate: FAIL" in text


def test_a_baseline_from_a_machine_twice_as_slow_flags_nothing():
    slow_machine = make_run(1, speed=2.0)
    assert machine_factor(slow_machine) == pytest.approx(2 * machine_factor(make_run(1)), rel=0.05)
    result = compare(slow_machine, make_run(2))
    assert not result.failed and not [r for r in result.rows if r.verdict == "better"]
    assert all(0.9 < r.ratio < 1.1 for r in result.rows)
    # without the normalisation the same pair would read as a 2x speed-up
    raw = compare(strip_calibration(slow_machine), strip_calibration(make_run(2)))
    assert [r.verdict for r in raw.rows if r.name.startswith("test_train_step")] == ["better", "better"]
    assert "not normalised" in raw.notes[0]


def test_a_probe_disturbed_in_half_its_rounds_does_not_shift_the_machine_factor():
    disturbed = make_run(2)
    probe = disturbed["benchmarks"][1]  # the pure-Python loop, as seen on a shared runner: 60% of rounds 1.7x
    probe["stats"]["data"] = [t * 1.7 if i % 5 < 3 else t for i, t in enumerate(probe["stats"]["data"])]
    probe["stats"]["median"] = float(np.median(probe["stats"]["data"]))
    assert machine_factor(disturbed) == pytest.approx(machine_factor(make_run(2)), rel=0.03)
    result = compare(make_run(1), disturbed)
    assert not result.failed and {r.verdict for r in result.rows} <= {"same", "untested"}


def test_a_run_disturbed_in_most_rounds_is_not_a_regression_but_slower_code_is():
    # a neighbour slows 60% of one benchmark's rounds 1.7x: the median moves, the fast rounds do not
    disturbed = make_run(2)
    step = next(b for b in disturbed["benchmarks"] if b["name"] == "test_train_step[numpy-binary-rnn-T5-S4-B200]")
    step["stats"]["data"] = [t * 1.7 if i % 5 < 3 else t for i, t in enumerate(step["stats"]["data"])]
    step["stats"]["median"] = float(np.median(step["stats"]["data"]))
    result = compare(make_run(1), disturbed)
    row = next(r for r in result.rows if r.name == step["name"])
    assert row.ratio > 1.5 and row.p_value < 0.05 and row.fast_ratio < 1.1
    assert row.verdict == "same" and not result.failed
    # slower code is slower in every round, the fast ones included
    slowed = next(r for r in compare(make_run(1), make_run(2, slow_impl="numpy")).rows if r.name == step["name"])
    assert slowed.verdict == "worse" and 1.8 < slowed.fast_ratio < 2.2


def test_a_run_that_no_longer_reaches_its_loss_band_fails_strictly():
    result = compare(make_run(1), make_run(2, loss=0.5812))  # e.g. a learning rate that no longer learns t-3
    assert result.failed and not result.regressions
    assert len(result.loss_failures) == 2
    assert f"final_loss 0.5812 outside its band [{BAND[0]}, {BAND[1]}]" in result.loss_failures[0]


def test_benchmarks_in_only_one_run_are_listed_not_errors():
    candidate = make_run(2)
    candidate["benchmarks"] = [b for b in candidate["benchmarks"] if not b["name"].startswith("test_epoch[tf")]
    candidate["benchmarks"].append(copy.deepcopy(candidate["benchmarks"][2]) | {"name": "test_train_step[new-impl]"})
    result = compare(make_run(1), candidate)
    assert not result.failed
    assert result.only_baseline == ["test_epoch[tf-cell-binary-rnn-T5-S4-B200]"]
    assert result.only_candidate == ["test_train_step[new-impl]"]
    text = format_comparison(result, 25)
    assert "only in the baseline (1): test_epoch[tf-cell-binary-rnn-T5-S4-B200]" in text


def strip_calibration(run: dict) -> dict:
    run = copy.deepcopy(run)
    run["benchmarks"] = [b for b in run["benchmarks"] if b["extra_info"]["measure"] != "calibration"]
    return run


def test_cli_exit_codes_and_errors(tmp_path, capsys):
    base, slow = tmp_path / "base.json", tmp_path / "slow.json"
    base.write_text(json.dumps(make_run(1)))
    slow.write_text(json.dumps(make_run(2, slow_impl="tf-cell")))
    flagged = tmp_path / "flagged.txt"
    assert main(["compare", str(base), str(base), "--flagged", str(flagged)]) == 0
    assert flagged.read_text() == ""  # nothing to rerun
    assert main(["compare", str(base), str(slow), "--flagged", str(flagged)]) == 1
    assert "SLOWER beyond 25% (significant): tf-cell" in capsys.readouterr().out
    assert flagged.read_text() == "tf-cell\n"  # what .ci/run's confirming rerun times again
    assert main(["compare", str(base), str(slow), "--threshold", "150"]) == 0  # 2x is within +150%
    assert main(["compare", str(base), str(tmp_path / "missing.json")]) == 2
    assert "missing.json: cannot read" in capsys.readouterr().err
    assert main(["compare", str(base), str(base), "--threshold", "-5"]) == 2


def bench(out: Path) -> int:
    """A real numpy-only run as CI's gate makes them: the ci profile at one thread."""
    return main(["bench", "--impl", "numpy", "--profile", "ci", "--threads", "1", "--json", str(out), "--no-report"])


def slowed(run: dict, impl: str, factor: float) -> dict:
    """The same run with every round of ``impl``'s timed benchmarks multiplied: a synthetic slowdown."""
    run = copy.deepcopy(run)
    for record in run["benchmarks"]:
        if record["extra_info"].get("impl") == impl and record["stats"].get("data"):
            record["stats"]["data"] = [t * factor for t in record["stats"]["data"]]
            for key in ("min", "max", "mean", "median", "q1", "q3"):
                record["stats"][key] *= factor
    return run


@pytest.mark.slow
def test_a_real_run_is_judged_whole_and_a_synthetic_2x_slowdown_in_it_is_caught(tmp_path, monkeypatch, capsys):
    """A real benchmark run through the gate: its timings are not asserted (they are the machine's), only what
    the gate makes of the run against itself, and of the same run with numpy's rounds doubled."""
    monkeypatch.chdir(tmp_path)  # its results/history/ goes here, not into the checkout
    real = tmp_path / "real.json"
    assert bench(real) == 0
    run = load_run(real)
    same = compare(run, run)
    judged = {r.name for r in same.rows if r.verdict != "untested"}
    assert {"test_train_step[numpy-binary-rnn-T5-S4-B200]", "test_epoch[numpy-binary-rnn-T10-S16-B200]"} <= judged
    assert not same.failed and {r.verdict for r in same.rows} <= {"same", "untested"}
    assert same.normalised and not same.only_baseline and not same.only_candidate

    slow = tmp_path / "slow.json"
    slow.write_text(json.dumps(slowed(run, "numpy", 2.0)))
    capsys.readouterr()
    assert main(["compare", str(real), str(slow)]) == 1
    assert f"SLOWER beyond {DEFAULT_THRESHOLD_PCT:g}% (significant): numpy" in capsys.readouterr().out
    result = compare(run, load_run(slow))
    assert "test_train_step[numpy-binary-rnn-T5-S4-B200]" in {r.name for r in result.regressions}
    assert {r.impl for r in result.regressions} == {"numpy"}  # the untouched generator benchmarks are not blamed
    assert all(r.ratio == pytest.approx(2.0) for r in result.regressions)
    assert not result.loss_failures  # slower, not worse at learning


def test_the_committed_baseline_is_readable_by_the_gate():
    baseline = load_run(Path(__file__).parents[1] / "benchmarks" / "baselines" / "ci.json")
    assert machine_factor(baseline) and compare(baseline, baseline).rows


def test_a_confirming_rerun_clears_a_one_off_and_keeps_a_repeat():
    base = make_run(1)
    one_off = compare(base, [make_run(2, slow_impl="numpy"), make_run(3)])  # noise in one run only
    assert not one_off.failed
    repeated = compare(base, [make_run(2, slow_impl="numpy"), make_run(3, slow_impl="numpy")])
    assert repeated.failed and {r.impl for r in repeated.regressions} == {"numpy"}


def test_runs_of_different_schemas_are_refused_in_one_line(tmp_path, capsys):
    """Schema 3 names benchmarks by task and cell: against a schema-2 baseline nothing would match."""
    old, new = make_run(1), make_run(2)
    old["machine_info"]["rnnbench"]["schema_version"] = 2
    for b in old["benchmarks"]:
        b["name"] = b["name"].replace("binary-rnn-", "")
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    assert main(["compare", str(tmp_path / "old.json"), str(tmp_path / "new.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"old.json: schema_version 2 is not one this reads ({BENCH_SCHEMA_VERSION})" in err


def test_a_difference_of_path_is_named_before_any_verdict_and_beside_a_regression():
    """Two runs whose frameworks took different paths (PyTorch's oneDNN on, then off): the comparison names the
    switch first, and a slower implementation's verdict says the path may be the cause, not the code."""
    on = {"torch_onednn": True, "torch_lstm_kernel": "oneDNN (mkldnn_rnn_layer)", "blas": "openblas 0.3 (Zen)"}
    off = {**on, "torch_onednn": False, "torch_lstm_kernel": "native (aten::lstm cells)"}
    baseline, candidate = make_run(1), make_run(2, slow_impl="tf-cell")
    for run, path in ((baseline, on), (candidate, off)):
        for b in run["benchmarks"]:
            b["extra_info"]["path"] = path
    result = compare(baseline, candidate)
    assert result.path_differences == [
        "path differs (numpy): torch_lstm_kernel: oneDNN (mkldnn_rnn_layer) / native (aten::lstm cells)",
        "path differs (numpy): torch_onednn: True / False"]
    text = format_comparison(result, 25)
    assert text.startswith("path differs (numpy): torch_lstm_kernel")  # before the table and every verdict
    assert "SLOWER beyond 25% (significant): tf-cell" in text
    assert "the runs took different paths (2 switches above): this may be the path, not the code" in text
    same = compare(baseline, copy.deepcopy(baseline))
    assert same.path_differences == [] and not format_comparison(same, 25).startswith("path differs")
