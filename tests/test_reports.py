"""Reports: golden result files in tests/data -> exact tables; errors that name the file; the writer; the page
in a real browser."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pandas", reason="pandas is not installed (pip install 'rnnbench[report]')")
pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'rnnbench[report]')")

from rnnbench.errors import UserError  # noqa: E402
from rnnbench.reports import summaries  # noqa: E402
from rnnbench.reports.build import build_report  # noqa: E402
from rnnbench.reports.load import COLUMNS, load_curves, load_results, load_traces, read_runs  # noqa: E402
from rnnbench.reports.writer import markdown_table, write_report  # noqa: E402
from rnnbench.results.summary import peak_gflops, summary_rows  # noqa: E402

DATA = Path(__file__).parent / "data"
NEW, OLD = DATA / "bench-new.json", DATA / "bench-old.json"


@pytest.fixture(scope="module")
def frame():
    return load_results(read_runs([OLD, NEW]))


@pytest.fixture(scope="module")
def rows():
    """The newest run's summary rows, as the report makes them."""
    return summary_rows(json.loads(NEW.read_text()))


LABELS = {"nothing": "nothing learned", "lag3": "t-3 learned", "both": "t-3 and t-8 learned"}


def test_tidy_frame_has_the_declared_columns_and_one_row_per_record(frame):
    assert list(frame.columns[: len(COLUMNS)]) == list(COLUMNS)
    n_records = sum(len(json.loads(p.read_text())["benchmarks"]) for p in (OLD, NEW))
    assert len(frame) == n_records
    assert set(frame["run"]) == {"bench-old", "bench-new"}
    assert frame.loc[(frame["run"] == "bench-new") & (frame["measure"] == "epoch") & (frame["impl"] == "numpy")
                     & (frame["label"] == "binary-rnn-T5-S4"), "us_per_step"].item() == pytest.approx(100.0)


def test_speed_table_exact(rows):
    # the golden run's epochs record 1e6 FLOPs per step, and its peak probe 100 GFLOP/s
    peak = peak_gflops(json.loads(NEW.read_text()))
    assert peak == 100.0
    assert markdown_table(summaries.speed_table(rows, "tf-cell", peak)) == """\
| config | impl | framework | us/step | IQR us | vs tf-cell | GFLOP/s | fraction of peak | train_step us | forward us | build s |
|---|---|---|---|---|---|---|---|---|---|---|
| binary-rnn-T5-S4 | numpy | numpy | 100.0 | 20.0 | 2.0 | 10.0 | 0.1 | 100.0 | 50.0 | 0.1 |
| binary-rnn-T5-S4 | tf-cell | tensorflow | 200.0 | 40.0 | 1.0 | 5.0 | 0.05 | 200.0 | 100.0 | 0.2 |
| binary-rnn-T5-S4 | torch-rnn | torch | 300.0 | 60.0 | 0.67 | 3.33 | 0.0333 | 300.0 | 150.0 | 0.3 |
| binary-rnn-T10-S16 | numpy | numpy | 200.0 | 40.0 | 2.0 | 5.0 | 0.05 | 200.0 | 100.0 | 0.1 |
| binary-rnn-T10-S16 | tf-cell | tensorflow | 400.0 | 80.0 | 1.0 | 2.5 | 0.025 | 400.0 | 200.0 | 0.2 |
| binary-rnn-T10-S16 | torch-rnn | torch | 600.0 | 120.0 | 0.67 | 1.67 | 0.0167 | 600.0 | 300.0 | 0.3 |
| sine-rnn-T49-S16 | numpy | numpy | 100.0 | 20.0 |  | 10.0 | 0.1 |  |  |  |
| digits-lstm-T8-S64 | numpy | numpy | 100.0 | 20.0 |  | 10.0 | 0.1 |  |  |  |"""


def test_convergence_table_exact_with_a_target_not_reached(rows):
    binary = [r for r in rows if r.task == "binary"]
    assert markdown_table(summaries.convergence_table(binary, LABELS)) == """\
| config | impl | final loss | expected | reached level | held-out loss | learned | target | seconds to target | steps to target |
|---|---|---|---|---|---|---|---|---|---|
| binary-rnn-T5-S4 | numpy | 0.5204 | 0.5192 (t-3 learned) | t-3 learned | 0.5264 | yes | 0.53 | 0.014 | 143 |
| binary-rnn-T5-S4 | tf-cell | 0.5204 | 0.5192 (t-3 learned) | t-3 learned | 0.5264 | yes | 0.53 | 0.029 | 143 |
| binary-rnn-T5-S4 | torch-rnn | 0.5204 | 0.5192 (t-3 learned) | t-3 learned | 0.5264 | yes | 0.53 | 0.043 | 143 |
| binary-rnn-T10-S16 | numpy | 0.459 | 0.4545 (t-3 and t-8 learned) | t-3 and t-8 learned | 0.465 | yes | 0.47 | 0.116 | 578 |
| binary-rnn-T10-S16 | tf-cell | 0.459 | 0.4545 (t-3 and t-8 learned) | t-3 and t-8 learned | 0.465 | yes | 0.47 | 0.231 | 578 |
| binary-rnn-T10-S16 | torch-rnn | 0.481 | 0.4545 (t-3 and t-8 learned) | t-3 learned | 0.487 | NO | 0.47 |  |  |"""


def test_task_tables_show_goals_and_the_metrics_their_task_has(rows):
    sine = [r for r in rows if r.task == "sine"]
    labels = {"zero": "predict 0", "repeat_last": "repeat the last value", "exact": "the 2-tap recurrence (exact)"}
    assert markdown_table(summaries.convergence_table(sine, labels)) == """\
| config | impl | final loss | expected | reached level | held-out loss | free-run MSE | learned | target | seconds to target | steps to target |
|---|---|---|---|---|---|---|---|---|---|---|
| sine-rnn-T49-S16 | numpy | 0.0014 | eval_loss <= 0.002075 | the 2-tap recurrence (exact) | 0.0013 | 0.35 | yes | 0.01 | 0.014 | 143 |"""
    assert markdown_table(summaries.accuracy_table(rows)) == """\
| config | impl | test accuracy | held-out loss | goal | met |
|---|---|---|---|---|---|
| digits-lstm-T8-S64 | numpy | 0.9889 | 0.0365 | test_accuracy >= 0.9 | yes |"""


def test_parity_at_size_is_judged_against_the_tolerance_each_run_recorded():
    """A peer case's recorded tolerance (rnnbench.spec.parity) replaces 1e-4 for its config; a deviation beyond it
    is a finding, one within it is not."""
    import pandas as pd

    def trace(label, impl, losses, tolerance):
        return [{"run": "r", "impl": impl, "label": label, "task": "random", "step": s, "loss": v,
                 "tolerance": tolerance} for s, v in enumerate(losses, 1)]

    base = [2.3, 2.29, 2.28]
    traces = pd.DataFrame(trace("fastrnns-lstm", "numpy", base, 2.64e-4)
                          + trace("fastrnns-lstm", "torch-rnn", [v + 1.5e-4 for v in base], 2.64e-4)
                          + trace("fastrnns-lstm", "tf-xla", [v + 3e-4 for v in base], 2.64e-4))
    parity = summaries.parity_table(traces)
    assert list(parity[["impl", "tolerance", "within"]].itertuples(index=False, name=None)) == [
        ("tf-xla", 2.64e-4, "NO"), ("torch-rnn", 2.64e-4, "yes")]
    findings = summaries.findings([], parity)
    beyond = findings[findings["finding"] == "parity beyond its tolerance"]
    assert list(beyond["detail"]) == ["tf-xla: |loss - numpy loss| up to 0.0003, tolerance 0.00026"]


def test_findings_and_parity_are_computed_from_the_results(rows):
    parity = summaries.parity_table(load_traces(read_runs([NEW])))
    assert markdown_table(parity) == """\
| config | impl | max dloss, first 50 steps | max dloss, traced | steps traced | tolerance | within |
|---|---|---|---|---|---|---|
| binary-rnn-T5-S4 | torch-rnn | 9.8e-06 | 3.98e-05 | 200 | 0.0001 | yes |
| binary-rnn-T10-S16 | torch-rnn | 9.8e-06 | 3.98e-05 | 200 | 0.0001 | yes |
| binary-rnn-T5-S4 | tf-cell | 4.9e-06 | 1.99e-05 | 200 | 0.0001 | yes |
| binary-rnn-T10-S16 | tf-cell | 4.9e-06 | 1.99e-05 | 200 | 0.0001 | yes |"""
    assert markdown_table(summaries.findings(rows, parity)) == """\
| finding | config | detail |
|---|---|---|
| fastest | binary-rnn-T5-S4 | numpy: 100.0 us/step, 2.0x ahead of tf-cell |
| fastest | binary-rnn-T10-S16 | numpy: 200.0 us/step, 2.0x ahead of tf-cell |
| fastest | sine-rnn-T49-S16 | numpy: 100.0 us/step (the only one timed) |
| fastest | digits-lstm-T8-S64 | numpy: 100.0 us/step (the only one timed) |
| largest parity deviation | binary-rnn-T5-S4 | torch-rnn: \\|loss - numpy loss\\| up to 9.8e-06 (first 50 steps) |
| missed its target | binary-rnn-T10-S16 | torch-rnn: final loss 0.4810, should reach 0.4545 |"""


def test_cells_table_puts_the_cells_side_by_side(tmp_path):
    doc = json.loads(NEW.read_text())
    template = next(b for b in doc["benchmarks"] if b["extra_info"]["measure"] == "train_step")
    for impl, factor in (("numpy", 1), ("tf-cell", 2)):
        for cell, us in (("rnn", 100.0), ("lstm", 400.0), ("gru", 300.0)):
            b = json.loads(json.dumps(template))
            b["name"] = f"test_scaling_train_step[cell-{impl}-binary-{cell}-T10-S16-B200]"
            b["stats"].update(median=factor * us * 1e-6)
            b["extra_info"].update(impl=impl, measure="scaling", sweep="cell", sweep_value=cell, cell=cell,
                                   label=f"binary-{cell}-T10-S16", steps=1)
            doc["benchmarks"].append(b)
    path = tmp_path / "cells.json"
    path.write_text(json.dumps(doc))
    frame = load_results(read_runs([path]))
    assert markdown_table(summaries.cells_table(frame)) == """\
| config | impl | rnn us/step | lstm us/step | gru us/step |
|---|---|---|---|---|
| binary-T10-S16 | numpy | 100.0 | 400.0 | 300.0 |
| binary-T10-S16 | tf-cell | 200.0 | 800.0 | 600.0 |"""
    assert "cells" in {s.key for s in build_report([path]).sections}


def test_the_denormal_section_sets_each_step_beside_its_denormal_twin_with_whether_the_framework_flushes(tmp_path):
    doc = json.loads(NEW.read_text())
    template = next(b for b in doc["benchmarks"] if b["extra_info"]["measure"] == "train_step")
    for impl, framework, flush, slower in (("numpy", "numpy", False, 4.0), ("tf-cell", "tensorflow", True, 1.02)):
        for inputs, us in (("normal", 100.0), ("denormal", 100.0 * slower)):
            b = json.loads(json.dumps(template))
            b["name"] = f"test_denormal_train_step[{inputs}-{impl}-digits-lstm-T8-S64-B32]"
            b["stats"].update(median=us * 1e-6)
            own = "numpy_flushes_denormals" if impl == "numpy" else "tf_flushes_denormals"
            b["extra_info"].update(impl=impl, framework=framework, measure="denormal", inputs=inputs, steps=1,
                                   label="digits-lstm-T8-S64", path={"numpy_flushes_denormals": False, own: flush})
            doc["benchmarks"].append(b)
    path = tmp_path / "denormal.json"
    path.write_text(json.dumps(doc))
    table = summaries.denormal_table(load_results(read_runs([path])))
    assert markdown_table(table) == """\
| impl | framework | flushes denormals | normal us | denormal us | denormal/normal |
|---|---|---|---|---|---|
| numpy | numpy | False | 100.0 | 400.0 | 4.0 |
| tf-cell | tensorflow | True | 100.0 | 102.0 | 1.02 |"""
    finding = summaries.denormal_finding(table)
    assert finding.startswith("Denormal inputs slowed numpy 4.0x.")
    assert "where the framework flushes denormals: tf-cell 1.02x" in finding
    section = next(s for s in build_report([path]).sections if s.key == "denormal")
    assert "digits-lstm-T8-S64" in section.description
    assert "denormal" not in {s.key for s in build_report([NEW]).sections}  # no such records: no section


def test_the_truncation_cost_divides_each_window_by_the_steps_it_advances(tmp_path):
    doc = json.loads(NEW.read_text())
    template = next(b for b in doc["benchmarks"] if b["extra_info"]["measure"] == "train_step")
    for k1, us in ((None, 500.0), (5, 520.0), (1, 480.0)):
        b = json.loads(json.dumps(template))
        b["name"] = f"test_truncation_train_step[bptt-10-{k1 or 10}-numpy-binary-rnn-T10-S16-B200]"
        b["stats"].update(median=us * 1e-6)
        b["extra_info"].update(impl="numpy", framework="numpy", measure="truncation", steps=1, num_steps=10,
                               shift=k1, label="binary-rnn-T10-S16" + (f"-K{k1}" if k1 else ""))
        doc["benchmarks"].append(b)
    path = tmp_path / "truncation.json"
    path.write_text(json.dumps(doc))
    table = summaries.truncation_cost_table(load_results(read_runs([path])))
    assert markdown_table(table) == """\
| impl | framework | k2,k1 | us per window | us per time step | vs TF style |
|---|---|---|---|---|---|
| numpy | numpy | 10,10 | 500.0 | 50.0 | 1.0 |
| numpy | numpy | 10,5 | 520.0 | 104.0 | 2.08 |
| numpy | numpy | 10,1 | 480.0 | 480.0 | 9.6 |"""
    assert summaries.truncation_cost_finding(table) == (
        "Per time step processed, against TF style: BPTT(10, 5) 2.1-2.1x (its windows recompute 2x the steps); "
        "BPTT(10, 1) 9.6-9.6x (its windows recompute 10x the steps).")
    assert "truncation_cost" in {s.key for s in build_report([path]).sections}


def test_scaling_memory_and_trend_tables_exact(frame, rows):
    assert markdown_table(summaries.scaling_table(frame)) == """\
| impl | state_size low | state_size high | num_steps low | num_steps high | batch_size low | batch_size high |
|---|---|---|---|---|---|---|
| numpy | 1.0 | 1.0 | 1.0 | 1.0 |  |  |"""
    roofline = summaries.roofline_points(frame)  # 1e6 FLOPs per unit of state size, in linear time: flat
    assert roofline["state_size"].tolist() == [4.0, 16.0, 64.0] and roofline["gflops"].round(6).tolist() == [40.0] * 3
    assert markdown_table(summaries.memory_table(rows).head(3)) == """\
| config | impl | device | peak RSS growth MB | CUDA max allocated MB |
|---|---|---|---|---|
| binary-rnn-T5-S4 | torch-rnn | cpu | 30.0 |  |
| binary-rnn-T5-S4 | tf-cell | cpu | 20.0 |  |
| binary-rnn-T5-S4 | numpy | cpu | 10.0 |  |"""
    assert markdown_table(summaries.trend_table(frame, "binary-rnn-T5-S4")) == """\
| datetime | commit | run | numpy | tf-cell | torch-rnn |
|---|---|---|---|---|---|
| 2026-11-20 08:00:00+00:00 | aaaaaaaaaa | bench-old | 125.0 | 250.0 | 375.0 |
| 2026-11-23 08:00:00+00:00 | bbbbbbbbbb | bench-new | 100.0 | 200.0 | 300.0 |"""


def test_loss_curves_come_from_the_train_records():
    curves = load_curves(read_runs([NEW]))
    assert len(curves) == 8 * 5 and list(curves.columns) == ["run", "impl", "label", "task", "step", "loss"]
    assert curves[(curves["impl"] == "numpy") & (curves["label"] == "binary-rnn-T5-S4")]["loss"].tolist()[-1] == 0.5204


@pytest.mark.parametrize("content, needle", [
    (None, "cannot read"),
    ("", "empty file"),
    ("{not json", "not valid JSON"),
    ('{"rows": []}', "not a pytest-benchmark results file"),
    ('{"benchmarks": [], "machine_info": {"rnnbench": {"schema_version": 99}}}', "schema_version 99 is not one"),
    ('{"benchmarks": [], "machine_info": {"rnnbench": {"schema_version": 1}}}', "schema_version 1 is not one"),
])
def test_bad_files_are_named(tmp_path, content, needle):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UserError) as info:
        load_results(read_runs([path]))
    assert str(path) in str(info.value) and needle in str(info.value)


@pytest.mark.parametrize("change, needle", [
    (lambda i: i.pop("impl"), "extra_info: missing impl"),
    (lambda i: i.update(impl_name="numpy"), "extra_info: unknown field impl_name (not a field of "
                                            "rnnbench.results.records.Record"),
    (lambda i: i.update(threads="2"), 'extra_info: threads must be an integer, got "2"'),
    (lambda i: i.update(final_loss=True), "extra_info: final_loss must be an integer or a number or null, got true"),
])
def test_a_record_field_missing_unknown_or_of_the_wrong_kind_is_named(tmp_path, change, needle):
    """Every reader reads a record through its declared type (rnnbench.results.records): the file, the record and the
    field are named, in one line."""
    doc = json.loads(NEW.read_text())
    i, record = next((i, b) for i, b in enumerate(doc["benchmarks"])
                     if b["name"] == "test_train_step[numpy-binary-rnn-T5-S4-B200]")
    change(record["extra_info"])
    path = tmp_path / "partial.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError) as err:
        read_runs([path])
    assert str(err.value) == (f"{path}: benchmark {i} (test_train_step[numpy-binary-rnn-T5-S4-B200]): "
                              + str(err.value).split("-B200]): ", 1)[1])
    assert needle in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("where, change, needle", [
    ("machine_info", lambda d: d["machine_info"]["rnnbench"].pop("references"),
     "machine_info.rnnbench: missing references"),
    ("machine_info", lambda d: d["machine_info"]["rnnbench"]["tasks"]["binary"].update(levels=None),
     "machine_info.rnnbench: tasks.binary: levels must be an object, got null"),
    ("machine_info", lambda d: d["machine_info"]["rnnbench"]["references"][0].update(colour="red"),
     "machine_info.rnnbench: references[0]: unknown field colour"),
    ("outcome", lambda d: d["rnnbench"].update(failures=[]), "rnnbench: unknown field failures"),
])
def test_the_runs_own_facts_are_read_through_their_types(tmp_path, where, change, needle):
    doc = json.loads(NEW.read_text())
    change(doc)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match=f"^{re.escape(str(path))}: {re.escape(needle)}"):
        read_runs([path])


def test_no_input_is_an_error():
    with pytest.raises(UserError, match="no results files given"):
        load_results(read_runs([]))


def test_writer_outputs_every_file(tmp_path):
    index = write_report(build_report([OLD, NEW]), tmp_path / "out")
    names = {p.name for p in index.parent.iterdir()}
    assert names == {"index.html", "report.md", "environment.csv", "findings.csv", "step_time.png", "step_time.csv",
                     "parity.png", "parity.csv", "task-binary.png", "task-binary.csv", "task-sine.png", "task-sine.csv",
                     "task-sine-free-run.png", "task-digits.png", "task-digits.csv", "task-digits-accuracy.csv",
                     "time_to_target.png", "scaling.png", "scaling.csv", "overhead.png", "overhead.csv", "roofline.png", "memory.png", "memory.csv", "trend.png",
                     "trend.csv"}
    for png in index.parent.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    md = (index.parent / "report.md").read_text()
    assert "| binary-rnn-T5-S4 | numpy | numpy | 100.0 |" in md and "Test CPU" in md and "openblas 0.3.31" in md
    page = index.read_text()
    assert page.count("<img ") == IMAGES and "Environment" in page and "Test CPU" in page
    assert md.index("## Findings") < md.index("## Time per train step") < md.index("## Task binary")
    assert "theory levels: 0.5000 predict 0, 0.0208 repeat the last value" in md


def test_a_failed_report_leaves_the_previous_one(tmp_path):
    out = tmp_path / "out"
    write_report(build_report([NEW]), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(UserError):
        write_report(build_report([NEW, bad]), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_report_cli_exit_codes(tmp_path, capsys):
    from rnnbench.commands.cli import main

    assert main(["report", str(NEW), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "index.html").exists()
    assert main(["report", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.json: cannot read" in err


IMAGES = 12  # figures of the golden report: step time, parity, 3 tasks + sine's free run, time to target, scaling,
# overhead, roofline, memory, trend
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def loaded_marks(index: Path, profile: Path) -> list[str]:
    """Open the page in headless Chromium; the page marks each image data-loaded="yes" or "no"."""
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", index.as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout
    assert dom.count("<img ") == IMAGES, dom[:2000]
    return re.findall(r'<img [^>]*data-loaded="(yes|no)"', dom)


def test_every_image_loads_in_headless_chromium(tmp_path):
    if CHROMIUM is None:
        if os.environ.get("CI"):  # .ci/run installs it: in CI this test must run
            pytest.fail("Chromium is missing in CI; .ci/run should have installed it")
        pytest.skip("no Chromium here (Debian: apt-get install chromium)")
    index = write_report(build_report([OLD, NEW]), tmp_path / "out")
    assert loaded_marks(index, tmp_path / "p1") == ["yes"] * IMAGES
    (tmp_path / "out" / "memory.png").unlink()  # and the check does see a broken image
    assert sorted(loaded_marks(index, tmp_path / "p2")) == ["no"] + ["yes"] * (IMAGES - 1)


def test_reports_read_only_json_never_the_suites_own_definitions():
    """The report says what the results say: building one imports neither the task nor the configurations."""
    code = (f"import sys; from rnnbench.reports.build import build_report; build_report([{str(NEW)!r}]); "
            "leaked = {'rnnbench.tasks', 'rnnbench.spec.cells', 'rnnbench.spec.references', 'rnnbench.spec.config', "
            "'rnnbench.spec.registry', 'rnnbench.training.train'} & set(sys.modules); "
            "assert not leaked, leaked")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_not_applicable_points_get_their_own_table(tmp_path):
    doc = json.loads(NEW.read_text())
    doc["rnnbench"] = {"not_applicable": [
        {"impl": impl, "framework": "tensorflow", "label": label, "task": label.split("-")[0], "field": "task",
         "gap": "still to be written", "reason": f"task: {impl} does binary only, not " + label.split("-")[0]}
        for label in ("sine-rnn-T49-S16", "digits-lstm-T8-S64") for impl in ("tf-cell", "tf-keras")]}
    path = tmp_path / "gaps.json"
    path.write_text(json.dumps(doc))
    section = next(s for s in build_report([path]).sections if s.key == "not_applicable")
    assert markdown_table(section.table) == """\
| impls | configs | n/a: reason |
|---|---|---|
| tf-cell, tf-keras | sine-rnn-T49-S16, digits-lstm-T8-S64 | task not supported (still to be written) |"""


def test_repeated_records_are_left_out_and_the_report_says_so(tmp_path):
    """A file of 50 copies of every record (20,000 copies took a minute and 877 MB to draw) reports what one copy
    does, with a section naming how many were left out."""
    doc = json.loads(NEW.read_text())
    once = build_report([NEW])
    doc["benchmarks"] = doc["benchmarks"] * 50
    path = tmp_path / "copies.json"
    path.write_text(json.dumps(doc))
    report = build_report([path])
    left_out = next(s for s in report.sections if s.key == "left_out")
    assert f"{49 * len(json.loads(NEW.read_text())['benchmarks']):,} in {path}" in left_out.description
    step_time = {s.key: s for s in report.sections}["step_time"]
    assert step_time.table.equals({s.key: s for s in once.sections}["step_time"].table)
    assert len(load_results(read_runs([path]))) == len(load_results(read_runs([NEW])))


def test_the_family_table_gives_every_family_its_colour_legend_and_versions():
    """JAX was drawn in grey and left out of the legends, and its versions were not recorded: every family now
    gets its colour, its place in the legend and its packages' versions from its one row."""
    from matplotlib.figure import Figure

    from rnnbench.harness.provenance import VERSIONED
    from rnnbench.reports import figures
    from rnnbench.spec import families

    colours = [f.color for f in families.FAMILIES]
    assert len(set(colours)) == len(colours) and figures.FRAMEWORK_COLORS["jax"] == families.family("jax").color
    assert {"jax", "jaxlib", "optax", "flax", "numpy", "tensorflow", "torch"} <= set(VERSIONED)
    ax = Figure().subplots()
    figures._framework_legend(ax, ["jax", "numpy", "jax", "somebody-else"])
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["numpy", "jax", "somebody-else"]
    assert [families.family_of(i) for i in ("jax-flax", "tf-keras", "torch-rnn", "numpy")] == [
        "jax", "tensorflow", "torch", "numpy"]


def test_the_environment_lists_every_version_a_run_recorded(tmp_path):
    from rnnbench.reports.load import environment

    doc = json.loads(NEW.read_text())
    doc["machine_info"]["rnnbench"]["versions"] = {"numpy": "2.1.0", "jax": "0.7.0", "optax": "0.2.5"}
    table = environment([(tmp_path / "run.json", doc)])
    assert table.loc[0, ["numpy", "jax", "optax"]].tolist() == ["2.1.0", "0.7.0", "0.2.5"]


def test_the_parity_section_says_why_a_task_is_held_in_another_dtype(tmp_path):
    """Sine's float32 curves cross the 1e-4 line: the run records why (the task's parity_dtype and parity_why),
    and the report says it."""
    from rnnbench.tasks import task

    assert task("sine").parity_dtype == "float64" and "chaotic in float32" in task("sine").parity_why
    assert task("binary").parity_dtype == "float32" and not task("binary").parity_why
    doc = json.loads(NEW.read_text())
    doc["machine_info"]["rnnbench"]["tasks"]["sine"]["parity_why"] = task("sine").parity_why
    numpy_sine = next(b for b in doc["benchmarks"] if b["name"] == "test_train[numpy-sine-rnn-T49-S16-B50]")
    numpy_sine["extra_info"]["first_losses"] = [0.5 / (1 + s) for s in range(60)]
    other = json.loads(json.dumps(numpy_sine))
    other["name"] = "test_train[tf-cell-sine-rnn-T49-S16-B50]"
    other["extra_info"].update(impl="tf-cell", framework="tensorflow",
                               first_losses=[0.5 / (1 + s) + 1e-5 * s for s in range(60)])
    doc["benchmarks"].append(other)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    parity = next(s for s in build_report([path]).sections if s.key == "parity")
    assert f"sine: {task('sine').parity_why}." in parity.description
    panel_texts = [t.get_text() for ax in parity.figure.axes for t in ax.texts]
    assert any("chaotic in float32" in t for t in panel_texts)


def test_the_overhead_section_splits_each_step_where_a_sweep_was_fitted(tmp_path):
    from rnnbench.results.summary import overhead_fits

    doc = json.loads(NEW.read_text())
    doc["benchmarks"] = [b for b in doc["benchmarks"] if b["extra_info"]["measure"] != "scaling"]  # the quick profile
    (tmp_path / "quick.json").write_text(json.dumps(doc))
    quick = next(s for s in build_report([tmp_path / "quick.json"]).sections if s.key == "overhead")
    assert quick.table is None and "no sweep" in quick.description.lower()
    template = next(b for b in doc["benchmarks"] if b["extra_info"]["measure"] == "train_step")
    epoch = next(b for b in doc["benchmarks"] if b["extra_info"]["measure"] == "epoch"
                 and b["extra_info"]["impl"] == "numpy" and b["extra_info"]["label"] == "binary-rnn-T5-S4")
    us = 1e6 * epoch["stats"]["median"] / epoch["extra_info"]["steps"]
    rate = epoch["extra_info"]["flops"] / (0.25 * us) / 1e3  # GFLOP/s that makes the arithmetic a quarter of it
    for size in (4, 16, 64, 256, 1024):
        b = json.loads(json.dumps(template))
        flops = epoch["extra_info"]["flops"] * size
        b["name"] = f"test_scaling_train_step[state_size-numpy-{size}]"
        b["stats"].update(median=0.75 * us * 1e-6 + flops / (rate * 1e9))
        b["extra_info"].update(measure="scaling", sweep="state_size", sweep_value=size, flops=flops, steps=1,
                               label=f"binary-rnn-T5-S{size}")
        doc["benchmarks"].append(b)
    doc["rnnbench"]["overhead"] = overhead_fits(doc["benchmarks"])
    path = tmp_path / "full.json"
    path.write_text(json.dumps(doc))
    section = next(s for s in build_report([path]).sections if s.key == "overhead")
    row = section.table.set_index("impl").loc["numpy"]
    assert row["overhead us"] == pytest.approx(0.75 * us, rel=1e-3) and row["R^2"] == pytest.approx(1.0)
    assert row["overhead share binary-rnn-T5-S4"] == pytest.approx(0.75, abs=1e-3)
    assert section.figure is not None and len(section.figure.axes[0].patches) == 2  # numpy's two stacked bars


def test_what_a_step_dispatches_is_tabled_and_explains_each_frameworks_fastest_and_slowest(tmp_path):
    doc = json.loads(NEW.read_text())
    counts = {"numpy": (65, 65), "tf-cell": (1, 107), "torch-rnn": (119, 220)}
    for b in doc["benchmarks"]:
        i = b["extra_info"]
        if i["measure"] == "train_step":
            launches, ops = counts[i["impl"]]
            i.update(launches=launches, ops=ops, dispatch_how=f"counted for {i['framework']}")
    extra = []
    for b in doc["benchmarks"]:  # a second TensorFlow variant, ten times as slow a step, as many launches
        if b["extra_info"]["impl"] == "tf-cell" and b["extra_info"]["measure"] == "train_step":
            twin = json.loads(json.dumps(b))
            twin["name"] = b["name"].replace("tf-cell", "tf-keras")
            twin["extra_info"].update(impl="tf-keras", ops=284)
            twin["stats"]["median"] *= 10
            extra.append(twin)
    for b in doc["benchmarks"]:  # the full profile: a step counted after a training run where none is timed
        if b["extra_info"]["measure"] == "train" and b["extra_info"]["label"] == "sine-rnn-T49-S16":
            b["extra_info"].update(launches=400, ops=600, dispatch_how="counted for numpy")
    doc["benchmarks"] += extra
    path = tmp_path / "counted.json"
    path.write_text(json.dumps(doc))
    rows = summary_rows(read_runs([path])[0][1])
    assert markdown_table(summaries.dispatch_table(rows)) == """\
| config | impl | framework | train_step us | launches | ops | us per launch | us per op | overhead share |
|---|---|---|---|---|---|---|---|---|
| binary-rnn-T5-S4 | tf-cell | tensorflow | 200.0 | 1 | 107 | 200.0 | 1.87 |  |
| binary-rnn-T5-S4 | tf-keras | tensorflow | 2000.0 | 1 | 284 | 2000.0 | 7.04 |  |
| binary-rnn-T5-S4 | numpy | numpy | 100.0 | 65 | 65 | 1.5 | 1.54 | 0.75 |
| binary-rnn-T5-S4 | torch-rnn | torch | 300.0 | 119 | 220 | 2.5 | 1.36 |  |
| binary-rnn-T10-S16 | tf-cell | tensorflow | 400.0 | 1 | 107 | 400.0 | 3.74 |  |
| binary-rnn-T10-S16 | tf-keras | tensorflow | 4000.0 | 1 | 284 | 4000.0 | 14.08 |  |
| binary-rnn-T10-S16 | numpy | numpy | 200.0 | 65 | 65 | 3.1 | 3.08 | 0.875 |
| binary-rnn-T10-S16 | torch-rnn | torch | 600.0 | 119 | 220 | 5.0 | 2.73 |  |
| sine-rnn-T49-S16 | numpy | numpy |  | 400 | 600 |  |  | 0.75 |"""
    assert summaries.framework_findings(rows) == [
        ("tensorflow: fastest and slowest", "binary-rnn-T5-S4",
         "tf-cell 200 us per train step (1 launch, 107 ops); tf-keras 2000 us (1 launch, 284 ops): 10.0x"),
        ("tensorflow: fastest and slowest", "binary-rnn-T10-S16",
         "tf-cell 400 us per train step (1 launch, 107 ops); tf-keras 4000 us (1 launch, 284 ops): 10.0x")]
    frame = load_results(read_runs([path]))
    assert summaries.dispatch_how(frame) == {"numpy": "counted for numpy", "tensorflow": "counted for tensorflow",
                                             "torch": "counted for torch"}
    md = (write_report(build_report([path]), tmp_path / "out").parent / "report.md").read_text()
    assert "## What one step dispatches" in md and "tensorflow: counted for tensorflow." in md
    assert "| tensorflow: fastest and slowest | binary-rnn-T5-S4 | tf-cell 200 us" in md


def test_findings_name_each_frameworks_fastest_and_slowest_at_the_largest_state(tmp_path):
    doc = json.loads(NEW.read_text())
    template = next(b for b in doc["benchmarks"] if b["extra_info"]["measure"] == "train_step")
    for impl, framework, factor in (("tf-cell", "tensorflow", 1), ("torch-rnn", "torch", 3)):
        for state, us in ((4, 100.0), (1024, 5000.0)):
            b = json.loads(json.dumps(template))
            b["name"] = f"test_scaling_train_step[state_size-{impl}-binary-rnn-T5-S{state}-B200]"
            b["stats"].update(median=factor * us * 1e-6)
            b["extra_info"].update(impl=impl, framework=framework, measure="scaling", sweep="state_size",
                                   sweep_value=state, state_size=state, label=f"state_size={state}", steps=1)
            doc["benchmarks"].append(b)
    twin = json.loads(json.dumps(doc["benchmarks"][-1]))  # a second PyTorch variant at 1024, twice as fast
    twin["name"] = twin["name"].replace("torch-rnn", "torch-compile")
    twin["extra_info"]["impl"] = "torch-compile"
    twin["stats"]["median"] /= 2
    doc["benchmarks"].append(twin)
    path = tmp_path / "swept.json"
    path.write_text(json.dumps(doc))
    rows = summary_rows(read_runs([path])[0][1])
    points = summaries.scaling_points(load_results(read_runs([path])))
    found = [f for f in summaries.framework_findings(rows, points) if f[1] == "state_size=1024"]
    assert found == [("torch: fastest and slowest", "state_size=1024",
                      "torch-compile 7500 us per train step; torch-rnn 15000 us: 2.0x")]


def test_two_runs_of_the_same_code_on_one_machine_mark_every_step_median_that_moved_over_ten_percent(tmp_path):
    """The report compares the newest run with the last earlier run of the same commit on the same machine (at its
    threads and profile): every train step, forward and epoch median both timed, the ones apart by more than 10%
    marked, in a section and a finding; a run of another commit is no repeat."""
    doc = json.loads(NEW.read_text())
    earlier = tmp_path / "bench-earlier.json"
    earlier.write_text(json.dumps(doc))
    moved = {"test_train_step[tf-cell-binary-rnn-T5-S4-B200]": 1.25, "test_epoch[numpy-binary-rnn-T5-S4-B200]": 0.8,
             "test_forward[torch-rnn-binary-rnn-T10-S16-B200]": 1.09, "test_build[numpy-binary-rnn-T5-S4-B200]": 2.0}
    later = json.loads(NEW.read_text())
    later["datetime"] = "2026-11-23T09:00:00+00:00"
    for b in later["benchmarks"]:
        for k in ("median", "q1", "q3", "mean", "min", "max"):
            if k in b["stats"]:
                b["stats"][k] *= moved.get(b["name"], 1.0)
    newest = tmp_path / "bench-later.json"
    newest.write_text(json.dumps(later))
    sections = {s.key: s for s in build_report([earlier, newest]).sections}
    table = sections["repeat"].table
    steps = [b for b in doc["benchmarks"] if b["extra_info"].get("measure") in ("train_step", "forward", "epoch")]
    assert len(table) == len(steps)  # every step median, the build left out
    marked = table[table["repeats"] != "yes"]
    assert list(zip(marked["impl"], marked["measure"], marked["repeats"])) == [
        ("tf-cell", "train_step", "NO: +25%"), ("numpy", "epoch", "NO: -20%")]
    assert table.loc[table["impl"].eq("torch-rnn") & table["measure"].eq("forward")
                     & table["label"].eq("binary-rnn-T10-S16"), "repeats"].item() == "yes"  # 9% is within
    finding = sections["findings"].table.set_index("finding").loc["run to run", "detail"]
    assert finding.startswith(f"{len(steps) - 2} of {len(steps)} step medians within 10%")
    assert "2 marked, the largest tf-cell train_step at binary-rnn-T5-S4: 200 -> 250 us" in finding
    later["commit_info"]["id"] = "cccccccccccccccc"  # other code: not a repeat
    newest.write_text(json.dumps(later))
    sections = {s.key: s for s in build_report([earlier, newest]).sections}
    assert "repeat" not in sections and "run to run" not in set(sections["findings"].table["finding"])


def _ab_doc(tree_a: str, tree_b: str, a: list[str], b: list[str], judgements: list[tuple]) -> dict:
    return {"rnnbench_ab": {"schema_version": 1, "design": "duet", "pairs": 6, "confidence": 0.95,
                            "threshold_pct": 15.0, "notes": [], "path_differences": [],
                            "sides": {"A": {"name": "HEAD", "commit": "c" * 40, "tree": tree_a, "overrides": a},
                                      "B": {"name": "HEAD", "commit": "c" * 40, "tree": tree_b, "overrides": b}}},
            "loss": {"docs": {}, "failures": []}, "repetitions": [],
            "judgements": [{"name": n, "impl": i, "framework": "torch", "measure": "train_step", "pairs": 6,
                            "a": 1e-3, "b": r * 1e-3, "ratio": r, "low": lo, "high": hi, "detectable": 0.01,
                            "verdict": "same", "pairs_to_settle": None} for n, i, r, lo, hi in judgements]}


def test_comparisons_across_releases_of_one_package_make_the_across_versions_section(tmp_path):
    """Two paired comparisons of one code with torch at two releases against the locked one: each benchmark's
    B/A per release in a table and a figure, the finding names what moved (an interval wholly off 1); a comparison
    of two revisions is not one across versions."""
    step = "test_train_step[torch-rnn-binary-rnn-T10-S16-B200]"
    docs = {"v14.json": _ab_doc("t", "t", ["torch==2.15.0"], ["torch==2.14.1"], [(step, "torch-rnn", 0.98, 0.96, 0.993)]),
            "v13.json": _ab_doc("t", "t", ["torch==2.15.0"], ["torch==2.13.0"], [(step, "torch-rnn", 1.01, 0.99, 1.02)]),
            "code.json": _ab_doc("t", "u", [], [], [(step, "torch-rnn", 1.5, 1.4, 1.6)])}
    paths = []
    for name, doc in docs.items():
        (tmp_path / name).write_text(json.dumps(doc))
        paths.append(tmp_path / name)
    table = summaries.versions_table(list(docs.values()))
    assert list(zip(table["A release"], table["B release"], table["B/A"])) == [("2.15.0", "2.13.0", 1.01),
                                                                              ("2.15.0", "2.14.1", 0.98)]
    assert summaries.versions_finding(table) == ("torch 2.15.0 -> 2.14.1: torch-rnn train_step "
                                                 "(torch-rnn-binary-rnn-T10-S16-B200) 0.980 [0.960, 0.993]")
    sections = {s.key: s for s in build_report(paths).sections}
    assert sections["versions"].table.equals(table) and sections["versions"].figure is not None
    md = (write_report(build_report(paths), tmp_path / "out").parent / "report.md").read_text()
    assert "## Across versions" in md and "torch 2.15.0 -> 2.14.1: torch-rnn train_step" in md
