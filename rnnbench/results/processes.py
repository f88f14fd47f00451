"""``rnnbench bench --processes K``: each family's benchmarks in K fresh processes, joined record by record.

One process is one sample: a process's medians carry its own layout, caches and thread placement (four processes
of the same code once timed one train step at 671-1127 us). The joined record keeps every process's rounds
(its ``stats`` recomputed over all of them), the median of each process (``extra_info.process_medians``) and their
spread, the slowest process median over the fastest (``extra_info.process_spread``). The summary, the report and
the gate read them; the gate's "worse" must then hold across processes (``rnnbench.results.compare``).
"""

from __future__ import annotations

import copy

import numpy as np

PROCESS_MEDIANS = "process_medians"
PROCESS_SPREAD = "process_spread"


def _stats(data: list[float], iterations: int) -> dict:
    a = np.asarray(data, dtype=float)
    q1, median, q3 = np.percentile(a, [25, 50, 75])
    return {"min": float(a.min()), "max": float(a.max()), "mean": float(a.mean()),
            "stddev": float(a.std(ddof=1)) if len(a) > 1 else 0.0, "rounds": len(a), "median": float(median),
            "iqr": float(q3 - q1), "q1": float(q1), "q3": float(q3), "total": float(a.sum()),
            "ops": float(1 / a.mean()), "iterations": iterations, "data": [float(t) for t in a]}


def join_processes(runs: list[dict]) -> dict:
    """One family's results from K processes, as one document: records joined by name (in the first run's
    order, then any only later runs have)."""
    joined = copy.deepcopy(runs[0])
    by_name: dict[str, list[dict]] = {}
    for run in runs:
        for record in run["benchmarks"]:
            by_name.setdefault(record["name"], []).append(record)
    records = []
    for same in by_name.values():
        record = copy.deepcopy(same[0])
        medians = [float(r["stats"]["median"]) for r in same]
        data = [t for r in same for t in (r["stats"].get("data") or [r["stats"]["median"]] * r["stats"]["rounds"])]
        record["stats"] = _stats(data, record["stats"].get("iterations", 1))
        extra = record.setdefault("extra_info", {})
        extra[PROCESS_MEDIANS] = medians
        extra[PROCESS_SPREAD] = max(medians) / min(medians)
        records.append(record)
    joined["benchmarks"] = records
    return joined
