"""``rnnbench merge A.json B.json ... --out M.json``: shards, and runs from several machines, as one results file.

Every record keeps the machine it ran on (``extra_info.machine``, the host's name) and each machine keeps its own
calibration probes, so the gate normalises every time by its own machine. The inputs must be alike (one schema,
thread count, device and profile). Two records of one case from one machine are refused, never silently
dropped: a case runs in one shard. The machine's own measures (calibration, the peak) are the exception: a
machine that ran several shards timed them in each, and the first is kept.
"""

from __future__ import annotations

import copy
from dataclasses import asdict

from rnnbench.errors import UserError
from rnnbench.results.compare import check_alike
from rnnbench.results.records import RunOutcome, checked
from rnnbench.results.schema import host, info, outcome, read_results, run_info
from rnnbench.results.summary import overhead_fits, scaling_slopes
from rnnbench.spec.measures import MACHINE_MEASURES

MACHINE_KEY = "machine"  # extra_info key: the host a record ran on


def machine_of(doc: dict) -> str:
    """The host a run was made on (pytest-benchmark's ``machine_info.node``)."""
    return host(doc).node or "unknown"


def _meta(docs: list[tuple[str, dict]]) -> dict:
    """The runs' outcomes (``doc["rnnbench"]``), joined: failures and gaps of every input, the shards merged."""
    metas = [outcome(doc) for _, doc in docs]
    seen, points = set(), []
    for m in metas:
        for p in m.not_applicable:
            if (p.impl, p.label) not in seen:
                seen.add((p.impl, p.label))
                points.append(asdict(p))
    return checked(RunOutcome, {
        **{k: v for k, v in docs[0][1].get("rnnbench", {}).items() if k not in ("scaling", "overhead")},
        "skipped": {k: v for m in metas for k, v in m.skipped.items()},
        "not_applicable": points,
        "failed_frameworks": sorted({f for m in metas for f in m.failed_frameworks}),
        "failed": [asdict(f) for m in metas for f in m.failed],
        "merged_from": [path for path, _ in docs],
        "shards": [m.shard for m in metas]})


def merge_runs(parts: list[dict], meta: dict) -> dict:
    """One pytest-benchmark document from one per framework family; our run facts under "rnnbench"."""
    if not parts:
        raise ValueError("no benchmark results to merge")
    merged = {k: v for k, v in parts[0].items() if k != "benchmarks"}
    frameworks = sorted({f for p in parts for f in run_info(p).frameworks})
    merged["machine_info"] = {**parts[0]["machine_info"],
                              "rnnbench": {**parts[0]["machine_info"]["rnnbench"], "frameworks": frameworks}}
    merged["benchmarks"] = [b for p in parts for b in p["benchmarks"]]
    merged["rnnbench"] = checked(RunOutcome, {**meta, "scaling": scaling_slopes(merged["benchmarks"]),
                                              "overhead": overhead_fits(merged["benchmarks"])})
    return merged


def merge_files(paths: list[str]) -> dict:
    """One results document from several; errors name the file and the record."""
    if len(paths) < 2:
        raise UserError("merge: give at least two results files")
    docs = [(p, read_results(p)) for p in paths]
    first_path, first = docs[0]
    check_alike(first_path, first, docs[1:], allow=False, hint="; merge runs of one thread count, device and "
                                                                  "profile")
    seen: dict[tuple[str, str], str] = {}
    names: set[str] = set()
    parts = []
    for path, doc in docs:
        machine = machine_of(doc)
        records = []
        for record in doc["benchmarks"]:
            record = copy.deepcopy(record)
            extra = record.setdefault("extra_info", {})
            extra.setdefault(MACHINE_KEY, machine)
            key = (record["name"], extra[MACHINE_KEY])
            if key in seen:
                if info(record).measure in MACHINE_MEASURES:
                    continue
                raise UserError(f"{path}: {record['name']} from machine {key[1]} is also in {seen[key]}; a case "
                                "runs in one shard, so these runs overlap (merge each case once)")
            seen[key] = path
            if record["name"] in names and info(record).measure not in MACHINE_MEASURES:
                record["name"] = f"{record['name']}@{key[1]}"  # the same case from another machine, kept apart
            names.add(record["name"])
            records.append(record)
        parts.append({**doc, "benchmarks": records})
    merged = merge_runs(parts, _meta(docs))
    ours = merged["machine_info"]["rnnbench"]
    ours["machines"] = {machine_of(doc): {"cpu": host(doc).cpu, "source": path} for path, doc in docs}
    refs = {}
    for _, doc in docs:
        for r in doc["machine_info"]["rnnbench"]["references"]:
            refs.setdefault(r["label"], r)
    ours["references"] = list(refs.values())
    return merged
