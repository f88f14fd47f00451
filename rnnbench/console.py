"""Output that survives its pipe: ``rnnbench compare a.json a.json | head -1`` ends cleanly, with its exit code."""

from __future__ import annotations

import os
import sys


def emit(text: str) -> None:
    """Print ``text`` to stdout; a reader that has gone (a closed pipe) is not an error: the rest is dropped."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        discard_stdout()


def discard_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not fail on a closed pipe either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
