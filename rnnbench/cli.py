"""rnnbench: the same small RNN in several frameworks and styles: parity, learning against theory, speed.

The console script's verbs: list, theory, gen, train, bench (the main job), report, compare (the gate).
User errors (bad values, unknown names, unreadable files) print one line to stderr and exit 2.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from rnnbench import registry
from rnnbench.compare import DEFAULT_THRESHOLD_PCT
from rnnbench.config import DEFAULT_PROFILE, DEVICES, DTYPES, PROFILES, RunConfig, profiles_help
from rnnbench.errors import DivergedError, UserError
from rnnbench.files import atomic_write, load_npz, write_json
from rnnbench.params import load_params
from rnnbench.paths import HISTORY_DIR, REPORT_DIR, RESULTS_DIR
from rnnbench.task import LEVEL_LABELS, epoch_stream, theory_levels


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


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    defaults = RunConfig()
    p.add_argument("--num-steps", type=_positive_int, default=defaults.num_steps, help="window length (%(default)s)")
    p.add_argument("--state-size", type=_positive_int, default=defaults.state_size, help="hidden units (%(default)s)")
    p.add_argument("--batch-size", type=_positive_int, default=defaults.batch_size, help="rows (%(default)s)")
    p.add_argument("--size", type=_positive_int, default=None,
                   help=f"samples per epoch ({defaults.size}; with --data-in, the file's length)")
    p.add_argument("--epochs", type=_positive_int, default=defaults.epochs, help="(%(default)s)")
    p.add_argument("--seed", type=_non_negative_int, default=defaults.seed, help="(%(default)s)")
    p.add_argument("--lr", type=_positive_float, default=defaults.learning_rate, help="Adagrad rate (%(default)s)")
    p.add_argument("--threads", type=_positive_int, default=defaults.threads,
                   help="threads for every framework and BLAS (all cores: %(default)s)")
    p.add_argument("--device", choices=DEVICES, default=defaults.device)
    p.add_argument("--dtype", choices=DTYPES, default=defaults.dtype)


def config_from_args(args, size: int | None = None) -> RunConfig:
    return RunConfig(
        num_steps=args.num_steps,
        state_size=args.state_size,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        size=size or args.size or RunConfig.size,
        epochs=args.epochs,
        seed=args.seed,
        threads=args.threads,
        device=args.device,
        dtype=args.dtype,
    )


def load_stream(path: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """x, y from a ``gen``-style npz: two 1-D integer arrays of one length with values < num_classes."""
    arrays = load_npz(path, ("x", "y"))
    x, y = arrays["x"], arrays["y"]
    if x.ndim != 1 or y.ndim != 1 or len(x) != len(y):
        raise UserError(f"{path}: x and y must be 1-D arrays of one length, got shapes {x.shape} and {y.shape}")
    for key, a in (("x", x), ("y", y)):
        if not np.issubdtype(a.dtype, np.integer) and not np.issubdtype(a.dtype, np.bool_):
            raise UserError(f"{path}: {key} must hold integers, got dtype {a.dtype}")
        if a.size and (a.min() < 0 or a.max() >= num_classes):
            raise UserError(f"{path}: {key} values must be in 0..{num_classes - 1}")
    return x.astype(np.int32), y.astype(np.int32)


# --- commands -------------------------------------------------------------------------------------


def cmd_list(args) -> int:
    width = max(len(n) for n in registry.names())
    for e in registry.ENTRIES:
        ok, reason = e.available()
        status = "available" if ok else f"unavailable: {reason}"
        print(f"{e.name:<{width}}  {e.framework:<10}  {status}")
    return 0


def cmd_theory(args) -> int:
    for key, value in theory_levels().as_dict().items():
        print(f"{value:.4f}  {LEVEL_LABELS[key]}")
    return 0


def cmd_gen(args) -> int:
    x, y = epoch_stream(args.size, args.seed, 0)
    atomic_write(args.out, lambda f: np.savez(f, x=x, y=y))
    print(f"wrote {args.out}: x, y of length {args.size} (seed {args.seed})")
    return 0


def cmd_train(args) -> int:
    from rnnbench.train import train  # keeps `rnnbench list` light

    registry.entry(args.impl)  # unknown names fail before any file is read
    data = None
    if args.data_in:
        data = load_stream(args.data_in, RunConfig.num_classes)
        if args.size is not None and args.size != len(data[0]):
            raise UserError(f"--size {args.size} disagrees with {args.data_in} (length {len(data[0])}); drop --size")
    config = config_from_args(args, size=len(data[0]) if data else None)
    params = load_params(args.weights_in, config) if args.weights_in else None
    result = train(args.impl, config, params=params, data=data)
    levels = theory_levels()
    print(
        f"{result.impl}: final_loss {result.final_loss:.4f} ({LEVEL_LABELS[levels.nearest(result.final_loss)]}), "
        f"{result.steps} steps, {result.us_per_step:.1f} us/step, build {result.build_seconds:.3f} s"
    )
    if args.out:
        write_json(args.out, result.to_json())
        print(f"wrote {args.out}")
    return 0


def cmd_bench(args) -> int:
    from rnnbench.bench import run_bench
    from rnnbench.results import stored_runs

    code, results = run_bench(args)
    if results is not None and not args.no_report:
        ok, reason = report_available()
        # the stored runs end with this one: the tables describe it, the trend spans them all
        print(f"report: {make_report(stored_runs(HISTORY_DIR), args.report_out)}" if ok
              else f"report skipped: {reason}")
    return code


def cmd_compare(args) -> int:
    from rnnbench.compare import run_compare

    return run_compare(args)


def report_available() -> tuple[bool, str]:
    """Reports need pandas and matplotlib (the ``report`` extra); the rest of the suite does not."""
    import importlib.util

    missing = [m for m in ("pandas", "matplotlib") if importlib.util.find_spec(m) is None]
    if missing:
        return False, f"{', '.join(missing)} not installed (install: pip install 'rnnbench[report]')"
    return True, ""


def default_results() -> list:
    """Every stored run (the newest gives the tables, all of them the trend), else the newest bench result."""
    from rnnbench.results import stored_runs

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
    print(f"report: {make_report(args.results, args.out)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="rnnbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    sub.add_parser("list", help="implementations and whether each can run here").set_defaults(func=cmd_list)
    sub.add_parser("theory", help="the three exact cross-entropy levels").set_defaults(func=cmd_theory)

    p = sub.add_parser("gen", help="write a data stream x, y to an npz")
    p.add_argument("--size", type=_positive_int, required=True)
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.add_argument("--out", required=True, help="F.npz")
    p.set_defaults(func=cmd_gen)

    p = sub.add_parser("train", help="train one implementation")
    p.add_argument("--impl", required=True, help="a name from `rnnbench list`")
    add_config_arguments(p)
    p.add_argument("--weights-in", help="npz with W b U c to start from (default: the canonical init)")
    p.add_argument("--data-in", help="npz with x, y: used as the stream of every epoch")
    p.add_argument("--out", help="write the run as JSON here")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("bench", help="the main job: time every available implementation, side by side")
    p.add_argument("--profile", choices=tuple(PROFILES), default=DEFAULT_PROFILE, help=profiles_help())
    p.add_argument("--impl", nargs="+", help="only these implementations (default: every available one)")
    p.add_argument("--threads", type=_positive_int, default=RunConfig().threads,
                   help="the one thread count for every framework (all cores: %(default)s); below the CPU "
                        "count each benchmark process is also confined to that many CPUs")
    p.add_argument("--no-pin", action="store_true", help="do not confine the processes to --threads CPUs")
    p.add_argument("--device", choices=DEVICES, default=RunConfig.device)
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

    p = sub.add_parser("compare", help="the regression gate: exit 1 when a benchmark got slower or stopped learning")
    p.add_argument("baseline", help="BASELINE.json (rnnbench bench output)")
    p.add_argument("candidate", nargs="+",
                   help="CANDIDATE.json; give reruns of the same code too, and only what is worse in each counts")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD_PCT,
                   help="percent slower (after normalising for machine speed) that counts, if significant "
                        "(default: %(default)s)")
    p.set_defaults(func=cmd_compare)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"rnnbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except DivergedError as exc:
        print(f"rnnbench {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rnnbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
