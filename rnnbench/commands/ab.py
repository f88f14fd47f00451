"""``rnnbench ab A B``: a paired comparison of two versions of the suite's code, on this machine, in the same minutes.

Stored numbers from another day and machine compare two machines as much as two programs (calibration probes make
two machines of one CPU model comparable, not two models). Here A and B are timed side by side, K times:

- each side is a git revision of the checkout (or ``WORKTREE``), installed into its own cached environment with
  the same package versions (``rnnbench.commands.sides``);
- a **loss check** first: B's reference training runs once (``bench --measure train``; its families spread over
  the CPUs, since nothing is compared there); every final loss must stay in its band, strictly, as in
  ``rnnbench compare``;
- then K **repetitions** of the timed measures (train step, forward, epoch by default), each a fresh
  ``rnnbench bench`` process per side at one thread. ``shared`` (the default) runs A and B at the same time on
  one CPU, meeting before and after every benchmark, each timed by its own process's CPU time
  (``--benchmark-timer time.process_time``), with the families spread over the CPUs (one group per CPU, the
  first group's CPU alternating): whatever slows that CPU (a neighbour on its physical core, the host's other
  work) slows both sides in the same milliseconds, and the other side's turns on the CPU are not counted.
  ``duet`` runs them at the same time each confined to its own CPU, and swaps the CPUs every repetition (Bulej et
  al., ICPE 2020), with wall-clock time; on a host whose virtual CPUs are slowed one at a time, for seconds, each
  pair then reads the difference between two CPUs (A/A here: a log-ratio spread of 17% against shared's 1.4%).
  ``interleaved`` runs them one after the other on one CPU, in a random order per repetition (Abedi & Brecht,
  ICPE 2017). The price of CPU time: a regression that only waits (a sleep, a lock, I/O) does not show, and what
  a process's other threads compute is counted with its own;
- every benchmark's K ratios B/A of the repetitions' fast rounds are judged by ``rnnbench.results.paired``;
- **settling** (``--settle S``, ``--settle-within SECONDS``, planned in advance): every benchmark still
  ``inconclusive`` after the K pairs (a disturbed pair widens a six-pair interval to its extremes) is timed again,
  alone, in S fresh pairs, and judged on those alone; one still inconclusive gets a second round of S, at most
  (``SETTLE_ROUNDS``); pairs stop when the next would pass the time cap (a cut decided by the clock, never by
  the ratios), and what is left inconclusive is named with the pairs it would need. Each round is a stage of its
  own, independent of the others: an unchanged benchmark reads ``worse`` in one with probability at most
  (1 - confidence) / 2, and a ``worse`` or ``better`` from any stage goes to the confirmation below, so over the
  planned stage and two rounds an unchanged benchmark fails the comparison with probability at most
  3 / 4096 at six pairs a stage (a union bound); a real change beyond the threshold reads ``same`` in a stage
  with probability at most (1 - confidence) / 2, so at most 7.5% over three.
- a **confirmation** (``--confirm C``, planned in advance): every benchmark that reads ``worse`` or ``better``
  after the K pairs is timed again, alone (its implementations, tasks, cells and measures only), in C fresh
  pairs, and its verdict is the confirmation's. A benchmark that has not changed reads ``worse`` in one stage with
  probability at most (1 - confidence) / 2 (the signed-rank interval's one side; 1/64 at six pairs), so in both,
  independent, at most its square: 1/4096 per benchmark at six and six pairs, under 1.6% for 64 benchmarks
  together, where a single stage of six pairs flags one of 64 unchanged benchmarks in two runs of three. A real
  change beyond the threshold must show in both stages (the price: some power, where the machine is noisy).

Exit codes as ``compare``: 0 nothing worse, 1 a regression or a loss out of its band, 2 a user error.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from rnnbench.commands import children
from rnnbench.commands.sides import (
    WORKTREE,
    Side,
    changed_paths,
    checkout_root,
    commit_time,
    commits_between,
    ensure_env,
    freed,
    installed_versions,
    normalise,
    parse_overrides,
    resolve_sides,
    rnnbench_of,
)
from rnnbench.console import emit
from rnnbench.cpus import allowed_cpus
from rnnbench.errors import EXIT_FAILED, EXIT_OK, UserError
from rnnbench.files import check_output, write_json
from rnnbench.harness.compile_cache import ENV as COMPILE_CACHE_ENV
from rnnbench.harness.duet import ENV as DUET_ENV
from rnnbench.harness.duet import SHARED_ENV as DUET_SHARED_ENV
from rnnbench.harness.duet import SOLO as DUET_SOLO
from rnnbench.paths import RESULTS_DIR
from rnnbench.results.compare import fast_time, loss_failures, path_caveat, path_differences
from rnnbench.results.paired import (
    AB_KEY,
    AB_SCHEMA_VERSION,
    CONFIDENCE,
    PairedJudgement,
    judge_pairs,
    min_pairs,
    read_ab,
)
from rnnbench.results.records import Record
from rnnbench.results.schema import info, read_results
from rnnbench.results.table import format_table, markdown_table
from rnnbench.spec import families
from rnnbench.spec.arguments import non_negative_int, positive_float, positive_int
from rnnbench.spec.config import BENCH_THREADS
from rnnbench.spec.measures import MACHINE_MEASURES, Measure
from rnnbench.spec.request import REQUEST_VERSION, BenchRequest, add_options

DESIGNS = ("duet", "shared", "interleaved")
CPU_CLOCK = "time.process_time"  # the shared design's clock: each side's own CPU time
PYTEST_ADDOPTS = "PYTEST_ADDOPTS"  # read by every pytest, so a revision from before the shared design takes it too
DEFAULT_PAIRS = 8
DEFAULT_THRESHOLD_PCT = 15.0
SETTLE_ROUNDS = 2  # rounds of --settle pairs at most, for what is still inconclusive
DEFAULT_SETTLE_WITHIN = 300.0  # seconds of settling at most
TIMED_MEASURES = (Measure.TRAIN_STEP, Measure.FORWARD, Measure.EPOCH)  # judged by default: the step benchmarks
DEFAULT_EXTRAS = (*(f.extra for f in families.FAMILIES if f.extra), "bench")  # every family, and the suites
DEFAULT_PROFILE = "pair"
ENV_CACHE = Path(".rnnbench") / "ab"  # under the checkout, gitignored: one environment per side's code


HELP = ("paired comparison of two revisions (or two sets of package versions) on this machine, in the same "
        "minutes: exit 1 when B got slower or stopped learning")


def add_arguments(p) -> None:
    p.add_argument("a", metavar="A", nargs="?", default="HEAD",
                   help=f"the reference side: a git revision, or {WORKTREE} (default: HEAD)")
    p.add_argument("b", metavar="B", nargs="?", default="HEAD",
                   help=f"the side judged: a git revision, or {WORKTREE} (the working tree with its uncommitted "
                        "changes; default: HEAD)")
    p.add_argument("--a", dest="a_with", action="append", metavar="REQ",
                   help="A installs this in place of the pinned version (repeatable): NAME==VERSION of a package "
                        "the families timed use (torch==2.14.0), or a wheel file")
    p.add_argument("--b", dest="b_with", action="append", metavar="REQ", help="the same for B")
    p.add_argument("--pairs", type=positive_int, default=DEFAULT_PAIRS, metavar="K",
                   help="repetitions, each timing A and B in fresh processes (default: %(default)s)")
    p.add_argument("--design", choices=DESIGNS, default=None,
                   help="duet: A and B at once, each on its own CPU, swapped every repetition (the default with "
                        "two CPUs); shared: A and B at once on one CPU, each timed by its own CPU time, the "
                        "families spread over the CPUs; interleaved: one after the other in a random order, on "
                        "one CPU")
    p.add_argument("--confirm", type=non_negative_int, default=None, metavar="C",
                   help="pairs that time again, alone, every benchmark the planned pairs read worse or better; "
                        "its verdict is theirs (default: as many as --pairs; 0: no confirmation)")
    p.add_argument("--settle", type=non_negative_int, default=None, metavar="S",
                   help=f"pairs that time again, alone, every benchmark still inconclusive after the planned pairs, "
                        f"in up to {SETTLE_ROUNDS} rounds (default: as many as --pairs; 0: no settling)")
    p.add_argument("--settle-within", type=positive_float, default=DEFAULT_SETTLE_WITHIN, metavar="SECONDS",
                   help="the time settling may take: no pair starts that would end past it (default: %(default)g)")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD_PCT,
                   help="percent slower that counts, when the interval is above 1 too (default: %(default)s)")
    # the request's selection (rnnbench.spec.request); each repetition runs at one thread, at the measures below
    add_options(p.add_argument, ("profile", "impl", "framework", "task", "cell", "measure"),
                defaults={"profile": DEFAULT_PROFILE}, helps={"measure": MEASURE_HELP})
    p.add_argument("--affected", action="store_true",
                   help="time only the families whose code differs between A and B (a change to the core: all; "
                        "to no code: none, and only the loss check runs)")
    p.add_argument("--no-loss-check", action="store_true", help="skip the loss phase (B's training runs)")
    p.add_argument("--allow-dirty", action="store_true",
                   help="compare HEAD even though the working tree has uncommitted changes")
    p.add_argument("--extras", help=f"the extras each side installs (default: {','.join(DEFAULT_EXTRAS)})")
    p.add_argument("--envs", help=f"where the sides' environments are cached (default: <checkout>/{ENV_CACHE})")
    p.add_argument("--work", help=f"the folder for every repetition's results and logs (default: "
                                  f"{RESULTS_DIR}/ab-<time>)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="the interleaved order's seed (%(default)s)")
    p.add_argument("--json", help="write the comparison here too (both sides' records of every repetition, the "
                                  "verdicts); rnnbench report draws its forest plot")


MEASURE_HELP = f"the measures timed in the repetitions (default: {', '.join(TIMED_MEASURES)})"


def options(**given) -> argparse.Namespace:
    """``ab``'s options as its command line would give them: every default, and ``given`` on top (``rnnbench
    versions`` runs one comparison per release through this)."""
    parser = argparse.ArgumentParser(prog="rnnbench ab")
    add_arguments(parser)
    args = parser.parse_args([])
    unknown = sorted(set(given) - set(vars(args)))
    if unknown:
        raise TypeError(f"not options of rnnbench ab: {', '.join(unknown)}")
    for key, value in given.items():
        setattr(args, key, value)
    return args


def run(args) -> int:
    return run_ab(args)


def default_design() -> str:
    """Shared, on any number of CPUs (docs/regression-tracking.md has the figures behind it)."""
    return "shared"


@dataclass
class SideRun:
    """One side's ``rnnbench bench`` in one repetition."""

    side: str  # "A" or "B"
    json: Path
    log: Path
    cpu: int | None
    env: dict = field(default_factory=dict)  # added to the side's environment
    proc: subprocess.Popen | None = None
    seconds: float = 0.0
    code: int | None = None


@dataclass
class Plan:
    """What the comparison runs: the sides, their environments, the design and the selection."""

    root: Path
    sides: tuple[Side, Side]
    envs: dict[str, Path]
    design: str
    pairs: int
    request: BenchRequest  # what every repetition times (its measures and families set per phase)
    listings: dict[str, dict | None]  # side -> its `rnnbench list --json` (None: a revision before the request)
    measures: tuple[str, ...]
    timed_frameworks: list[str] | None  # None: as selected; []: nothing to time (only the loss check)
    loss_check: bool
    work: Path
    seed: int
    notes: list[str] = field(default_factory=list)
    confirm: int = 0  # pairs that time again every benchmark the planned pairs read worse or better
    settle: int = 0  # pairs a round that time again every benchmark still inconclusive
    settle_within: float = DEFAULT_SETTLE_WITHIN  # seconds of settling at most

    def side(self, label: str) -> Side:
        return self.sides[0] if label == "A" else self.sides[1]


def request_version(plan: Plan, side: str) -> int:
    """The benchmark request version a side's rnnbench takes (at most this one's; 0: a revision before it)."""
    listing = plan.listings[side]
    return 0 if listing is None else min(listing["request_version"], REQUEST_VERSION)


def bench_command(side: str, plan: Plan, out: Path, measures: tuple[str, ...], frameworks: list[str] | None,
                  request: BenchRequest | None = None):
    """``rnnbench bench`` of ``side``'s environment for ``request`` (the plan's) at ``measures`` and
    ``frameworks``: the request as a file where that revision takes it, else as the flags of the revisions before
    it."""
    request = request or plan.request
    request = request.replace(measure=tuple(measures), framework=tuple(frameworks or request.framework))
    version, who = request_version(plan, side), f"{side} ({plan.side(side).short})"
    cmd = [str(rnnbench_of(plan.envs[side])), "bench", "--no-report", "--json", str(out)]
    if version >= 1:
        file = out.with_name(out.stem + ".request.json")
        file.parent.mkdir(parents=True, exist_ok=True)
        write_json(file, request.to_json(version, who))
        return cmd + ["--request", str(file)]
    return cmd + request.legacy_argv(who)


def start(run: SideRun, cmd: list[str], meeting: Path | None = None) -> None:
    run.json.parent.mkdir(parents=True, exist_ok=True)
    cwd = run.json.parent / f"cwd-{run.json.stem}"  # results/history of the side's run go here, not into ours
    cwd.mkdir(exist_ok=True)
    with open(run.log, "w") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        env = {**os.environ, **({DUET_ENV: f"{meeting}:{run.side}"} if meeting else {}), **run.env}
        confined = children.confined_child(None if run.cpu is None else {run.cpu})
        run.proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, preexec_fn=confined, start_new_session=True)
    run.seconds = time.monotonic()


def wait(run: SideRun) -> None:
    run.code = run.proc.wait()
    run.seconds = time.monotonic() - run.seconds


def stop(runs: list[SideRun]) -> None:
    """End every child still running, and whatever its processes left behind (each side runs in a session of its
    own: a compiler's worker pool must not go on running on the CPU the next repetition gives the other side)."""
    children.stop([r.proc for r in runs if r.proc is not None])


def last_error(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1] if lines else "(no output)"


def compile_cache(plan: Plan, side: str, measures: tuple[str, ...]) -> dict:
    """Unless builds are timed, each side keeps one Inductor cache across its repetitions: torch-compile's cold
    compiles (23 s of a 95 s repetition here) then happen once, in the first, and the steps timed are the same
    compiled code (``rnnbench.harness.compile_cache`` leaves a directory the caller chose alone)."""
    if Measure.BUILD in measures:
        return {}
    return {COMPILE_CACHE_ENV: str((plan.work / f"inductor-{side}").resolve())}


def run_phase(plan: Plan, name: str, measures: tuple[str, ...], frameworks: list[str] | None, order: list[str],
              cpus: dict[str, int | None], request: BenchRequest | None = None) -> dict[str, dict]:
    """Both sides once: at the same time (duet) or one after the other in ``order``; their results by side."""
    if plan.design == "shared":
        return run_shared_phase(plan, name, measures, frameworks, order, cpus, request)
    runs = {s: SideRun(s, plan.work / name / f"{s}.json", plan.work / name / f"{s}.log", cpus[s],
                       compile_cache(plan, s, measures)) for s in order}
    try:
        meeting = plan.work / name / "meet"  # duet: the sides start each benchmark together (harness.duet)
        if plan.design == "duet":
            meeting.mkdir(parents=True, exist_ok=True)
            for s in order:
                start(runs[s], bench_command(s, plan, runs[s].json, measures, frameworks, request), meeting)
            for s in order:
                wait(runs[s])
        else:
            for s in order:
                start(runs[s], bench_command(s, plan, runs[s].json, measures, frameworks, request))
                wait(runs[s])
    finally:
        stop(list(runs.values()))
    if plan.design == "duet" and any((meeting / f"{DUET_SOLO}.{s}").exists() for s in order):
        plan.notes.append(f"{name}: the sides did not meet (one took no part in the duet's meetings, an older "
                          "version of rnnbench?): timed side by side, unsynchronised")
    return {s: side_results(plan, name, runs[s]) for s in ("A", "B")}


def side_results(plan: Plan, name: str, r: SideRun) -> dict:
    """The results of one side's run in phase ``name``; a run that could not start its benchmarks is an error, one
    whose benchmarks partly failed a note."""
    side = plan.side(r.side)
    if r.code == 2 or not r.json.exists():
        raise UserError(f"{r.side}: {side.short} could not run the benchmarks (exit {r.code}): {last_error(r.log)}; "
                        f"see {r.log}")
    if r.code != 0:
        plan.notes.append(f"{name}: {r.side} ({side.short}) exited {r.code}: some benchmarks failed; see {r.log}")
    return read_results(r.json)


def shared_side_env(env: dict | None = None) -> dict:
    """A side's environment in the shared design: its benchmarks read their process's CPU time (pytest-benchmark's
    ``--benchmark-timer``, through ``PYTEST_ADDOPTS``, which any revision's pytest reads), and its meetings wait
    lightly (``harness.duet``; a revision from before it ignores that)."""
    given = (env if env is not None else os.environ).get(PYTEST_ADDOPTS, "")
    return {PYTEST_ADDOPTS: f"{given} --benchmark-timer={CPU_CLOCK}".strip(), DUET_SHARED_ENV: "1"}


def run_shared_phase(plan: Plan, name: str, measures: tuple[str, ...], frameworks: list[str] | None,
                     order: list[str], cpus: dict[str, int | None], request: BenchRequest | None = None
                     ) -> dict[str, dict]:
    """The shared design's phase: the families spread over the CPUs, and each group timed by both sides at once on
    its one CPU, meeting before and after every benchmark, each reading its own CPU time. Whatever slows that CPU
    (a neighbour on its core, the host's other work) then slows both sides in the same milliseconds, where the
    duet puts the sides on two CPUs that are disturbed apart. Each side's groups are joined into one document."""
    request = request or plan.request
    present = [f for f in families.names()
               if any(f in available_families(plan.listings[s], request) for s in ("A", "B"))]
    first = cpus[order[0]]  # the repetition's CPU (pair_layout): the first group's, the others' the rest
    lanes = [first] + [c for c in (allowed_cpus() or [0])[:2] if c != first]
    groups = spread_families([f for f in present if not frameworks or f in frameworks], lanes)
    runs = {(s, i): SideRun(s, plan.work / name / f"{s}-{i + 1}.json", plan.work / name / f"{s}-{i + 1}.log",
                            lanes[i], {**compile_cache(plan, s, measures), **shared_side_env()})
            for i in range(len(groups)) for s in order}
    meeting = plan.work / name / "meet"  # a family's benchmarks meet by name: the groups share one folder
    meeting.mkdir(parents=True, exist_ok=True)
    try:
        for (s, i), run in runs.items():
            start(run, bench_command(s, plan, run.json, measures, groups[i], request), meeting)
        for run in runs.values():
            wait(run)
    finally:
        stop(list(runs.values()))
    if any((meeting / f"{DUET_SOLO}.{s}").exists() for s in order):
        plan.notes.append(f"{name}: the sides did not meet (one took no part in the meetings, an older version of "
                          "rnnbench?): timed on one CPU, unsynchronised")
    return {s: joined([side_results(plan, name, runs[s, i]) for i in range(len(groups))]) for s in ("A", "B")}


def joined(docs: list[dict]) -> dict:
    """One side's documents of one phase (one per group of families) as one: the first's machine and settings,
    every benchmark."""
    return {**docs[0], "benchmarks": [b for d in docs for b in d["benchmarks"]]}


def spread_families(frameworks: list[str], cpus: list[int]) -> list[list[str]]:
    """The families split into one group per CPU, each family to the group with the fewest implementations so
    far (the training runs' cost grows with them), the largest family first."""
    from rnnbench.spec import registry

    size = {f: sum(registry.entry(n).framework == f for n in registry.names()) for f in frameworks}
    groups: list[list[str]] = [[] for _ in cpus]
    for f in sorted(frameworks, key=lambda f: -size[f]):
        min(groups, key=lambda g: sum(size[x] for x in g)).append(f)
    return [g for g in groups if g]


def side_listing(env: Path, who: str) -> dict | None:
    """What a side's ``rnnbench list --json`` says: the request version it takes and every implementation's status
    (it imports no framework); None for a revision from before the typed request, whose ``list`` takes no
    ``--json``."""
    listed = subprocess.run([str(rnnbench_of(env)), "list", "--json"], capture_output=True, text=True, timeout=120)
    if listed.returncode == 2 and "--json" in listed.stderr:
        return None
    try:
        doc = json.loads(listed.stdout)
        version, rows = doc["request_version"], doc["implementations"]
        return {"request_version": int(version), "implementations": list(rows)}
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{who}: `rnnbench list --json` gave no listing (exit {listed.returncode}): "
                        f"{(listed.stderr.strip().splitlines() or ['no output'])[-1]}") from None


def available_families(listing: dict | None, request: BenchRequest) -> list[str]:
    """The families, in table order, with an implementation available on a side (among the request's
    implementations, if it names some). A side from before the typed request lists no JSON: there, every family
    the request names (or all of them) is taken as present, its environment having every family's extra."""
    if listing is None:
        return [f for f in families.names() if not request.framework or f in request.framework]
    present = {row["framework"] for row in listing["implementations"]
               if row["available"] and (not request.impl or row["name"] in request.impl)}
    return [f for f in families.names() if f in present]


def run_loss_check(plan: Plan, frameworks: list[str] | None, cpus: list[int]) -> dict[str, dict]:
    """B's reference training runs (``bench --measure train``), one process per group of families on each CPU at
    once: nothing is compared here, so nothing is shared but the machine. Returns each group's results."""
    side = plan.sides[1]
    present = available_families(plan.listings["B"], plan.request)
    groups = spread_families([f for f in present if not frameworks or f in frameworks], cpus)
    if not groups:
        raise UserError(f"B: {side.short} has no implementation available for this selection "
                        f"({' '.join(plan.request.pytest_argv()) or 'all'}); `rnnbench list` in its environment "
                        "says why")
    runs = [SideRun("B", plan.work / "loss" / f"B-{i + 1}.json", plan.work / "loss" / f"B-{i + 1}.log", cpu)
            for i, cpu in enumerate(cpus[:len(groups)])]
    try:
        for run, group in zip(runs, groups):
            start(run, bench_command("B", plan, run.json, (Measure.TRAIN,), group))
        for run in runs:
            wait(run)
    finally:
        stop(runs)
    docs = {}
    for run, group in zip(runs, groups):
        if run.code == 2 or not run.json.exists():
            raise UserError(f"B: {side.short} could not run its training runs (exit {run.code}): "
                            f"{last_error(run.log)}; see {run.log}")
        if run.code != 0:
            plan.notes.append(f"loss check: B ({side.short}) exited {run.code} for {', '.join(group)}: some "
                              f"training runs failed; see {run.log}")
        docs["+".join(group)] = read_results(run.json)
    return docs


def per_call(doc: dict) -> dict[str, tuple[float, Record]]:
    """A run's timed benchmarks: name -> (its fast rounds' seconds per call, the record's extra_info).

    The fast rounds (the 10th percentile, ``compare.fast_time``), not the median: what disturbs a shared machine
    only adds time, and it strikes some rounds of a benchmark in some repetitions. A/A here (two runs of six
    pairs, 64 step benchmarks): per repetition the medians' log ratios had a median spread of 5.7-6.2% and 5% of
    them were beyond +-32%; the fast rounds' 1.4-1.8%, and beyond +-6-7%. The cost, named as in ``compare``: a
    regression that strikes fewer than nine rounds in ten (a retrace every other step) must move the fast rounds
    too to be seen."""
    return {b["name"]: (fast_time(b), info(b)) for b in doc["benchmarks"]
            if info(b).measure not in MACHINE_MEASURES}


@dataclass(frozen=True)
class AbRow:
    name: str
    impl: str
    framework: str
    measure: str
    judgement: PairedJudgement  # the verdict: the confirmation's, where one ran
    task: str | None = None
    cell: str | None = None
    planned: PairedJudgement | None = None  # the judgement a confirmation replaced (the planned pairs' or a round's)
    stage: str = "planned"  # the pairs the verdict before any confirmation came from: "planned", "settle-1", ...
    unsettled: PairedJudgement | None = None  # the planned pairs' inconclusive judgement, where settling replaced it


def judge_repetitions(reps: list[dict[str, dict]], threshold_pct: float, confidence: float = CONFIDENCE):
    """(rows, only one side or some repetitions): every benchmark present on both sides of every repetition."""
    times = [{s: per_call(rep[s]) for s in ("A", "B")} for rep in reps]
    everywhere = set.intersection(*(set(t["A"]) & set(t["B"]) for t in times)) if times else set()
    anywhere = set.union(*(set(t["A"]) | set(t["B"]) for t in times)) if times else set()
    rows = []
    for name in sorted(everywhere):
        extra = times[0]["B"][name][1]
        j = judge_pairs([t["A"][name][0] for t in times], [t["B"][name][0] for t in times], threshold_pct,
                        confidence)
        rows.append(AbRow(name, extra.impl, extra.framework, extra.measure, j, extra.task, extra.cell))
    return rows, sorted(anywhere - everywhere)


def to_confirm(rows: list[AbRow]) -> list[AbRow]:
    """The rows a confirmation times again: those the planned pairs read worse or better."""
    return [r for r in rows if r.judgement.verdict in ("worse", "better")]


def alone_request(request: BenchRequest, rows: list[AbRow]) -> BenchRequest:
    """``request`` narrowed to ``rows``' implementations, tasks, cells and measures: their benchmarks (and the
    few others in that product), timed alone (a settling round, a confirmation)."""
    def values(field_name: str) -> tuple:
        found = {getattr(r, field_name) for r in rows}
        return tuple(sorted(found)) if None not in found else getattr(request, field_name)

    return request.replace(impl=values("impl"), task=values("task"), cell=values("cell"),
                           measure=values("measure"))


def to_settle(rows: list[AbRow]) -> list[AbRow]:
    return [r for r in rows if r.judgement.verdict == "inconclusive"]


def settled(rows: list[AbRow], again: list[AbRow], stage: str) -> list[AbRow]:
    """``rows`` with each inconclusive benchmark that ``again`` (a settling round's rows) judged taking that
    round's judgement (still inconclusive: its advice on the pairs it would need is the latest), the planned
    pairs' kept as ``unsettled``; the rest unchanged."""
    judged = {r.name: r.judgement for r in again}
    return [replace(r, judgement=judged[r.name], stage=stage, unsettled=r.unsettled or r.judgement)
            if r.judgement.verdict == "inconclusive" and r.name in judged else r for r in rows]


def confirmed(rows: list[AbRow], confirmation: list[AbRow], pairs: int) -> list[AbRow]:
    """``rows`` with each confirmed benchmark's verdict replaced by its confirmation's (the planned judgement
    kept beside it); one the confirmation lacks reads inconclusive."""
    again = {r.name: r.judgement for r in confirmation}
    flagged = {r.name for r in to_confirm(rows)}
    out = []
    for r in rows:
        if r.name in flagged:
            j = again.get(r.name) or replace(r.judgement, pairs=0, low=None, high=None, confidence=None,
                                             verdict="inconclusive", pairs_to_settle=pairs)
            r = replace(r, judgement=j, planned=r.judgement)
        out.append(r)
    return out


def _pct(x: float) -> str:
    return "-" if x != x or x == float("inf") else f"{100 * x:.1f}%"


ROW_HEADERS = ["benchmark", "impl", "A us", "B us", "B/A", "interval", "detectable", "verdict"]
ROW_ALIGN = "llrrrlrl"
VERDICT_ORDER = ("worse", "inconclusive", "better", "same")


def verdict_cells(rows: list[AbRow]) -> list[list[str]]:
    """Each row's cells (ROW_HEADERS), worst first: worse, inconclusive, better, same; within one, by B/A."""
    order = {v: i for i, v in enumerate(VERDICT_ORDER)}
    table = []
    for r in sorted(rows, key=lambda r: (order[r.judgement.verdict], -r.judgement.ratio)):
        j = r.judgement
        interval = "-" if j.low is None else f"[{j.low:.3f}, {j.high:.3f}]"
        verdict = j.verdict.upper() if j.verdict == "worse" else j.verdict
        if j.verdict == "inconclusive":
            verdict += f" (~{j.pairs_to_settle} pairs)" if j.pairs_to_settle else " (too noisy)"
        if r.stage != "planned":
            verdict += f" ({r.stage}: {j.pairs} pairs)" if r.planned is None else f" ({r.planned.verdict} in {r.stage})"
        if r.planned is not None:
            verdict += (" (confirmed)" if j.verdict == r.planned.verdict else
                        f" (first {r.planned.verdict} at {r.planned.ratio:.3f}, not confirmed)")
        table.append([r.name, r.impl, f"{j.a * 1e6:.1f}", f"{j.b * 1e6:.1f}", f"{j.ratio:.3f}", interval,
                      _pct(j.detectable), verdict])
    return table


def format_rows(rows: list[AbRow]) -> str:
    return format_table(ROW_HEADERS, verdict_cells(rows), align=ROW_ALIGN)


def markdown_summary(rows: list[AbRow], lines: list[str], plan: Plan, failed: bool) -> str:
    """The verdicts as GitHub-flavoured Markdown, for where a reviewer reads them (a workflow's step summary): the
    outcome, the summary lines and notes, the benchmarks that did not read ``same`` in a table, and those that
    did folded under it."""
    a, b = plan.sides
    out = [f"### rnnbench ab: {'FAIL' if failed else 'pass'} (A = {a.short}, B = {b.short})", ""]
    out += [f"- {line}" for line in [*lines, *(f"note: {n}" for n in plan.notes)]]
    same = verdict_cells([r for r in rows if r.judgement.verdict == "same"])
    rest = verdict_cells([r for r in rows if r.judgement.verdict != "same"])
    if rest:
        out += ["", markdown_table(ROW_HEADERS, rest, ROW_ALIGN)]
    if same:
        out += ["", f"<details><summary>{len(same)} benchmarks read same</summary>", "",
                markdown_table(ROW_HEADERS, same, ROW_ALIGN), "", "</details>"]
    out += ["", f"B/A: the Hodges-Lehmann estimate of the repetitions' ratios with its signed-rank interval "
                f"(>= {CONFIDENCE:.0%}); detectable: the smallest change these pairs find at 80% power."]
    return "\n".join(out) + "\n"


SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def publish_summary(text: str, json_path: str | None, work: Path) -> Path:
    """Append the Markdown verdicts to the workflow's step summary (``$GITHUB_STEP_SUMMARY``, when set), else
    write them beside the JSON (``ab-gate.json`` -> ``ab-gate.md``), else into the work folder."""
    target = os.environ.get(SUMMARY_ENV)
    if target:
        with open(target, "a") as f:
            f.write(text)
        return Path(target)
    path = Path(json_path).with_suffix(".md") if json_path else work / "ab.md"
    path.write_text(text)
    return path


def side_path_differences(reps: list[dict[str, dict]]) -> list[str]:
    """Every switch of path that differs between A's and B's runs, over every repetition (``path_differences``)."""
    return list(dict.fromkeys(d for rep in reps for d in path_differences(rep["A"], rep["B"])))


def summary_lines(rows: list[AbRow], losses: list[str], plan: Plan, threshold: float,
                  paths: list[str] | None = None) -> list[str]:
    lines = list(paths or [])
    step = [r.judgement.detectable for r in rows
            if r.measure in TIMED_MEASURES and r.judgement.detectable != float("inf")]
    if step:
        import numpy as np

        q = np.percentile(step, [0, 25, 50, 75, 90, 100])
        lines.append("detectable effect of the step benchmarks (80% power): " + ", ".join(
            f"{k} {_pct(v)}" for k, v in zip(("min", "p25", "median", "p75", "p90", "max"), q)))
    for failure in losses:
        lines.append(f"LOSS REGRESSION (B) {failure}")
    worse = [r for r in rows if r.judgement.verdict == "worse"]
    if worse:
        lines.append(f"SLOWER beyond {threshold:g}%: {', '.join(sorted({r.impl for r in worse}))} "
                     f"({', '.join(r.name for r in worse)})" + path_caveat(paths or []))
        between = commits_between(plan.root, *plan.sides)
        if between:
            lines.append("the commits from A to B, newest first: " + "; ".join(between))
    counts = {v: sum(r.judgement.verdict == v for r in rows) for v in ("worse", "better", "same", "inconclusive")}
    lines.append("ab: " + ("FAIL" if worse or losses else "pass") + " — " + ", ".join(
        f"{n} {v}" for v, n in counts.items()) + f", {len(losses)} loss regressions "
        f"({plan.pairs} pairs" + (f", {plan.confirm} to confirm" if plan.confirm else "")
        + f", {plan.design}, threshold {threshold:g}%)")
    return lines


def affected_frameworks(plan_root: Path, sides: tuple[Side, Side]) -> tuple[list[str], list[str]]:
    """(families a change from A to B can affect, the changed paths)."""
    changed = changed_paths(plan_root, *sides)
    return families.affected_by(changed), changed


def run_ab(args) -> int:
    """The paired comparison (module docstring); returns the exit code."""
    if not (0 < args.threshold < 100):
        raise UserError(f"--threshold: expected a percentage in (0, 100), got {args.threshold:g}")
    if args.json:
        check_output(args.json, "--json")
    work = Path(args.work) if args.work else RESULTS_DIR / f"ab-{time.strftime('%Y%m%d-%H%M%S')}"
    check_output(work, "--work", folder=True)
    work = work.resolve()  # each side runs in a folder of its own: every path it is given must be absolute
    design = args.design or default_design()
    cpus_here = allowed_cpus() or [0]
    if design == "duet" and len(cpus_here) < 2:
        raise UserError(f"--design duet: needs two CPUs, this process may use {len(cpus_here)}; use shared or "
                        "interleaved")
    if args.pairs < min_pairs():
        print(f"ab: {args.pairs} pairs give no interval at {CONFIDENCE:.0%} (it needs {min_pairs()}): every "
              "benchmark will be inconclusive", file=sys.stderr)
    root = checkout_root()
    sides = resolve_sides(root, args.a, args.b, args.allow_dirty)
    chosen = [f for f in families.FAMILIES if not args.framework or f.name in args.framework]
    packages = {normalise(d): f.name for f in chosen for d in f.distributions}
    sides = tuple(replace(side, overrides=parse_overrides(side.label, given, packages))
                  for side, given in zip(sides, (args.a_with, args.b_with)))
    # the selection as ab's options gave it; each phase sets its measures, every repetition runs at one thread
    request = BenchRequest.from_args(args).replace(measure=(), threads=BENCH_THREADS)
    timed = args.framework
    notes = [] if design != "shared" else [
        f"shared: A and B at once on one CPU, each timed by its own CPU time ({CPU_CLOCK}); the families spread "
        f"over {min(2, len(cpus_here))} CPU(s)"]
    if args.affected:
        fams, changed = affected_frameworks(root, sides)
        overridden = {packages[o.name] for side in sides for o in side.overrides}
        timed = [f for f in families.names() if (f in fams or f in overridden)
                 and (not args.framework or f in args.framework)]
        notes.append(f"--affected: {len(changed)} files differ" + (
            f", packages overridden for {', '.join(sorted(overridden))}" if overridden else "")
            + f"; timed families: {', '.join(timed) or 'none'}")
    cache = Path(args.envs) if args.envs else root / ENV_CACHE
    extras = tuple(args.extras.split(",")) if args.extras else DEFAULT_EXTRAS
    work.mkdir(parents=True, exist_ok=True)
    envs, listings = {}, {}
    with open(work / "install.log", "a") as log:
        for side in sides if timed != [] else sides[1:]:  # nothing to time: B's loss check alone
            t0 = time.monotonic()
            env, built = ensure_env(root, side, cache, extras, log)
            envs[side.label] = env
            print(f"ab: {side.label} = {side.short}: environment {'built' if built else 'cached'} "
                  f"({time.monotonic() - t0:.0f} s) {env}", file=sys.stderr, flush=True)
            moved = moved_packages(env, side)
            if moved:
                notes.append(f"{side.label} installs {moved} with its overrides")
                print(f"ab: {side.label} installs {moved} with its overrides", file=sys.stderr, flush=True)
            listings[side.label] = side_listing(env, f"{side.label} ({side.short})")
            if listings[side.label] is None:
                notes.append(f"{side.label} ({side.short}) predates the typed benchmark request: driven by the "
                             "flags its bench took")
    plan = Plan(root, sides, envs, design, args.pairs, request, listings,
                tuple(args.measure or TIMED_MEASURES), timed, not args.no_loss_check, work, args.seed, notes,
                args.pairs if args.confirm is None else args.confirm,
                args.pairs if args.settle is None else args.settle, args.settle_within)
    for label in envs:  # a side that cannot take the request is refused here, before anything is timed
        plan.request.fields_for(request_version(plan, label), f"{label} ({plan.side(label).short})")
    return execute(plan, args)


def moved_packages(env: Path, side: Side) -> str:
    """What the installer chose for the packages a side's overrides freed (``sides.freed``) where it differs from
    this environment, "flax 0.12.3 (here 0.12.8), ..." ("" when nothing moved but the overrides)."""
    names = sorted(freed(tuple(o.name for o in side.overrides)) - {o.name for o in side.overrides})
    held = installed_versions(env, names) if names else {}
    here = installed_versions(Path(sys.prefix), names) if names else {}
    return ", ".join(f"{n} {held[n] or 'absent'} (here {here[n] or 'absent'})" for n in names
                     if held[n] != here[n])


def pair_layout(plan: Plan, k: int, rng: random.Random, cpus: list[int]) -> tuple[list[str], dict]:
    """Repetition ``k``'s order and CPUs: duet swaps the CPUs every repetition, interleaved draws the order."""
    if plan.design == "duet":
        return ["A", "B"], {"A": cpus[k % 2], "B": cpus[(k + 1) % 2]}
    if plan.design == "shared":  # both on the first group's CPU, which alternates (run_shared_phase)
        return ["A", "B"], {"A": cpus[k % len(cpus)], "B": cpus[k % len(cpus)]}
    return rng.sample(["A", "B"], 2), {"A": cpus[0], "B": cpus[0]}


def execute(plan: Plan, args) -> int:
    rng = random.Random(plan.seed)
    cpus = (allowed_cpus() or [0])[:2]
    framework_filter = list(args.framework) if args.framework else None
    loss_docs, reps, layout, durations = {}, [], [], []
    t_start = time.monotonic()
    if plan.loss_check:
        print("ab: loss check: B's reference training runs, its families spread over the CPUs; each final loss "
              "must stay in its band", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        loss_docs = run_loss_check(plan, framework_filter, cpus)
        print(f"ab: loss check done ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
    losses = loss_failures(list(loss_docs.values()))
    if plan.timed_frameworks == []:
        plan.notes.append("no family's code differs between A and B: nothing timed, only the loss check")
    else:
        for k in range(plan.pairs):
            order, where = pair_layout(plan, k, rng, cpus)
            t0 = time.monotonic()
            reps.append(run_phase(plan, f"pair-{k + 1}", plan.measures, plan.timed_frameworks or framework_filter,
                                  order, where))
            layout.append({"order": order, "cpus": where})
            elapsed = time.monotonic() - t0
            durations.append(elapsed)
            print(f"ab: pair {k + 1}/{plan.pairs} ({plan.design}; " + ", ".join(
                f"{s} on cpu {where[s]}" for s in order) + f") {elapsed:.0f} s; about "
                f"{elapsed * (plan.pairs - k - 1) / 60:.1f} min left", file=sys.stderr, flush=True)
    rows, partial = judge_repetitions(reps, args.threshold) if reps else ([], [])
    rows, settling = settle(plan, rows, args.threshold, rng, cpus, min(durations, default=0.0))
    confirmations = []
    flagged = to_confirm(rows)
    if flagged and plan.confirm:
        print(f"ab: confirmation: {len(flagged)} benchmarks read worse or better; {plan.confirm} more pairs time "
              f"them alone", file=sys.stderr, flush=True)
        confirmations = time_alone(plan, flagged, "confirm", plan.confirm, rng, cpus)
        again, _ = judge_repetitions([c["docs"] for c in confirmations], args.threshold)
        rows = confirmed(rows, again, plan.confirm)
        plan.notes.append(f"confirmation: {len(flagged)} benchmarks read worse or better after {plan.pairs} pairs "
                          f"and were timed again, alone, in {plan.confirm} pairs; their verdicts are those")
    if partial:
        plan.notes.append(f"not in every repetition on both sides, not judged ({len(partial)}): "
                          + ", ".join(partial[:5]) + (" ..." if len(partial) > 5 else ""))
    doc = ab_document(plan, args, loss_docs, reps, layout, rows, losses, time.monotonic() - t_start,
                      confirmations, settling)
    if args.json:
        write_json(args.json, doc)
    write_json(plan.work / "ab.json", doc)
    out = [format_rows(rows), ""] if rows else []
    out += [f"A = {plan.sides[0].short}, B = {plan.sides[1].short}; B/A: the Hodges-Lehmann estimate of the "
            f"repetitions' ratios with its signed-rank interval (>= {CONFIDENCE:.0%}); detectable: the smallest "
            "change these pairs find at 80% power"]
    out += [f"note: {n}" for n in plan.notes]
    lines = summary_lines(rows, losses, plan, args.threshold, side_path_differences(reps))
    failed = bool(losses) or any(r.judgement.verdict == "worse" for r in rows)
    summary = publish_summary(markdown_summary(rows, lines, plan, failed), args.json, plan.work)
    out += lines
    out.append(f"wrote {args.json or plan.work / 'ab.json'} (logs: {plan.work}/; the verdicts in Markdown: "
               f"{summary})")
    emit("\n".join(out))
    return EXIT_FAILED if failed else EXIT_OK


def time_alone(plan: Plan, rows: list[AbRow], phase: str, pairs: int, rng: random.Random, cpus: list[int],
               until: float | None = None) -> list[dict]:
    """Up to ``pairs`` fresh pairs that time ``rows``' benchmarks alone (``alone_request``), each {"order", "cpus",
    "docs"}; with ``until`` (a ``time.monotonic()`` deadline), no pair starts that the last one's duration says
    would end past it."""
    narrow = alone_request(plan.request, rows)
    frameworks = sorted({r.framework for r in rows})
    out, last = [], 0.0
    for k in range(pairs):
        if until is not None and time.monotonic() + last > until:
            print(f"ab: {phase}: the time cap stops it after {k} of {pairs} pairs", file=sys.stderr, flush=True)
            break
        order, where = pair_layout(plan, k, rng, cpus)
        t0 = time.monotonic()
        out.append({"order": order, "cpus": where,
                    "docs": run_phase(plan, f"{phase}-{k + 1}", narrow.measure, frameworks, order, where, narrow)})
        last = time.monotonic() - t0
        print(f"ab: {phase} pair {k + 1}/{pairs} {last:.0f} s ({' '.join(narrow.pytest_argv())})",
              file=sys.stderr, flush=True)
    return out


def settle(plan: Plan, rows: list[AbRow], threshold: float, rng: random.Random, cpus: list[int],
           pair_seconds: float = 0.0) -> tuple[list[AbRow], list[dict]]:
    """Settling (the module's docstring): up to SETTLE_ROUNDS rounds of ``plan.settle`` pairs that time the
    benchmarks still inconclusive alone, each round judged on its own pairs, within ``plan.settle_within``
    seconds. A round whose fewest useful pairs (``min_pairs``) would not fit in the time left at
    ``pair_seconds`` each (the planned pairs' shortest: a pair of fewer benchmarks takes no longer) is not begun:
    fewer pairs give no interval, so they would settle nothing. Returns the rows and each round's record."""
    rounds = []
    deadline = time.monotonic() + plan.settle_within
    for k in range(1, SETTLE_ROUNDS + 1):
        open_ = to_settle(rows)
        if not open_ or not plan.settle or time.monotonic() >= deadline:
            break
        if time.monotonic() + min(plan.settle, min_pairs()) * pair_seconds > deadline:
            plan.notes.append(f"settling not begun: {min_pairs()} pairs of about {pair_seconds:.0f} s (the planned "
                              f"pairs' shortest) do not fit in the {deadline - time.monotonic():.0f} s left of "
                              f"--settle-within {plan.settle_within:g}; {len(open_)} benchmarks stay inconclusive")
            break
        stage = f"settle-{k}"
        print(f"ab: settling, round {k}: {len(open_)} benchmarks inconclusive; up to {plan.settle} pairs time them "
              f"alone ({deadline - time.monotonic():.0f} s left of {plan.settle_within:g})", file=sys.stderr,
              flush=True)
        reps = time_alone(plan, open_, stage, plan.settle, rng, cpus, until=deadline)
        if reps:
            again, _ = judge_repetitions([r["docs"] for r in reps], threshold)
            rows = settled(rows, again, stage)
        rounds.append({"stage": stage, "benchmarks": [r.name for r in open_], "repetitions": reps})
        plan.notes.append(f"{stage}: {len(open_)} benchmarks inconclusive, timed again alone in {len(reps)} pairs; "
                          f"{len(open_) - len(to_settle(rows))} settled")
    return rows, rounds


def ab_document(plan: Plan, args, loss_docs, reps, layout, rows, losses, seconds: float,
                confirmations: list[dict] | None = None, settling: list[dict] | None = None) -> dict:
    """The comparison as JSON: the sides, the design, every repetition's pytest-benchmark documents of both
    sides, and the judgements (``rnnbench report`` draws the forest plot from them)."""
    return {
        AB_KEY: {
            "schema_version": AB_SCHEMA_VERSION,
            "sides": {s.label: {"name": s.name, "commit": s.commit, "tree": s.tree,
                                "committed": commit_time(plan.root, s),
                                "overrides": [o.text for o in s.overrides]} for s in plan.sides},
            "design": plan.design, "pairs": plan.pairs, "confirm": plan.confirm, "settle": plan.settle,
            "settle_within": plan.settle_within, "profile": plan.request.profile,
            "threshold_pct": args.threshold, "confidence": CONFIDENCE, "measures": list(plan.measures),
            "selection": plan.request.pytest_argv(), "request": plan.request.to_json(),
            "timed_frameworks": plan.timed_frameworks, "seed": plan.seed, "seconds": round(seconds, 1),
            "notes": plan.notes, "path_differences": side_path_differences(reps),
        },
        "loss": {"docs": loss_docs, "failures": losses},
        "repetitions": [{**lay, "docs": rep} for lay, rep in zip(layout, reps)],
        "confirmations": confirmations or [],
        "settling": settling or [],
        "judgements": [{"name": r.name, "impl": r.impl, "framework": r.framework, "measure": r.measure,
                        "stage": r.stage, **_finite(asdict(r.judgement)),
                        **({"planned": _finite(asdict(r.planned))} if r.planned else {}),
                        **({"unsettled": _finite(asdict(r.unsettled))} if r.unsettled else {})} for r in rows],
    }


def _finite(d: dict) -> dict:
    return {k: (None if v == float("inf") else v) for k, v in d.items()}


__all__ = ["run", "run_ab", "options", "read_ab", "WORKTREE", "DESIGNS"]
