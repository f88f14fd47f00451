"""``rnnbench bench``: the main job. Times every available implementation with pytest-benchmark and prints
one table: time per step, speed-up against the original TF1 loop, final loss against theory, time-to-target.

TensorFlow and PyTorch never share an interpreter: each framework family runs the suites in ``benchmarks/``
in its own pytest process, and this merges their pytest-benchmark JSON files into one (still in
pytest-benchmark's format, so ``pytest-benchmark compare`` reads it).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rnnbench import registry
from rnnbench.config import BASELINE_IMPL, reference_configs, targets_text
from rnnbench.errors import UserError
from rnnbench.files import write_json
from rnnbench.stats import loglog_slope
from rnnbench.table import format_table
from rnnbench.task import LEVEL_LABELS, theory_levels

DEFAULT_RESULTS_DIR = Path("results")
FAMILY_ORDER = ("numpy", "tensorflow", "torch")
MAX_TIME = {"quick": "0.5", "full": "1.0", "ci": "0.1"}  # pytest-benchmark --benchmark-max-time per benchmark
HISTORY_DIR = DEFAULT_RESULTS_DIR / "history"  # every run is kept here; the report's trend reads it
RESULT_LINE = re.compile(r"::(?P<test>\S+) (?P<status>PASSED|SKIPPED|FAILED|ERROR|XFAIL|XPASS)")


def benchmarks_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "benchmarks"
    if not (path / "conftest.py").exists():
        raise UserError("bench: benchmarks/ is not beside the installed package; run from a source checkout "
                        "installed with `pip install -e .`")
    return path


def select(names: list[str] | None) -> tuple[list[str], dict[str, str]]:
    """(runnable names, {name: reason} skipped); unknown names are a user error."""
    chosen = names or registry.names()
    runnable, skipped = [], {}
    for name in chosen:
        ok, reason = registry.entry(name).available()
        if ok:
            runnable.append(name)
        else:
            skipped[name] = reason
    return runnable, skipped


def by_framework(names: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(registry.entry(name).framework, []).append(name)
    return dict(sorted(groups.items(), key=lambda kv: FAMILY_ORDER.index(kv[0]) if kv[0] in FAMILY_ORDER else 99))


def family_command(framework: str, names: list[str], args, out: Path, calibrate: bool) -> list[str]:
    """The pytest command for one family; ``calibrate`` adds the machine-speed probes (once per run)."""
    bench = benchmarks_dir()
    files = ["test_calibration.py"] if calibrate else []
    files += ["test_train_bench.py"] + (["test_task_bench.py"] if framework == "numpy" else [])
    files += ["test_scaling.py"] if args.profile == "full" else []
    return [
        sys.executable, "-m", "pytest", *(str(bench / f) for f in files),
        "-p", "no:cacheprovider", "-v", "-rs", "--color=no",
        "--framework", framework, *(a for n in names for a in ("--impl", n)),
        "--threads", str(args.threads), "--device", args.device, "--profile", args.profile,
        *(["--no-pin"] if getattr(args, "no_pin", False) else []),
        "--benchmark-json", str(out), "--benchmark-max-time", MAX_TIME[args.profile], "--benchmark-save-data",
        "--benchmark-columns=median,iqr,rounds", "--benchmark-sort=name",
    ]


def run_family(cmd: list[str], log) -> int:
    """Run one family's pytest, logging everything and printing one progress line per finished benchmark."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    total, done = None, 0
    for line in proc.stdout:
        log.write(line)
        if total is None and (m := re.search(r"collected (\d+) items?(?: / (\d+) deselected)?", line)):
            total = int(m.group(1)) - int(m.group(2) or 0)
        if m := RESULT_LINE.search(line):
            done += 1
            print(f"  [{done}/{total or '?'}] {m['test']} {m['status']}", file=sys.stderr, flush=True)
        elif line.startswith("SKIPPED ["):
            print(f"  {line.rstrip()}", file=sys.stderr, flush=True)
    return proc.wait()


def merge_runs(parts: list[dict], meta: dict) -> dict:
    """One pytest-benchmark document from one per framework family; our run facts under "rnnbench"."""
    if not parts:
        raise ValueError("no benchmark results to merge")
    merged = {k: v for k, v in parts[0].items() if k != "benchmarks"}
    merged["machine_info"] = dict(parts[0]["machine_info"])
    info = dict(merged["machine_info"].get("rnnbench", {}))
    info["frameworks"] = sorted({f for p in parts for f in p["machine_info"].get("rnnbench", {}).get("frameworks", [])})
    merged["machine_info"]["rnnbench"] = info
    merged["benchmarks"] = [b for p in parts for b in p["benchmarks"]]
    merged["rnnbench"] = {**meta, "scaling": scaling_slopes(merged["benchmarks"])}
    return merged


def scaling_slopes(benchmarks: list[dict]) -> dict[str, dict[str, float]]:
    """Log-log slope of the median train-step time against state_size and num_steps, per implementation."""
    points: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for b in benchmarks:
        info = b["extra_info"]
        if info.get("measure") == "scaling" and info.get("sweep") in ("state_size", "num_steps"):
            points.setdefault((info["impl"], info["sweep"]), []).append((info["sweep_value"], b["stats"]["median"]))
    slopes: dict[str, dict[str, float]] = {}
    for (impl, sweep), xy in sorted(points.items()):
        slope = loglog_slope(*zip(*xy))
        if not math.isnan(slope):
            slopes.setdefault(impl, {})[sweep] = slope
    return slopes


def summary_rows(doc: dict) -> list[list[str]]:
    """One row per (reference configuration, implementation), fastest first within a configuration."""
    levels = theory_levels().as_dict()
    by_key: dict[tuple[str, str], dict[str, dict]] = {}
    for b in doc["benchmarks"]:
        info = b["extra_info"]
        if "label" in info and info.get("measure") in ("build", "train", "train_step", "forward", "epoch"):
            by_key.setdefault((info["label"], info["impl"]), {})[info["measure"]] = b

    def per_step_us(records: dict) -> float:
        epoch = records.get("epoch")
        return 1e6 * epoch["stats"]["median"] / epoch["extra_info"]["steps"] if epoch else math.nan

    order = {ref.label: i for i, ref in enumerate(reference_configs())}
    rows = []
    for (label, impl), records in sorted(by_key.items(), key=lambda kv: (order.get(kv[0][0], 99), per_step_us(kv[1]))):
        us = per_step_us(records)
        base = by_key.get((label, BASELINE_IMPL), {})
        speedup = per_step_us(base) / us if base and not math.isnan(us) else math.nan
        train = records.get("train", {}).get("extra_info", {})
        row = [label, impl, _num(us, "{:.1f}"), _num(speedup, "{:.1f}x"),
               _num(_median_us(records.get("train_step")), "{:.1f}"),
               _num(_median_us(records.get("forward")), "{:.1f}"),
               _num(records["build"]["stats"]["median"] if "build" in records else math.nan, "{:.2f}")]
        if train:
            ok = "ok" if train["nearest_level"] == train["expected_level"] else "MISSED"
            ttt = (f"{train['seconds_to_target']:.2f} s ({train['steps_to_target']})" if train["reached"]
                   else "not reached")
            row += [f"{train['final_loss']:.4f}", f"{levels[train['expected_level']]:.4f} {ok}", ttt,
                    _num(train.get("peak_rss_mb"), "{:.0f}")]
        else:
            row += ["-", "-", "-", "-"]
        rows.append(row)
    return rows


SUMMARY_HEADERS = ["config", "impl", "us/step", f"vs {BASELINE_IMPL}", "train_step us", "forward us", "build s",
                   "final loss", "theory", "time-to-target", "peak MB"]


def _median_us(record: dict | None) -> float:
    return 1e6 * record["stats"]["median"] if record else math.nan


def _num(value, fmt: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)


def print_summary(doc: dict) -> None:
    print(format_table(SUMMARY_HEADERS, summary_rows(doc), align="llrrrrrrlll"))
    print("\nus/step: median epoch time over its steps (whole-epoch variants run an epoch per call); "
          f"time-to-target: running mean of 100 losses below {targets_text()}")
    print("theory: " + ", ".join(f"{v:.4f} {LEVEL_LABELS[k]}" for k, v in theory_levels().as_dict().items()))
    for impl, slopes in doc.get("rnnbench", {}).get("scaling", {}).items():
        print(f"scaling {impl}: " + ", ".join(f"time ~ {k}^{v:.2f}" for k, v in slopes.items()))


def run_bench(args: argparse.Namespace) -> int:
    runnable, skipped = select(args.impl)
    for name, reason in skipped.items():
        print(f"skip {name}: {reason}", file=sys.stderr)
    if not runnable:
        raise UserError("impl: nothing to run; `rnnbench list` shows what is available")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.json) if args.json else DEFAULT_RESULTS_DIR / f"bench-{stamp}.json"
    log_path = out.with_suffix(".log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    families = by_framework(runnable)
    parts, failed = [], []
    with tempfile.TemporaryDirectory() as tmp, open(log_path, "w") as log:
        for i, (framework, names) in enumerate(families.items(), 1):
            print(f"[{i}/{len(families)}] {framework}: {', '.join(names)} "
                  f"(profile {args.profile}, threads {args.threads}, {args.device})", file=sys.stderr, flush=True)
            part = Path(tmp) / f"{framework}.json"
            code = run_family(family_command(framework, names, args, part, calibrate=i == 1), log)
            if code not in (0, 5) or not part.exists():
                failed.append(framework)
                print(f"rnnbench bench: the {framework} benchmarks failed (exit {code}); see {log_path}",
                      file=sys.stderr)
            if part.exists():
                parts.append(json.loads(part.read_text()))
    if not parts:
        print(f"rnnbench bench: no results; see {log_path}", file=sys.stderr)
        return 1
    meta = {"profile": args.profile, "threads": args.threads, "device": args.device, "skipped": skipped,
            "failed_frameworks": failed, "baseline_impl": BASELINE_IMPL}
    doc = merge_runs(parts, meta)
    write_json(out, doc)
    write_json(HISTORY_DIR / f"bench-{stamp}.json", doc)  # every run is kept for the trend
    print_summary(doc)
    print(f"\nwrote {out} (pytest log: {log_path}; history: {HISTORY_DIR}/)")
    if not getattr(args, "no_report", False):
        from rnnbench.reporting import history_files, make_report, report_available

        ok, reason = report_available()
        # the stored runs end with this one: the tables describe it, the trend spans them all
        print(f"report: {make_report(history_files(), args.report_out)}" if ok else f"report skipped: {reason}")
    return 1 if failed else 0
