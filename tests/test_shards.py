"""Beyond one machine: shards that hold every case once, merging runs of several machines, the CI workflow."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_compare import make_run

from rnnbench.errors import UserError
from rnnbench.harness import shards
from rnnbench.results.compare import compare
from rnnbench.results.merge import merge_files

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


@pytest.mark.parametrize("text", ["0/2", "3/2", "2", "a/b", "1/0", ""])
def test_a_bad_shard_is_refused_naming_the_option(text):
    with pytest.raises(UserError, match="--shard: expected K/N"):
        shards.parse_shard(text)


def test_assignment_is_deterministic_complete_and_balanced():
    costs = {f"case{i}": float(c) for i, c in enumerate([9, 7, 6, 5, 5, 4, 3, 2, 2, 1])}
    first = shards.assign(costs, 3, costs)
    assert first == shards.assign(reversed(list(costs)), 3, costs)  # the order of collection does not matter
    assert set(first) == set(costs) and set(first.values()) == {1, 2, 3}
    loads = [sum(costs[k] for k, s in first.items() if s == i) for i in (1, 2, 3)]
    assert max(loads) - min(loads) <= max(costs.values())
    unknown = shards.assign(["x", "y", "z", "w"], 2, {})  # no baseline: equal costs, two a shard
    assert sorted(unknown.values()) == [1, 1, 2, 2]


def _collected(*args, files=("test_calibration.py", "test_train_bench.py", "test_task_bench.py", "test_scaling.py"),
               profile="full") -> list[str]:
    done = subprocess.run([sys.executable, "-m", "pytest", *(str(BENCH / f) for f in files),
        "--collect-only", "-q", "-p", "no:cacheprovider", "--profile", profile, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


@pytest.mark.parametrize("n", [2, 3])
def test_every_case_lands_in_exactly_one_shard(n):
    """The shards' collections, joined, are the unsharded collection of every family: no duplicate, no gap; the
    machine's measures run in each shard, and the tests of one case stay together."""
    whole = _collected()
    every = [t for t in whole if "test_calibration.py" in t]
    parts = [_collected("--shard", f"{k}/{n}") for k in range(1, n + 1)]
    for part in parts:
        assert [t for t in part if "test_calibration.py" in t] == every
    cases = [t for part in parts for t in part if "test_calibration.py" not in t]
    assert sorted(cases) == sorted(t for t in whole if "test_calibration.py" not in t)
    assert len(cases) == len(set(cases))
    owner = {}
    for k, part in enumerate(parts):
        for t in part:
            if "test_calibration.py" not in t:
                assert owner.setdefault(shards.case_key(t.split("::")[-1]), k) == k  # a case in one shard


def test_the_peers_profile_splits_by_its_cases_arithmetic_and_times_each_roofline_where_its_case_runs():
    """Shards of the peers profile: every case once, balanced by each case's FLOPs (no baseline knows these sizes),
    and a case's roofline at size (test_peers.py) in every shard that times that case, and only there."""
    from rnnbench.spec.peers import PEERS

    files = ("test_calibration.py", "test_train_bench.py", "test_peers.py")
    whole = _collected("--impl", "numpy", "--impl", "torch-rnn", files=files, profile="peers")
    parts = [_collected("--impl", "numpy", "--impl", "torch-rnn", "--shard", f"{k}/3", files=files,
                        profile="peers") for k in (1, 2, 3)]
    timed = [[t for t in part if "test_train_bench.py" in t] for part in parts]
    assert sorted(t for part in timed for t in part) == sorted(t for t in whole if "test_train_bench.py" in t)

    def case_of(test: str) -> str:
        return next(name for name in sorted(PEERS, key=len, reverse=True) if name in test)

    for part, mine in zip(parts, timed):
        assert {case_of(t) for t in part if "test_peers.py" in t} == {case_of(t) for t in mine}
    # the estimate: a build, then the arithmetic; DeepBench's vanilla 1760 train step is some 10^4 times the
    # arithmetic of its batch-1 inference at 32 units
    costs = {name: shards.estimated_cost(_Item(case)) for name, case in _peer_references().items()}
    work = {name: cost - shards.BUILD_COST for name, cost in costs.items()}
    assert work["deepbench-train-rnn-1760"] > 1000 * work["deepbench-infer-rnn-32"] > 0
    loads = [sum(costs[case_of(key)] for key in {shards.case_key(t.split("::")[-1]) for t in mine}) for mine in timed]
    assert max(loads) - min(loads) <= max(costs.values()), loads  # greedy, longest first: within one case


class _Item:
    def __init__(self, reference):
        self.callspec = type("CallSpec", (), {"params": {"peer_reference": reference}})()


def _peer_references() -> dict:
    from rnnbench.spec.references import peer_references

    return {ref.label: ref for ref in peer_references(1)}


def _bench(tmp_path, *args) -> dict:
    out = tmp_path / f"run{len(list(tmp_path.glob('run*.json')))}.json"
    done = subprocess.run([sys.executable, "-m", "rnnbench", "bench", "--impl", "numpy", "--task", "binary",
                           "--threads", "1", "--profile", "ci", "--json", str(out), "--no-report", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text()) | {"path": str(out)}


def _losses(doc: dict) -> dict:
    return {b["name"]: b["extra_info"]["final_loss"] for b in doc["benchmarks"] if "final_loss" in b["extra_info"]}


@pytest.mark.slow
def test_merged_shards_are_the_unsharded_run(tmp_path):
    """Two shards run one after another here (the second in two processes), merged: the same benchmark ids as one
    unsharded run, with the same losses; and a report of the unsharded run's own records, split by shard and
    merged, equals its report."""
    pytest.importorskip("pandas", reason="reports need pandas (pip install 'rnnbench[report]')")
    from rnnbench.commands.bench import summary_table
    from rnnbench.commands.cli import main

    whole = _bench(tmp_path)
    parts = [_bench(tmp_path, "--shard", "1/2"), _bench(tmp_path, "--shard", "2/2", "--processes", "2")]
    assert parts[1]["rnnbench"]["processes"] == 2
    assert all(len(b["extra_info"]["process_medians"]) == 2 for b in parts[1]["benchmarks"])
    if any(b["extra_info"]["measure"] == "epoch" for b in parts[1]["benchmarks"]):
        assert "proc spread" in summary_table(parts[1])
    merged = merge_files([p["path"] for p in parts])
    names = [b["name"] for b in merged["benchmarks"]]
    assert len(names) == len(set(names))
    assert sorted(names) == sorted(b["name"] for b in whole["benchmarks"])
    assert _losses(merged) == _losses(whole)
    assert compare(whole, merged).rows and not compare(whole, merged).loss_failures

    # the same records, split by the shard assignment and merged again, give the same report
    shard_of = shards.assign({shards.case_key(b["name"]) for b in whole["benchmarks"]}, 2, {})
    for k in (1, 2):
        doc = {key: value for key, value in whole.items() if key != "path"}
        doc["benchmarks"] = [b for b in whole["benchmarks"] if b["extra_info"].get("measure") in ("calibration", "peak")
                             or shard_of[shards.case_key(b["name"])] == k]
        (tmp_path / f"split{k}.json").write_text(json.dumps(doc))
    assert main(["merge", str(tmp_path / "split1.json"), str(tmp_path / "split2.json"),
                 "--out", str(tmp_path / "resplit.json")]) == 0
    assert main(["report", whole["path"], "--out", str(tmp_path / "rep-whole")]) == 0
    assert main(["report", str(tmp_path / "resplit.json"), "--out", str(tmp_path / "rep-merged")]) == 0
    tables = sorted(p.name for p in (tmp_path / "rep-whole").glob("*.csv") if p.name != "environment.csv")
    assert tables and tables == sorted(p.name for p in (tmp_path / "rep-merged").glob("*.csv")
                                       if p.name != "environment.csv")
    for name in tables:
        assert (tmp_path / "rep-whole" / name).read_text() == (tmp_path / "rep-merged" / name).read_text(), name


def _write(tmp_path, name: str, doc: dict, node: str) -> str:
    doc = json.loads(json.dumps(doc))
    doc["machine_info"]["node"] = node
    doc["machine_info"]["rnnbench"].update(device="cpu", profile="ci")
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def test_each_machine_is_normalised_by_its_own_calibration(tmp_path):
    """numpy's benchmarks ran on machine a, tf-cell's on a machine twice as slow (its probes too): merged, the
    gate judges both as the baseline's speed, because each record is divided by its own machine's factor."""
    fast, slow = make_run(2), make_run(3, speed=2.0)
    fast["benchmarks"] = [b for b in fast["benchmarks"] if b["extra_info"]["impl"] != "tf-cell"]
    slow["benchmarks"] = [b for b in slow["benchmarks"] if b["extra_info"]["impl"] != "numpy"]
    merged = merge_files([_write(tmp_path, "a.json", fast, "a"), _write(tmp_path, "b.json", slow, "b")])
    assert {b["extra_info"]["machine"] for b in merged["benchmarks"]} == {"a", "b"}
    assert len([b for b in merged["benchmarks"] if b["extra_info"]["measure"] == "calibration"]) == 4
    baseline = json.loads(json.dumps(make_run(1)))
    baseline["machine_info"]["rnnbench"].update(device="cpu", profile="ci")
    result = compare(baseline, merged)
    assert not result.failed and {r.verdict for r in result.rows} <= {"same", "untested"}


def test_merge_refuses_one_case_twice_from_one_machine_and_unlike_runs(tmp_path):
    a = _write(tmp_path, "a.json", make_run(2), "a")
    with pytest.raises(UserError, match="from machine a is also in .*a.json; a case runs in one shard"):
        merge_files([a, a])
    other = make_run(3)
    other["machine_info"]["rnnbench"]["threads"] = 4
    with pytest.raises(UserError, match="threads 4, but the baseline .* has 2"):
        merge_files([a, _write(tmp_path, "t.json", other, "b")])
    merged = merge_files([a, _write(tmp_path, "b.json", make_run(3), "b")])  # one case from two machines: both kept
    assert sum(b["name"].startswith("test_train_step[numpy") for b in merged["benchmarks"]) == 2


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.name for w in WORKFLOWS])
def test_the_workflow_is_valid_and_runs_only_documented_commands(workflow):
    """Each workflow parses against GitHub's schema (check-jsonschema's vendored copy; actionlint too where it is
    installed), and every command it runs is documented: the README's install line, `tox -e ENV -- OPTIONS` of an
    environment the README names, and rnnbench verbs and options the README or docs/ name."""
    checker = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    if not Path(checker).exists():
        pytest.skip("check-jsonschema is not installed (pip install 'rnnbench[dev]')")
    done = subprocess.run([checker, "--builtin-schema", "vendor.github-workflows", str(workflow)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    if shutil.which("actionlint"):
        done = subprocess.run(["actionlint", str(workflow)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout
    readme = (ROOT / "README.md").read_text()
    documented = readme + "".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))
    text = workflow.read_text()
    runs = re.findall(r"run: (?:>-\n)?((?:.+\n)(?:          .+\n)*)", text)
    assert runs
    for run in runs:
        command = " ".join(run.split())
        for part in command.split(" && "):
            if part.startswith(("python3 -m venv", ".venv/bin/pip install")):
                assert part in readme, part
                continue
            verb = re.match(r"(?:\.venv/bin/tox -e (\w+)|\.tox/compare/bin/rnnbench (\w+))", part)
            assert verb, part
            assert f"rnnbench {verb.group(2)}" in documented if verb.group(2) else f"tox -e {verb.group(1)}" in readme
            for option in re.findall(r"(--[a-z][a-z-]+)", part):
                assert option in documented, f"{option} (in `{part}`) is not in the README or docs/"


# --- several processes: every process's rounds kept, their spread shown and used -----------------------------------

def _process_run(seed: int, speeds: list[float], slow_impl: str | None = None) -> dict:
    """One family timed in len(speeds) processes, each slower by its factor (the first process's machine...)."""
    from rnnbench.results.processes import join_processes

    runs = []
    for i, speed in enumerate(speeds):
        run = make_run(seed * 10 + i, slow_impl=slow_impl)
        for record in run["benchmarks"]:
            if record["extra_info"]["measure"] != "calibration":
                record["stats"]["data"] = [t * speed for t in record["stats"]["data"]]
                record["stats"]["median"] *= speed
        runs.append(run)
    return join_processes(runs)


def test_joined_processes_keep_every_round_and_each_median():
    joined = _process_run(1, [1.0, 1.2, 1.1])
    step = next(b for b in joined["benchmarks"] if b["name"].startswith("test_train_step[numpy"))
    assert step["stats"]["rounds"] == 600 and len(step["stats"]["data"]) == 600
    medians = step["extra_info"]["process_medians"]
    assert len(medians) == 3 and step["extra_info"]["process_spread"] == pytest.approx(max(medians) / min(medians))
    assert 1.15 < step["extra_info"]["process_spread"] < 1.25
    assert min(step["stats"]["data"]) <= step["stats"]["median"] <= max(step["stats"]["data"])


def test_the_gate_judges_across_processes():
    """One candidate process twice as slow is a disturbed process, not a slower program: same. Every process twice
    as slow (a real regression) is worse, and named."""
    baseline = _process_run(1, [1.0, 1.05, 1.1])
    assert not compare(baseline, _process_run(2, [1.0, 2.0, 1.05])).failed
    result = compare(baseline, _process_run(3, [1.0, 1.05, 1.1], slow_impl="numpy"))
    assert result.failed and {r.impl for r in result.regressions} == {"numpy"}


def test_memory_is_measured_in_a_fresh_process():
    """The probe trains in a new process: the framework's own footprint apart from the training's growth."""
    from rnnbench.harness.memory import fresh_process_memory
    from rnnbench.spec.config import RunConfig

    result = fresh_process_memory("numpy", RunConfig(size=20000, threads=1))
    assert result["framework_rss_mb"] > 10 and 0 <= result["model_rss_mb"] <= result["peak_rss_mb"]
    assert result["peak_rss_mb"] >= result["framework_rss_mb"] and result["cuda_max_allocated_mb"] is None
    assert 0.4 < result["final_loss"] < 0.7 and result["versions"]["numpy"]
