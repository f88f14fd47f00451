"""``rnnbench list``: each implementation, whether it can run here and, with ``--task``/``--cell``, whether it does
that point ("n/a: reason"). ``--json`` gives the same as data, with the benchmark request version this revision
takes (``rnnbench ab`` reads it from each side instead of parsing these lines). Lists without importing a
framework."""

from __future__ import annotations

import json

from rnnbench.spec import registry
from rnnbench.spec.config import RunConfig
from rnnbench.spec.request import REQUEST_VERSION, add_options
from rnnbench.tasks import DEFAULT_TASK

HELP = "implementations, whether each can run here, and what it supports"


def add_arguments(p) -> None:
    add_options(p.add_argument, ("task", "cell"))
    p.add_argument("--json", action="store_true",
                   help="print JSON: the request version this rnnbench takes and every implementation's status")


def statuses(tasks: list[str] | None, cells: list[str] | None) -> list[dict]:
    """Every implementation: name, framework, available, and why not (unavailable, or n/a at the points)."""
    tasks = tasks or ([DEFAULT_TASK] if cells else [])
    configs = [RunConfig.for_task(t, **({"cell": c} if c else {})) for t in tasks for c in (cells or [None])]
    rows = []
    for e in registry.ENTRIES:
        ok, reason = e.available()
        gaps = [why for why in (e.unsupported(c) for c in configs) if why]
        rows.append({"name": e.name, "framework": e.framework, "available": ok, "reason": reason,
                     "not_applicable": gaps})
    return rows


def run(args) -> int:
    rows = statuses(args.task, args.cell)
    if args.json:
        print(json.dumps({"request_version": REQUEST_VERSION, "implementations": rows}, indent=1))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        status = "available" if r["available"] else f"unavailable: {r['reason']}"
        if r["not_applicable"]:
            status = "n/a: " + "; ".join(r["not_applicable"])
        print(f"{r['name']:<{width}}  {r['framework']:<10}  {status}")
    return 0
