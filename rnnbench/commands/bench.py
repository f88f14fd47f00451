"""``rnnbench bench``: the main job. Times every available implementation with pytest-benchmark and prints
one table: time per step, speed-up against the original TF1 loop, final loss against theory, time-to-target.

Framework families that cannot share an interpreter never do: each family runs the suites of
``rnnbench.benchmarks`` in its own pytest process, and this merges their pytest-benchmark JSON files into one
(still in pytest-benchmark's format, so ``pytest-benchmark compare`` reads it). Progress comes from the event
record each process appends (``rnnbench.harness.events``); pytest's console output goes to the log unread.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from rnnbench.commands import children
from rnnbench.errors import UserError
from rnnbench.files import atomic_write, check_output, json_bytes, write_json, write_new
from rnnbench.harness.events import OPTION as EVENTS_OPTION
from rnnbench.harness.events import EventReader
from rnnbench.paths import HISTORY_DIR, REPORT_DIR, RESULTS_DIR, benchmarks_dir
from rnnbench.results.merge import merge_runs
from rnnbench.results.processes import join_processes
from rnnbench.results.schema import info, outcome, run_info
from rnnbench.results.stats import OVERHEAD_SWEEPS
from rnnbench.results.summary import peer_rows, summary_rows, targets_text
from rnnbench.results.table import format_table
from rnnbench.spec import families, registry
from rnnbench.spec.config import PROFILES, SWEEPS, opted_in
from rnnbench.spec.measures import OPT_IN_FILES
from rnnbench.spec.path import onednn_off_environment
from rnnbench.spec.references import peer_references, reference_configs
from rnnbench.spec.request import OPTIONS, BenchRequest, add_options, read_request

POLL_SECONDS = 0.2  # how often the progress of a running family is read
HELP = "the main job: time every available implementation, side by side"


def add_arguments(p) -> None:
    add_options(p.add_argument)  # the benchmark request (rnnbench.spec.request)
    p.add_argument("--request", dest="request_file", metavar="F.json",
                   help="the whole request from a file (its JSON form, as rnnbench ab passes it), in place of the "
                        "options above")
    p.add_argument("--json", help=f"write the merged results here (default: {RESULTS_DIR}/bench-<time>.json)")
    p.add_argument("--no-report", action="store_true", help="skip building the report at the end")
    p.add_argument("--report-out", default=str(REPORT_DIR), help="report folder (default: %(default)s)")


def request_of(args) -> BenchRequest:
    """The run's request: ``--request F`` or the options, never both."""
    given = BenchRequest.from_args(args)
    if not args.request_file:
        return given
    both = [OPTIONS[name].flag for name in given.changed()]
    if both:
        raise UserError(f"--request: give the request as a file or as options, not both (also given: "
                        f"{', '.join(both)})")
    return read_request(args.request_file)


def run(args) -> int:
    """``rnnbench bench``: the request timed, the results written, the summary printed, the report built."""
    from rnnbench.commands.report import make_report, report_available
    from rnnbench.console import emit
    from rnnbench.results.schema import stored_runs

    args.request = request_of(args)
    check_outputs(args)
    code, results = run_bench(args)
    if results is not None and not args.no_report:
        ok, reason = report_available()
        # the stored runs end with this one: the tables describe it, the trend spans them all
        emit(f"report: {make_report(stored_runs(HISTORY_DIR), args.report_out)}" if ok
             else f"report skipped: {reason}")
    return code


def select(names: list[str] | None, frameworks: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
    """(runnable names, {name: reason} skipped), within ``frameworks`` if given; unknown names are a user error."""
    chosen = [n for n in names or registry.names() if not frameworks or registry.entry(n).framework in frameworks]
    runnable, skipped = [], {}
    for name in chosen:
        ok, reason = registry.entry(name).available()
        if ok:
            runnable.append(name)
        else:
            skipped[name] = reason
    return runnable, skipped


def not_applicable(names: list[str], request: BenchRequest) -> list[dict]:  # each a records.Gap
    """The reference points an implementation declares it does not support (its registry entry), or whose build
    there is too slow for the run's profile, each with the reason: never built, never timed, shown as n/a. Decided
    from the registry alone: nothing is imported."""
    points = []
    profile = PROFILES[request.profile]
    for ref in case_references(request):
        for name in names:
            e = registry.entry(name)
            gap = e.unsupported(ref.config)
            reason = gap or e.too_slow_to_build(ref.config, profile)
            if reason:
                points.append({"impl": name, "framework": e.framework, "label": ref.label, "task": ref.config.task,
                               "field": reason.split(":")[0], "gap": e.gap if gap else e.slow_build_why,
                               "reason": reason})
    return points


def case_references(request: BenchRequest) -> tuple:
    """The configurations the request's profile times: the peers' cases (the peers profile), or the timed
    references of the chosen tasks and cells."""
    if PROFILES[request.profile].peers:
        return peer_references(request.threads, request.device, list(request.peer) or None,
                               list(request.cell) or None, scan=PROFILES[request.profile].scan)
    return reference_configs(request.threads, request.device, list(request.task) or None,
                             list(request.cell) or None, timed=True)


def check_cases_fit(request: BenchRequest) -> None:
    """The peers profile's cases are refused before any work where one would not fit this machine's memory,
    naming the case and what it needs (``check_fits``, as ``train`` refuses a run)."""
    from rnnbench.commands.config_args import check_fits

    if not PROFILES[request.profile].peers:
        return
    for ref in case_references(request):
        try:
            check_fits(ref.config)
        except UserError as exc:
            raise UserError(f"peer {ref.label}: {exc}") from None


def by_framework(names: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(registry.entry(name).framework, []).append(name)
    return dict(sorted(groups.items(), key=lambda kv: families.order(kv[0])))


def family_command(framework: str, names: list[str], request: BenchRequest, out: Path, events: Path,
                   calibrate: bool) -> list[str]:
    """The pytest command for one family: the request narrowed to the family and its runnable implementations;
    ``calibrate`` adds the machine-speed probes (once per run)."""
    bench = benchmarks_dir()
    profile = PROFILES[request.profile]
    files = ["test_calibration.py"] if calibrate else []
    if profile.peers:  # the peer cases, and NumPy's matmul rate at their shapes (once a run, with the probes)
        files += ["test_train_bench.py"] + (["test_peers.py"] if calibrate else [])
    else:
        files += ["test_train_bench.py"] + (["test_task_bench.py"] if framework == "numpy" else [])
    files += ["test_scaling.py"] if profile.sweeps else []
    files += [f for m, f in OPT_IN_FILES.items() if opted_in(profile, m, list(request.measure))]
    return [
        sys.executable, "-m", "pytest", *(str(bench / f) for f in files),
        "-p", "no:cacheprovider", "-p", "no:randomly", "-q", "-rs", "--color=no",  # the suites' order is theirs
        *request.replace(framework=(framework,), impl=tuple(names)).pytest_argv(), EVENTS_OPTION, str(events),
        "--benchmark-json", str(out), "--benchmark-max-time", str(profile.max_time), "--benchmark-save-data",
        "--benchmark-columns=median,iqr,rounds", "--benchmark-sort=name",
    ]


def family_environment(request: BenchRequest) -> dict | None:
    """The benchmark processes' environment where the request changes it (``--no-onednn``), else None (this
    one's)."""
    return {**os.environ, **onednn_off_environment()} if request.no_onednn else None


def run_family(cmd: list[str], log, events: Path, env: dict | None = None, cpus: set[int] | None = None,
               stop: threading.Event | None = None) -> tuple[int, list[dict]]:
    """Run one family's pytest with its output in the log, printing a progress line per finished benchmark;
    ``env``: its environment, where not this process's; ``cpus``: the CPUs it is confined to (a lane's), where
    not this process's; ``stop``: set by another lane's interruption, it stops this one too.

    Returns (exit code, the benchmarks that failed: {"test", "error"} each).
    """
    reader, total, done, failed = EventReader(events), "?", 0, []

    def report_progress() -> None:
        nonlocal total, done
        for event in reader.new_events():
            if event["event"] == "collected":
                total = event["total"]
                continue
            done += 1
            reason = f" ({event['reason']})" if event.get("reason") else ""
            print(f"  [{done}/{total}] {event['test']} {event['outcome'].upper()}{reason}", file=sys.stderr,
                  flush=True)
            if event["outcome"] in ("failed", "error"):
                failed.append({"test": event["test"], "error": event.get("reason", "")})

    log.flush()
    # a group of its own: a signal that reaches this process alone (timeout, a CI runner) is forwarded to the
    # child and all it started, and this waits for them; the child also ends if this process is killed outright
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, process_group=0,
                            preexec_fn=children.confined_child(cpus), env=env)
    try:
        while proc.poll() is None:
            time.sleep(POLL_SECONDS)
            report_progress()
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
    except BaseException:
        children.stop([proc])
        log.write(f"\nrnnbench bench: interrupted; the benchmark process (pid {proc.pid}) was stopped\n")
        raise
    children.stop([proc])  # what the child left running (a compiler's workers)
    report_progress()
    if proc.returncode in (-signal.SIGINT, -signal.SIGTERM):  # someone stopped the child itself: stop the run
        raise KeyboardInterrupt
    return proc.returncode, failed


def impl_of(test: str) -> str:
    """The implementation a benchmark id names: ``test_train[torch-compile-binary-...]`` -> ``torch-compile``."""
    param = test.partition("[")[2]
    param = param.split("-", 1)[1] if param.split("-", 1)[0] in SWEEPS or param.startswith("cell-") else param
    return next((n for n in sorted(registry.names(), key=len, reverse=True) if param.startswith(n + "-")), "")


def _num(value, fmt: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)


def summary_table(doc: dict) -> str:
    """The printed summary: the rows of ``rnnbench.results.summary``, formatted for a terminal."""
    baseline = run_info(doc).baseline_impl
    summary = summary_rows(doc)
    spread = any(not math.isnan(r.process_spread) for r in summary)  # --processes K
    headers = ["config", "impl", "us/step", *(["proc spread"] if spread else []), f"vs {baseline}", "train_step us",
               "launches/ops", "forward us", "build s", "final loss", "should reach", "time-to-target", "peak MB"]
    rows = []
    for r in summary:
        row = [r.label, r.impl, _num(r.us_per_step, "{:.1f}"), *([_num(r.process_spread, "{:.2f}x")] if spread else []),
               _num(r.speedup, "{:.1f}x"),
               _num(r.train_step_us, "{:.1f}"), "-" if r.launches is None else f"{r.launches}/{r.ops}",
               _num(r.forward_us, "{:.1f}"), _num(r.build_s, "{:.2f}")]
        if r.trained:
            ttt = f"{r.seconds_to_target:.2f} s ({r.steps_to_target})" if r.reached else "not reached"
            should = r.goal or (f"{r.expected_loss:.4f}" if r.expected_loss is not None else "-")
            row += [f"{r.final_loss:.4f}", f"{should} {'ok' if r.learned else 'MISSED'}", ttt,
                    _num(r.peak_rss_mb, "{:.0f}")]
        else:
            row += ["-", "-", "-", "-"]
        rows.append(row)
    return format_table(headers, rows, align="llrr" + ("r" if spread else "") + "rrrrrlll")


def peer_table(doc: dict) -> str:
    """The peers profile's summary: each implementation at each peer case, its rate against the same run's matmul
    rate at the case's shapes, and against its family's standard implementation."""
    rows = [[r.case, r.impl, _num(r.train_step_ms, "{:.1f}"), _num(r.train_gflops, "{:.1f}"),
             _num(r.forward_ms, "{:.1f}"), _num(r.forward_gflops, "{:.1f}"), _num(r.peak_gflops, "{:.1f}"),
             _num(r.fraction, "{:.0%}"), _num(r.vs_standard, "{:.2f}x"), _num(r.build_s, "{:.2f}")]
            for r in peer_rows(doc)]
    return format_table(["case", "impl", "train_step ms", "GFLOP/s", "forward ms", "fwd GFLOP/s", "peak at size",
                         "of peak", "vs standard", "build s"], rows, align="llrrrrrrrr")


def print_summary(doc: dict) -> None:
    tasks, run = run_info(doc).tasks, outcome(doc)
    present = {info(b).task for b in doc["benchmarks"]}
    if PROFILES[run_info(doc).profile].peers:
        print(peer_table(doc))
        print("\nGFLOP/s: the step's FLOPs over its median; peak at size: NumPy's float32 matmul rate on the "
              "products of a train step at the case's shapes, in the same run (a forward pass's at an inference "
              "case; benchmarks/test_peers.py); of peak: the rate over it; vs standard: its family's "
              "standard implementation's time over this one's (nn.LSTM, Keras, lax.scan; above 1: faster)")
    else:
        print(summary_table(doc))
        print("\nus/step: median epoch time over its steps (whole-epoch variants run an epoch per call); "
              "launches/ops: what one train step dispatches (calls into the framework's runtime / operations run); "
              f"time-to-target: running mean of 100 losses below {targets_text(doc)}")
    for name, t in tasks.items():
        if name in present:
            print(f"theory {name} ({t.loss}): " + ", ".join(f"{v:.4f} {t.labels[k]}" for k, v in t.levels.items()))
    by_label: dict[str, list[str]] = {}
    for point in run.not_applicable:
        by_label.setdefault(point.label, []).append(point.impl)
    grouped: dict[tuple[str, ...], list[str]] = {}
    for label, impls in by_label.items():
        grouped.setdefault(tuple(impls), []).append(label)
    for impls, labels in grouped.items():
        print(f"n/a (declared unsupported, or built too slowly for this profile; the report says why): "
              f"{', '.join(impls)} at "
              f"{', '.join(labels)}")
    for f in run.failed:
        print(f"FAILED {f.impl or f.framework}: {f.test}: {f.error}")
    for impl, fit in run.overhead.items():
        print(f"overhead {impl} (step time = overhead + flops / rate, over the {' and '.join(OVERHEAD_SWEEPS)} sweep): "
              + (f"{fit['overhead_us']:.1f} us + arithmetic at {fit['gflops']:.2f} GFLOP/s, R^2 {fit['r2']:.3f}, "
                 f"{fit['points']} points" if fit["gflops"] else f"no fit ({fit['points']} points)"))
    for impl, slopes in run.scaling.items():
        print(f"scaling {impl} (log-log slope of time, over the low and the high half of each sweep): "
              + ", ".join(f"{k} {v:.2f}" for k, v in slopes.items()))


BENCH_MODULES = ("pytest", "pytest_benchmark", "psutil")


def log_path(out: Path) -> Path:
    """The pytest log beside a results file: ``bench-X.json`` -> ``bench-X.log`` (``keep.log`` -> ``keep.log.log``:
    never the results file itself)."""
    return out.with_suffix(".log") if out.suffix != ".log" else out.with_name(out.name + ".log")


def check_outputs(args: argparse.Namespace) -> None:
    """Every file and folder ``bench`` will write, checked before any work: the results file and the log beside
    it, the results folder and its history, the report folder (which must hold none of them: it is replaced as a
    whole)."""
    history = HISTORY_DIR
    if args.json:
        check_output(args.json, "--json")
        check_output(log_path(Path(args.json)), "--json's log", keep=[args.json])
        written = [args.json, log_path(Path(args.json))]
    else:
        check_output(RESULTS_DIR, f"the results folder ({RESULTS_DIR})", folder=True)
        written = [RESULTS_DIR]
    check_output(history, f"the run history ({history})", folder=True)
    if not getattr(args, "no_report", True):
        check_output(args.report_out, "--report-out", folder=True, keep=[history, *written])


def run_bench(args: argparse.Namespace) -> tuple[int, Path | None]:
    """Run the benchmarks, merge, store and summarise; returns (exit code, the merged results file).

    The results are written before anything is printed. The pytest log is written beside the results under a
    temporary name, and takes its place (``log_path``) only once the results are written: a run that fails
    or is interrupted leaves the earlier log as it was, and keeps its own under a new name
    (``bench-X-failed.log``)."""
    import importlib.util

    missing = [m for m in BENCH_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise UserError(f"bench: {', '.join(missing)} not installed (install: pip install 'rnnbench[bench]')")
    request = args.request
    runnable, skipped = select(list(request.impl), list(request.framework))
    for name, reason in skipped.items():
        print(f"skip {name}: {reason}", file=sys.stderr)
    if not runnable:
        raise UserError("impl: nothing to run; `rnnbench list` shows what is available")
    check_cases_fit(request)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    history = HISTORY_DIR
    out = Path(args.json) if args.json else RESULTS_DIR / f"bench-{stamp}.json"
    final_log = log_path(out)
    final_log.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{final_log.name}.", suffix=".part", dir=final_log.parent)
    partial = Path(partial)
    args.kept_log = None
    try:
        with open(fd, "w") as log:
            code, doc = _run_families(request, runnable, skipped, log)
        if doc is not None:
            if args.json:
                write_json(out, doc)
            else:  # another run of the same second keeps its own name
                out = write_new(out, lambda f: f.write(json_bytes(doc)))
                final_log = log_path(out)
            write_new(history / f"bench-{stamp}.json", lambda f: f.write(json_bytes(doc)))  # every run: the trend
            atomic_write(final_log, lambda f: f.write(partial.read_bytes()))
            args.kept_log = final_log
    finally:
        if partial.exists() and args.kept_log is None:
            args.kept_log = write_new(final_log.with_name(f"{final_log.stem}-failed.log"),
                                      lambda f: f.write(partial.read_bytes()))
        partial.unlink(missing_ok=True)
    if doc is None:
        print(f"rnnbench bench: no results; see {args.kept_log}", file=sys.stderr)
        return 1, None
    print_summary(doc)
    print(f"\nwrote {out} (pytest log: {final_log}; history: {history}/)")
    return code, out


def lane_cpus(request: BenchRequest, families_: int) -> list[set[int] | None]:
    """The CPUs of each lane (families timed at once, ``--lanes``): ``threads`` CPUs each, as many lanes as this
    process's CPUs hold (or ``request.lanes``, at most that), at most one a family. One lane is [None]: each
    process confines itself as before. Unpinned (``--no-pin``) or on a GPU, one lane unless asked."""
    from rnnbench.cpus import allowed_cpus

    allowed = allowed_cpus()
    if allowed is None:
        return [None]
    most = len(allowed) // request.threads
    wanted = request.lanes or (1 if request.no_pin or request.device != "cpu" else most)
    n = max(1, min(wanted, most, families_))
    if n == 1:
        return [None]
    return [set(allowed[i * request.threads:(i + 1) * request.threads]) for i in range(n)]


def _run_families(request: BenchRequest, runnable: list[str], skipped: dict, log) -> tuple[int, dict | None]:
    """Each family's benchmarks in its own pytest process(es), merged: (exit code, the results or None).

    With several lanes (``lane_cpus``), the families are timed at once, each process confined to its lane's CPUs:
    the largest family (by implementations) first, each lane taking the next family when its last one ends. Every
    process runs at ``threads`` threads either way; what the lanes share is the machine's caches and memory."""
    groups = by_framework(runnable)
    env = family_environment(request)
    lanes = lane_cpus(request, len(groups))
    first = max(groups, key=lambda f: len(groups[f])) if len(lanes) > 1 else next(iter(groups))
    results: dict[str, tuple[dict | None, bool, list[dict]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if len(lanes) == 1:
            for i, (framework, names) in enumerate(groups.items(), 1):
                print(f"[{i}/{len(groups)}] {framework}: {', '.join(names)} "
                      f"(profile {request.profile}, threads {request.threads}, {request.device})", file=sys.stderr,
                      flush=True)
                results[framework] = _run_family_processes(framework, names, request, Path(tmp), log, env,
                                                           framework == first)
        else:
            results = _run_lanes(groups, request, Path(tmp), log, env, lanes, first)
    parts = [results[f][0] for f in groups if results[f][0] is not None]
    failed = [f for f in groups if results[f][1]]
    failures = [x for f in groups for x in results[f][2]]
    if not parts:
        return 1, None
    meta = {"profile": request.profile, "threads": request.threads, "device": request.device, "skipped": skipped,
            "not_applicable": not_applicable(runnable, request),
            "failed_frameworks": sorted(set(failed)), "failed": failures, "shard": request.shard,
            "processes": request.processes, "lanes": len(lanes)}
    return (1 if failed else 0), merge_runs(parts, meta)


def _run_lanes(groups: dict[str, list[str]], request: BenchRequest, tmp: Path, log, env: dict | None,
               lanes: list[set[int] | None], first: str) -> dict:
    """The families over the lanes, largest first, each lane a thread that takes the next family when free; each
    family's output goes to a log of its own, appended to ``log`` in family order at the end."""
    import queue
    from concurrent.futures import ThreadPoolExecutor

    todo: queue.SimpleQueue = queue.SimpleQueue()
    for framework in sorted(groups, key=lambda f: (-len(groups[f]), families.order(f))):
        todo.put(framework)
    stop, results, started = threading.Event(), {}, [0]

    def lane(cpus: set[int] | None) -> None:
        while not stop.is_set():
            try:
                framework = todo.get_nowait()
            except queue.Empty:
                return
            started[0] += 1
            print(f"[{started[0]}/{len(groups)}] {framework}: {', '.join(groups[framework])} (profile "
                  f"{request.profile}, threads {request.threads}, {request.device}; lane on CPU "
                  f"{','.join(map(str, sorted(cpus or ())))})", file=sys.stderr, flush=True)
            with open(tmp / f"{framework}.log", "w") as own:
                results[framework] = _run_family_processes(framework, groups[framework], request, tmp, own, env,
                                                           framework == first, cpus, stop)

    try:
        with ThreadPoolExecutor(len(lanes)) as pool:
            try:
                for future in [pool.submit(lane, cpus) for cpus in lanes]:
                    future.result()
            except BaseException:  # before the pool waits for its lanes: they stop their processes and end
                stop.set()
                raise
    finally:
        for framework in groups:
            own = tmp / f"{framework}.log"
            if own.exists():
                log.write(f"==== {framework}\n" + own.read_text(errors="replace"))
        log.flush()
    return results


def _run_family_processes(framework: str, names: list[str], request: BenchRequest, tmp: Path, log,
                          env: dict | None, calibrate: bool, cpus: set[int] | None = None,
                          stop: threading.Event | None = None) -> tuple[dict | None, bool, list[dict]]:
    """One family in ``request.processes`` fresh processes, one after another: (its results, joined over the
    processes, or None; whether it failed; the benchmarks that failed)."""
    processes = request.processes
    runs, failed, failures = [], False, []
    for process in range(1, processes + 1):
        if processes > 1:
            print(f"  {framework} process {process}/{processes}", file=sys.stderr, flush=True)
        part = tmp / f"{framework}-{process}.json"
        events = tmp / f"{framework}-{process}.events"
        code, failed_tests = run_family(family_command(framework, names, request, part, events, calibrate), log,
                                        events, env, cpus, stop)
        failures += [{"framework": framework, "impl": impl_of(f["test"]), "process": process, **f}
                     for f in failed_tests]
        if code not in (0, 5) or not part.exists():
            failed = True
            which = f": {', '.join(f['test'] for f in failed_tests)}" if failed_tests else ""
            print(f"rnnbench bench: the {framework} benchmarks failed (exit {code}){which}; the pytest "
                  "log is named when the run ends", file=sys.stderr)
        if part.exists():
            runs.append(json.loads(part.read_text()))
    if not runs:
        return None, failed, failures
    return (join_processes(runs) if processes > 1 else runs[0]), failed, failures
