"""Shards: a run's benchmarks split into N parts that together hold every case once, balanced by expected time.

The unit is the *case*: every test of one implementation at one configuration (its build, training run, train
step, forward and epoch share one built implementation), so a shard never splits what is built once and timed
several ways. The machine's own measures (calibration probes, the peak) run in every shard: each shard's times
are normalised by its own machine. A case's expected time is its total in the committed baseline
(``benchmarks/baselines/ci.json``); else, for a case the baseline cannot know (the peers profile's, whose sizes
span five orders of magnitude of arithmetic), an estimate from its FLOPs (``estimated_cost``); else the median
case's. Cases go, longest first, to the shard with the least expected time so far (ties to the lower shard, then by
id), so every job computes the same split. A peer case's roofline at size (``benchmarks/test_peers.py``) is timed
in every shard that times that case, on that shard's machine.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from pathlib import Path

from rnnbench.errors import UserError
from rnnbench.results.schema import info, read_results
from rnnbench.spec import arguments

EVERY_SHARD_FILES = ("test_calibration.py",)  # the machine's measures: every shard times its own machine
AT_SIZE_FILES = ("test_peers.py",)  # a case's own machine measures: in every shard that times that case
UNKNOWN_COST = 1.0  # seconds, for a case when no baseline says anything
# A case's estimate without a baseline: a build, then about CALLS_PER_CASE train steps (its training run's
# PARITY_WINDOWS windows, then the timed rounds of the train step and the forward pass) at ASSUMED_RATE, the one
# thread rate the slower variants reach at size (the peers profile, AMD EPYC: 20-85 GFLOP/s). Only the balance of
# the split depends on it.
BUILD_COST = 10.0
CALLS_PER_CASE = 40
ASSUMED_RATE = 20e9


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


def reference_of(item):
    """The reference a benchmark item times (a peer case's, an implementation's case), or None."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "peer_reference" in params:
        return params["peer_reference"]
    case = params.get("case")
    return case[1] if isinstance(case, tuple) and len(case) == 2 else None


def estimated_cost(item) -> float | None:
    """Seconds a peer case's benchmarks are expected to take, from its FLOPs (``BUILD_COST``, ``CALLS_PER_CASE``,
    ``ASSUMED_RATE``); None for any other item (the baseline knows those)."""
    from rnnbench.model.flops import step_flops

    ref = reference_of(item)
    if ref is None or not ref.source:
        return None
    flops = step_flops(ref.config)
    per_call = flops.total if "train_step" in ref.measures else flops.forward
    return BUILD_COST + CALLS_PER_CASE * per_call / ASSUMED_RATE


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
    def file_of(it):
        return Path(str(it.fspath)).name

    every = [it for it in items if file_of(it) in EVERY_SHARD_FILES]
    at_size = [it for it in items if file_of(it) in AT_SIZE_FILES]
    rest = [it for it in items if file_of(it) not in EVERY_SHARD_FILES + AT_SIZE_FILES]
    estimates = {case_key(it.name): estimated_cost(it) for it in rest if case_key(it.name) not in costs}
    shard_of = assign((case_key(it.name) for it in rest), n,
                      {**{key: c for key, c in estimates.items() if c is not None}, **costs})
    mine = [it for it in rest if shard_of[case_key(it.name)] == k]
    labels = {ref.label for ref in map(reference_of, mine) if ref is not None}
    kept = every + [it for it in at_size if reference_of(it) is not None and reference_of(it).label in labels] + mine
    kept_ids = {id(it) for it in kept}
    return kept, [it for it in items if id(it) not in kept_ids]
