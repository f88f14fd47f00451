"""``rnnbench study truncation`` and ``rnnbench study gradients``: the studies (``rnnbench.studies``) run on this
machine. ``gradients`` is one process (about a minute); ``truncation``:

Every point (style, n, seed) is one training run, spread over ``--processes`` worker processes (one thread each);
the points are checked before any work, a progress line is printed as each one ends, and the result JSON is
written once, whole, at the end (``rnnbench report`` turns it into its section).
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path

from rnnbench.commands import children
from rnnbench.console import emit
from rnnbench.cpus import cpu_model
from rnnbench.errors import ConfigError, UserError
from rnnbench.files import check_output, write_json
from rnnbench.paths import RESULTS_DIR
from rnnbench.results import studies
from rnnbench.results.table import format_table
from rnnbench.spec import registry
from rnnbench.spec.arguments import non_negative_int, positive_int
from rnnbench.spec.config import RunConfig
from rnnbench.studies import gradients, truncation

HELP = "what the tutorials teach, measured: truncation styles, gradient flow"


def add_arguments(p) -> None:
    studies_ = p.add_subparsers(dest="study", required=True, metavar="STUDY", parser_class=type(p))
    q = studies_.add_parser("truncation", help="the smallest backpropagation length each truncation style needs "
                                               "to learn the binary task's t-3 and t-8 dependencies")
    q.add_argument("--n", type=positive_int, nargs="+", default=list(truncation.DEFAULT_NS), metavar="N",
                   help="backpropagation lengths swept (default: %(default)s)")
    q.add_argument("--style", nargs="+", choices=tuple(truncation.STYLES), default=list(truncation.STYLES),
                   help="tf: num_steps = n; true: BPTT(n, 1); half: BPTT(2n, n) (default: all)")
    q.add_argument("--seed", type=non_negative_int, nargs="+", default=list(truncation.DEFAULT_SEEDS),
                   metavar="S", help="seeds of every point (default: %(default)s)")
    q.add_argument("--epochs", type=positive_int, default=truncation.DEFAULT_EPOCHS,
                   help="epochs of 1,000,000 stream points per run (default: %(default)s)")
    q.add_argument("--impl", default=truncation.DEFAULT_IMPL,
                   help="the implementation that trains every point (default: %(default)s)")
    q.add_argument("--processes", type=positive_int, default=min(2, RunConfig().threads), metavar="K",
                   help="points trained at once, one thread each (default: %(default)s)")
    q.add_argument("--json", help=f"write the study here (default: {RESULTS_DIR}/study-truncation-<time>.json)")

    q = studies_.add_parser("gradients", help="how far back one step's loss gradient reaches, per cell: at "
                                              "initialisation, trained, at spectral radii 0.5/1/1.5, with clipping")
    q.add_argument("--cell", nargs="+", choices=gradients.CELLS, default=list(gradients.CELLS),
                   help="the cells (default: all)")
    q.add_argument("--epochs", type=positive_int, default=gradients.DEFAULT_EPOCHS,
                   help="epochs of training before the 'trained' curve (default: %(default)s)")
    q.add_argument("--json", help=f"write the study here (default: {RESULTS_DIR}/study-gradients-<time>.json)")


def run(args) -> int:
    for option in ("n", "style", "seed", "cell"):
        values = getattr(args, option, None) or []
        if len(set(values)) != len(values):
            raise UserError(f"--{option}: {', '.join(map(str, values))} names a value twice")
    return {"truncation": cmd_study_truncation, "gradients": cmd_study_gradients}[args.study](args)


def check_truncation(args) -> list[tuple[str, int, int]]:
    """Every point the study will run, each configuration built (and refused, naming the field) before any work."""
    entry = registry.entry(args.impl)
    if not entry.truncation:
        raise UserError(f"impl: {args.impl} trains TF-style windows only; one of "
                        f"{', '.join(e.name for e in registry.ENTRIES if e.truncation)} trains BPTT(k2, k1)")
    ok, why = entry.available()
    if not ok:
        raise UserError(f"impl {args.impl}: unavailable: {why}")
    points = [(style, n, seed) for style in args.style for n in args.n for seed in args.seed]
    for style, n, seed in points:
        try:
            config = truncation.study_config(style, n, seed, args.epochs)
        except ConfigError as exc:
            raise UserError(f"--n {n}: {STYLE_NAMES[style]} at n = {n}: {exc}") from None
        reason = entry.unsupported(config)
        if reason:
            raise UserError(reason)
    return points


STYLE_NAMES = {k: s.label for k, s in truncation.STYLES.items()}


def cmd_study_truncation(args) -> int:
    out = Path(args.json) if args.json else RESULTS_DIR / f"study-truncation-{time.strftime('%Y%m%d-%H%M%S')}.json"
    check_output(out, "--json")
    points = check_truncation(args)
    print(f"study truncation: {len(points)} training runs of {args.impl} (styles {', '.join(args.style)}; "
          f"n = {', '.join(map(str, args.n))}; seeds {', '.join(map(str, args.seed))}; {args.epochs} epochs), "
          f"{args.processes} processes", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    runs = run_points(points, args)
    doc = {"study": truncation.STUDY, "schema_version": truncation.SCHEMA_VERSION, "impl": args.impl,
           "styles": list(args.style), "epochs": args.epochs, "seeds": list(args.seed),
           "style_labels": {k: truncation.STYLES[k].label for k in args.style},
           "base": truncation.BASE, "levels": truncation.levels(),
           "thresholds": truncation.thresholds(truncation.levels()), "seconds": round(time.monotonic() - t0, 1),
           "machine": machine(args.impl),
           "runs": sorted(runs, key=lambda r: (args.style.index(r["style"]), r["n"], r["seed"]))}
    return finish(out, doc)


def machine(impl: str) -> dict:
    """Where a study ran: the CPU model (AMD EPYC and Intel Xeon differ), the node, Python, the library versions."""
    return {"cpu": cpu_model(), "node": platform.node(), "python": platform.python_version(),
            "versions": registry.create(impl).versions()}


def finish(out: Path, doc: dict) -> int:
    """Write the study, whole, then print its table and finding."""
    write_json(out, doc)
    summary = studies.summary(doc)
    table = summary["table"]
    emit(format_table(list(table[0]), [[str(v) for v in row.values()] for row in table]))
    emit(f"\n{summary['finding']}\nwrote {out} ({doc['seconds']:.0f} s); its report: rnnbench report {out}")
    return 0


def run_points(points: list[tuple[str, int, int]], args) -> list[dict]:
    """Every point, ``args.processes`` at a time, most expensive first; a line per point as it ends."""
    order = sorted(points, key=lambda p: -truncation.study_config(p[0], p[1], p[2], 1).windows_per_epoch
                   * truncation.STYLES[p[0]].window(p[1])[0])
    runs = []
    context = multiprocessing.get_context("spawn")  # no framework state or threads copied from this process
    with futures.ProcessPoolExecutor(args.processes, mp_context=context, initializer=children.worker_dies_with,
                                     initargs=(os.getpid(),)) as pool:
        jobs = {pool.submit(truncation.run_point, args.impl, style, n, seed, args.epochs): (style, n, seed)
                for style, n, seed in order}
        try:
            for done, job in enumerate(futures.as_completed(jobs), 1):
                run = job.result()
                runs.append(run)
                print(f"  [{done}/{len(jobs)}] {STYLE_NAMES[run['style']]} n={run['n']} seed {run['seed']}: "
                      f"final loss {run['final_loss']:.4f} ({run['seconds']:.0f} s)", file=sys.stderr, flush=True)
        except BaseException:
            for job in jobs:
                job.cancel()
            for process in list(getattr(pool, "_processes", {}).values()):  # running points end now, not later
                process.terminate()
            raise
    return runs


def cmd_study_gradients(args) -> int:
    out = Path(args.json) if args.json else RESULTS_DIR / f"study-gradients-{time.strftime('%Y%m%d-%H%M%S')}.json"
    check_output(out, "--json")
    print(f"study gradients: {', '.join(args.cell)}; the gradient of one step's loss at the states up to "
          f"{gradients.MAX_K} steps back, at initialisation, after {args.epochs} epoch(s) of training and at spectral "
          f"radii {', '.join(f'{r:g}' for r in gradients.RADII)}; training from radius {max(gradients.RADII):g} with "
          f"and without clipping at {gradients.CLIP_NORM:g}", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    measured = gradients.run(args.epochs, tuple(args.cell), progress=lambda text: print(text, file=sys.stderr,
                                                                                        flush=True))
    doc = {"study": gradients.STUDY, "schema_version": gradients.SCHEMA_VERSION, "cells": list(args.cell),
           "max_k": gradients.MAX_K, "positions": gradients.POSITIONS, "epochs": args.epochs,
           "radii": list(gradients.RADII), "clip_norm": gradients.CLIP_NORM, "base": gradients.BASE, **measured,
           "seconds": round(time.monotonic() - t0, 1), "machine": machine("numpy")}
    return finish(out, doc)
