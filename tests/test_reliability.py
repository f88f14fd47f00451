"""Bad input and faults, run as a user runs them: the CLI in a subprocess.

Every case asserts the exit code (0 pass, 1 regression or a diverged run, 2 user error, 3 an internal error),
that stderr is one line naming the field or file, and that the outputs already there are byte-identical
afterwards. The files each case reads are made by ``workspace``.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from conftest import fake_info
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnbench.errors import UserError
from rnnbench.spec.config import RunConfig
from rnnbench.spec.params import init_params

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
        doc["benchmarks"].append({"name": "test_calibration_matmul",
                                  "extra_info": fake_info("calibration-matmul", "calibration"),
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
            benchmarks=[{"name": f"test_other[{i}]", "stats": {"median": 1e-3},
                         "extra_info": fake_info("other", "train_step")} for i in range(3)])),
        "plain.json": {"machine_info": {"node": "x"}, "benchmarks": [{"name": "test_x", "stats": {"median": 1.0}}]},
        "bare.json": {"benchmarks": [{"name": "test_x", "stats": {"median": 1.0}}]},  # no machine_info at all
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
    (d / "text.npz").write_text("x,y\n0,1\n")  # a CSV named .npz
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
    absent: str = ""  # must not be in it
    files: dict = field(default_factory=dict)  # made in the case's folder first: name -> "dir" | "fifo" | bytes


CASES = [
    # the gate
    Case("compare-empty-candidate", ("compare", "base.json", "empty.json"), 1, "empty.json: no benchmarks"),
    Case("compare-nothing-in-common", ("compare", "base.json", "foreign.json"), 1,
         "foreign.json: no benchmark in common with the baseline"),
    Case("compare-plain-pytest-benchmark", ("compare", "base.json", "plain.json"), 1,
         "plain.json: not an rnnbench result"),
    Case("compare-no-machine-info", ("compare", "base.json", "bare.json"), 1, "bare.json: not an rnnbench result"),
    Case("compare-baseline-not-rnnbench", ("compare", "bare.json", "base.json"), 1,
         "bare.json: not an rnnbench result"),
    Case("compare-missing-most", ("compare", "base.json", "partial.json"), 1, "partial.json lacks"),
    Case("compare-threads", ("compare", "base.json", "threads4.json"), 2, "threads4.json: threads 4"),
    Case("compare-threads-plural", ("compare", "base.json", "threads4.json"), 2,
         "runs made at different thread counts are not alike (--allow-mismatch", absent="threadss"),
    Case("merge-threads", ("merge", "base.json", "threads4.json", "--out", "m.json"), 2,
         "runs made at different thread counts are not alike; merge runs of one", absent="--allow-mismatch"),
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
    # outputs that must not replace what stands at their path, nor an input
    Case("train-out-dev-null", ("train", *TINY, "--out", "/dev/null"), 2, "--out: /dev/null is a character device"),
    Case("train-out-fifo", ("train", *TINY, "--out", "pipe"), 2, "--out: pipe is a FIFO", files={"pipe": "fifo"}),
    Case("gen-out-fifo", ("gen", "--size", "2000", "--out", "pipe"), 2, "--out: pipe is a FIFO",
         files={"pipe": "fifo"}),
    Case("train-out-trailing-slash", ("train", *TINY, "--out", "newdir/"), 2, "--out: newdir/ ends in '/'"),
    Case("merge-out-trailing-slash", ("merge", "base.json", "base.json", "--out", "m/"), 2, "--out: m/ ends in '/'"),
    Case("compare-flagged-is-the-baseline", ("compare", "base.json", "base.json", "--flagged", "base.json"), 2,
         "--flagged: base.json is also base.json"),
    Case("compare-flagged-is-a-candidate", ("compare", "base.json", "partial.json", "--allow-missing", "--flagged",
                                            "partial.json"), 2, "--flagged: partial.json is also partial.json"),
    Case("compare-flagged-is-a-folder", ("compare", "base.json", "base.json", "--flagged", "rep"), 2,
         "--flagged: rep is a folder"),
    Case("compare-flagged-inside-a-file", ("compare", "base.json", "base.json", "--flagged", "a_file/f.txt"), 2,
         "--flagged: a_file/f.txt lies inside a_file"),
    Case("compare-flagged-in-proc", ("compare", "base.json", "base.json", "--flagged", "/proc/flagged.txt"), 2,
         "--flagged: /proc/flagged.txt"),
    Case("merge-out-is-an-input", ("merge", "base.json", "base.json", "--out", "base.json"), 2,
         "--out: base.json is also base.json"),
    Case("train-out-is-the-data", ("train", *TINY, "--data-in", "data.npz", "--out", "data.npz"), 2,
         "--out: data.npz is also data.npz"),
    Case("train-out-is-the-weights", ("train", *TINY, "--weights-in", "w.npz", "--out", "w.npz"), 2,
         "--out: w.npz is also w.npz"),
    Case("report-out-holds-an-input", ("report", "rep/base.json", "--out", "rep"), 2, "--out: rep holds rep/base.json",
         files={"rep/base.json": json.dumps(json.loads(GOLDEN.read_text())).encode()}),
    Case("report-out-is-the-working-directory", ("report", "base.json", "--out", "."), 2,
         "--out: . is or holds the working directory"),
    Case("bench-json-in-proc", ("bench", "--impl", "numpy", "--json", "/proc/x.json"), 2, "--json: /proc/x.json"),
    Case("bench-log-is-a-folder", ("bench", "--impl", "numpy", "--json", "taken.json"), 2,
         "--json's log: taken.log is a folder", files={"taken.log": "dir"}),
    Case("bench-json-is-a-device", ("bench", "--impl", "numpy", "--json", "/dev/null"), 2,
         "--json: /dev/null is a character device"),
    Case("bench-history-is-a-file", ("bench", "--impl", "numpy", "--no-report"), 2,
         "the run history (results/history): results/history is a file", files={"results/history": b"a file\n"}),
    Case("bench-results-is-a-file", ("bench", "--impl", "numpy", "--no-report"), 2,
         "the results folder (results): results is a file", files={"results": b"a file\n"}),
    Case("bench-report-holds-the-json", ("bench", "--impl", "numpy", "--json", "rep/b.json", "--report-out", "rep"), 2,
         "--report-out: rep holds rep/b.json"),
    Case("bench-report-holds-the-history", ("bench", "--impl", "numpy", "--report-out", "results"), 2,
         "--report-out: results holds results/history"),
    # limits named before any work
    Case("state-size-does-not-fit", ("train", *TINY, "--state-size", "200000"), 2, "state_size: 200000 units"),
    Case("threads-over-the-cpus", ("train", *TINY[:-1], "1000"), 2, "--threads: at most"),
    Case("bench-threads-over-the-cpus", ("bench", "--impl", "numpy", "--threads", "1000"), 2,
         "this machine's CPU count"),
    Case("bench-processes-too-many", ("bench", "--impl", "numpy", "--processes", "1000000"), 2,
         "--processes: at most 64"),
    Case("gen-size-too-small", ("gen", "--size", "1", "--out", "x.npz"), 2, "--size: 1 is too small for the task "
         "binary's reference windows (at least 1000", absent="--batch-size"),
    Case("data-in-is-text", ("train", *TINY, "--data-in", "text.npz"), 2,
         "text.npz: not a readable .npz archive (it starts with b'x,y", absent="pickle"),
    Case("lr-diverges-sine-one-line", ("train", "--impl", "numpy", "--task", "sine", "--epochs", "1", "--threads",
                                       "1", "--lr", "1e30"), 1, "diverged: loss became inf"),
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
    for name, what in case.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir() if what == "dir" else os.mkfifo(path) if what == "fifo" else path.write_bytes(what)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    done = rnnbench(*case.argv, cwd=tmp_path, env=case.env)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == case.code, done.stderr
    assert "Traceback" not in done.stderr
    if case.code != 0:
        assert len(lines) == 1, done.stderr
        assert case.needle in lines[0], lines[0]
        assert not case.absent or case.absent not in lines[0], lines[0]
    for name, data in earlier.items():
        assert (tmp_path / name).read_bytes() == data, name
    after = sorted(p.name for p in tmp_path.rglob("*"))
    assert after == before  # nothing half-written, no temporary file left behind


def test_at_least_sixty_cases():
    assert len(CASES) >= 60


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
    from rnnbench.commands import cli, theory

    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(theory, "run", broken)
    assert cli.main(["theory"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "internal error" in err[0] and "ZeroDivisionError: a bug" in err[0]


def test_float64_weights_are_kept_in_float64(tmp_path):
    from rnnbench.spec.params import load_params

    config = RunConfig(size=2000, dtype="float64")
    params = init_params(config).map(lambda a: a.astype(np.float64) + 1e-12)
    np.savez(tmp_path / "w64.npz", **dict(params.items()))
    loaded = load_params(tmp_path / "w64.npz", config)
    for ours, theirs in zip(loaded, params):
        assert ours.dtype == np.float64
        np.testing.assert_array_equal(ours, theirs)


# --- any input either loads or is the one user-error type -------------------------------------------------------


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
    from rnnbench.results.schema import read_results
    from rnnbench.spec.params import load_params

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
            shutil.rmtree(rep, ignore_errors=True)  # an earlier round's report may have been swapped in whole
            rep.mkdir()
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


# --- outputs: what stands at their path, repeated values, a full stdout, warnings -------------------------------


def test_a_symlinked_output_is_written_through(workspace, tmp_path):
    """The README's rule: a link given as an output stays a link, and the file it names gets the run."""
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "run.json").write_text('{"older": true}\n')
    os.symlink("kept/run.json", tmp_path / "link.json")
    done = rnnbench("train", *TINY, "--out", "link.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "link.json").is_symlink()
    assert json.loads((tmp_path / "kept" / "run.json").read_text())["impl"] == "numpy"
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["run.json"]


def test_repeated_values_are_taken_once_with_a_note(tmp_path):
    from rnnbench.commands.cli import build_parser

    args = build_parser().parse_args(["bench", "--impl", "numpy", "numpy", "--task", "binary", "--task", "binary",
                                      "--measure", "forward", "forward", "--framework", "numpy", "numpy"])
    assert (args.impl, args.task, args.measure, args.framework) == (["numpy"], ["binary"], ["forward"], ["numpy"])
    assert len(args.notes) == 4 and "--impl numpy given more than once; taken once" in args.notes
    done = rnnbench("train", *TINY, "--impl", "numpy", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines() == ["rnnbench train: note: --impl numpy given more than once; taken once"]


def test_a_full_stdout_ends_the_output_not_the_run(tmp_path):
    """`> /dev/full`: the run's output file is written first, and the run keeps its exit code."""
    with open("/dev/full", "w") as full:
        done = rnnbench("train", *TINY, "--out", "run.json", cwd=tmp_path, stdout=full)
        assert done.returncode == 0 and done.stderr == ""
        assert json.loads((tmp_path / "run.json").read_text())["impl"] == "numpy"
        (tmp_path / "base.json").write_bytes(GOLDEN.read_bytes())
        done = rnnbench("compare", "base.json", "base.json", cwd=tmp_path, stdout=full)
        assert done.returncode == 0 and done.stderr == ""


def test_warnings_are_one_line_each_and_none_after_a_failure(capsys, monkeypatch):
    import warnings

    from rnnbench.commands import cli, theory
    from rnnbench.errors import DivergedError

    def noisy(args):
        for _ in range(12):
            warnings.warn("overflow encountered in matmul", RuntimeWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(theory, "run", noisy)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert cli.main(["theory"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["rnnbench theory: warning: RuntimeWarning: overflow encountered in matmul (12 times)",
                   "rnnbench theory: warning: UserWarning: something else"]

    def diverges(args):
        warnings.warn("overflow encountered in matmul", RuntimeWarning, stacklevel=1)
        raise DivergedError(3, float("inf"))

    monkeypatch.setattr(theory, "run", diverges)
    assert cli.main(["theory"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "diverged: loss became inf at step 3" in err[0]


def test_a_new_name_is_never_an_old_one(tmp_path):
    """Two runs of one second keep both results: the second takes the next free name, and the trend orders
    them."""
    from rnnbench.files import write_new
    from rnnbench.results.schema import _history_order

    names = [write_new(tmp_path / "bench-20261130-120000.json", lambda f, i=i: f.write(b"%d" % i)) for i in range(3)]
    assert [p.name for p in names] == ["bench-20261130-120000.json", "bench-20261130-120000-2.json",
                                       "bench-20261130-120000-3.json"]
    assert [p.read_bytes() for p in names] == [b"0", b"1", b"2"]
    later = tmp_path / "bench-20261130-120001.json"
    assert sorted([later, *reversed(names)], key=_history_order) == [*names, later]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*(p.name for p in names)])


@pytest.mark.slow
def test_a_signal_to_bench_alone_stops_its_children_and_keeps_earlier_files(tmp_path):
    """SIGTERM (what `timeout` and a CI runner send) to the bench process alone: it stops its pytest child and
    everything that child started, waits for them, and exits 143; the earlier results and logs are untouched
    (`--json keep.log`: the log beside it is keep.log.log), and this run's log is kept under a new name."""
    import signal
    import time

    psutil = pytest.importorskip("psutil")
    for name in ("keep.log", "keep.log.log"):
        (tmp_path / name).write_text(f"an earlier {name}\n")
    proc = subprocess.Popen([sys.executable, "-m", "rnnbench", "bench", "--impl", "numpy", "--task", "binary",
                             "--threads", "1", "--json", "keep.log", "--no-report"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    kids = []
    while time.monotonic() < deadline and not kids:
        kids = [k for k in psutil.Process(proc.pid).children(recursive=True) if "pytest" in " ".join(k.cmdline())]
        time.sleep(0.2)
    assert kids, "the benchmark child never started"
    time.sleep(2)  # inside the benchmarks
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("rnnbench bench: interrupted; its log so far: ")
    for kid in kids:
        assert not kid.is_running() or kid.status() == psutil.STATUS_ZOMBIE
    for name in ("keep.log", "keep.log.log"):
        assert (tmp_path / name).read_text() == f"an earlier {name}\n"
    kept = tmp_path / "keep.log-failed.log"
    assert "interrupted" in kept.read_text() and "Wrote benchmark data" not in kept.read_text()  # stopped mid-run
    assert not [p for p in tmp_path.iterdir() if p.name.endswith((".part", ".tmp"))]  # no partial log left
    assert not (tmp_path / "results" / "history").exists() or not any((tmp_path / "results" / "history").iterdir())


# --- any output path either works or is refused before work, and a refusal changes nothing ------------------------

PARTS = ("f", "d", "p", "lf", "ld", "dang", "new", "d/x", "ld/x", "in.json", "lin")


def _sandbox(root: Path) -> None:
    """A file, a folder with a file, a FIFO, links to each, a dangling link, an input and a link to it."""
    (root / "f").write_text("a file\n")
    (root / "d").mkdir()
    (root / "d" / "x").write_text("in a folder\n")
    os.mkfifo(root / "p")
    os.symlink("f", root / "lf")
    os.symlink("d", root / "ld")
    os.symlink("nowhere/y", root / "dang")
    (root / "in.json").write_text("{}\n")
    os.symlink("in.json", root / "lin")


def _snapshot(root: Path) -> dict:
    seen = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            seen[rel] = ("link", os.readlink(path))
        elif path.is_fifo():
            seen[rel] = ("fifo",)
        elif path.is_dir():
            seen[rel] = ("dir",)
        else:
            seen[rel] = ("file", path.read_bytes())
    return seen


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.lists(st.sampled_from(PARTS), min_size=1, max_size=3).map("/".join),
                 st.sampled_from(["/dev/null", "/proc/out.json", "/", ".", "", "new/"])),
       st.booleans(), st.booleans())
def test_any_output_path_works_or_is_refused_before_work(tmp_path_factory, path, trailing_slash, folder):
    from rnnbench.files import check_output, output_target, replace_folder, write_json

    root = tmp_path_factory.mktemp("out")
    _sandbox(root)
    path = path + "/" if trailing_slash and path and not path.endswith("/") else path
    cwd = os.getcwd()
    os.chdir(root)
    try:
        before = _snapshot(root)
        try:
            check_output(path, "--out", folder=folder, keep=["in.json"])
        except UserError:
            assert _snapshot(root) == before, path  # refused: nothing changed
            return
        target = Path(os.path.realpath(output_target(path)))
        if folder:
            replace_folder(path, lambda staging: (staging / "index.html").write_text("new\n"))
            assert (target / "index.html").read_text() == "new\n"
        else:
            write_json(path, {"new": True})
            assert json.loads(target.read_text()) == {"new": True}
        assert target.is_relative_to(root.resolve()), path  # only the sandbox was written
        after = _snapshot(root)
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        mine = str(target.relative_to(root.resolve()))
        assert all(k == mine or k.startswith(mine + "/") or mine.startswith(k + "/") for k in changed), (path, changed)
        assert before.get("p") == after.get("p") == ("fifo",) and after["lf"] == ("link", "f")
        assert after["in.json"] == ("file", b"{}\n")
    finally:
        os.chdir(cwd)
