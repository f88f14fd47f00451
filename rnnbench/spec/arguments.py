"""Command-line value types shared by the verbs and the benchmark suites: each parses one value or raises
``argparse.ArgumentTypeError`` with what would be valid (argparse turns it into the one-line error, exit 2)."""

from __future__ import annotations

import argparse
import os

MAX_PROCESSES = 64  # --processes: each process re-runs a family's whole selection, one after another


def _int_at_least(text: str, least: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise argparse.ArgumentTypeError(f"expected a {what} integer, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _int_at_least(text, 1, "positive")


def at_least_two(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 1
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected an integer of at least 2, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    return _int_at_least(text, 0, "non-negative")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def thread_count(text: str) -> int:
    """A thread count this machine can run at once: 1 to its CPU count (more threads than CPUs time the
    scheduler, not the framework)."""
    value, cpus = positive_int(text), os.cpu_count() or 1
    if value > cpus:
        raise argparse.ArgumentTypeError(f"at most {cpus} (this machine's CPU count), got {text!r}")
    return value


def process_count(text: str) -> int:
    value = positive_int(text)
    if value > MAX_PROCESSES:
        raise argparse.ArgumentTypeError(f"at most {MAX_PROCESSES} (each process re-runs the family's whole "
                                         f"selection in turn; this machine has {os.cpu_count() or 1} CPUs), "
                                         f"got {text!r}")
    return value


def parse_shard(text: str) -> tuple[int, int]:
    """"K/N" -> (K, N), 1 <= K <= N; ValueError naming what is valid."""
    k, sep, n = str(text).partition("/")
    try:
        k, n = int(k), int(n)
    except ValueError:
        k = n = 0
    if not sep or not 1 <= k <= n:
        raise ValueError(f"expected K/N with 1 <= K <= N (e.g. 2/3), got {text!r}")
    return k, n


def shard(text: str) -> str:
    """``--shard K/N``, checked and kept as written."""
    try:
        parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def truncation(text: str) -> tuple[int, int] | None:
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
