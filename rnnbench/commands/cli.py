"""rnnbench: the same small RNN in several frameworks and styles: parity, learning against theory, speed.

The console script's verbs: list, theory, gen, train, bench (the main job), merge (shards and machines), report,
compare (against stored numbers), ab (a paired comparison of two revisions: the CI gate).
Exit codes: 0 done (the gate passed), 1 a regression or a diverged run, 2 a user error (bad values, unknown names,
unreadable files: one line on stderr naming the field or file), 3 an internal error.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import warnings

import numpy as np

from rnnbench import __version__
from rnnbench.console import discard_stdout, emit, forgiving_stdout
from rnnbench.errors import EXIT_FAILED, EXIT_INTERNAL, EXIT_OK, EXIT_USER, ConfigError, DivergedError, UserError
from rnnbench.files import atomic_write, check_output, load_npz, write_json
from rnnbench.paths import HISTORY_DIR, REPORT_DIR, RESULTS_DIR
from rnnbench.results.compare import DEFAULT_THRESHOLD_PCT
from rnnbench.spec import families, registry
from rnnbench.spec.cells import CELLS
from rnnbench.spec.config import (
    BENCH_THREADS,
    DEFAULT_PROFILE,
    DEVICES,
    DTYPES,
    OPTIMIZERS,
    PROFILES,
    RunConfig,
    profiles_help,
)
from rnnbench.spec.measures import SELECTABLE_MEASURES
from rnnbench.spec.params import load_params
from rnnbench.tasks import DEFAULT_TASK, TASKS
from rnnbench.tasks import task as task_by_name


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the field and what is valid), exit status 2."""

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


MAX_PROCESSES = 64  # --processes: each process re-runs a family's whole selection, one after another


def _thread_count(text: str) -> int:
    """A thread count this machine can run at once: 1 to its CPU count (more threads than CPUs time the
    scheduler, not the framework)."""
    value, cpus = _positive_int(text), os.cpu_count() or 1
    if value > cpus:
        raise argparse.ArgumentTypeError(f"at most {cpus} (this machine's CPU count), got {text!r}")
    return value


def _process_count(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_PROCESSES:
        raise argparse.ArgumentTypeError(f"at most {MAX_PROCESSES} (each process re-runs the family's whole "
                                         f"selection in turn; this machine has {os.cpu_count() or 1} CPUs), "
                                         f"got {text!r}")
    return value


class ExtendUnique(argparse.Action):
    """A repeatable option (``--impl A B --impl C``) whose repeated values are folded into one, with a note on
    stderr: ``--impl numpy numpy`` times numpy once, under the ids every comparison reads."""

    def __init__(self, option_strings, dest, nargs="+", **kwargs):
        super().__init__(option_strings, dest, nargs=nargs, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, self.dest, None) or [])
        for value in values if isinstance(values, list) else [values]:
            if value in items:
                notes = getattr(namespace, "notes", None) or []
                notes.append(f"{option_string} {value} given more than once; taken once")
                namespace.notes = list(dict.fromkeys(notes))
            else:
                items.append(value)
        setattr(namespace, self.dest, items)


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _truncation(text: str) -> tuple[int, int] | None:
    """``--truncation``: "tf" (None), or "K2,K1" with 1 <= K1 <= K2."""
    if text.strip().lower() == "tf":
        return None
    parts = text.split(",")
    try:
        k2, k1 = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected tf or K2,K1 (two whole numbers, e.g. 10,5), got {text!r}"
                                         ) from None
    if k2 < 1 or k1 < 1:
        raise argparse.ArgumentTypeError(f"K2 and K1 must be at least 1, got {text!r}")
    if k1 > k2:
        raise argparse.ArgumentTypeError(f"K1 (the steps a window advances) must be at most K2 (its length), "
                                         f"got {text!r}")
    return k2, k1


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def add_model_arguments(p: argparse.ArgumentParser, accumulate: bool = False) -> None:
    """--task, --cell (one each for a run; repeatable filters for ``bench``)."""
    if accumulate:
        p.add_argument("--task", action=ExtendUnique, choices=tuple(TASKS), metavar="TASK",
                       help=f"only these tasks (repeatable; default: all): {', '.join(TASKS)}")
        p.add_argument("--cell", action=ExtendUnique, choices=tuple(CELLS), metavar="CELL",
                       help=f"only these cells (repeatable; default: all): {', '.join(CELLS)}")
    else:
        p.add_argument("--task", choices=tuple(TASKS), default=DEFAULT_TASK,
                       help="what to learn (%(default)s); its defaults are the seed's settings")
        p.add_argument("--cell", choices=tuple(CELLS), default=None, help="the recurrent cell (the task's)")


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """The run's fields. Left out, each takes the task's reference value (``rnnbench theory --task T`` lists
    them)."""
    add_model_arguments(p)
    p.add_argument("--bidirectional", action="store_true", default=None,
                   help="add a backward direction (tasks of independent sequences: sine, digits)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=None, help="the task's by default")
    p.add_argument("--num-steps", type=_positive_int, default=None, help="window (sequence) length")
    p.add_argument("--truncation", type=_truncation, default=None, metavar="tf|K2,K1",
                   help="tf: windows of num_steps side by side, each error backpropagated to its window's start "
                        "(the default); K2,K1: BPTT(k2, k1), windows of K2 steps every K1 steps, the loss on each "
                        "window's last K1 positions, every error backpropagated at least K2-K1+1 steps (streams)")
    p.add_argument("--state-size", type=_positive_int, default=None, help="hidden units")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="rows or sequences per step")
    p.add_argument("--size", type=_positive_int, default=None,
                   help="samples per epoch: stream points, or sequences (with --data-in: the file's)")
    p.add_argument("--epochs", type=_positive_int, default=None)
    p.add_argument("--seed", type=_non_negative_int, default=None, help="(0)")
    p.add_argument("--lr", type=_positive_float, default=None, dest="learning_rate", help="the optimizer's step size")
    p.add_argument("--clip-norm", type=_positive_float, default=None, metavar="C",
                   help="clip the gradients' global norm to C before every update (default: no clipping)")
    p.add_argument("--threads", type=_thread_count, default=None,
                   help=f"threads for every framework and BLAS (all cores: {RunConfig().threads})")
    p.add_argument("--device", choices=DEVICES, default=None, help="(cpu)")
    p.add_argument("--dtype", choices=DTYPES, default=None, help="(float32)")


def add_measure_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--measure", action=ExtendUnique, choices=SELECTABLE_MEASURES, metavar="MEASURE",
                   help=f"only these measures (repeatable; default: all; the calibration probes always run): "
                        f"{', '.join(SELECTABLE_MEASURES)}")


CONFIG_ARGS = ("cell", "bidirectional", "optimizer", "num_steps", "state_size", "batch_size", "size", "epochs",
               "seed", "learning_rate", "clip_norm", "threads", "device", "dtype")


def config_from_args(args, from_data: dict | None = None) -> RunConfig:
    """The task's reference configuration, with every field the user gave (and what ``--data-in`` decides)."""
    given = {k: getattr(args, k) for k in CONFIG_ARGS if getattr(args, k, None) is not None}
    truncation = getattr(args, "truncation", None)
    if truncation is not None:
        k2, k1 = truncation
        if given.get("num_steps", k2) != k2:
            raise UserError(f"--num-steps {given['num_steps']} disagrees with --truncation {k2},{k1}, whose window "
                            f"is {k2} steps; drop --num-steps")
        given.update(num_steps=k2, shift=k1)
    for key, value in (from_data or {}).items():
        if key in given and given[key] != value:
            flag = "--" + ("lr" if key == "learning_rate" else key.replace("_", "-"))
            raise UserError(f"{flag} {given[key]} disagrees with {args.data_in} ({key} {value}); drop {flag}")
        given[key] = value
    return RunConfig.for_task(args.task, **given)


def load_data(path: str, task) -> dict[str, np.ndarray]:
    """``--data-in``: the arrays ``rnnbench gen --task T`` writes (digits: a Keras-format mnist.npz), checked."""
    arrays = load_npz(path, task.data_keys)
    if any(a.size == 0 for a in arrays.values()):
        raise UserError(f"{path}: {' and '.join(k for k, a in arrays.items() if a.size == 0)} are empty; "
                        "expected data (rnnbench gen --task T writes it)")
    return task.check_data(path, arrays)


def check_fits(config: RunConfig, data: bool = True) -> None:
    """Refuse up front a run that cannot fit in this machine's memory, naming what grows with the user's input
    and what it would need: the model (weights, gradients, optimizer state, the activations BPTT keeps) and,
    unless the data was read from a file (``data=False``), the generated data."""
    from rnnbench.spec.params import model_bytes

    have = available_memory()
    model = model_bytes(config)
    if model > have:
        raise UserError(f"state_size: {config.state_size} units at batch_size {config.batch_size} and num_steps "
                        f"{config.num_steps} need about {model / 2**30:,.1f} GiB for the model (weights, gradients, "
                        f"optimizer state, activations); this machine has {have / 2**30:,.1f} GiB available")
    need = config.task_spec.data_bytes(config) if data else 0
    if need + model > have:
        raise UserError(f"size: {config.size} samples need about {need / 2**30:,.1f} GiB for their data (and "
                        f"{model / 2**30:,.1f} GiB for the model); this machine has {have / 2**30:,.1f} GiB "
                        "available")


def available_memory() -> int:
    import psutil

    return psutil.virtual_memory().available


# --- commands -------------------------------------------------------------------------------------


def cmd_list(args) -> int:
    """Each implementation: available here or not; with --task/--cell, whether it does that, as "n/a: reason"."""
    width = max(len(n) for n in registry.names())
    tasks = args.task or ([DEFAULT_TASK] if args.cell else [])
    configs = [RunConfig.for_task(t, **({"cell": c} if c else {})) for t in tasks for c in (args.cell or [None])]
    for e in registry.ENTRIES:
        ok, reason = e.available()
        status = "available" if ok else f"unavailable: {reason}"
        gaps = [why for why in (e.unsupported(c) for c in configs) if why]
        if gaps:
            status = "n/a: " + "; ".join(gaps)
        print(f"{e.name:<{width}}  {e.framework:<10}  {status}")
    return 0


def cmd_theory(args) -> int:
    spec = task_by_name(args.task)
    for level in spec.levels():
        print(f"{level.value:.4f}  {level.label}")
    return 0


def cmd_gen(args) -> int:
    spec = task_by_name(args.task)
    given = {k: v for k, v in (("size", args.size), ("seed", args.seed)) if v is not None}
    try:
        config = RunConfig.for_task(args.task, **given)
    except ConfigError as exc:
        if exc.field == "size" or args.size is None:
            raise
        least = min_size(args.task)
        raise UserError(f"--size: {args.size} is too small for the task {args.task}'s reference windows "
                        f"(at least {least}; {exc})") from None
    check_output(args.out, "--out")
    check_fits(config)
    arrays = spec.generate(config, 0)
    atomic_write(args.out, lambda f: np.savez(f, **arrays))
    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in arrays.items())
    emit(f"wrote {args.out}: task {args.task}, {shapes} (seed {config.seed})")
    return 0


def min_size(task: str) -> int:
    """The smallest ``--size`` the task's reference configuration runs with (``gen`` takes no other field)."""
    config = RunConfig.for_task(task)
    for size in range(1, config.size + 1):
        try:
            RunConfig.for_task(task, size=size)
            return size
        except ConfigError:
            continue
    return config.size


def cmd_train(args) -> int:
    from rnnbench.training.train import train  # keeps `rnnbench list` light

    if len(args.impl) > 1:
        raise UserError(f"impl: train runs one implementation, got {', '.join(args.impl)}; "
                        "`rnnbench bench --impl A --impl B` times several")
    impl = args.impl[0]
    registry.entry(impl)  # unknown names fail before any file is read
    if args.out:
        check_output(args.out, "--out", keep=(args.weights_in, args.data_in))
    spec = task_by_name(args.task)
    data = load_data(args.data_in, spec) if args.data_in else None
    config = config_from_args(args, spec.config_from_data(data) if data is not None else None)
    registry.entry(impl).check(config)
    check_fits(config, data=data is None)
    params = load_params(args.weights_in, config) if args.weights_in else None
    result = train(impl, config, params=params, data=data)
    levels = result.levels
    metrics = "".join(f", {k} {v:.4f}" for k, v in result.metrics.items() if isinstance(v, float))
    nearest = f" ({levels.labels()[levels.nearest(result.final_loss)]})" if len(levels) > 1 else ""
    if args.out:  # saved before anything is printed: a full or closed stdout must not lose the run
        write_json(args.out, result.to_json())
    emit(
        f"{result.impl}: final_loss {result.final_loss:.4f}{nearest}{metrics}, {result.steps} steps, "
        f"{result.us_per_step:.1f} us/step, build {result.build_seconds:.3f} s "
        f"[{config.task}, {config.variant}, {config.optimizer}]"
    )
    if args.out:
        emit(f"wrote {args.out}")
    return 0


def cmd_bench(args) -> int:
    from rnnbench.commands.bench import check_outputs, run_bench
    from rnnbench.results.schema import stored_runs

    check_outputs(args)
    code, results = run_bench(args)
    if results is not None and not args.no_report:
        ok, reason = report_available()
        # the stored runs end with this one: the tables describe it, the trend spans them all
        emit(f"report: {make_report(stored_runs(HISTORY_DIR), args.report_out)}" if ok
             else f"report skipped: {reason}")
    return code


def cmd_merge(args) -> int:
    from rnnbench.results.merge import run_merge

    return run_merge(args)


def cmd_compare(args) -> int:
    from rnnbench.results.compare import run_compare

    return run_compare(args)


def cmd_ab(args) -> int:
    from rnnbench.commands.ab import run_ab

    return run_ab(args)


def cmd_versions(args) -> int:
    from rnnbench.commands.versions import run_versions

    return run_versions(args)


def cmd_study(args) -> int:
    from rnnbench.commands.study import cmd_study_gradients, cmd_study_truncation

    for option in ("n", "style", "seed", "cell"):
        values = getattr(args, option, None) or []
        if len(set(values)) != len(values):
            raise UserError(f"--{option}: {', '.join(map(str, values))} names a value twice")
    return {"truncation": cmd_study_truncation, "gradients": cmd_study_gradients}[args.study](args)


def report_available() -> tuple[bool, str]:
    """Reports need pandas and matplotlib (the ``report`` extra); the rest of the suite does not."""
    import importlib.util

    missing = [m for m in ("pandas", "matplotlib") if importlib.util.find_spec(m) is None]
    if missing:
        return False, f"{', '.join(missing)} not installed (install: pip install 'rnnbench[report]')"
    return True, ""


def default_results() -> list:
    """Every stored run (the newest gives the tables, all of them the trend), else the newest bench result."""
    from rnnbench.results.schema import stored_runs

    runs = stored_runs(HISTORY_DIR) or sorted(RESULTS_DIR.glob("bench-*.json"), key=lambda p: p.stat().st_mtime)[-1:]
    if not runs:
        raise UserError(f"no results given and none in {RESULTS_DIR}/; run `rnnbench bench` first")
    return runs


def make_report(results, out):
    """The report of ``results`` (result files) written to ``out``: the one place the core reaches reports."""
    ok, reason = report_available()
    if not ok:
        raise UserError(reason)
    from rnnbench.reports.build import build_report
    from rnnbench.reports.writer import write_report

    return write_report(build_report(results or default_results()), out)


def cmd_report(args) -> int:
    check_output(args.out, "--out", folder=True, keep=args.results or [HISTORY_DIR, RESULTS_DIR])
    emit(f"report: {make_report(args.results, args.out)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="rnnbench", description=__doc__.splitlines()[0],
                           epilog="exit codes: 0 done (the gate passed), 1 a regression or a diverged run, 2 a user "
                                  "error (one line naming the field or file), 3 an internal error")
    parser.add_argument("--version", action="version", version=f"rnnbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser, metavar="VERB")

    p = sub.add_parser("list", help="implementations, whether each can run here, and what it supports")
    add_model_arguments(p, accumulate=True)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("theory", help="a task's theory levels, computed from its definition")
    p.add_argument("--task", choices=tuple(TASKS), default=DEFAULT_TASK, help="(%(default)s)")
    p.set_defaults(func=cmd_theory)

    p = sub.add_parser("gen", help="write a task's data (epoch 0) to an npz, in the form --data-in reads")
    p.add_argument("--task", choices=tuple(TASKS), default=DEFAULT_TASK, help="(%(default)s)")
    p.add_argument("--size", type=_positive_int, default=None, help="samples (the task's epoch size)")
    p.add_argument("--seed", type=_non_negative_int, default=None, help="(0)")
    p.add_argument("--out", required=True, help="F.npz")
    p.set_defaults(func=cmd_gen)

    p = sub.add_parser("train", help="train one implementation on one task")
    p.add_argument("--impl", required=True, action=ExtendUnique, help="a name from `rnnbench list`")
    add_config_arguments(p)
    p.add_argument("--weights-in", help="npz of the canonical arrays to start from (W b U c; the GRU adds bh; "
                                        "bidirectional adds bwd_W bwd_b ...); default: the canonical init")
    p.add_argument("--data-in", help="npz used as the data of every epoch: what `rnnbench gen --task T` writes "
                                     "(digits: a Keras-format mnist.npz)")
    p.add_argument("--out", help="write the run as JSON here")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("bench", help="the main job: time every available implementation, side by side")
    p.add_argument("--profile", choices=tuple(PROFILES), default=DEFAULT_PROFILE, help=profiles_help())
    p.add_argument("--impl", action=ExtendUnique, help="only these implementations (repeatable; default: "
                                                             "every available one)")
    p.add_argument("--framework", action=ExtendUnique, choices=families.names(), metavar="FAMILY",
                   help=f"only these framework families (repeatable): {', '.join(families.names())}")
    p.add_argument("--processes", type=_process_count, default=1, metavar="K",
                   help="run each family's benchmarks in K fresh processes and keep every process's rounds and "
                        "the spread of their medians (default: %(default)s)")
    p.add_argument("--shard", metavar="K/N", help="only the K-th of N shards of the cases (balanced by the "
                                                  "baseline's times); `rnnbench merge` joins the shards' results")
    add_model_arguments(p, accumulate=True)
    add_measure_argument(p)
    p.add_argument("--threads", type=_thread_count, default=BENCH_THREADS,
                   help="the one thread count for every framework (default: %(default)s, where medians repeat "
                        f"from process to process; all cores: {RunConfig().threads}); below the CPU count each "
                        "benchmark process is also confined to that many CPUs")
    p.add_argument("--no-pin", action="store_true", help="do not confine the processes to --threads CPUs")
    p.add_argument("--device", choices=DEVICES, default=RunConfig.device)
    p.add_argument("--no-onednn", action="store_true",
                   help="switch oneDNN off in PyTorch (torch.backends.mkldnn) and TensorFlow (TF_ENABLE_ONEDNN_OPTS=0) "
                        "for every benchmark process; each record's path says what ran, and compare names the "
                        "difference")
    p.add_argument("--json", help=f"write the merged results here (default: {RESULTS_DIR}/bench-<time>.json)")
    p.add_argument("--no-report", action="store_true", help="skip building the report at the end")
    p.add_argument("--report-out", default=str(REPORT_DIR), help="report folder (default: %(default)s)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("report", help="HTML and Markdown report (tables, plots) from result JSON files")
    p.add_argument("results", nargs="*",
                   help=f"bench JSON files (default: the runs kept in {HISTORY_DIR}/, "
                        f"else the newest in {RESULTS_DIR}/)")
    p.add_argument("--out", default=str(REPORT_DIR), help="output folder (default: %(default)s)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("merge", help="join shards, or runs from several machines, into one results file")
    p.add_argument("results", nargs="+", help="bench JSON files (rnnbench bench --shard K/N ... --json F)")
    p.add_argument("--out", required=True, help="the merged JSON (report and compare read it)")
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("compare", help="the regression gate: exit 1 when a benchmark got slower or stopped learning")
    p.add_argument("baseline", help="BASELINE.json (rnnbench bench output)")
    p.add_argument("candidate", nargs="+",
                   help="CANDIDATE.json; give reruns of the same code too, and only what is worse in each counts")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD_PCT,
                   help="percent slower (after normalising for machine speed) that counts, if significant "
                        "(default: %(default)s)")
    p.add_argument("--allow-missing", action="store_true",
                   help="judge a deliberate partial run: do not fail when the candidate lacks more than "
                        "10%% of the baseline's benchmarks")
    p.add_argument("--allow-mismatch", action="store_true",
                   help="compare runs made at different thread counts, devices or profiles anyway")
    p.add_argument("--flagged", metavar="FILE",
                   help="write the implementations judged slower here, one per line (for a confirming rerun of "
                        "just those: rnnbench bench --impl ...)")
    p.set_defaults(func=cmd_compare)

    from rnnbench.commands import ab

    p = sub.add_parser("ab", help="paired comparison of two revisions (or two sets of package versions) on this "
                                  "machine, in the same minutes: exit 1 when B got slower or stopped learning")
    p.add_argument("a", metavar="A", nargs="?", default="HEAD",
                   help=f"the reference side: a git revision, or {ab.WORKTREE} (default: HEAD)")
    p.add_argument("b", metavar="B", nargs="?", default="HEAD",
                   help=f"the side judged: a git revision, or {ab.WORKTREE} (the working tree with its uncommitted "
                        "changes; default: HEAD)")
    p.add_argument("--a", dest="a_with", action="append", metavar="REQ",
                   help="A installs this in place of the pinned version (repeatable): NAME==VERSION of a package "
                        "the families timed use (torch==2.14.0), or a wheel file")
    p.add_argument("--b", dest="b_with", action="append", metavar="REQ", help="the same for B")
    p.add_argument("--pairs", type=_positive_int, default=ab.DEFAULT_PAIRS, metavar="K",
                   help="repetitions, each timing A and B in fresh processes (default: %(default)s)")
    p.add_argument("--design", choices=ab.DESIGNS, default=None,
                   help="duet: A and B at once, each on its own CPU, swapped every repetition (the default with "
                        "two CPUs); interleaved: one after the other in a random order, on one CPU")
    p.add_argument("--threshold", type=float, default=ab.DEFAULT_THRESHOLD_PCT,
                   help="percent slower that counts, when the interval is above 1 too (default: %(default)s)")
    p.add_argument("--profile", choices=tuple(PROFILES), default=ab.DEFAULT_PROFILE, help="(%(default)s)")
    p.add_argument("--impl", action=ExtendUnique, help="only these implementations (repeatable)")
    p.add_argument("--framework", action=ExtendUnique, choices=families.names(), metavar="FAMILY",
                   help=f"only these families (repeatable): {', '.join(families.names())}")
    add_model_arguments(p, accumulate=True)
    p.add_argument("--measure", action=ExtendUnique, choices=SELECTABLE_MEASURES, metavar="MEASURE",
                   help=f"the measures timed in the repetitions (default: {', '.join(ab.TIMED_MEASURES)})")
    p.add_argument("--affected", action="store_true",
                   help="time only the families whose code differs between A and B (a change to the core: all; "
                        "to no code: none, and only the loss check runs)")
    p.add_argument("--no-loss-check", action="store_true", help="skip the loss phase (B's training runs)")
    p.add_argument("--allow-dirty", action="store_true",
                   help="compare HEAD even though the working tree has uncommitted changes")
    p.add_argument("--extras", help=f"the extras each side installs (default: {','.join(ab.DEFAULT_EXTRAS)})")
    p.add_argument("--envs", help=f"where the sides' environments are cached (default: <checkout>/{ab.ENV_CACHE})")
    p.add_argument("--work", help="the folder for every repetition's results and logs "
                                  "(default: results/ab-<time>)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="the interleaved order's seed (%(default)s)")
    p.add_argument("--json", help="write the comparison here too (both sides' records of every repetition, the "
                                  "verdicts); rnnbench report draws its forest plot")
    p.set_defaults(func=cmd_ab)

    p = sub.add_parser("versions", help="one family across releases of its framework, each paired against the "
                                        "version installed here (rnnbench ab per release), and their report")
    p.add_argument("package", help="a framework family's package: torch, tensorflow, jax, ...")
    p.add_argument("releases", nargs="+", metavar="VERSION", help="the releases to compare with the one installed")
    p.add_argument("--pairs", type=_positive_int, default=ab.DEFAULT_PAIRS, metavar="K",
                   help="repetitions per release (default: %(default)s)")
    p.add_argument("--threshold", type=float, default=ab.DEFAULT_THRESHOLD_PCT,
                   help="percent slower that counts (default: %(default)s)")
    p.add_argument("--measure", action=ExtendUnique, choices=SELECTABLE_MEASURES, metavar="MEASURE",
                   help=f"the measures timed (default: {', '.join(ab.TIMED_MEASURES)})")
    p.add_argument("--work", help="the folder for every comparison (default: results/versions-<package>-<time>)")
    p.add_argument("--allow-dirty", action="store_true",
                   help="time the commit checked out even though the working tree has uncommitted changes")
    p.add_argument("--report-out", default=str(REPORT_DIR), metavar="DIR",
                   help="write the report of the comparisons here (default: %(default)s)")
    p.set_defaults(func=cmd_versions)

    p = sub.add_parser("study", help="what the tutorials teach, measured: truncation styles, gradient flow")
    studies = p.add_subparsers(dest="study", required=True, metavar="STUDY", parser_class=OneLineParser)
    from rnnbench.studies import truncation

    q = studies.add_parser("truncation", help="the smallest backpropagation length each truncation style needs to "
                                              "learn the binary task's t-3 and t-8 dependencies")
    q.add_argument("--n", type=_positive_int, nargs="+", default=list(truncation.DEFAULT_NS), metavar="N",
                   help="backpropagation lengths swept (default: %(default)s)")
    q.add_argument("--style", nargs="+", choices=tuple(truncation.STYLES), default=list(truncation.STYLES),
                   help="tf: num_steps = n; true: BPTT(n, 1); half: BPTT(2n, n) (default: all)")
    q.add_argument("--seed", type=_non_negative_int, nargs="+", default=list(truncation.DEFAULT_SEEDS),
                   metavar="S", help="seeds of every point (default: %(default)s)")
    q.add_argument("--epochs", type=_positive_int, default=truncation.DEFAULT_EPOCHS,
                   help="epochs of 1,000,000 stream points per run (default: %(default)s)")
    q.add_argument("--impl", default=truncation.DEFAULT_IMPL,
                   help="the implementation that trains every point (default: %(default)s)")
    q.add_argument("--processes", type=_positive_int, default=min(2, RunConfig().threads), metavar="K",
                   help="points trained at once, one thread each (default: %(default)s)")
    q.add_argument("--json", help=f"write the study here (default: {RESULTS_DIR}/study-truncation-<time>.json)")
    q.set_defaults(func=cmd_study)

    from rnnbench.studies import gradients

    q = studies.add_parser("gradients", help="how far back one step's loss gradient reaches, per cell: at "
                                             "initialisation, trained, at spectral radii 0.5/1/1.5, with clipping")
    q.add_argument("--cell", nargs="+", choices=gradients.CELLS, default=list(gradients.CELLS),
                   help="the cells (default: all)")
    q.add_argument("--epochs", type=_positive_int, default=gradients.DEFAULT_EPOCHS,
                   help="epochs of training before the 'trained' curve (default: %(default)s)")
    q.add_argument("--json", help=f"write the study here (default: {RESULTS_DIR}/study-gradients-<time>.json)")
    q.set_defaults(func=cmd_study)
    return parser


class Terminated(BaseException):
    """SIGTERM: unwinds like Ctrl-C (every ``finally`` runs: children stopped, temporary files removed)."""


def _terminated(signum, frame):
    raise Terminated(signum)


def _interrupted_code(exc: BaseException) -> int:
    """128 + the signal, as a shell reports a process it ended."""
    return 128 + (exc.args[0] if isinstance(exc, Terminated) else signal.SIGINT)


def main(argv: list[str] | None = None) -> int:
    """Run one verb; the exit code is the contract in the module's docstring."""
    for stream in (sys.stdout, sys.stderr):  # a narrow locale (PYTHONIOENCODING=latin-1) must not lose output
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    on_main = threading.current_thread() is threading.main_thread()
    before = signal.signal(signal.SIGTERM, _terminated) if on_main else None  # unwinds like Ctrl-C
    try:
        return _main(argv)
    except (KeyboardInterrupt, Terminated) as exc:  # before a verb ran (while its modules were imported)
        print("rnnbench: interrupted", file=sys.stderr)
        return _interrupted_code(exc)
    finally:
        if on_main:
            signal.signal(signal.SIGTERM, before)


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv:
        parser.print_help()
        return EXIT_OK
    args = parser.parse_args(argv)
    for note in getattr(args, "notes", None) or []:
        print(f"rnnbench {args.command}: note: {note}", file=sys.stderr)
    with forgiving_stdout(), warnings.catch_warnings(record=True) as caught:
        code = _run(args)
        if code == EXIT_OK:  # a run that failed says so in its one line; its warnings are what that line explains
            _warn(args.command, caught)
    return code


def _warn(command: str, caught: list) -> None:
    """The run's Python warnings, one line each, repeats counted (each distinct warning once)."""
    counts: dict[str, int] = {}
    for w in caught:
        text = f"{w.category.__name__}: {' '.join(str(w.message).split())}"
        counts[text] = counts.get(text, 0) + 1
    for text, n in counts.items():
        print(f"rnnbench {command}: warning: {text}" + (f" ({n} times)" if n > 1 else ""), file=sys.stderr)


def _run(args) -> int:
    try:
        return args.func(args)
    except UserError as exc:
        print(f"rnnbench {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER
    except DivergedError as exc:
        print(f"rnnbench {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # the reader went away (| head): what it wanted it has
        discard_stdout()
        return EXIT_OK
    except (KeyboardInterrupt, Terminated) as exc:
        kept = getattr(args, "kept_log", None)
        print(f"rnnbench {args.command}: interrupted" + (f"; its log so far: {kept}" if kept else ""),
              file=sys.stderr)
        return _interrupted_code(exc)
    except Exception as exc:  # a bug: one line, exit 3, never a traceback that reads like a user error
        text = " ".join(str(exc).split())
        print(f"rnnbench {args.command}: internal error: {type(exc).__name__}: {text} (please report it; "
              "RNNBENCH_DEBUG=1 shows the traceback)", file=sys.stderr)
        if os.environ.get("RNNBENCH_DEBUG"):
            raise
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
