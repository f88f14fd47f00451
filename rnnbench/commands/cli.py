"""rnnbench: the same small RNN in several frameworks and styles: parity, learning against theory, speed.

The console script's verbs, each a module of ``rnnbench.commands`` with its ``HELP``, ``add_arguments(parser)`` and
``run(args) -> exit code``: list, theory, gen, train, bench (the main job), merge (shards and machines), report,
compare (against stored numbers), ab (a paired comparison of two revisions: the CI gate), versions (one family
across releases), study. This module only builds the parser from them, dispatches, and turns what a verb raises
into its exit code. Exit codes: 0 done (the gate passed), 1 a regression or a diverged run, 2 a user error (bad
values, unknown names, unreadable files: one line on stderr naming the field or file), 3 an internal error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import warnings

from rnnbench import __version__
from rnnbench.console import discard_stdout, forgiving_stdout
from rnnbench.errors import EXIT_FAILED, EXIT_INTERNAL, EXIT_OK, EXIT_USER, DivergedError, UserError

# verb -> its module under rnnbench.commands, in the order `rnnbench --help` lists them
VERBS = {"list": "listing", "theory": "theory", "gen": "gen", "train": "train", "bench": "bench", "report": "report",
         "merge": "merge", "compare": "compare", "ab": "ab", "versions": "versions", "study": "study"}


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the field and what is valid), exit status 2."""

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def verb_module(verb: str):
    return importlib.import_module(f"rnnbench.commands.{VERBS[verb]}")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="rnnbench", description=__doc__.splitlines()[0],
                           epilog="exit codes: 0 done (the gate passed), 1 a regression or a diverged run, 2 a user "
                                  "error (one line naming the field or file), 3 an internal error")
    parser.add_argument("--version", action="version", version=f"rnnbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser, metavar="VERB")
    for verb in VERBS:
        module = verb_module(verb)
        module.add_arguments(sub.add_parser(verb, help=module.HELP))
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
        return verb_module(args.command).run(args)
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
