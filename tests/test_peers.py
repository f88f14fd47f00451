"""The peers profile (``--profile peers``): the peers' configurations as the issue and their sources give them,
cases refused before any work, the n/a list, the summary's rates on known records, and a real run of two cases."""

import json
import math

import pytest
from conftest import fake_info

from rnnbench.commands import bench
from rnnbench.commands.cli import main
from rnnbench.spec.measures import Measure
from rnnbench.spec.peers import INFERENCE, PARITY_WINDOWS, PEERS, STEP, TRAIN, sweep_name
from rnnbench.spec.references import config_label
from rnnbench.spec.request import BenchRequest


def shape(name: str) -> tuple:
    c = PEERS[name]
    return c.cell, c.input_size, c.hidden, c.steps, c.batch, c.layers, c.timed


def test_the_peer_cases_are_the_peers_own_sizes():
    # PyTorch's benchmarks/fastrnns: one LSTM layer, input = hidden = 512, 100 steps, batch 64
    assert shape("fastrnns-lstm") == ("lstm", 512, 512, 100, 64, 1, TRAIN)
    # DeepBench's rnn_problems.h: training and device-inference sets, input = hidden
    assert shape("deepbench-train-lstm-512") == ("lstm", 512, 512, 25, 16, 1, TRAIN)
    assert shape("deepbench-train-lstm-256") == ("lstm", 256, 256, 150, 16, 1, TRAIN)
    assert shape("deepbench-train-rnn-1760") == ("rnn", 1760, 1760, 50, 16, 1, TRAIN)
    assert shape("deepbench-infer-rnn-32") == ("rnn", 32, 32, 672, 1, 1, INFERENCE)
    assert shape("deepbench-infer-rnn-64") == ("rnn", 64, 64, 96, 1, 1, INFERENCE)
    assert shape("deepbench-infer-lstm-256") == ("lstm", 256, 256, 150, 1, 1, INFERENCE)
    # stefbraun/rnn_benchmarks: 320 units, input 125, 100 steps, batch 64, 10 classes at the end; and four layers
    assert shape("stefbraun-lstm") == ("lstm", 125, 320, 100, 64, 1, TRAIN)
    assert shape("stefbraun-lstm-4layers") == ("lstm", 125, 320, 100, 64, 4, TRAIN)
    assert PEERS["stefbraun-lstm"].classes == 10 and PEERS["stefbraun-lstm"].target == "last"
    # glample/rnn-benchmarks: input 100, 30 steps, hidden 128 / 512 / 1024, batch 32 and 128
    glample = {shape(n) for n in PEERS if n.startswith("glample-")}
    assert glample == {("lstm", 100, h, 30, b, 1, TRAIN) for h in (128, 512, 1024) for b in (32, 128)}
    for case in PEERS.values():
        config = case.config(threads=1)
        assert (config.task, config.input_size, config.state_size, config.num_steps, config.batch_size) == (
            "random", case.input_size, case.hidden, case.steps, case.batch)
        assert config.windows_per_epoch == PARITY_WINDOWS == 20 and case.source
        assert case.measures == {TRAIN: (Measure.TRAIN_STEP, Measure.FORWARD), INFERENCE: (Measure.FORWARD,),
                                 STEP: (Measure.TRAIN_STEP,)}[case.timed]
    # where the fastest changes: each cell over hidden 16-1024 at 50 steps, batch 32, input = hidden, train step
    swept = {shape(n) for n in PEERS if PEERS[n].swept}
    assert swept == {(c, h, h, 50, 32, 1, STEP) for c in ("rnn", "lstm", "gru") for h in (16, 64, 256, 512, 1024)}


def test_every_implementation_runs_every_peer_case_but_what_its_registry_row_declares():
    """The stacked case too (four layers); the only n/a is Flax's GRU (the sweep's GRU points), with its reason."""
    from rnnbench.spec import registry

    gaps = bench.not_applicable(registry.names(), BenchRequest(profile="peers"))
    assert {(g["impl"], g["field"]) for g in gaps} == {("jax-flax", "cell")}
    assert {g["label"] for g in gaps} == {sweep_name("gru", h) for h in (16, 64, 256, 512, 1024)}
    assert all("flax.linen.GRUCell" in g["reason"] for g in gaps)
    config = PEERS["stefbraun-lstm-4layers"].config(threads=1)
    assert config.layers == 4 and "-x4-" in config_label(config)


@pytest.mark.parametrize("argv, needle", [
    (["--peer", "nope"], "--peer: invalid choice: 'nope' (choose from 'fastrnns-lstm'"),
])
def test_an_unknown_peer_case_is_one_line_exit_2(capsys, argv, needle):
    with pytest.raises(SystemExit) as info:
        raise SystemExit(main(["bench", "--profile", "peers", *argv]))
    err = capsys.readouterr().err
    assert info.value.code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_a_case_too_large_for_memory_is_refused_before_any_work(capsys, tmp_path, monkeypatch):
    from rnnbench.commands import config_args

    monkeypatch.setattr(config_args, "available_memory", lambda: 200 * 2**20)  # 200 MiB
    out = tmp_path / "peers.json"
    code = main(["bench", "--profile", "peers", "--impl", "numpy", "--json", str(out), "--no-report"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "peer fastrnns-lstm: " in err and "GiB" in err and "0.2 GiB available" in err
    assert not out.exists() and not list(tmp_path.iterdir())  # nothing written


STANDARD = {"numpy": "numpy", "torch": "torch-rnn", "jax": "jax-scan", "tensorflow": "tf-keras"}


def record(impl, measure, label, seconds, gflops, framework="numpy", **more):
    """A peer case's record, as the peers profile writes it (``provenance.peer_fields``)."""
    hidden = int(label.rsplit("-h", 1)[1]) if label.startswith("sweep-") else 512
    sweep = {"sweep": "hidden", "sweep_value": hidden} if label.startswith("sweep-") else {}
    return {"name": f"test_{measure}[{impl}-{label}]", "stats": {"median": seconds, "min": seconds},
            "extra_info": fake_info(impl, measure, framework, label=label, gflops=gflops, peer_source="a peer",
                                    standard_impl=STANDARD.get(framework), cell="lstm", state_size=hidden,
                                    **sweep, **more)}


def test_the_summary_divides_by_the_rate_at_size_and_by_the_standard_api():
    """The train step's rate over the case's train products' rate; the forward's at an inference case; a
    family's standard implementation (torch-rnn) against another of its family."""
    doc = {"benchmarks": [
        record("peak-at-size-train", Measure.PEAK, "fastrnns-lstm", 1.0, 80.0, "calibration"),
        record("peak-at-size-train", Measure.PEAK, "fastrnns-lstm", 1.0, 60.0, "calibration"),  # another process
        record("peak-at-size-forward", Measure.PEAK, "fastrnns-lstm", 1.0, 70.0, "calibration"),
        record("peak-at-size-forward", Measure.PEAK, "deepbench-infer-rnn-64", 1.0, 5.0, "calibration"),
        record("torch-rnn", Measure.TRAIN_STEP, "fastrnns-lstm", 1.2, 56.0, "torch"),
        record("torch-fused", Measure.TRAIN_STEP, "fastrnns-lstm", 0.9, 74.0, "torch"),
        record("torch-fused", Measure.FORWARD, "fastrnns-lstm", 0.4, 60.0, "torch"),
        record("numpy", Measure.FORWARD, "deepbench-infer-rnn-64", 0.001, 2.0),
        {"name": "test_train_step[numpy-binary-rnn-T5-S4-B200]", "stats": {"median": 1e-3, "min": 1e-3},
         "extra_info": fake_info("numpy", Measure.TRAIN_STEP)},  # not a peer case: not a row
    ]}
    from rnnbench.results.summary import peer_rows

    rows = {(r.case, r.impl): r for r in peer_rows(doc)}
    assert list(rows) == [("fastrnns-lstm", "torch-fused"), ("fastrnns-lstm", "torch-rnn"),
                          ("deepbench-infer-rnn-64", "numpy")]
    fused = rows["fastrnns-lstm", "torch-fused"]
    assert fused.peak_gflops == 80.0 and fused.fraction == pytest.approx(74 / 80)
    assert fused.vs_standard == pytest.approx(1.2 / 0.9) and fused.train_step_ms == pytest.approx(900)
    assert rows["fastrnns-lstm", "torch-rnn"].vs_standard == pytest.approx(1.0)
    infer = rows["deepbench-infer-rnn-64", "numpy"]
    assert math.isnan(infer.train_step_ms) and infer.fraction == pytest.approx(2 / 5)


def test_the_peers_profile_times_the_cases_and_the_rate_at_their_sizes(capsys, tmp_path):
    """A real run of NumPy at one inference case and one train case: their records carry the case's name and
    sizes, the peak at size is measured for each pass the case times, and the summary prints a row each."""
    out = tmp_path / "peers.json"
    code = main(["bench", "--profile", "peers", "--impl", "numpy", "--peer", "deepbench-infer-rnn-64", "--peer",
                 "glample-lstm-128-b32", "--json", str(out), "--no-report"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    doc = json.loads(out.read_text())
    infos = [b["extra_info"] for b in doc["benchmarks"]]
    timed = {(i.get("label"), i["measure"]) for i in infos if i["impl"] == "numpy"}
    assert {("glample-lstm-128-b32", "train_step"), ("glample-lstm-128-b32", "forward"),
            ("deepbench-infer-rnn-64", "forward")} <= timed
    assert ("deepbench-infer-rnn-64", "train_step") not in timed
    glample = next(i for i in infos if i.get("label") == "glample-lstm-128-b32" and i["measure"] == "train_step")
    assert glample["peer_source"].startswith("glample/rnn-benchmarks") and glample["standard_impl"] == "numpy"
    assert (glample["task"], glample["input_width"], glample["state_size"], glample["num_steps"],
            glample["batch_size"], glample["target_at"]) == ("random", 100, 128, 30, 32, "last")
    peaks = {(i.get("label"), i["impl"]) for i in infos if i["measure"] == "peak"}
    assert {("glample-lstm-128-b32", "peak-at-size-train"), ("glample-lstm-128-b32", "peak-at-size-forward"),
            ("deepbench-infer-rnn-64", "peak-at-size-forward")} <= peaks
    assert ("deepbench-infer-rnn-64", "peak-at-size-train") not in peaks
    assert not any(i["measure"] == "generate" for i in infos)
    lines = {line.split()[0]: line for line in printed.splitlines() if line.split()}
    assert "%" in lines["glample-lstm-128-b32"] and "%" in lines["deepbench-infer-rnn-64"]
    from rnnbench.commands.report import report_available

    ok, reason = report_available()
    if not ok:
        pytest.skip(reason)
    code = main(["report", str(out), "--out", str(tmp_path / "report")])
    assert code == 0
    section = (tmp_path / "report" / "peers.csv").read_text().splitlines()
    assert section[0].startswith("case,impl,train step ms,GFLOP/s") and len(section) == 3
    findings = (tmp_path / "report" / "findings.csv").read_text()
    assert "fastest at a peer's size,glample-lstm-128-b32,\"numpy: " in findings


def test_where_the_fastest_changes_on_records_with_a_known_crossing():
    """jax-scan wins the small sizes by its overhead, torch-rnn the large ones by its kernel: the finding names the
    sizes between which it changes; with one winner throughout it says so; an implementation missing a size does
    not compete."""
    from rnnbench.results.summary import fastest_changes, peer_rows, sweep_points

    ms = {16: {"jax-scan": 1.0, "torch-rnn": 2.0, "numpy": 3.0}, 64: {"jax-scan": 2.0, "torch-rnn": 2.5, "numpy": 4.0},
          256: {"jax-scan": 9.0, "torch-rnn": 6.0, "numpy": 10.0}, 512: {"jax-scan": 40.0, "torch-rnn": 20.0},
          1024: {"jax-scan": 200.0, "torch-rnn": 90.0, "numpy": 95.0}}
    doc = {"benchmarks": [record(impl, Measure.TRAIN_STEP, f"sweep-lstm-h{h}", t / 1e3, 1.0,
                                 "torch" if impl.startswith("torch") else "jax" if impl.startswith("jax") else "numpy")
                          for h, row in ms.items() for impl, t in row.items()]}
    points = sweep_points(peer_rows(doc))
    assert list(points) == ["lstm"] and points["lstm"][256]["torch-rnn"] == pytest.approx(6.0)
    fastest, finding = fastest_changes(points["lstm"])
    assert fastest == [(16, "jax-scan"), (64, "jax-scan"), (256, "torch-rnn"), (512, "torch-rnn"),
                       (1024, "torch-rnn")]  # numpy, absent at 512, does not compete
    assert finding.startswith("jax-scan up to 64, torch-rnn from 256")
    same = {h: {"a": 1.0 * h, "b": 2.0 * h} for h in (16, 64)}
    assert fastest_changes(same)[1] == "a at every size (16 to 64): the fastest never changes"
    import pandas as pd

    from rnnbench.reports.summaries import findings

    table = findings([], pd.DataFrame(), peers=peer_rows(doc))
    row = table[table["finding"] == "where the fastest changes"].iloc[0]
    assert row["config"] == "lstm train step, hidden 16-1024" and "torch-rnn from 256" in row["detail"]


def test_the_parity_tolerance_is_1e_4_at_the_tutorials_sizes_and_grows_with_the_longest_reduction():
    """rnnbench.spec.parity: DESIGN.md's 1e-4 at every reference configuration; at a peer case the float32
    accumulation bound 6 * 2^-24 * sqrt(n * T) * ln C where it is larger (fastrnns: n = 1024, T = 100)."""
    from rnnbench.spec.parity import PARITY_TOLERANCE, longest_reduction, parity_tolerance
    from rnnbench.spec.references import reference_configs

    assert {parity_tolerance(r.config) for r in reference_configs()} == {PARITY_TOLERANCE}
    fastrnns = PEERS["fastrnns-lstm"].config(threads=1)
    assert longest_reduction(fastrnns) == 1024
    assert parity_tolerance(fastrnns) == pytest.approx(6 * 2**-24 * math.sqrt(1024 * 100) * math.log(10))
    assert parity_tolerance(fastrnns) == pytest.approx(2.64e-4, rel=3e-3)
    stacked = PEERS["stefbraun-lstm-4layers"].config(threads=1)
    assert longest_reduction(stacked) == 640  # a stacked layer reads 320 states beside its own 320
    assert parity_tolerance(fastrnns.replace(dtype="float64")) == PARITY_TOLERANCE
