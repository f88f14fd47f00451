"""The main job: merging per-framework pytest-benchmark files, the summary, slopes, and a real numpy run."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REFERENCES, fake_info, fake_run_info
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnbench.commands.bench import print_summary, summary_table
from rnnbench.commands.cli import main
from rnnbench.harness.provenance import reference_facts
from rnnbench.model.flops import step_flops
from rnnbench.results.merge import merge_runs
from rnnbench.results.schema import BENCH_SCHEMA_VERSION
from rnnbench.results.summary import scaling_slopes, summary_rows
from rnnbench.spec.config import PROFILES


def record(impl, measure, median, label="binary-rnn-T5-S4", **info):
    return {
        "name": f"test_{measure}[{impl}-{label}]", "group": measure,
        "stats": {"median": median, "q1": median, "q3": median},
        "extra_info": fake_info(impl, measure, label=label, task=label.split("-")[0],
                                cell=(label.split("-") + ["rnn"])[1], **info),
    }


def train_record(impl, final_loss, reached=True, label="binary-rnn-T5-S4", expected="lag3", nearest="lag3"):
    return record(impl, "train", 1.0, label, final_loss=final_loss, expected_level=expected, nearest_level=nearest,
                  reached=reached, learned=reached, seconds_to_target=0.5 if reached else None,
                  steps_to_target=300 if reached else None, peak_rss_mb=12.0)


def doc(benchmarks, frameworks=("numpy",)):
    ours = fake_run_info(frameworks=list(frameworks))
    return {"machine_info": {"rnnbench": ours},
            "commit_info": {}, "datetime": "2026-11-23T00:00:00", "version": "5.3.1", "benchmarks": benchmarks}


def test_merge_keeps_the_pytest_benchmark_format_and_every_record():
    a = doc([record("numpy", "epoch", 0.2, steps=1000)], ["numpy"])
    b = doc([record("tf-cell", "epoch", 0.4, steps=1000)], ["tensorflow"])
    merged = merge_runs([a, b], {"profile": "quick"})
    assert [x["extra_info"]["impl"] for x in merged["benchmarks"]] == ["numpy", "tf-cell"]
    assert merged["machine_info"]["rnnbench"]["frameworks"] == ["numpy", "tensorflow"]
    assert merged["rnnbench"]["profile"] == "quick" and merged["rnnbench"]["scaling"] == {}
    assert {"machine_info", "commit_info", "datetime", "version", "benchmarks"} <= set(merged)
    with pytest.raises(ValueError):
        merge_runs([], {})


def test_summary_per_step_speedup_theory_and_time_to_target():
    run = doc([
        record("numpy", "epoch", 0.2, steps=1000),
        record("tf-cell", "epoch", 0.8, steps=1000),
        record("tf-xla-epoch", "epoch", 0.05, steps=1000),
        record("numpy", "train_step", 150e-6, launches=65, ops=65),
        record("numpy", "build", 0.001),
        train_record("numpy", 0.5204),
        train_record("tf-cell", 0.61, reached=False, nearest="nothing"),
    ])
    assert [r.impl for r in summary_rows(run)] == ["tf-xla-epoch", "numpy", "tf-cell"]  # fastest first
    xla, numpy, cell = summary_rows(run)
    assert (numpy.us_per_step, numpy.speedup, numpy.learned, cell.learned) == (200.0, 4.0, True, False)
    assert numpy.expected_loss == pytest.approx(0.5192, abs=1e-4) and numpy.steps_to_target == 300
    lines = summary_table(run).splitlines()
    assert lines[0].split()[:4] == ["config", "impl", "us/step", "vs"]
    xla, numpy, cell = (line.split("  ") for line in lines[2:])
    xla, numpy, cell = ([c.strip() for c in row if c.strip()] for row in (xla, numpy, cell))
    assert xla[2:4] == ["50.0", "16.0x"] and numpy[2:4] == ["200.0", "4.0x"] and cell[3] == "1.0x"
    assert numpy[4:6] == ["150.0", "65/65"] and numpy[7] == "0.00" and cell[5] == "-"
    assert numpy[8:11] == ["0.5204", "0.5192 ok", "0.50 s (300)"]
    assert cell[8:11] == ["0.6100", "0.5192 MISSED", "not reached"]
    assert xla[8:] == ["-", "-", "-", "-"]


def test_scaling_slopes_are_log_log_fits_per_regime():
    """Overhead-bound at small sizes (flat), compute-bound at large ones (quadratic): each half gets its own fit."""
    def cost(s):
        return 1e-3 * max(1.0, (s / 64) ** 2)

    benchmarks = [
        record("numpy", "scaling", cost(s), label=f"state_size={s}", sweep="state_size", sweep_value=s)
        for s in (1024, 4, 64, 16, 256)  # any order
    ] + [record("numpy", "scaling", 1e-3 * t / 5, label=f"num_steps={t}", sweep="num_steps", sweep_value=t)
         for t in (5, 20)]
    slopes = scaling_slopes(benchmarks)
    assert slopes["numpy"]["state_size low"] == pytest.approx(0.0, abs=1e-9)
    assert slopes["numpy"]["state_size high"] == pytest.approx(2.0)
    assert slopes["numpy"]["num_steps low"] == pytest.approx(1.0)  # two points: both halves are the one line
    assert slopes["numpy"]["num_steps high"] == pytest.approx(1.0)


@pytest.mark.slow
def test_bench_numpy_end_to_end_is_read_by_pytest_benchmark_compare(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # results/history/ and reports/out/ go here
    out = tmp_path / "run.json"
    code = main(["bench", "--impl", "numpy", "--threads", "2", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    history = list((tmp_path / "results" / "history").glob("bench-*.json"))
    assert len(history) == 1 and json.loads(history[0].read_text()) == json.loads(out.read_text())
    if "report skipped" not in printed:  # pandas and matplotlib present: the main job ends with the report
        assert "report: reports/out/index.html" in printed and (tmp_path / "reports/out/index.html").exists()
    assert "binary-rnn-T5-S4     numpy" in printed and "0.5192 ok" in printed
    assert "test_accuracy >= 0.9 ok" in printed and "eval_loss <= 0.05 ok" in printed
    data = json.loads(out.read_text())
    measures = {(b["extra_info"]["label"], b["extra_info"]["measure"]) for b in data["benchmarks"]
                if "label" in b["extra_info"]}
    assert measures == {(r.label, m) for r in REFERENCES.values() if r.timed for m in r.measures}
    assert {m for label, m in measures if label == "binary-rnn-T5-S4"} == {"build", "train", "train_step", "forward",
                                                                          "epoch"}
    for b in data["benchmarks"]:
        info = b["extra_info"]
        if "label" in info:
            assert {"impl", "framework", "version", "device", "threads", "task", "cell", "bidirectional",
                    "optimizer", "num_steps", "state_size", "batch_size", "final_loss"} <= set(info)
            assert info["threads"] == 2 and info["device"] == "cpu"
    for b in data["benchmarks"]:  # the roofline's numbers: the step's FLOPs and the rate its median achieved
        if b["extra_info"].get("measure") == "train_step":
            config = REFERENCES[b["extra_info"]["label"]].config
            assert b["extra_info"]["flops"] == step_flops(config).total
            assert b["extra_info"]["gflops"] == pytest.approx(step_flops(config).total / b["stats"]["median"] / 1e9)
            # what one step dispatches: NumPy calls every operation from Python, more of them in a longer window
            assert b["extra_info"]["launches"] == b["extra_info"]["ops"] > 5 * config.num_steps
            assert "NumPy" in b["extra_info"]["dispatch_how"]
    epochs = {b["extra_info"]["label"]: b for b in data["benchmarks"] if b["extra_info"].get("measure") == "epoch"}
    for label, ref in REFERENCES.items():  # the training run's later epochs, where it had as many as are timed
        if label in epochs:
            from_training = ref.config.epochs - 1 >= PROFILES["quick"].epoch_rounds
            assert epochs[label]["extra_info"].get("timed_in") == ("training run" if from_training else None)
            assert epochs[label]["stats"]["rounds"] == (ref.config.epochs - 1 if from_training
                                                        else PROFILES["quick"].epoch_rounds)
    assert epochs["binary-rnn-T10-S16"]["extra_info"]["timed_in"] == "training run"
    trains = {b["extra_info"]["label"]: b["extra_info"] for b in data["benchmarks"]
              if b["extra_info"].get("measure") == "train"}
    for b in data["benchmarks"]:  # each case built once: the build record is its training run's build
        if b["extra_info"].get("measure") == "build":
            assert b["extra_info"]["timed_in"] == "training run" and b["stats"]["rounds"] == 1
            assert b["stats"]["median"] == trains[b["extra_info"]["label"]]["build_seconds"]
    train = next(b["extra_info"] for b in data["benchmarks"] if b["extra_info"].get("measure") == "train"
                 and b["extra_info"]["label"] == "binary-rnn-T5-S4")
    low, high = REFERENCES["binary-rnn-T5-S4"].loss_band
    assert low <= train["final_loss"] <= high and train["reached"] and train["steps_to_target"] > 100
    assert 0.50 < train["eval_loss"] < 0.53 and len(train["first_losses"]) == 200
    digits = next(b["extra_info"] for b in data["benchmarks"] if b["extra_info"].get("measure") == "train"
                  and b["extra_info"]["task"] == "digits")
    assert digits["test_accuracy"] >= 0.9 and digits["learned"] and digits["cell"] == "lstm"
    sine = next(b["extra_info"] for b in data["benchmarks"] if b["extra_info"].get("measure") == "train"
                and b["extra_info"]["task"] == "sine")
    assert sine["free_run_mse"] > 0 and len(sine["free_run"]["truth"]) == len(sine["free_run"]["generated"]) > 0
    machine = data["machine_info"]
    assert machine["rnnbench"]["schema_version"] == BENCH_SCHEMA_VERSION and machine["rnnbench"]["versions"]["numpy"]
    assert machine["rnnbench"]["references"] == reference_facts()  # what the report needs, in the results
    assert machine["cpu"]["brand_raw"] and machine["rnnbench"]["blas"]
    assert (tmp_path / "run.log").exists()
    cli = Path(sys.executable).parent / "pytest-benchmark"  # pytest-benchmark's own console script
    compare = subprocess.run([str(cli), "compare", str(out)], capture_output=True, text=True)
    assert compare.returncode == 0, compare.stderr
    assert "test_train_step[numpy-binary-rnn-T5-S4-B200]" in compare.stdout


def test_bench_rejects_unknown_names(capsys):
    assert main(["bench", "--impl", "nope"]) == 2
    assert "impl: unknown implementation 'nope'" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs a platform with CPU affinity and at least 2 usable CPUs")
@pytest.mark.parametrize("pin", [True, False])
def test_fewer_threads_than_cpus_confine_the_benchmark_process(tmp_path, pin):
    allowed = sorted(os.sched_getaffinity(0))
    out = tmp_path / "calibration.json"
    cmd = [sys.executable, "-m", "pytest", str(Path(__file__).parents[1] / "benchmarks" / "test_calibration.py"),
           "-q", "-p", "no:cacheprovider", "-k", "matmul", "--threads", "1", "--benchmark-json", str(out),
           "--benchmark-max-time", "0.01", *([] if pin else ["--no-pin"])]
    subprocess.run(cmd, check=True, capture_output=True, cwd=tmp_path)
    cpus = json.loads(out.read_text())["machine_info"]["rnnbench"]["cpus"]
    assert cpus == (allowed[:1] if pin else allowed)


def test_bench_without_its_runner_names_the_extra(capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "pytest_benchmark" else real(name, *args))
    assert main(["bench", "--impl", "numpy"]) == 2
    assert "pytest_benchmark not installed (install: pip install 'rnnbench[bench]')" in capsys.readouterr().err


def test_points_built_too_slowly_for_the_profile_are_listed_as_not_applicable_from_the_registry_alone():
    from rnnbench.commands.bench import not_applicable
    from rnnbench.spec.request import BenchRequest

    points = not_applicable(["numpy", "tf-cell", "torch-rnn", "torch-compile"], BenchRequest(profile="quick"))
    assert {p["impl"] for p in points} == {"torch-compile"}  # the others build every point quickly
    assert [p["label"] for p in points] == ["sine-rnn-T49-S16"]
    assert all(p["reason"].startswith("profile: torch-compile's") and "full profile only" in p["reason"]
               and p["field"] == "profile" and "cold compile" in p["gap"] for p in points)
    narrowed = not_applicable(["torch-compile"], BenchRequest(task=("digits",), profile="ci"))
    assert narrowed == []
    assert not_applicable(["numpy", "torch-compile"], BenchRequest(profile="full")) == []  # the full profile: all


def test_measure_selects_what_the_benchmark_process_collects():
    """``--measure`` (``rnnbench bench --measure``, and each repetition of ``rnnbench ab``): only those measures'
    benchmarks are collected, the calibration probes always."""
    done = subprocess.run([sys.executable, "-m", "pytest", str(Path(__file__).parents[1] / "benchmarks"),
                           "--framework", "numpy", "--task", "binary", "--measure", "train_step", "--measure",
                           "forward", "--collect-only", "-q", "-p", "no:cacheprovider"], capture_output=True, text=True,
                          timeout=120)
    tests = {line.split("::")[-1].split("[")[0] for line in done.stdout.splitlines() if "::" in line}
    assert done.returncode == 0, done.stdout + done.stderr
    assert tests == {"test_train_step", "test_forward", "test_calibration_matmul", "test_calibration_python",
                     "test_calibration_small_numpy_calls"}


def test_a_build_without_its_training_run_is_timed_on_its_own(tmp_path, monkeypatch):
    """``--measure build`` without ``train``: the build record times a build of its own, whose implementation the
    case's epoch then times (warmed up first: nothing trained it)."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run.json"
    assert main(["bench", "--impl", "numpy", "--task", "binary", "--measure", "build", "--measure", "epoch",
                 "--json", str(out), "--no-report"]) == 0
    records = [b for b in json.loads(out.read_text())["benchmarks"] if "label" in b["extra_info"]]
    assert sorted((b["extra_info"]["label"], b["extra_info"]["measure"]) for b in records) == [
        ("binary-rnn-T10-S16", "build"), ("binary-rnn-T10-S16", "epoch"),
        ("binary-rnn-T5-S4", "build"), ("binary-rnn-T5-S4", "epoch")]
    assert all("timed_in" not in b["extra_info"] for b in records)
    assert all(b["stats"]["rounds"] == PROFILES["quick"].epoch_rounds for b in records
               if b["extra_info"]["measure"] == "epoch")


def test_every_configuration_field_is_declared_in_the_record_type():
    """case_info writes every RunConfig field into a record: a new field is declared in rnnbench.results.records."""
    from dataclasses import fields

    from rnnbench.results.records import Record
    from rnnbench.spec.config import RunConfig

    assert {f.name for f in fields(RunConfig)} <= {f.name for f in fields(Record)}


@given(overhead_us=st.floats(5, 5000), gflops=st.floats(0.05, 200), seed=st.integers(0, 2**16))
@settings(max_examples=40, deadline=None)
def test_the_overhead_fit_recovers_a_known_overhead_and_rate(overhead_us, gflops, seed):
    """Synthetic steps, overhead + flops / rate with 1% noise, over sizes spanning overhead-bound to compute-bound:
    the intercept and the rate come back within a few percent, and the line fits."""
    from rnnbench.results.stats import overhead_fit

    rng = np.random.default_rng(seed)
    pivot = overhead_us * 1e-6 * gflops * 1e9  # the flops whose arithmetic takes as long as the overhead
    flops = pivot * np.array([0.01, 0.05, 0.2, 1, 5, 20, 100])
    seconds = (overhead_us * 1e-6 + flops / (gflops * 1e9)) * (1 + 0.01 * rng.standard_normal(len(flops)))
    fit = overhead_fit(flops, seconds)
    assert fit["overhead_us"] == pytest.approx(overhead_us, rel=0.04)
    assert fit["gflops"] == pytest.approx(gflops, rel=0.04)
    assert fit["r2"] > 0.99 and fit["points"] == 7


def test_the_overhead_fit_says_when_it_cannot_fit():
    from rnnbench.results.stats import overhead_fit, overhead_share

    too_few = overhead_fit([1e3, 1e3, 2e3], [1e-4, 1e-4, 2e-4])  # two distinct sizes
    assert np.isnan(too_few["overhead_us"]) and too_few["points"] == 3
    falling = overhead_fit([1e3, 1e5, 1e7], [3e-3, 2e-3, 1e-3])  # no positive rate to read
    assert np.isnan(falling["gflops"])
    assert overhead_share(100.0, 1e5, 1.0) == pytest.approx(0.0)  # 1e5 flops at 1 GFLOP/s: 100 us, all of it
    assert overhead_share(400.0, 1e5, 1.0) == pytest.approx(0.75)
    assert overhead_share(50.0, 1e5, 1.0) == 0.0  # faster than the fitted rate allows: clipped, not negative
    assert np.isnan(overhead_share(100.0, 1e5, math.nan))


def test_the_overhead_fit_is_recorded_in_the_run_and_shared_out_at_each_reference(capsys):
    """merge_runs fits each implementation over its state sweep (the num_steps and batch sweeps are left out), the
    outcome records it, and the summary splits the reference step at the fitted rate."""
    def step(flops):  # 200 us of overhead, arithmetic at 0.5 GFLOP/s
        return 200e-6 + flops / 0.5e9

    sweeps = [record("numpy", "scaling", step(f), label=f"state_size={v}", sweep="state_size", sweep_value=v,
                     flops=f, steps=1) for v, f in ((v, 3e3 * v * v) for v in (4, 16, 64, 256))]
    sweeps += [record("numpy", "scaling", 1.0, label=f"{sweep}={v}", sweep=sweep, sweep_value=v, flops=1e3 * v,
                      steps=1) for sweep, v in (("num_steps", 200), ("batch_size", 10), ("batch_size", 1000))]
    # ^ they would wreck the line: the num_steps sweep calls more steps, the batch sweep grows uncounted work
    epoch = record("numpy", "epoch", 1000 * step(3e4), flops=3e4, steps=1000)
    merged = merge_runs([doc([*sweeps, epoch])], {"profile": "full"})
    fit = merged["rnnbench"]["overhead"]["numpy"]
    assert fit["overhead_us"] == pytest.approx(200, rel=1e-6) and fit["gflops"] == pytest.approx(0.5, rel=1e-6)
    assert fit["points"] == 4 and fit["r2"] == pytest.approx(1.0)
    row = next(r for r in summary_rows(merged) if r.impl == "numpy")
    assert row.overhead_share == pytest.approx(200 / (200 + 60))  # 3e4 flops at 0.5 GFLOP/s: 60 us
    print_summary(merged)
    assert ("overhead numpy (step time = overhead + flops / rate, over the state_size sweep): 200.0 us + "
            "arithmetic at 0.50 GFLOP/s, R^2 1.000, 4 points") in capsys.readouterr().out


def test_rounds_timed_elsewhere_make_the_record_pedantic_would(tmp_path):
    """``record_rounds`` (the epochs a training run timed, as an epoch record) against ``pedantic`` timing calls that
    take known times: the same statistics fields, and the durations given become the rounds."""
    (tmp_path / "test_rounds.py").write_text(
        "import time\n"
        "from rnnbench.harness.cases import record_rounds\n"
        "def test_given(benchmark):\n"
        "    record_rounds(benchmark, [0.04, 0.01, 0.03, 0.02])\n"
        "def test_timed(benchmark):\n"
        "    benchmark.pedantic(time.sleep, args=(0.01,), rounds=4, iterations=1)\n")
    out = tmp_path / "out.json"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                    f"--benchmark-json={out}", str(tmp_path / "test_rounds.py")], check=True, cwd=tmp_path,
                   capture_output=True)
    given, timed = (next(b for b in json.loads(out.read_text())["benchmarks"] if b["name"] == n)
                    for n in ("test_given", "test_timed"))
    assert set(given["stats"]) == set(timed["stats"])
    assert given["stats"]["rounds"] == timed["stats"]["rounds"] == 4
    assert given["stats"]["median"] == pytest.approx(0.025) and given["stats"]["min"] == pytest.approx(0.01)
    assert given["stats"]["q1"] == pytest.approx(0.015) and given["stats"]["q3"] == pytest.approx(0.035)


def test_the_full_profile_counts_a_step_after_each_training_run_where_no_step_is_timed():
    """At a reference timed by no train step, the full profile counts one step of the implementation its training
    run trained (after the clock), as a timed train step is counted; the quick profile, and a reference whose train
    step is timed (and counted there), add nothing to the training run's record."""
    from types import SimpleNamespace

    from rnnbench.harness.cases import record_trained_dispatch
    from rnnbench.training.train import train

    sin2cos = REFERENCES["sin2cos-rnn-T10-S32"]
    result = train("numpy", sin2cos.config.replace(epochs=1), progress=False, held_out=False)
    for profile, reference, counted in ((PROFILES["full"], sin2cos, True), (PROFILES["quick"], sin2cos, False),
                                        (PROFILES["full"], REFERENCES["binary-rnn-T5-S4"], False)):
        bench = SimpleNamespace(extra_info={})
        record_trained_dispatch(bench, "numpy", reference, result, profile)
        assert bool(bench.extra_info) == counted
    bench = SimpleNamespace(extra_info={})
    record_trained_dispatch(bench, "numpy", sin2cos, result, PROFILES["full"])
    # NumPy calls every operation from Python: several per time step of the 10-step window
    assert bench.extra_info["launches"] == bench.extra_info["ops"] > 5 * sin2cos.config.num_steps
    assert "NumPy" in bench.extra_info["dispatch_how"]


def vars_of(request) -> dict:
    import dataclasses

    return {f.name: getattr(request, f.name) for f in dataclasses.fields(request)}


def test_lanes_take_as_many_cpus_as_the_threads_allow(monkeypatch):
    from types import SimpleNamespace

    from rnnbench import cpus as cpus_module
    from rnnbench.commands.bench import lane_cpus
    from rnnbench.spec.request import BenchRequest

    monkeypatch.setattr(cpus_module, "allowed_cpus", lambda: [0, 1, 2, 3])
    assert lane_cpus(BenchRequest(threads=1), 4) == [{0}, {1}, {2}, {3}]
    assert lane_cpus(BenchRequest(threads=1), 2) == [{0}, {1}]  # at most one lane a family
    assert lane_cpus(BenchRequest(threads=1, lanes=1), 4) == [None]  # one family after another
    assert lane_cpus(BenchRequest(threads=1, lanes=3), 4) == [{0}, {1}, {2}]
    # a request's threads are checked against this machine's CPUs: a plain record of its fields stands in
    at = vars_of(BenchRequest(threads=1))
    assert lane_cpus(SimpleNamespace(**{**at, "threads": 2}), 4) == [{0, 1}, {2, 3}]
    assert lane_cpus(SimpleNamespace(**{**at, "threads": 4}), 4) == [None]  # every CPU for one process
    assert lane_cpus(BenchRequest(threads=1, no_pin=True), 4) == [None]  # unconfined: one lane unless asked
    assert lane_cpus(BenchRequest(threads=1, device="cuda"), 4) == [None]


def test_families_in_lanes_run_at_once_each_on_its_own_cpus_and_merge_in_family_order(monkeypatch, capsys):
    """Four families over two lanes (a fake benchmark process a family): the first two start together (they
    meet at a barrier no sequential run could pass), each lane's processes are confined to its own CPU, the
    largest family first and the machine's probes in its process, and the merged run holds every family's
    records in the families' order, with the lanes recorded."""
    import threading

    from rnnbench import cpus as cpus_module
    from rnnbench.commands import bench
    from rnnbench.spec.request import BenchRequest

    monkeypatch.setattr(cpus_module, "allowed_cpus", lambda: [0, 1])
    impls = {"numpy": ["numpy"], "tensorflow": ["tf-cell", "tf-static"], "torch": ["torch-rnn", "torch-cell",
                                                                                  "torch-fused"], "jax": ["jax-jit"]}
    meet, calls = threading.Barrier(2, timeout=20), []

    def fake_family(cmd, log, events, env=None, cpus=None, stop=None):
        framework = cmd[cmd.index("--framework") + 1]
        calls.append((framework, cpus, any(a.endswith("test_calibration.py") for a in cmd)))
        if len(calls) <= 2:
            meet.wait()  # both lanes' first families are running now
        out = Path(cmd[cmd.index("--benchmark-json") + 1])
        out.write_text(json.dumps(doc([record(n, "epoch", 0.1, steps=10) for n in impls[framework]], [framework])))
        return 0, []

    monkeypatch.setattr(bench, "run_family", fake_family)
    runnable = [n for names in impls.values() for n in names]
    monkeypatch.setattr(bench, "by_framework", lambda names: impls)
    with open(os.devnull, "w") as log:
        code, merged = bench._run_families(BenchRequest(threads=1), runnable, {}, log)
    assert code == 0 and merged["rnnbench"]["lanes"] == 2
    assert {c[0] for c in calls[:2]} == {"torch", "tensorflow"} and all(c[1] in ({0}, {1}) for c in calls)
    assert {frozenset(c[1]) for c in calls[:2]} == {frozenset({0}), frozenset({1})}
    assert [c[0] for c in calls if c[2]] == ["torch"]  # the probes once, in the largest family's process
    assert [b["extra_info"]["impl"] for b in merged["benchmarks"]] == runnable
    assert "lane on CPU" in capsys.readouterr().err
