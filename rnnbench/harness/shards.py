"""Shards: a run's benchmarks split into N parts that together hold every case once, balanced by expected time.

The unit is the *case*: every test of one implementation at one configuration (its build, training run, train
step, forward and epoch share one built implementation), so a shard never splits what is built once and timed
several ways. The machine's own measures (calibration probes, the peak) run in every shard: each shard's times
are normalised by its own machine. A case's expected time is its total in the committed baseline
(``benchmarks/baselines/ci.json``), else the median case's; cases go, longest first, to the shard with the least
expected time so far (ties to the lower shard, then by id), so every job computes the same split.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from pathlib import Path

from rnnbench.errors import UserError
from rnnbench.results.schema import info, read_results
from rnnbench.spec import arguments

EVERY_SHARD_FILES = ("test_calibration.py",)  # the machine's measures: every shard times its own machine
UNKNOWN_COST = 1.0  # seconds, for a case when no baseline says anything


def parse_shard(text: str) -> tuple[int, int]:
    """"K/N" -> (K, N), 1 <= K <= N (``rnnbench.spec.arguments.parse_shard``), as a user error naming --shard."""
    try:
        return arguments.parse_shard(text)
    except ValueError as exc:
        raise UserError(f"--shard: {exc}") from None


def case_key(test_name: str) -> str:
    """The case a benchmark belongs to: its parameter id (``numpy-binary-rnn-T5-S4-B200``), or its own name."""
    _, bracket, param = test_name.partition("[")
    return param.rstrip("]") if bracket else test_name


def baseline_costs(path: Path) -> dict[str, float]:
    """Seconds each case took in the baseline (its benchmarks' totals and build), by case key; {} without one."""
    try:
        doc = read_results(path)
    except UserError:  # none, or not one this reads: every case costs the same
        return {}
    costs: dict[str, float] = {}
    for record in doc["benchmarks"]:
        stats = record["stats"]
        seconds = stats.get("total") or stats["median"] * stats.get("rounds", 1)  # pytest-benchmark's stats
        key = case_key(record["name"])
        costs[key] = costs.get(key, 0.0) + float(seconds) + (info(record).build_seconds or 0)
    return costs


def assign(keys: Iterable[str], n: int, costs: dict[str, float]) -> dict[str, int]:
    """Each case key's shard (1..n): longest expected time first, to the least loaded shard."""
    keys = sorted(set(keys))
    known = [costs[k] for k in keys if k in costs]
    default = statistics.median(known) if known else UNKNOWN_COST
    expected = {k: costs.get(k, default) for k in keys}
    load = [0.0] * n
    shard_of = {}
    for key in sorted(keys, key=lambda k: (-expected[k], k)):
        i = min(range(n), key=lambda s: (load[s], s))
        shard_of[key] = i + 1
        load[i] += expected[key]
    return shard_of


def select(items: list, shard: tuple[int, int], costs: dict[str, float]) -> tuple[list, list]:
    """(kept, deselected) pytest items for shard (K, N), given each case's expected seconds."""
    k, n = shard
    every = [it for it in items if Path(str(it.fspath)).name in EVERY_SHARD_FILES]
    rest = [it for it in items if Path(str(it.fspath)).name not in EVERY_SHARD_FILES]
    shard_of = assign((case_key(it.name) for it in rest), n, costs)
    kept = every + [it for it in rest if shard_of[case_key(it.name)] == k]
    return kept, [it for it in rest if shard_of[case_key(it.name)] != k]
