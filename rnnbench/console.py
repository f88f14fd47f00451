"""Output that survives its reader: ``rnnbench compare a.json a.json | head -1`` and ``rnnbench train ... >
/dev/full`` end cleanly, with the run's own exit code. A closed pipe or a full disk ends the output, not the run."""

from __future__ import annotations

import contextlib
import os
import sys


def emit(text: str) -> None:
    """Print ``text`` to stdout; a reader that has gone (a closed pipe) or a full disk is not an error: the rest is
    dropped."""
    try:
        print(text, flush=True)
    except OSError:
        discard_stdout()


def discard_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not fail on a closed pipe either."""
    try:
        fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else 1
    except (OSError, ValueError):
        fd = 1
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


class _Forgiving:
    """A stdout whose first failed write (EPIPE, ENOSPC, EIO) ends the output quietly: what follows is dropped."""

    def __init__(self, stream):
        self._stream = stream
        self.lost = False

    def _attempt(self, op, *args):
        if self.lost:
            return None
        try:
            return op(*args)
        except OSError:
            self.lost = True
            discard_stdout()
            return None

    def write(self, text: str) -> int:
        self._attempt(self._stream.write, text)
        return len(text)

    def flush(self) -> None:
        self._attempt(self._stream.flush)

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def forgiving_stdout():
    """Within the block, ``print`` to stdout never fails the run (``_Forgiving``)."""
    before = sys.stdout
    wrapped = _Forgiving(before)
    sys.stdout = wrapped
    try:
        yield wrapped
    finally:
        wrapped.flush()
        if sys.stdout is wrapped:
            sys.stdout = before
