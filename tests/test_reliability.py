"""Bad input and faults, run as a user runs them: the CLI in a subprocess.

Every case asserts the exit code (0 pass, 1 regression or a diverged run, 2 user error, 3 an internal error),
that stderr is one line naming the field or file, and that the outputs already there are byte-identical
afterwards. The files each case reads are made by ``workspace``.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from rnnbench.config import RunConfig
from rnnbench.params import init_params

GOLDEN = Path(__file__).parent / "data" / "bench-new.json"
TINY = ["--impl", "numpy", "--size", "2000", "--threads", "1"]


def rnnbench(*argv, cwd: Path, env: dict | None = None, stdin=None, stdout=subprocess.PIPE):
    return subprocess.run([sys.executable, "-m", "rnnbench", *argv], cwd=cwd, stdout=stdout, stderr=subprocess.PIPE,
                          text=True, env={**os.environ, **(env or {})}, timeout=300, stdin=stdin)


def _edit(doc: dict, change) -> dict:
    doc = copy.deepcopy(doc)
    change(doc)
    return doc


def _set(path: str, value):
    """A change that sets doc[a][b]... (ints index lists) to ``value``."""

    def change(doc):
        *head, last = [int(k) if k.isdigit() else k for k in path.split(".")]
        target = doc
        for k in head:
            target = target[k]
        target[last] = value

    return change


def _calibration(fastest: float):
    def change(doc):
        doc["benchmarks"].append({"name": "test_calibration_matmul", "extra_info": {"measure": "calibration"},
                                  "stats": {"median": 1e-4, "min": fastest, "rounds": 5}})
    return change


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """Every input file the cases read, made once."""
    d = tmp_path_factory.mktemp("inputs")
    base = json.loads(GOLDEN.read_text())
    docs = {
        "base.json": base,
        "empty.json": _edit(base, _set("benchmarks", [])),
        "foreign.json": _edit(base, lambda doc: doc.update(
            benchmarks=[{"name": f"test_other[{i}]", "stats": {"median": 1e-3}, "extra_info": {}} for i in range(3)])),
        "plain.json": {"machine_info": {"node": "x"}, "benchmarks": [{"name": "test_x", "stats": {"median": 1.0}}]},
        "partial.json": _edit(base, lambda doc: doc.update(benchmarks=doc["benchmarks"][:5])),
        "threads4.json": _edit(base, _set("machine_info.rnnbench.threads", 4)),
        "cuda.json": _edit(base, _set("machine_info.rnnbench.device", "cuda")),
        "full.json": _edit(base, _set("machine_info.rnnbench.profile", "full")),
        "schema1.json": _edit(base, _set("machine_info.rnnbench.schema_version", 1)),
        "mi_null.json": _edit(base, _set("machine_info", None)),
        "no_stats.json": _edit(base, lambda doc: doc["benchmarks"][3].pop("stats")),
        "null_median.json": _edit(base, _set("benchmarks.3.stats.median", None)),
        "zero_calibration.json": _edit(base, _calibration(0.0)),
    }
    for name, doc in docs.items():
        (d / name).write_text(json.dumps(doc))
    (d / "latin1.json").write_bytes(b'{"benchmarks": [], "machine_info": {"n": "\xe9\xff"}}')
    (d / "not_json.json").write_text("{ nope")

    config = RunConfig(size=2000)
    params = dict(init_params(config).items())
    np.savez(d / "w.npz", **params)
    np.savez(d / "w_inf.npz", **{**params, "U": np.full_like(params["U"], np.inf)})
    np.savez(d / "w_nan.npz", **{**params, "b": np.full_like(params["b"], np.nan)})
    np.savez(d / "w_str.npz", **{**params, "W": params["W"].astype(str)})
    np.save(d / "w.npy", params["W"])
    rnnbench("gen", "--size", "2000", "--out", str(d / "data.npz"), cwd=d).check_returncode()
    raw = (d / "data.npz").read_bytes()
    (d / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    np.savez(d / "empty_data.npz", x=np.zeros(0, np.int64), y=np.zeros(0, np.int64))
    with zipfile.ZipFile(d / "crc.npz", "w", compression=zipfile.ZIP_STORED) as z:  # a flipped byte in x's data
        z.writestr("x.npy", _npy_bytes(np.ones(2000, np.int64)))
        z.writestr("y.npy", _npy_bytes(np.zeros(2000, np.int64)))
    blob = bytearray((d / "crc.npz").read_bytes())
    blob[200] ^= 0xFF
    (d / "crc.npz").write_bytes(bytes(blob))
    (d / "a_file").write_text("a file, not a folder\n")
    return d


def _npy_bytes(a: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    code: int
    needle: str  # in the one line of stderr
    env: dict = field(default_factory=dict)


CASES = [
    # the gate
    Case("compare-empty-candidate", ("compare", "base.json", "empty.json"), 1, "empty.json: no benchmarks"),
    Case("compare-nothing-in-common", ("compare", "base.json", "foreign.json"), 1,
         "foreign.json: no benchmark in common with the baseline"),
    Case("compare-plain-pytest-benchmark", ("compare", "base.json", "plain.json"), 1,
         "plain.json: not an rnnbench result"),
    Case("compare-missing-most", ("compare", "base.json", "partial.json"), 1, "partial.json lacks"),
    Case("compare-threads", ("compare", "base.json", "threads4.json"), 2, "threads4.json: threads 4"),
    Case("compare-device", ("compare", "base.json", "cuda.json"), 2, "cuda.json: device cuda"),
    Case("compare-profile", ("compare", "base.json", "full.json"), 2, "full.json: profile full"),
    Case("compare-schema", ("compare", "base.json", "schema1.json"), 2, "schema1.json: schema_version 1"),
    Case("compare-machine-info-null", ("compare", "base.json", "mi_null.json"), 2, "mi_null.json: machine_info"),
    Case("compare-record-without-stats", ("compare", "base.json", "no_stats.json"), 2,
         "no_stats.json: benchmark 3"),
    Case("compare-null-median", ("compare", "base.json", "null_median.json"), 2, "null_median.json: benchmark 3"),
    Case("compare-zero-calibration", ("compare", "base.json", "zero_calibration.json"), 2,
         "zero_calibration.json: benchmark 40 (test_calibration_matmul): a calibration time must be positive"),
    Case("compare-non-utf8", ("compare", "base.json", "latin1.json"), 2, "latin1.json: not UTF-8"),
    Case("compare-not-json", ("compare", "base.json", "not_json.json"), 2, "not_json.json: not valid JSON"),
    Case("compare-missing-file", ("compare", "base.json", "nope.json"), 2, "nope.json: cannot read"),
    Case("compare-bad-threshold", ("compare", "base.json", "base.json", "--threshold", "0"), 2, "--threshold"),
    # reports
    Case("report-empty-benchmarks", ("report", "empty.json", "--out", "rep"), 2, "empty.json: no benchmarks"),
    Case("report-machine-info-null", ("report", "mi_null.json", "--out", "rep"), 2, "mi_null.json: machine_info"),
    Case("report-out-is-a-file", ("report", "base.json", "--out", "a_file"), 2, "--out: a_file"),
    Case("report-out-inside-a-file", ("report", "base.json", "--out", "a_file/rep"), 2, "--out: a_file/rep"),
    # output paths, checked before the work
    Case("train-out-inside-a-file", ("train", *TINY, "--out", "a_file/run.json"), 2, "--out: a_file/run.json"),
    Case("train-out-is-a-folder", ("train", *TINY, "--out", "."), 2, "--out: ."),
    Case("gen-out-inside-a-file", ("gen", "--size", "2000", "--out", "a_file/x.npz"), 2, "--out: a_file/x.npz"),
    Case("gen-out-is-a-folder", ("gen", "--size", "2000", "--out", "."), 2, "--out: ."),
    Case("bench-json-inside-a-file", ("bench", "--impl", "numpy", "--json", "a_file/b.json"), 2,
         "--json: a_file/b.json"),
    Case("bench-report-out-is-a-file", ("bench", "--impl", "numpy", "--report-out", "a_file"), 2,
         "--report-out: a_file"),
    # corrupt inputs
    Case("data-truncated", ("train", *TINY, "--data-in", "truncated.npz"), 2, "truncated.npz: not a readable"),
    Case("data-crc", ("train", *TINY, "--data-in", "crc.npz"), 2, "crc.npz: not a readable"),
    Case("data-empty-arrays", ("train", *TINY, "--data-in", "empty_data.npz"), 2, "empty_data.npz: x and y are empty"),
    Case("weights-npy", ("train", *TINY, "--weights-in", "w.npy"), 2, "w.npy: not a readable .npz"),
    Case("weights-strings", ("train", *TINY, "--weights-in", "w_str.npz"), 2, "w_str.npz: W"),
    Case("weights-inf", ("train", *TINY, "--weights-in", "w_inf.npz"), 2, "w_inf.npz: U holds inf or nan"),
    Case("weights-nan", ("train", *TINY, "--weights-in", "w_nan.npz"), 2, "w_nan.npz: b holds inf or nan"),
    Case("weights-missing", ("train", *TINY, "--weights-in", "nope.npz"), 2, "nope.npz"),
    # sizes and rates that cannot work
    Case("gen-size-too-big", ("gen", "--size", "10000000000000", "--out", "big.npz"), 2, "size: 10000000000000"),
    Case("train-size-too-big", ("train", "--impl", "numpy", "--size", "10000000000000"), 2, "size: 10000000000000"),
    Case("lr-overflows-float32", ("train", *TINY, "--lr", "1e300"), 2, "learning_rate: 1e+300"),
    Case("lr-diverges", ("train", *TINY, "--lr", "1e6"), 1, "diverged"),
    Case("threads-zero", ("train", *TINY[:-1], "0"), 2, "--threads"),
    Case("unknown-verb", ("frobnicate",), 2, "invalid choice"),
    Case("unknown-impl", ("train", "--impl", "nope"), 2, "impl: unknown implementation 'nope'"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_and_faults(case, workspace, tmp_path):
    for f in workspace.iterdir():
        os.symlink(f, tmp_path / f.name) if f.is_file() else None
    (tmp_path / "a_file").unlink()
    (tmp_path / "a_file").write_text("a file, not a folder\n")
    earlier = {"rep/index.html": b"<p>an older report</p>\n", "run.json": b'{"older": true}\n',
               "big.npz": b"older data"}
    for name, data in earlier.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    done = rnnbench(*case.argv, cwd=tmp_path, env=case.env)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == case.code, done.stderr
    assert "Traceback" not in done.stderr
    if case.code != 0:
        assert len(lines) == 1, done.stderr
        assert case.needle in lines[0], lines[0]
    for name, data in earlier.items():
        assert (tmp_path / name).read_bytes() == data, name
    after = sorted(p.name for p in tmp_path.rglob("*"))
    assert after == before  # nothing half-written, no temporary file left behind


def test_at_least_forty_cases():
    assert len(CASES) >= 40


def test_the_gate_passes_a_run_against_itself_and_says_what_it_compared(workspace):
    done = rnnbench("compare", "base.json", "base.json", cwd=workspace)
    assert done.returncode == 0 and "gate: pass" in done.stdout


def test_deliberate_partial_runs_and_mismatches_can_be_compared_on_purpose(workspace):
    assert rnnbench("compare", "base.json", "partial.json", "--allow-missing", cwd=workspace).returncode == 0
    done = rnnbench("compare", "base.json", "threads4.json", "--allow-mismatch", cwd=workspace)
    assert done.returncode == 0 and "threads" in done.stdout


def test_output_survives_a_closed_pipe_and_a_narrow_locale(workspace):
    head = subprocess.Popen([sys.executable, "-m", "rnnbench", "compare", "base.json", "base.json"], cwd=workspace,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head.stdout.readline()
    head.stdout.close()  # `| head -1`
    err = head.stderr.read().decode()
    assert head.wait(timeout=60) == 0 and err == ""
    done = rnnbench("compare", "base.json", "base.json", cwd=workspace, env={"PYTHONIOENCODING": "latin-1"})
    assert done.returncode == 0 and done.stderr == "" and "gate: pass" in done.stdout


def test_version_and_the_bare_command(workspace):
    from rnnbench import __version__

    done = rnnbench("--version", cwd=workspace)
    assert done.returncode == 0 and done.stdout.strip() == f"rnnbench {__version__}"
    done = rnnbench(cwd=workspace)
    assert done.returncode == 0
    assert all(verb in done.stdout for verb in ("list", "theory", "gen", "train", "bench", "report", "compare"))
    assert "exit codes: 0 done" in rnnbench("--help", cwd=workspace).stdout


def test_an_internal_error_is_exit_3_in_one_line(workspace, monkeypatch, capsys):
    from rnnbench import cli

    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "cmd_theory", broken)
    assert cli.main(["theory"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "internal error" in err[0] and "ZeroDivisionError: a bug" in err[0]


def test_float64_weights_are_kept_in_float64(tmp_path):
    from rnnbench.params import load_params

    config = RunConfig(size=2000, dtype="float64")
    params = init_params(config).map(lambda a: a.astype(np.float64) + 1e-12)
    np.savez(tmp_path / "w64.npz", **dict(params.items()))
    loaded = load_params(tmp_path / "w64.npz", config)
    for ours, theirs in zip(loaded, params):
        assert ours.dtype == np.float64
        np.testing.assert_array_equal(ours, theirs)


# --- any input either loads or is the one user-error type -------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis", reason="Hypothesis is not installed (pip install 'rnnbench[dev]')")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rnnbench.errors import UserError  # noqa: E402

FIELDS = ("task", "cell", "optimizer", "num_steps", "state_size", "batch_size", "size", "epochs", "seed",
          "learning_rate", "threads", "device", "dtype", "bidirectional")
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**13), st.floats(allow_nan=True),
                   st.text(max_size=8), st.sampled_from(["binary", "sine", "digits", "lstm", "gru", "adam", "cuda",
                                                         "float64", "rnn"]))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=5))
def test_any_config_is_valid_or_a_user_error(fields):
    try:
        RunConfig.for_task(**fields) if isinstance(fields.get("task"), str) else RunConfig(**fields)
    except UserError:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=600), st.integers(0, 4000))
def test_any_bytes_load_or_are_a_user_error(tmp_path, blob, cut):
    """Random bytes, and a real npz or results file cut short or with a byte changed, as --weights-in and as a
    results file: loaded or refused with a UserError, never anything else."""
    from rnnbench.params import load_params
    from rnnbench.results import read_results

    config = RunConfig(size=2000)
    good = tmp_path / "good.npz"
    if not good.exists():
        np.savez(good, **dict(init_params(config).items()))
    real_npz, real_json = good.read_bytes(), GOLDEN.read_bytes()
    for i, data in enumerate((blob, real_npz[:cut], real_json[:cut],
                              real_npz[:cut] + bytes([real_npz[cut % len(real_npz)] ^ 0x5A]) + real_npz[cut + 1:])):
        path = tmp_path / f"in{i}"
        path.write_bytes(data)
        for load in (lambda p: load_params(p, config), read_results):
            try:
                load(path)
            except UserError:
                pass


def test_interrupting_a_run_leaves_earlier_outputs_whole(tmp_path):
    """SIGINT and SIGTERM at two moments of `train --out` and `report --out`: the earlier output is either
    whole and unchanged or wholly replaced, and no temporary file is left."""
    import signal
    import time

    older = b'{"older": true}\n'
    report_older = {"index.html": b"<p>older</p>\n", "extra.csv": b"a,b\n"}
    (tmp_path / "base.json").write_bytes(GOLDEN.read_bytes())
    for sig in (signal.SIGINT, signal.SIGTERM):
        for delay in (0.4, 1.5):
            (tmp_path / "run.json").write_bytes(older)
            rep = tmp_path / "rep"
            rep.mkdir(exist_ok=True)
            for name, data in report_older.items():
                (rep / name).write_bytes(data)
            for argv in (("train", *TINY, "--size", "40000", "--out", "run.json"),
                         ("report", "base.json", "--out", "rep")):
                proc = subprocess.Popen([sys.executable, "-m", "rnnbench", *argv], cwd=tmp_path,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                time.sleep(delay)
                proc.send_signal(sig)
                proc.wait(timeout=120)
                assert "Traceback" not in proc.stderr.read().decode()
                run = (tmp_path / "run.json").read_bytes()
                assert run == older or json.loads(run)["impl"] == "numpy"
                names = {p.name for p in rep.iterdir()}
                old_whole = names == set(report_older) and all((rep / n).read_bytes() == d
                                                               for n, d in report_older.items())
                assert old_whole or ("index.html" in names and "extra.csv" not in names)  # old, or all of a new one
                leftovers = [p.name for p in tmp_path.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]
                assert leftovers == []


FAULT_PLUGIN = '''
"""Injected by the test: numpy's train step raises at state size 16 (binary T10-S16) and nowhere else."""
from rnnbench.impl_numpy.reference import NumpyReference

_step = NumpyReference.train_step


def train_step(self, x, y):
    if self.config.state_size == 16:
        raise RuntimeError("injected fault")
    return _step(self, x, y)


NumpyReference.train_step = train_step
'''


@pytest.mark.slow
def test_bench_records_a_crashed_implementation_and_runs_the_others(tmp_path):
    """One configuration crashes: the run goes on, records the failure with its error line (JSON, summary,
    report) and exits 1."""
    (tmp_path / "fault_plugin.py").write_text(FAULT_PLUGIN)
    env = {"PYTEST_ADDOPTS": "-p fault_plugin", "PYTHONPATH": str(tmp_path)}
    done = rnnbench("bench", "--impl", "numpy", "--task", "binary", "--threads", "1", "--json", "run.json",
                    "--report-out", "rep", cwd=tmp_path, env=env)
    assert done.returncode == 1, done.stderr
    doc = json.loads((tmp_path / "run.json").read_text())
    failed = doc["rnnbench"]["failed"]
    assert failed and {f["impl"] for f in failed} == {"numpy"}
    assert all("T10-S16" in f["test"] and f["error"] == "RuntimeError: injected fault" for f in failed)
    passed = {b["name"] for b in doc["benchmarks"]}
    assert any("T5-S4" in name for name in passed)  # the other configuration still ran
    assert "FAILED numpy: " in done.stdout and "RuntimeError: injected fault" in done.stdout
    assert "injected fault" in (tmp_path / "rep" / "index.html").read_text()
