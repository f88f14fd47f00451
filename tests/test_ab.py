"""``rnnbench ab``: the sides (git revisions and the working tree, each installed once into an environment of its
own), bad input refused before any work, the families a change affects, the per-repetition judgement, and one
real paired run end to end."""

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import fake_info

from rnnbench.commands.ab import judge_repetitions
from rnnbench.commands.cli import main
from rnnbench.commands.sides import (
    WORKTREE,
    checkout_root,
    ensure_env,
    export_tree,
    python_of,
    resolve_sides,
    worktree_tree,
)
from rnnbench.errors import UserError
from rnnbench.spec import families
from rnnbench.spec.request import BenchRequest

ROOT = Path(__file__).parents[1]
MARK = "AB_TEST_MARK"  # what the second commit adds to rnnbench/__init__.py


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A temporary repository of this rnnbench (its working tree as it stands), in two commits: the second adds a
    constant to ``rnnbench/__init__.py``."""
    path = tmp_path_factory.mktemp("repo")
    export_tree(checkout_root(ROOT), worktree_tree(checkout_root(ROOT)), path)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "first")
    init = path / "rnnbench" / "__init__.py"
    init.write_text(init.read_text() + f"\n{MARK} = 2\n")
    git(path, "commit", "-q", "-am", "second")
    return path


@pytest.fixture
def in_repo(repo, monkeypatch):
    monkeypatch.chdir(repo)
    return repo


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_sides_resolve_to_commits_and_trees(repo):
    a, b = resolve_sides(repo, "HEAD~1", "main")
    assert a.commit == git(repo, "rev-parse", "HEAD~1") and b.commit == git(repo, "rev-parse", "HEAD")
    assert a.tree != b.tree and b.tree == git(repo, "rev-parse", "HEAD^{tree}")
    # a clean working tree is the same code as HEAD: one tree, so one environment
    assert resolve_sides(repo, "HEAD", WORKTREE)[1].tree == b.tree


def test_the_working_tree_side_includes_uncommitted_and_untracked_files(repo):
    (repo / "scratch.py").write_text("x = 1\n")
    try:
        _, wt = resolve_sides(repo, "HEAD", WORKTREE)
        assert wt.commit is None and wt.tree != git(repo, "rev-parse", "HEAD^{tree}")
        assert "scratch.py" in git(repo, "ls-tree", "--name-only", wt.tree)
        assert git(repo, "status", "--porcelain") == "?? scratch.py"  # the real index is untouched
    finally:
        (repo / "scratch.py").unlink()


def test_an_unknown_revision_is_one_line_exit_2(capsys, in_repo):
    code, out, err = run(capsys, "ab", "HEAD~1", "no-such-branch", "--pairs", "6")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "B: unknown revision 'no-such-branch'" in err and "WORKTREE" in err


def test_a_dirty_tree_where_a_revision_was_asked_is_refused(capsys, in_repo):
    init = in_repo / "rnnbench" / "__init__.py"
    before = init.read_text()
    init.write_text(before + "# edited\n")
    try:
        code, _, err = run(capsys, "ab", "HEAD~1", "HEAD")
        assert code == 2 and err.count("\n") == 1
        assert ("B: HEAD is the commit checked out, but the working tree has uncommitted changes "
                "(rnnbench/__init__.py)") in err
        assert WORKTREE in err and "--allow-dirty" in err
        with pytest.raises(UserError):  # the same, however HEAD is named
            resolve_sides(in_repo, "main", "HEAD~1")
        resolve_sides(in_repo, "HEAD~1", "HEAD", allow_dirty=True)  # asked for: allowed
        resolve_sides(in_repo, "HEAD~1", WORKTREE)  # the changes are a side: nothing left out
    finally:
        init.write_text(before)


@pytest.mark.parametrize("argv, message", [
    (["--json", "/proc/ab.json"], "--json: /proc/ab.json: "),
    (["--json", "rnnbench/__init__.py/ab.json"], "lies inside rnnbench/__init__.py, which is a file"),
    (["--json", "."], "--json: . is a folder; expected a file path"),
    (["--threshold", "0"], "--threshold: expected a percentage in (0, 100), got 0"),
    (["--work", "rnnbench/__init__.py"], "--work: rnnbench/__init__.py is a file; expected a folder"),
])
def test_bad_output_or_threshold_is_refused_before_any_work(capsys, in_repo, argv, message):
    code, out, err = run(capsys, "ab", "HEAD~1", "HEAD", *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err
    assert not (in_repo / ".rnnbench").exists()  # nothing installed


@pytest.mark.parametrize("argv, message", [
    (["--a", "torch>=2.14"], "--a: 'torch>=2.14' is not an exact requirement; expected NAME==VERSION"),
    (["--b", "scipy==1.15.0"], "--b: scipy is no package of the families timed here; expected one of "),
    (["--framework", "tensorflow", "--a", "torch==2.14.0"], "--a: torch is no package of the families timed here"),
    (["--b", "torch==2.14.0", "--b", "Torch==2.15.0"], "--b: torch is given twice"),
    (["--a", "no-such.whl"], "--a: no-such.whl: no such wheel file"),
    (["--a", "WHEEL"], "is not a wheel (expected a zip named name-version-python-abi-platform.whl"),
])
def test_bad_package_overrides_are_refused_before_any_work(capsys, in_repo, tmp_path, argv, message):
    """An override that is no exact pin or wheel, of a package no family timed here uses, given twice, or a file
    that is not a wheel: one line, exit 2, nothing installed or written."""
    fake = tmp_path / "torch-2.14.0-cp311-cp311-linux_x86_64.whl"
    fake.write_text("not a zip")
    argv = [str(fake) if a == "WHEEL" else a for a in argv]
    code, out, err = run(capsys, "ab", "HEAD", "HEAD", "--work", str(tmp_path / "work"), *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err, err
    assert not (in_repo / ".rnnbench").exists() and not (tmp_path / "work").exists()


@pytest.mark.slow
def test_an_environment_side_holds_exactly_the_version_it_claims(repo, tmp_path):
    """A side with an override installs it in place of the pinned version and reads it back; a version that does
    not exist fails the install with the installer's reason, in one line, leaving no environment behind."""
    from dataclasses import replace

    from rnnbench.commands.sides import installed_versions, parse_overrides

    packages = {d: f.name for f in families.FAMILIES for d in f.distributions}
    a, _ = resolve_sides(repo, "HEAD", "HEAD")
    side = replace(a, overrides=parse_overrides("A", ["optax==0.2.7"], packages))
    assert side.short.endswith(" + optax==0.2.7")
    with open(tmp_path / "install.log", "w") as log:
        env, built = ensure_env(repo, side, tmp_path / "envs", (), log)
        assert built and installed_versions(env, ["optax", "torch"]) == {"optax": "0.2.7", "torch": None}
        plain, _ = ensure_env(repo, a, tmp_path / "envs", (), log)
        assert plain != env and installed_versions(plain, ["optax"]) == {"optax": None}
        missing = replace(a, overrides=parse_overrides("A", ["optax==0.2.99"], packages))
        with pytest.raises(UserError, match=r"A: installing HEAD .* \+ optax==0\.2\.99 failed .*optax==0\.2\.99"):
            ensure_env(repo, missing, tmp_path / "envs", (), log)
    assert len([p for p in (tmp_path / "envs").iterdir() if not p.name.startswith(".")]) == 2


def test_outside_a_checkout_is_one_line_exit_2(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "ab", "HEAD~1", "HEAD")
    assert code == 2 and "is not inside a git checkout" in err


def test_the_families_a_change_affects():
    assert families.affected_by(["README.md", "tests/test_ab.py", "reports/figures.py", ".ci/run"]) == []
    assert families.affected_by(["impl_torch/model.py", "docs/x.md"]) == ["torch"]
    assert families.affected_by(["impl_tf/a.py", "impl_jax/b.py"]) == ["tensorflow", "jax"]
    assert families.affected_by(["rnnbench/spec/cells.py"]) == families.names()
    assert families.affected_by(["benchmarks/conftest.py"]) == families.names()
    assert families.affected_by(["pyproject.toml"]) == families.names()
    assert families.affected_by(["benchmarks/baselines/REF", "benchmarks/baselines/ci.json"]) == []
    assert families.affected_by(["reports/build.py"]) == []  # reports read results after the clock
    # the results layer runs in the benchmark process too (its records are written through it)
    assert families.affected_by(["rnnbench/results/records.py"]) == families.names()
    assert families.affected_by(["rnnbench/results/stats.py", "rnnbench/model/ops.py"]) == families.names()


def bench_doc(times: dict[str, float]) -> dict:
    def record(name, t, measure="train_step"):
        impl = name.split("[")[1].split("-")[0] if "[" in name else name
        return {"name": name, "stats": {"median": t, "min": t},
                "extra_info": fake_info(impl, measure)}

    return {"benchmarks": [record(n, t) for n, t in times.items()]
            + [record("test_calibration_python", 1.0, "calibration")]}


def test_the_shared_side_env_is_added_to_what_pytest_is_already_given():
    from rnnbench.commands.ab import shared_side_env

    assert shared_side_env({}) == {"PYTEST_ADDOPTS": "--benchmark-timer=time.process_time",
                                   "RNNBENCH_DUET_SHARED": "1"}
    assert shared_side_env({"PYTEST_ADDOPTS": "-x"})["PYTEST_ADDOPTS"] == "-x --benchmark-timer=time.process_time"


@pytest.mark.parametrize("cpus_here", [[0, 1], [3]])
def test_the_shared_design_gives_both_sides_of_a_group_one_cpu_and_their_cpu_time(tmp_path, monkeypatch,
                                                                                   cpus_here):
    """Each group of families is timed by A and B at once on one CPU, meeting in one folder, each side reading its
    process's CPU time; the first group's CPU alternates by repetition; each side's groups join into one
    document with every benchmark."""
    from rnnbench.commands import ab
    from rnnbench.commands.sides import Side

    started = []

    def fake_start(run, cmd, meeting=None):
        group = cmd[cmd.index("--request") + 1]
        fams = json.loads(Path(group).read_text())["rnnbench_request"]["fields"]["framework"]
        started.append((run.side, run.cpu, tuple(fams), run.env["PYTEST_ADDOPTS"], meeting))
        run.json.write_text(json.dumps(bench_doc({f"test_train_step[{f}-x]": 1e-3 for f in fams})))

    monkeypatch.setattr(ab, "start", fake_start)
    monkeypatch.setattr(ab, "wait", lambda run: setattr(run, "code", 0))
    monkeypatch.setattr(ab, "allowed_cpus", lambda: cpus_here)
    monkeypatch.setattr(ab, "read_results", lambda path: json.loads(Path(path).read_text()))
    sides = (Side("A", "HEAD~1", "a" * 40, "c" * 40), Side("B", "HEAD", "b" * 40, "d" * 40))
    listing = {"request_version": 3, "implementations": [
        {"name": n, "framework": f, "available": True} for n, f in
        [("numpy", "numpy"), ("torch-rnn", "torch"), ("jax-jit", "jax"), ("tf-keras", "tensorflow")]]}
    plan = ab.Plan(ROOT, sides, {"A": tmp_path / "a", "B": tmp_path / "b"}, "shared", 6,
                   BenchRequest(profile="pair"), {"A": listing, "B": listing}, ("train_step",), None, False,
                   tmp_path, 0)
    firsts = []
    for k in range(2):
        started.clear()
        order, where = ab.pair_layout(plan, k, None, cpus_here)
        docs = ab.run_phase(plan, f"pair-{k + 1}", ("train_step",), None, order, where)
        by_group = {}
        for side, cpu, fams, addopts, meeting in started:
            assert addopts.endswith("--benchmark-timer=time.process_time")
            assert meeting == tmp_path / f"pair-{k + 1}" / "meet"
            by_group.setdefault(fams, set()).add((side, cpu))
        assert all(len({c for _, c in v}) == 1 and {s for s, _ in v} == {"A", "B"} for v in by_group.values())
        groups = list(by_group)
        assert sorted(f for g in groups for f in g) == ["jax", "numpy", "tensorflow", "torch"]
        assert len(groups) == len(cpus_here)
        firsts.append(next(c for s, c, *_ in started))
        for side in "AB":
            assert {b["name"] for b in docs[side]["benchmarks"]} >= {
                f"test_train_step[{f}-x]" for f in ("numpy", "torch", "jax", "tensorflow")}
    assert firsts == ([0, 1] if len(cpus_here) == 2 else [3, 3])


def test_the_loss_check_spreads_families_over_the_cpus():
    from rnnbench.commands.ab import spread_families

    assert spread_families(families.names(), [0, 1]) == [["tensorflow", "numpy"], ["torch", "jax"]]
    assert spread_families(families.names(), [0]) == [["tensorflow", "torch", "jax", "numpy"]]
    assert spread_families(["numpy"], [0, 1]) == [["numpy"]]


def test_repetitions_pair_by_name_and_judge_each_benchmark():
    """Eight repetitions whose machine speed swings 40%: the pairs cancel it; 'slow' is 25% slower in every pair;
    a benchmark missing from one repetition is listed, not judged; calibration is never judged."""
    reps = []
    for k in range(8):
        speed = 1.0 + 0.4 * (k % 3) / 2
        a = {"test_train_step[fast-x]": 1e-3 * speed, "test_train_step[slow-x]": 2e-3 * speed}
        b = {"test_train_step[fast-x]": 1e-3 * speed * (1 + 0.004 * (k % 2)),
             "test_train_step[slow-x]": 2.5e-3 * speed * (1 + 0.004 * (k % 2))}
        if k == 3:
            b["test_train_step[gone-x]"] = 1e-3
        reps.append({"A": bench_doc(a), "B": bench_doc(b)})
    rows, partial = judge_repetitions(reps, 15)
    verdicts = {r.name: r.judgement.verdict for r in rows}
    assert verdicts == {"test_train_step[fast-x]": "same", "test_train_step[slow-x]": "worse"}
    assert partial == ["test_train_step[gone-x]"]
    slow = next(r for r in rows if r.impl == "slow")
    assert slow.judgement.ratio == pytest.approx(1.25, rel=0.01) and slow.judgement.pairs == 8


def test_what_the_planned_pairs_flag_is_timed_again_alone_and_the_confirmation_decides(tmp_path, monkeypatch, capsys):
    """Six planned pairs read 'slow' (25% slower in every pair) and 'fluke' (10-40% slower in every pair: a
    disturbed stage) worse; six confirmation pairs, timed with only their implementations, read 'slow' worse again
    and 'fluke' the same: the comparison fails on 'slow' alone, and the JSON keeps both stages."""
    from rnnbench.commands import ab
    from rnnbench.commands.sides import Side

    asked = []

    def fake_phase(plan, name, measures, frameworks, order, cpus, request=None):
        asked.append((name, request))
        k = len(asked)
        fluke = (1.1 + 0.06 * (k % 6)) if name.startswith("pair") else 1.0 + 0.003 * (k % 2)
        a = {"test_train_step[fine-x]": 1e-3, "test_train_step[slow-x]": 2e-3, "test_train_step[fluke-x]": 3e-3}
        b = {"test_train_step[fine-x]": 1e-3 * (1 + 0.002 * (k % 3)), "test_train_step[slow-x]": 2.5e-3 * (
            1 + 0.002 * (k % 2)), "test_train_step[fluke-x]": 3e-3 * fluke}
        if request is not None:  # timed alone: only what the request names
            a = {n: t for n, t in a.items() if n.split("[")[1].split("-")[0] in request.impl}
            b = {n: t for n, t in b.items() if n in a}
        return {"A": bench_doc(a), "B": bench_doc(b)}

    monkeypatch.setattr(ab, "run_phase", fake_phase)
    sides = (Side("A", "HEAD~1", "a" * 40, "c" * 40), Side("B", "HEAD", "b" * 40, "d" * 40))
    plan = ab.Plan(ROOT, sides, {}, "duet", 6, BenchRequest(profile="pair"), {}, ("train_step",), None, False,
                   tmp_path, 0, confirm=6)
    args = ab.options(threshold=15.0, json=str(tmp_path / "ab.json"))
    assert ab.execute(plan, args) == 1
    assert [n for n, _ in asked] == [f"pair-{k}" for k in range(1, 7)] + [f"confirm-{k}" for k in range(1, 7)]
    narrow = asked[-1][1]
    assert narrow.impl == ("fluke", "slow") and narrow.measure == ("train_step",)
    doc = json.loads((tmp_path / "ab.json").read_text())
    judged = {j["impl"]: j for j in doc["judgements"]}
    assert {i: j["verdict"] for i, j in judged.items()} == {"fine": "same", "slow": "worse", "fluke": "same"}
    assert judged["fluke"]["planned"]["verdict"] == "worse" and judged["fluke"]["pairs"] == 6
    assert "planned" not in judged["fine"] and len(doc["confirmations"]) == 6
    printed = capsys.readouterr().out
    assert "WORSE (confirmed)" in printed and "same (first worse at" in printed
    assert "1 worse, 0 better, 2 same" in printed


def test_with_no_confirmation_the_planned_pairs_decide(tmp_path, monkeypatch, capsys):
    from rnnbench.commands import ab
    from rnnbench.commands.sides import Side

    def fake_phase(plan, name, measures, frameworks, order, cpus, request=None):
        assert request is None
        k = int(name.split("-")[1])
        return {"A": bench_doc({"test_train_step[fluke-x]": 1e-3}),
                "B": bench_doc({"test_train_step[fluke-x]": 1e-3 * (1.2 + 0.01 * k)})}

    monkeypatch.setattr(ab, "run_phase", fake_phase)
    sides = (Side("A", "HEAD~1", "a" * 40, "c" * 40), Side("B", "HEAD", "b" * 40, "d" * 40))
    plan = ab.Plan(ROOT, sides, {}, "duet", 6, BenchRequest(profile="pair"), {}, ("train_step",), None, False,
                   tmp_path, 0, confirm=0)
    assert ab.execute(plan, ab.options(threshold=15.0)) == 1
    assert "WORSE" in capsys.readouterr().out


def _settling_phase(asked, disturbed_pair: int = 2):
    """A fake ``run_phase``: 'fine' unchanged, 'slow' 25% slower and 'jumpy' unchanged, except that in the
    planned pairs one pair (``disturbed_pair``) was disturbed (2x on B for 'jumpy', 1/2 for 'fine' and 'slow'),
    which widens six pairs' intervals to their extremes: all three inconclusive there."""
    def fake_phase(plan, name, measures, frameworks, order, cpus, request=None):
        asked.append((name, request))
        k = int(name.rsplit("-", 1)[1])
        hit = 2.0 if name == f"pair-{disturbed_pair}" else 1.0
        wobble = 1 + 0.004 * (k % 3)
        a = {"test_train_step[fine-x]": 1e-3, "test_train_step[slow-x]": 2e-3, "test_train_step[jumpy-x]": 3e-3}
        b = {"test_train_step[fine-x]": 1e-3 * wobble / hit, "test_train_step[slow-x]": 2.5e-3 * wobble / hit,
             "test_train_step[jumpy-x]": 3e-3 * wobble * hit}
        if request is not None:  # timed alone: only what the request names
            a = {n: t for n, t in a.items() if n.split("[")[1].split("-")[0] in request.impl}
            b = {n: t for n, t in b.items() if n in a}
        return {"A": bench_doc(a), "B": bench_doc(b)}

    return fake_phase


def _plan(tmp_path, **kw):
    from rnnbench.commands import ab
    from rnnbench.commands.sides import Side

    sides = (Side("A", "HEAD~1", "a" * 40, "c" * 40), Side("B", "HEAD", "b" * 40, "d" * 40))
    return ab.Plan(ROOT, sides, {}, "duet", 6, BenchRequest(profile="pair"), {}, ("train_step",), None, False,
                   tmp_path, 0, **kw)


def test_what_stays_inconclusive_is_timed_again_alone_and_settled_then_confirmed(tmp_path, monkeypatch, capsys):
    """One disturbed planned pair leaves all three inconclusive; six settling pairs, timed alone, read 'fine' and
    'jumpy' the same and 'slow' worse; the confirmation reads 'slow' worse again: the comparison fails on it
    alone, and the JSON and the Markdown summary say which stage decided."""
    from rnnbench.commands import ab

    asked = []
    monkeypatch.setattr(ab, "run_phase", _settling_phase(asked))
    monkeypatch.delenv(ab.SUMMARY_ENV, raising=False)
    plan = _plan(tmp_path, confirm=6, settle=6)
    assert ab.execute(plan, ab.options(threshold=10.0, json=str(tmp_path / "gate.json"))) == 1
    assert [n for n, _ in asked] == ([f"pair-{k}" for k in range(1, 7)] + [f"settle-1-{k}" for k in range(1, 7)]
                                     + [f"confirm-{k}" for k in range(1, 7)])
    assert asked[6][1].impl == ("fine", "jumpy", "slow") and asked[-1][1].impl == ("slow",)
    doc = json.loads((tmp_path / "gate.json").read_text())
    judged = {j["impl"]: j for j in doc["judgements"]}
    assert {i: j["verdict"] for i, j in judged.items()} == {"fine": "same", "slow": "worse", "jumpy": "same"}
    assert {i: j["stage"] for i, j in judged.items()} == {"fine": "settle-1", "slow": "settle-1", "jumpy": "settle-1"}
    assert all(j["unsettled"]["verdict"] == "inconclusive" and j["unsettled"]["pairs"] == 6 for j in judged.values())
    assert judged["slow"]["planned"]["verdict"] == "worse" and judged["slow"]["ratio"] == pytest.approx(1.25, rel=0.01)
    assert [r["stage"] for r in doc["settling"]] == ["settle-1"] and len(doc["settling"][0]["repetitions"]) == 6
    printed = capsys.readouterr().out
    assert "1 worse, 0 better, 2 same, 0 inconclusive" in printed
    summary = (tmp_path / "gate.md").read_text()  # beside the JSON where no workflow asks for it
    assert summary.startswith("### rnnbench ab: FAIL (A = HEAD~1 (aaaaaaaaaaaa), B = HEAD (bbbbbbbbbbbb))")
    row = next(line for line in summary.splitlines() if line.startswith("| test_train_step[slow-x] | slow | 2000.0 |"))
    assert "| 1.25" in row and "WORSE (worse in settle-1) (confirmed)" in row
    assert "<summary>2 benchmarks read same</summary>" in summary and "| --- | --- | ---: |" in summary


def test_settling_stops_at_its_time_cap_and_names_what_is_left(tmp_path, monkeypatch, capsys):
    """With no time to settle, no settling pair runs: the three stay inconclusive, each with the pairs it would
    need, and the Markdown goes to the workflow's step summary when one is set."""
    from rnnbench.commands import ab

    asked = []
    monkeypatch.setattr(ab, "run_phase", _settling_phase(asked))
    step_summary = tmp_path / "step-summary.md"
    step_summary.write_text("earlier step\n")
    monkeypatch.setenv(ab.SUMMARY_ENV, str(step_summary))
    clock = iter(range(0, 10**6, 1000))  # every reading of the clock is 1000 s after the one before
    monkeypatch.setattr(ab.time, "monotonic", lambda: next(clock))
    plan = _plan(tmp_path, confirm=6, settle=6, settle_within=500.0)
    assert ab.execute(plan, ab.options(threshold=10.0)) == 0
    assert [n for n, _ in asked] == [f"pair-{k}" for k in range(1, 7)]
    printed = capsys.readouterr().out
    assert "0 worse, 0 better, 0 same, 3 inconclusive" in printed and printed.count("inconclusive (") == 3
    text = step_summary.read_text()
    assert text.startswith("earlier step\n### rnnbench ab: pass") and "| test_train_step[slow-x] |" in text
    assert not (tmp_path / "ab.md").exists()  # the step summary took it


def test_a_settling_round_that_cannot_reach_an_interval_in_time_is_not_begun(tmp_path, monkeypatch, capsys):
    """Planned pairs of 50 s each (a fake clock) and 240 s to settle: six pairs, the fewest that give an interval,
    do not fit, so no settling pair is spent, and the output says why."""
    from rnnbench.commands import ab

    asked = []
    monkeypatch.setattr(ab, "run_phase", _settling_phase(asked))
    monkeypatch.delenv(ab.SUMMARY_ENV, raising=False)
    clock = iter(range(0, 10**6, 50))
    monkeypatch.setattr(ab.time, "monotonic", lambda: next(clock))
    plan = _plan(tmp_path, confirm=6, settle=6, settle_within=240.0)
    assert ab.execute(plan, ab.options(threshold=10.0)) == 0
    assert [n for n, _ in asked] == [f"pair-{k}" for k in range(1, 7)]
    printed = capsys.readouterr().out
    assert "settling not begun: 6 pairs of about 50 s" in printed and "3 benchmarks stay inconclusive" in printed


@pytest.mark.slow
def test_each_side_is_installed_once_into_its_own_environment(repo, tmp_path):
    """Two commits, two environments (cached: asked again, nothing is built), each with its own code."""
    a, b = resolve_sides(repo, "HEAD~1", "HEAD")
    with open(tmp_path / "install.log", "w") as log:
        env_a, built_a = ensure_env(repo, a, tmp_path / "envs", (), log)
        env_b, built_b = ensure_env(repo, b, tmp_path / "envs", (), log)
        assert built_a and built_b and env_a != env_b
        assert ensure_env(repo, a, tmp_path / "envs", (), log) == (env_a, False)

    def has_mark(env):
        code = f"import rnnbench, numpy; print(hasattr(rnnbench, {MARK!r}), numpy.__version__)"
        return subprocess.run([python_of(env), "-c", code], capture_output=True, text=True, check=True,
                              cwd=tmp_path).stdout.split()

    import numpy

    assert has_mark(env_a) == ["False", numpy.__version__]  # the same package versions as this environment
    assert has_mark(env_b) == ["True", numpy.__version__]


@pytest.mark.slow
def test_a_paired_run_end_to_end(repo, tmp_path, monkeypatch, capsys):
    """The numpy reference at (5,4), six pairs in the default design, with the loss phase: a table, a JSON that
    keeps both sides' pytest-benchmark documents of every repetition, B's losses in their bands."""
    monkeypatch.chdir(repo)
    out = tmp_path / "ab.json"
    code, printed, err = run(capsys, "ab", "HEAD~1", "HEAD", "--impl", "numpy", "--task", "binary", "--cell", "rnn",
                             "--pairs", "6", "--measure", "train_step", "forward", "--extras", "bench", "--settle",
                             "0", "--envs", str(tmp_path / "envs"), "--json", str(out))  # --work: results/ab-<time>
    assert code in (0, 1), printed + err  # whatever the timings say: a verdict, never an error
    doc = json.loads(out.read_text())
    assert len(doc["repetitions"]) == 6
    for rep in doc["repetitions"]:
        assert set(rep["docs"]) == {"A", "B"} and sorted(rep["cpus"]) == ["A", "B"]
        names = {b["name"] for b in rep["docs"]["B"]["benchmarks"]}
        assert "test_train_step[numpy-binary-rnn-T5-S4-B200]" in names and "test_calibration_python" in names
        assert not any(n.startswith("test_epoch") for n in names)  # --measure
    judged = {j["name"]: j for j in doc["judgements"]}
    assert set(judged) == {"test_train_step[numpy-binary-rnn-T5-S4-B200]",
                           "test_train_step[numpy-binary-rnn-T10-S16-B200]",
                           "test_forward[numpy-binary-rnn-T5-S4-B200]", "test_forward[numpy-binary-rnn-T10-S16-B200]"}
    assert all(j["pairs"] == 6 and j["low"] <= j["ratio"] <= j["high"] for j in judged.values())
    assert doc["loss"]["failures"] == [] and list(doc["loss"]["docs"]) == ["numpy"]  # the one family selected
    assert {b["extra_info"]["measure"] for b in doc["loss"]["docs"]["numpy"]["benchmarks"]} == {"train",
                                                                                              "calibration"}
    assert "B/A" in printed and ("ab: pass" in printed or "ab: FAIL" in printed)
    assert doc["rnnbench_ab"]["design"] == "shared"
    assert {b["options"]["timer"] for b in doc["repetitions"][0]["docs"]["B"]["benchmarks"]} == {"process_time"}
    assert len(list((repo / "results").glob("ab-*/pair-6/B-1.json"))) == 1  # the default work folder, relative


def synthetic_ab(tmp_path: Path, slow: str = "tf-cell", factor: float = 1.3, b_commit: str = "b" * 40,
                 committed: str | None = None, threshold: float = 15.0) -> Path:
    """An ab JSON from the golden bench file: six repetitions, B's ``slow`` implementation ``factor`` slower,
    judged by the same code ``rnnbench ab`` uses."""
    import copy

    import numpy as np

    from rnnbench.commands.ab import AbRow, ab_document, judge_repetitions  # noqa: F401

    base = json.loads((ROOT / "tests" / "data" / "bench-new.json").read_text())
    rng = np.random.default_rng(0)
    reps = []
    for _ in range(6):
        a, b = copy.deepcopy(base), copy.deepcopy(base)
        for ra, rb in zip(a["benchmarks"], b["benchmarks"]):
            scale = float(np.exp(0.01 * rng.standard_normal())) * (factor if rb["extra_info"].get("impl") == slow
                                                                   else 1.0)
            for key in ("median", "min"):
                rb["stats"][key] = ra["stats"][key] * scale
            if ra["stats"].get("data"):
                rb["stats"]["data"] = [t * scale for t in ra["stats"]["data"]]
        reps.append({"A": a, "B": b})
    rows, _ = judge_repetitions(reps, threshold)

    class Args:
        pass

    Args.threshold = threshold
    from rnnbench.commands.ab import Plan
    from rnnbench.commands.sides import Side

    sides = (Side("A", "HEAD~1", "a" * 40, "c" * 40), Side("B", "HEAD", b_commit, "d" * 40))
    plan = Plan(ROOT, sides, {}, "duet", 6, BenchRequest(profile="pair"), {}, ("train_step",), None, False, tmp_path,
                0)
    doc = ab_document(plan, Args, {}, reps, [{"order": ["A", "B"], "cpus": {"A": 0, "B": 1}}] * 6, rows, [], 1.0)
    doc["rnnbench_ab"]["sides"]["B"]["committed"] = committed
    path = tmp_path / ("ab.json" if committed is None else f"drift-{b_commit[:7]}.json")
    path.write_text(json.dumps(doc))
    return path


def test_report_draws_the_forest_plot_from_an_ab_json(tmp_path, capsys):
    pytest.importorskip("pandas", reason="pandas is not installed (pip install 'rnnbench[report]')")
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'rnnbench[report]')")
    from rnnbench.reports.build import build_report

    path = synthetic_ab(tmp_path)
    report = build_report([path])
    (section,) = [s for s in report.sections if s.key == "ab"]
    table = section.table
    assert set(table["family"]) == {"numpy", "tensorflow", "torch"} and section.figure is not None
    worse = table[table["verdict"] == "worse"]
    assert set(worse["impl"]) == {"tf-cell"} and (worse["B/A"].between(1.25, 1.35)).all()
    assert (table[table["impl"] != "tf-cell"]["verdict"] == "same").all()
    assert list(table["family"]) == sorted(table["family"], key=families.order)  # grouped by family
    assert "A = HEAD~1 (aaaaaaaaaa) vs B = HEAD (bbbbbbbbbb): 6 repetitions (duet)" in section.description
    code = main(["report", str(path), "--out", str(tmp_path / "out")])
    assert code == 0 and (tmp_path / "out" / "ab.png").stat().st_size > 10_000
    assert "| tensorflow | test_train_step[tf-cell-binary-rnn-T5-S4-B200] |" in (tmp_path / "out" / "report.md"
                                                                                 ).read_text()


def test_report_draws_the_drift_since_the_anchor_along_the_commits(tmp_path):
    """Three commits against one anchor, tf-cell 1.00, 1.06 and 1.14 times the anchor's time (each commit's own
    gate against its parent would pass at 10%): the drift section orders them by commit time, draws them, and its
    finding names tf-cell's drift at the latest commit; a single comparison makes no drift section."""
    pytest.importorskip("pandas", reason="pandas is not installed (pip install 'rnnbench[report]')")
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'rnnbench[report]')")
    from rnnbench.reports.build import build_report

    paths = [synthetic_ab(tmp_path, factor=f, b_commit=c * 40, committed=t, threshold=10.0) for f, c, t in (
        (1.14, "3", "2026-12-03T10:00:00+00:00"), (1.0, "1", "2026-12-01T10:00:00+00:00"),
        (1.06, "2", "2026-12-02T10:00:00+00:00"))]
    report = build_report(paths)
    (section,) = [s for s in report.sections if s.key == "drift"]
    assert list(dict.fromkeys(section.table["commit"])) == ["1" * 10, "2" * 10, "3" * 10]
    cell = section.table[section.table["impl"] == "tf-cell"]
    assert list(cell.groupby("commit", sort=False)["B/A"].median()) == pytest.approx([1.0, 1.06, 1.14], abs=0.02)
    assert section.description.startswith(f"Drift beyond 10% since {'a' * 10} at {'3' * 10}: tf-cell ")
    assert "numpy" not in section.description.split(". ")[0] and section.figure is not None
    assert not [s for s in build_report([synthetic_ab(tmp_path)]).sections if s.key == "drift"]


@pytest.mark.parametrize("shared", [False, True])
def test_duet_sides_meet_before_each_benchmark_and_never_wait_for_one_the_other_lacks(tmp_path, monkeypatch,
                                                                                      shared):
    """Two threads as the two sides: each arrival waits for the other's; a test only one side collected, or a side
    whose process ended, does not stall (counted in polls of a fake clock, not in seconds). The same outcomes
    when the sides share a CPU and wait lightly (exact paths, a longer poll)."""
    import threading

    from rnnbench.harness import duet
    from rnnbench.harness.duet import meet

    (tmp_path / "collected-numpy.A").write_text("t1\nt2\n")
    (tmp_path / "collected-numpy.B").write_text("t1\n")
    arrived = threading.Event()
    order = []

    def side_b():
        arrived.wait(5)  # B arrives only once A is waiting for it
        order.append("B arrives")
        meet(tmp_path, "B", "numpy", "t1", shared=shared, wait=5)

    thread = threading.Thread(target=side_b)
    thread.start()
    real_sleep = duet.time.sleep

    def waiting(seconds):  # A's first poll: now let B come
        arrived.set()
        real_sleep(seconds)

    monkeypatch.setattr(duet.time, "sleep", waiting)
    assert meet(tmp_path, "A", "numpy", "t1", shared=shared, wait=5) is True
    order.append("A goes on")
    thread.join()
    monkeypatch.undo()
    assert order == ["B arrives", "A goes on"]  # A went on only once B had arrived

    class Clock:  # a fake clock: each poll's sleep advances it, nothing really sleeps
        now, polls = 0.0, 0

        def monotonic(self):
            return self.now

        def sleep(self, seconds):
            self.polls += 1
            self.now += seconds

    clock = Clock()
    monkeypatch.setattr(duet, "time", clock)
    assert meet(tmp_path, "A", "numpy", "t2", shared=shared, wait=5) is False  # B has no t2: no wait
    (tmp_path / "done-torch.B").write_text("")
    assert meet(tmp_path, "A", "torch", "t3", shared=shared, wait=5) is False  # B's torch process has ended
    assert clock.polls == 0
    # a B that never collects (an older rnnbench, unaware of the meetings): A waits once, then goes on alone
    assert meet(tmp_path, "A", "jax", "t4", shared=shared, wait=5, absent=0.2) is False
    assert (tmp_path / "solo.A").exists()
    poll = duet.SHARED_POLL_SECONDS if shared else duet.POLL_SECONDS
    assert 0.2 <= clock.now <= 0.2 + 2 * poll  # it waited `absent`, not `wait`
    polls = clock.polls
    # solo now: no wait at all
    assert meet(tmp_path, "A", "numpy", "t1", shared=shared, wait=5) is False and clock.polls == polls


def test_an_override_frees_what_it_requires_and_keeps_every_other_pin():
    """Another release of a package may need other versions of what it requires (torch its CUDA libraries): an
    override leaves its own requirements, through the extras they ask for, to the installer, and pins the rest."""
    from rnnbench.commands.sides import constraints_text, dependencies

    free = dependencies(("pytest-benchmark",))
    assert {"pytest-benchmark", "pytest", "py-cpuinfo2", "pluggy"} <= free and "numpy" not in free
    pins = constraints_text(("pytest-benchmark",)).lower()
    assert "pytest==" not in pins and "pytest-benchmark==" not in pins and "\nnumpy==" in "\n" + pins


def test_an_override_frees_what_requires_it_too():
    """A library built on the overridden package may need another release of its own (flax 0.12.8 needs jax 0.10):
    what requires the override, transitively, is left to the installer as well; the rest stays pinned."""
    from rnnbench.commands.sides import constraints_text, dependents, freed

    assert "pytest-benchmark" in dependents(("pytest",)) and "pytest" not in dependents(("pytest",))
    assert {"pytest", "pytest-benchmark", "pluggy"} <= freed(("pytest",))
    pins = constraints_text(("pytest",)).lower()
    assert "pytest-benchmark==" not in pins and "\nnumpy==" in "\n" + pins


def test_an_override_frees_no_more_pins_than_it_must():
    """Tightest first: every other package pinned (an override of the version installed here is then exactly this
    environment), then what requires the package freed as well, then what it requires."""
    from rnnbench.commands.sides import constraints_text, pin_stages

    first, then, last = (s.lower() for s in pin_stages(("pytest",)))
    assert "\npytest==" not in "\n" + first and "pytest-benchmark==" in first and "pluggy==" in first
    assert "pytest-benchmark==" not in then and "pluggy==" in then
    assert "pluggy==" not in last and "\nnumpy==" in "\n" + last and last == constraints_text(("pytest",)).lower()
    assert pin_stages() == [constraints_text()]  # a side without overrides: one stage, every package pinned


def test_a_side_installs_under_the_tightest_pins_that_resolve(repo, tmp_path, monkeypatch):
    """ensure_env tries the stages in order, each in a fresh environment, and keeps the first that installs; where
    none does, the installer's exit is the one-line error and no environment is left."""
    from dataclasses import replace

    import rnnbench.commands.sides as sides

    a, _ = resolve_sides(repo, "HEAD", "HEAD")
    tried, resolves = [], {"when": lambda pins: "pytest-benchmark==" not in pins}
    real_run = subprocess.run

    def fake_run(cmd, **kwargs):
        if cmd[:2] == ["uv", "venv"]:
            assert not Path(cmd[-1]).exists()  # every stage starts from a fresh environment
            Path(cmd[-1]).mkdir(parents=True)
            return subprocess.CompletedProcess(cmd, 0)
        if cmd[:3] == ["uv", "pip", "install"]:
            tried.append(Path(cmd[cmd.index("--constraint") + 1]).read_text())
            return subprocess.CompletedProcess(cmd, 0 if resolves["when"](tried[-1]) else 1)
        return real_run(cmd, **kwargs)

    monkeypatch.setattr(sides, "uv_binary", lambda: "uv")
    monkeypatch.setattr(sides.subprocess, "run", fake_run)
    monkeypatch.setattr(sides, "installed_versions", lambda env, names: {n: "8.0.0" for n in names})
    side = replace(a, overrides=sides.parse_overrides("B", ["pytest==8.0.0"], {"pytest": "numpy"}))
    stages = sides.pin_stages(("pytest",))
    with open(tmp_path / "install.log", "w") as log:
        env, built = ensure_env(repo, side, tmp_path / "envs", (), log)
        assert built and tried == stages[:2] and (env / sides.READY).exists()
        tried.clear()
        resolves["when"] = lambda pins: False
        with pytest.raises(UserError, match=r"A: installing HEAD .* \+ pytest==7\.0\.0 failed \(exit 1\)"):
            ensure_env(repo, replace(side, overrides=sides.parse_overrides("B", ["pytest==7.0.0"],
                                                                            {"pytest": "numpy"})),
                       tmp_path / "envs", (), log)
    assert tried == stages and [p.name for p in (tmp_path / "envs").iterdir() if not p.name.startswith(".")] == [
        env.name]


def test_versions_runs_every_release_against_one_commit(capsys, in_repo, tmp_path, monkeypatch):
    """Each release is one paired comparison of the same commit, the installed release on side A."""
    import importlib.metadata

    from rnnbench.commands import ab, report, versions

    calls = []

    def fake_ab(args):
        calls.append(args)
        Path(args.json).write_text("{}")
        return 0

    monkeypatch.setattr(ab, "run_ab", fake_ab)
    monkeypatch.setattr(versions, "check_releases", lambda package, given, held: list(given))
    monkeypatch.setattr(report, "report_available", lambda: (False, "not in this test"))
    code, _, err = run(capsys, "versions", "numpy", "1.0.0", "2.0.0", "--work", str(tmp_path / "work"))
    held = importlib.metadata.version("numpy")
    assert [(c.a, c.b, c.a_with, c.b_with) for c in calls] == [
        (calls[0].a, calls[0].a, [f"numpy=={held}"], [f"numpy=={v}"]) for v in ("1.0.0", "2.0.0")]
    assert len(calls[0].a) == 40 and code == 0, err


@pytest.mark.parametrize("argv, message", [
    (["scipy", "1.15.0"], "PACKAGE: scipy is no framework family's package; expected one of numpy, tensorflow"),
    (["numpy", "x1"], "VERSION: 'x1' is not a version; expected e.g. 2.14.1"),
    (["numpy", "2.2.6", "2.2.6"], "VERSION: 2.2.6 is given twice"),
    (["numpy", "HELD"], "VERSION: every release given is the one installed here (numpy "),
    (["numpy", "99.0.0"], "VERSION: numpy==99.0.0 does not install here: "),
])
def test_versions_refuses_bad_releases_before_any_work(capsys, in_repo, tmp_path, argv, message):
    """rnnbench versions: a package no family records, a string that is no version, a release given twice, only
    the release installed here, or one that does not resolve here: one line, exit 2, nothing written."""
    import numpy

    argv = [numpy.__version__ if a == "HELD" else a for a in argv]
    code, out, err = run(capsys, "versions", *argv, "--work", str(tmp_path / "work"))
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "work").exists() and not (in_repo / ".rnnbench").exists()


def test_versions_times_the_commit_checked_out_and_refuses_a_dirty_tree(capsys, in_repo, tmp_path):
    """The code every release runs is the commit checked out, resolved once before any work: uncommitted changes
    are refused (--allow-dirty times the commit), so an edit during the run changes none of the releases."""
    import numpy

    init = in_repo / "rnnbench" / "__init__.py"
    before = init.read_text()
    init.write_text(before + "# edited\n")
    try:
        code, _, err = run(capsys, "versions", "numpy", "2.2.6" if numpy.__version__ != "2.2.6" else "2.4.6",
                           "--work", str(tmp_path / "work"))
    finally:
        init.write_text(before)
    assert code == 2 and "A: HEAD is the commit checked out, but the working tree has uncommitted changes" in err
    assert not (tmp_path / "work").exists()
