"""``rnnbench bench``: train every available implementation on the reference configurations, side by side.

Frameworks never share an interpreter: each framework family runs in its own worker process
(``python -m rnnbench.bench --worker``), and the parent merges what the workers write.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rnnbench import registry
from rnnbench.config import reference_configs
from rnnbench.errors import UserError
from rnnbench.files import write_json
from rnnbench.table import format_table
from rnnbench.task import LEVEL_LABELS, theory_levels

DEFAULT_RESULTS_DIR = Path("results")


def select(names: list[str] | None) -> tuple[list[str], list[tuple[str, str]]]:
    """(runnable names, [(name, reason) skipped]); unknown names are a user error."""
    chosen = names or registry.names()
    runnable, skipped = [], []
    for name in chosen:
        ok, reason = registry.entry(name).available()
        (runnable.append(name) if ok else skipped.append((name, reason)))
    return runnable, skipped


def by_framework(names: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(registry.entry(name).framework, []).append(name)
    return groups


def run_worker(names: list[str], threads: int, out: str) -> int:
    """Inside one framework's process: every (impl, reference config), results to ``out`` as JSON."""
    from rnnbench.train import train

    records = []
    for ref in reference_configs(threads):
        for name in names:
            print(f"  {name} {ref.label} ({ref.config.epochs} epoch(s)) ...", file=sys.stderr, flush=True)
            record = train(name, ref.config).to_json()
            record["label"] = ref.label
            record["expected_level"] = ref.expected_level
            records.append(record)
    write_json(out, records)
    return 0


def summary_rows(records: list[dict]) -> list[list[str]]:
    levels = theory_levels().as_dict()
    baseline = {r["label"]: r["us_per_step"] for r in records if r["impl"] == "tf-cell"}
    rows = []
    order = {ref.label: i for i, ref in enumerate(reference_configs())}
    for r in sorted(records, key=lambda r: (order.get(r["label"], len(order)), r["us_per_step"])):
        expected = levels[r["expected_level"]]
        speedup = f"{baseline[r['label']] / r['us_per_step']:.1f}x" if r["label"] in baseline else "-"
        rows.append([
            r["label"], r["impl"], str(r["config"]["epochs"]), f"{r['final_loss']:.4f}",
            f"{expected:.4f}", LEVEL_LABELS[r["nearest_level"]], f"{r['us_per_step']:.1f}", speedup,
            f"{r['build_seconds']:.2f}",
        ])
    return rows


def run_bench(args: argparse.Namespace) -> int:
    runnable, skipped = select(args.impl)
    for name, reason in skipped:
        print(f"skip {name}: {reason}", file=sys.stderr)
    if not runnable:
        raise UserError("impl: nothing to run; `rnnbench list` shows what is available")
    out = Path(args.json) if args.json else DEFAULT_RESULTS_DIR / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    records: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for framework, names in by_framework(runnable).items():
            print(f"[{framework}] {', '.join(names)} (threads={args.threads})", file=sys.stderr, flush=True)
            part = Path(tmp) / f"{framework}.json"
            cmd = [sys.executable, "-m", "rnnbench.bench", "--worker", "--threads", str(args.threads),
                   "--out", str(part), *names]
            if subprocess.run(cmd).returncode != 0:
                print(f"rnnbench bench: the {framework} worker failed; its results are missing", file=sys.stderr)
                continue
            records += json.loads(part.read_text())
    write_json(out, {"runs": records, "skipped": dict(skipped)})
    headers = ["config", "impl", "epochs", "final loss", "theory", "nearest level", "us/step",
               "vs tf-cell", "build s"]
    print(format_table(headers, summary_rows(records), align="llrrrlrrr"))
    print("\ntheory: " + ", ".join(f"{v:.4f} {LEVEL_LABELS[k]}" for k, v in theory_levels().as_dict().items()))
    print(f"wrote {out}")
    return 0 if len(records) == len(runnable) * len(reference_configs()) else 1


def _worker_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="rnnbench.bench")
    p.add_argument("--worker", action="store_true", required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("names", nargs="+")
    args = p.parse_args(argv)
    return run_worker(args.names, args.threads, args.out)


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
