"""Pure functions: summary rows and the tidy frame in, display tables (DataFrames) out. No I/O, no plotting.

The speed and convergence tables are the rows of ``rnnbench.results.summary`` (one definition of each column, shared
with the CLI's summary) in pandas form. Tables describe the newest run; ``trend_table`` spans every run.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rnnbench.results.records import Gap
from rnnbench.results.stats import REGIMES, regime_slopes
from rnnbench.results.summary import SummaryRow
from rnnbench.spec.measures import Measure


def newest_run_name(frame: pd.DataFrame) -> str:
    """The most recent run (by its datetime, then by name): the one the tables and figures describe."""
    runs = frame[["run", "datetime"]].drop_duplicates().sort_values(["datetime", "run"])
    return runs["run"].iloc[-1]


def newest_run(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the most recent run."""
    return frame[frame["run"] == newest_run_name(frame)]


def _nan(value):
    return np.nan if value is None else value


def speed_table(rows: list[SummaryRow], baseline: str, peak: float = math.nan) -> pd.DataFrame:
    """Per config and implementation: us/step (median epoch time over its steps) with its IQR, the speed-up
    against the baseline, the achieved GFLOP/s and its fraction of the run's matmul ``peak``, one train step, one
    forward window and the build time. Fastest first per config."""
    epoch = [r for r in rows if not math.isnan(r.us_per_step)]
    return pd.DataFrame({
        "config": [r.label for r in epoch],
        "impl": [r.impl for r in epoch],
        "framework": [r.framework for r in epoch],
        "us/step": [round(r.us_per_step, 1) for r in epoch],
        "IQR us": [round(r.iqr_us_per_step, 1) for r in epoch],
        **({"process spread": [round(r.process_spread, 3) for r in epoch]}
           if any(not math.isnan(r.process_spread) for r in epoch) else {}),
        f"vs {baseline}": [round(r.speedup, 2) for r in epoch],
        "GFLOP/s": [round(r.gflops, 2) for r in epoch],
        "fraction of peak": [round(r.gflops / peak, 4) for r in epoch],
        "train_step us": [round(r.train_step_us, 1) for r in epoch],
        "forward us": [round(r.forward_us, 1) for r in epoch],
        "build s": [round(r.build_s, 3) for r in epoch],
    })


def convergence_table(rows: list[SummaryRow], labels: dict[str, str]) -> pd.DataFrame:
    """Per config and implementation of one task: final loss of the reference run against what it should reach
    (a theory level, ``labels`` saying what each means, or a goal on held-out data), the held-out metrics the task
    has, and the time (training seconds and steps) until the running mean of 100 losses met the target. Ordered by
    config, then final loss."""
    order = {label: i for i, label in enumerate(dict.fromkeys(r.label for r in rows))}
    trained = sorted((r for r in rows if r.trained), key=lambda r: (order[r.label], r.final_loss, r.impl))
    table = {
        "config": [r.label for r in trained],
        "impl": [r.impl for r in trained],
        "final loss": [round(r.final_loss, 4) for r in trained],
        "expected": [r.goal if r.goal else f"{r.expected_loss:.4f} ({labels[r.expected_level]})" for r in trained],
        "reached level": [labels.get(r.nearest_level, r.nearest_level) for r in trained],
        "held-out loss": [_round(r.eval_loss, 4) for r in trained],
    }
    for column, field in (("test accuracy", "test_accuracy"), ("free-run MSE", "free_run_mse")):
        if any(getattr(r, field) is not None for r in trained):
            table[column] = [_round(getattr(r, field), 4) for r in trained]
    table.update({
        "learned": ["yes" if r.learned else "NO" for r in trained],
        "target": [r.target for r in trained],
        "seconds to target": [round(r.seconds_to_target, 3) if r.reached else np.nan for r in trained],
        "steps to target": pd.Series([int(r.steps_to_target) if r.reached else None for r in trained], dtype=object),
    })
    return pd.DataFrame(table)


def accuracy_table(rows: list[SummaryRow]) -> pd.DataFrame:
    """Classifiers read at the last step (digits): test accuracy and held-out loss per implementation, best
    first."""
    scored = sorted((r for r in rows if r.trained and r.test_accuracy is not None),
                    key=lambda r: (r.label, -r.test_accuracy, r.impl))
    return pd.DataFrame({
        "config": [r.label for r in scored],
        "impl": [r.impl for r in scored],
        "test accuracy": [round(r.test_accuracy, 4) for r in scored],
        "held-out loss": [_round(r.eval_loss, 4) for r in scored],
        "goal": [r.goal for r in scored],
        "met": ["yes" if r.learned else "NO" for r in scored],
    })


def parity_table(traces: pd.DataFrame, reference: str = "numpy", steps: int = 50) -> pd.DataFrame:
    """Per config and implementation: the largest dloss = |step loss - the reference's step loss| over the first
    ``steps`` steps (the parity window) and over every traced step, the config's parity tolerance (as its run
    recorded it) and whether the parity window kept within it. Largest first."""
    rows = []
    latest = traces[traces["run"] == traces["run"].iloc[-1]] if len(traces) else traces
    for label, group in latest.groupby("label", sort=False):
        ref = group[group["impl"] == reference].set_index("step")["loss"]
        if ref.empty:
            continue
        for impl, own in group[group["impl"] != reference].groupby("impl"):
            diff = (own.set_index("step")["loss"] - ref).abs().dropna()
            window, tolerance = diff[diff.index <= steps].max(), float(group["tolerance"].max())
            rows.append({"config": label, "impl": impl,
                         f"max dloss, first {steps} steps": float(f"{window:.3g}"),
                         "max dloss, traced": float(f"{diff.max():.3g}"), "steps traced": int(diff.index.max()),
                         "tolerance": float(f"{tolerance:.3g}"), "within": "yes" if window <= tolerance else "NO"})
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=["config", "impl", f"max dloss, first {steps} steps"])
    return table.sort_values(table.columns[2], ascending=False).reset_index(drop=True)


def cells_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The cell sweep of the newest run: us per train step of each cell, per configuration and implementation."""
    rows = newest_run(frame)
    rows = rows[(rows["measure"] == Measure.SCALING) & (rows["sweep"] == "cell")].copy()
    if rows.empty:
        return pd.DataFrame(columns=["config", "impl"])
    rows["config"] = rows["label"].str.replace(r"^([^-]+)-[^-]+(-bi)?-", r"\1-", regex=True)  # the cell left out
    wide = rows.pivot_table(index=["config", "impl"], columns="sweep_value", values="us_per_step",
                            aggfunc="median").round(1)
    wide = wide[[c for c in ("rnn", "lstm", "gru") if c in wide.columns]
                + [c for c in wide.columns if c not in ("rnn", "lstm", "gru")]]
    wide.columns = [f"{c} us/step" for c in wide.columns]
    return wide.reset_index()


NOT_TIMED_IN_PROFILE = "built too slowly for this profile, timed in the full profile only"


def not_applicable_table(points: list[Gap]) -> pd.DataFrame:
    """The run's n/a points, one row per framework, unsupported field and declared gap: its implementations and
    configurations joined."""
    grouped: dict[tuple[str, str, str], tuple[dict, dict]] = {}
    for p in points:
        impls, labels = grouped.setdefault((p.framework, p.field, p.gap), ({}, {}))
        impls[p.impl] = labels[p.label] = None  # ordered sets
    return pd.DataFrame([{"impls": ", ".join(impls), "configs": ", ".join(labels),
                          "n/a: reason": (NOT_TIMED_IN_PROFILE if field == "profile" else f"{field} not supported")
                          + (f" ({gap})" if gap else "")}
                         for (_, field, gap), (impls, labels) in grouped.items()],
                        columns=["impls", "configs", "n/a: reason"])


def findings(rows: list[SummaryRow], parity: pd.DataFrame, points: pd.DataFrame | None = None,
             repeat: str | None = None, peers: list | None = None) -> pd.DataFrame:
    """What a reader should take away, computed from the results: the fastest implementation per task and cell
    with its margin over the next; within each framework, its fastest and slowest variant at each configuration
    timed step by step and at the sweep's largest state (``points``: ``scaling_points``), with what one step
    dispatches; the largest parity deviation, every run that missed what it should reach, and how the step medians
    repeated from an earlier run of the same code (``repeat``: ``repeat_finding``)."""
    out = []
    by_config: dict[str, list[SummaryRow]] = {}
    for r in rows:
        if not math.isnan(r.us_per_step):
            by_config.setdefault(r.label, []).append(r)
    for label, group in by_config.items():
        ranked = sorted(group, key=lambda r: r.us_per_step)
        best = ranked[0]
        margin = (f", {ranked[1].us_per_step / best.us_per_step:.1f}x ahead of {ranked[1].impl}"
                  if len(ranked) > 1 else " (the only one timed)")
        out.append(("fastest", label, f"{best.impl}: {best.us_per_step:.1f} us/step{margin}"))
    out.extend(framework_findings(rows, points))
    if len(parity):
        worst = parity.iloc[0]
        out.append(("largest parity deviation", worst["config"],
                    f"{worst['impl']}: |loss - numpy loss| up to {worst[parity.columns[2]]:.2g} "
                    f"({parity.columns[2].removeprefix('max dloss, ')})"))
        for _, row in parity[parity["within"] == "NO"].iterrows():
            out.append(("parity beyond its tolerance", row["config"],
                        f"{row['impl']}: |loss - numpy loss| up to {row[parity.columns[2]]:.2g}, tolerance "
                        f"{row['tolerance']:.2g}"))
    missed = [r for r in rows if r.trained and not r.learned]
    for r in missed:
        should = r.goal or f"{r.expected_loss:.4f}"
        out.append(("missed its target", r.label, f"{r.impl}: final loss {r.final_loss:.4f}, should reach {should}"))
    if not missed and any(r.trained for r in rows):
        out.append(("learning", "all", "every reference run reached what it should"))
    if repeat:
        out.append(("run to run", "all", repeat))
    out.extend(peer_findings(peers or []))
    return pd.DataFrame(out, columns=["finding", "config", "detail"])


def peer_findings(rows) -> list[tuple[str, str, str]]:
    """At each peer case (``rnnbench.results.summary.peer_rows``, fastest first): the fastest implementation, its
    fraction of peak at size and its margin over the next, and where it is not its family's standard API, how much
    faster than that it is."""
    out = []
    by_case: dict[str, list] = {}
    for r in rows:
        by_case.setdefault(r.case, []).append(r)
    from rnnbench.results.summary import fastest_changes, sweep_points

    for cell_name, by_hidden in sweep_points(rows).items():
        out.append(("where the fastest changes", f"{cell_name} train step, hidden "
                    f"{min(by_hidden)}-{max(by_hidden)}", fastest_changes(by_hidden)[1]))
    for case, group in by_case.items():
        if group[0].swept:
            continue
        best, rest = group[0], group[1:]
        timed = "train step" if best.train_step_ms == best.train_step_ms else "forward"
        ms = best.train_step_ms if timed == "train step" else best.forward_ms
        text = f"{best.impl}: {ms:.1f} ms a {timed}"
        if best.fraction == best.fraction:
            text += f", {best.fraction:.0%} of the matmul rate at its sizes"
        if rest:
            other = rest[0].train_step_ms if timed == "train step" else rest[0].forward_ms
            text += f", {other / ms:.2f}x ahead of {rest[0].impl}"
        if best.vs_standard == best.vs_standard and abs(best.vs_standard - 1) > 1e-9:
            text += f"; {best.vs_standard:.2f}x its framework's standard API"
        out.append(("fastest at a peer's size", case, text))
    return out


# Two runs of unchanged code on one machine should give every step median within this ratio of the other's.
REPEAT_TOLERANCE = 1.10
REPEAT_MEASURES = (Measure.TRAIN_STEP, Measure.FORWARD, Measure.EPOCH)
REPEAT_KEY = ("commit", "machine", "cpu", "run_threads", "profile")  # what makes two runs a repeat
REPEAT_COLUMNS = ["impl", "label", "measure", "earlier us", "newest us", "newest/earlier", "repeats"]


def repeat_runs(frame: pd.DataFrame) -> tuple[str, str] | None:
    """(earlier, newest): the newest run and the most recent run before it of the same commit on the same machine
    (node and CPU) at the same threads and profile; None when there is no such pair."""
    runs = (frame[["run", "datetime", *REPEAT_KEY]].drop_duplicates("run").sort_values(["datetime", "run"])
            .astype({k: str for k in REPEAT_KEY}))
    newest = runs.iloc[-1]
    if newest["commit"] in ("None", "nan", ""):  # not a git checkout: nothing says the code was the same
        return None
    same = runs[(runs[list(REPEAT_KEY)] == newest[list(REPEAT_KEY)]).all(axis=1) & (runs["run"] != newest["run"])]
    return None if same.empty else (same["run"].iloc[-1], newest["run"])


def repeat_table(frame: pd.DataFrame, earlier: str, newest: str) -> pd.DataFrame:
    """Every step median (train step, forward, epoch per step) both runs timed, the newest over the earlier, and
    ``repeats``: "yes" within ``REPEAT_TOLERANCE`` either way, else "NO: +x%" or "NO: -x%". Largest change first."""
    steps = frame[frame["measure"].isin(REPEAT_MEASURES)]
    a = steps[steps["run"] == earlier].drop_duplicates("name").set_index("name")
    b = steps[steps["run"] == newest].drop_duplicates("name").set_index("name")
    both = b.index.intersection(a.index)
    if both.empty:
        return pd.DataFrame(columns=REPEAT_COLUMNS)
    ratio = b.loc[both, "us_per_step"] / a.loc[both, "us_per_step"]
    apart = np.maximum(ratio, 1 / ratio)
    table = pd.DataFrame({
        "impl": b.loc[both, "impl"], "label": b.loc[both, "label"], "measure": b.loc[both, "measure"],
        "earlier us": a.loc[both, "us_per_step"].round(1), "newest us": b.loc[both, "us_per_step"].round(1),
        "newest/earlier": ratio.round(3),
        "repeats": ["yes" if x <= REPEAT_TOLERANCE else f"NO: {100 * (r - 1):+.0f}%" for r, x in zip(ratio, apart)],
        "_apart": apart,
    })
    table = table.sort_values(["_apart", "impl", "label", "measure"], ascending=[False, True, True, True])
    return table.drop(columns="_apart").reset_index(drop=True)


def repeat_finding(table: pd.DataFrame) -> str:
    """One line: how many step medians repeated within the tolerance, and the worst of those that did not."""
    missed = table[table["repeats"] != "yes"]
    text = (f"{len(table) - len(missed)} of {len(table)} step medians within {100 * (REPEAT_TOLERANCE - 1):.0f}% "
            "of the earlier run's")
    if missed.empty:
        return text
    worst = missed.iloc[0]
    return (f"{text}; {len(missed)} marked, the largest {worst['impl']} {worst['measure']} at {worst['label']}: "
            f"{worst['earlier us']:g} -> {worst['newest us']:g} us")


PATH_COLUMNS = ["framework", "switch", "value", "other runs"]


def path_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The path each framework took in the newest run (``rnnbench.spec.path``), one switch a row, and where an
    earlier run in ``frame`` took another value, each such run with its value ("other runs")."""
    with_path = frame[frame["path"].notna()]
    if with_path.empty:
        return pd.DataFrame(columns=PATH_COLUMNS)
    newest = newest_run_name(frame)
    rows = []
    for framework, group in with_path.groupby("framework", sort=False):
        mine = group[group["run"] == newest]
        if mine.empty:
            continue
        path = mine["path"].iloc[0]
        others = group[group["run"] != newest].drop_duplicates("run")
        for switch, value in path.items():
            moved = [f"{r}: {p.get(switch, 'absent')}" for r, p in zip(others["run"], others["path"])
                     if p.get(switch, "absent") != value]
            rows.append({"framework": framework, "switch": switch, "value": value, "other runs": "; ".join(moved)})
    table = pd.DataFrame(rows, columns=PATH_COLUMNS)
    from rnnbench.spec.families import order

    return table.sort_values("framework", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)


def _dispatched(r: SummaryRow) -> str:
    if r.launches is None:
        return ""
    share = "" if math.isnan(r.overhead_share) else f", {100 * r.overhead_share:.0f}% of its epoch step overhead"
    return f" ({r.launches} launch{'' if r.launches == 1 else 'es'}, {r.ops} ops{share})"


def framework_findings(rows: list[SummaryRow], points: pd.DataFrame | None = None) -> list[tuple[str, str, str]]:
    """Each framework's fastest and slowest variant by train step at each configuration timed step by step, with
    what a step of each dispatches, and at the largest state size of the sweep (``scaling_points``) when there is
    one."""
    out = []
    by_key: dict[tuple[str, str], list[SummaryRow]] = {}
    for r in rows:
        if not math.isnan(r.train_step_us):
            by_key.setdefault((r.label, r.framework), []).append(r)
    for (label, framework), group in by_key.items():
        if len(group) < 2:
            continue
        fast, slow = min(group, key=lambda r: r.train_step_us), max(group, key=lambda r: r.train_step_us)
        out.append((f"{framework}: fastest and slowest", label,
                    f"{fast.impl} {fast.train_step_us:.0f} us per train step{_dispatched(fast)}; {slow.impl} "
                    f"{slow.train_step_us:.0f} us{_dispatched(slow)}: {slow.train_step_us / fast.train_step_us:.1f}x"))
    if points is not None and len(points):
        state = points[points["sweep"] == "state_size"]
        if len(state):
            largest = state["sweep_value"].max()
            at = state[state["sweep_value"] == largest]
            for name, group in at.groupby("framework", sort=True):
                if len(group) < 2:
                    continue
                fast, slow = group.loc[group["us_per_step"].idxmin()], group.loc[group["us_per_step"].idxmax()]
                out.append((f"{name}: fastest and slowest", f"state_size={largest:g}",
                            f"{fast['impl']} {fast['us_per_step']:.0f} us per train step; {slow['impl']} "
                            f"{slow['us_per_step']:.0f} us: {slow['us_per_step'] / fast['us_per_step']:.1f}x"))
    return out


def dispatch_how(frame: pd.DataFrame) -> dict[str, str]:
    """What each framework's counter counted in the newest run, in framework order of appearance."""
    rows = newest_run(frame)
    rows = rows[rows["dispatch_how"].notna()]
    return dict(zip(rows["framework"], rows["dispatch_how"]))


def dispatch_table(rows: list[SummaryRow]) -> pd.DataFrame:
    """Per configuration and implementation whose train step was counted: one train step's median (where one was
    timed), what it dispatches (``rnnbench.spec.dispatch``: launches, ops) and the step time per launch and per op;
    the overhead share where a sweep fitted one. Configurations in the rows' order, fewest launches first."""
    order = {label: i for i, label in enumerate(dict.fromkeys(r.label for r in rows))}
    counted = sorted((r for r in rows if r.launches is not None),
                     key=lambda r: (order[r.label], r.launches, np.nan_to_num(r.train_step_us, nan=math.inf)))

    def per(r: SummaryRow, n: int | None, digits: int) -> float | None:
        return None if math.isnan(r.train_step_us) or not n else round(r.train_step_us / n, digits)

    return pd.DataFrame([{"config": r.label, "impl": r.impl, "framework": r.framework,
                          "train_step us": per(r, 1, 1), "launches": r.launches, "ops": r.ops,
                          "us per launch": per(r, r.launches, 1), "us per op": per(r, r.ops, 2),
                          "overhead share": None if math.isnan(r.overhead_share) else round(r.overhead_share, 3)}
                         for r in counted],
                        columns=["config", "impl", "framework", "train_step us", "launches", "ops", "us per launch",
                                 "us per op", "overhead share"])


def memory_table(rows: list[SummaryRow]) -> pd.DataFrame:
    """Peak RSS growth during the reference run (and the GPU's maximum allocated memory on CUDA)."""
    trained = [r for r in rows if r.trained]
    order = {label: i for i, label in enumerate(dict.fromkeys(r.label for r in rows))}
    trained.sort(key=lambda r: (order[r.label], -(_nan(r.peak_rss_mb))))
    return pd.DataFrame({
        "config": [r.label for r in trained],
        "impl": [r.impl for r in trained],
        "device": [r.device for r in trained],
        "peak RSS growth MB": [round(_nan(r.peak_rss_mb), 1) for r in trained],
        "CUDA max allocated MB": [round(float(_nan(r.cuda_max_allocated_mb)), 1) for r in trained],
    })


def scaling_points(frame: pd.DataFrame) -> pd.DataFrame:
    """The numeric sweep rows of the newest run (the cell sweep is ``cells_table``'s): impl, framework, sweep,
    sweep_value, us_per_step."""
    rows = newest_run(frame)
    rows = rows[(rows["measure"] == Measure.SCALING) & (rows["sweep"] != "cell")]
    rows = rows[["impl", "framework", "sweep", "sweep_value", "us_per_step"]].astype({"sweep_value": float})
    return rows.sort_values(["sweep", "impl", "sweep_value"])


def roofline_points(frame: pd.DataFrame) -> pd.DataFrame:
    """The newest run's state_size sweep with its achieved rate: impl, framework, state_size, gflops."""
    rows = newest_run(frame)
    rows = rows[(rows["measure"] == Measure.SCALING) & (rows["sweep"] == "state_size") & rows["gflops"].notna()]
    rows = rows[["impl", "framework", "sweep_value", "gflops"]].astype({"sweep_value": float, "gflops": float})
    return rows.rename(columns={"sweep_value": "state_size"}).sort_values(["impl", "state_size"])


SCALING_SWEEPS = ("state_size", "num_steps", "batch_size")


def scaling_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per implementation: the log-log slope of step time against each swept field, over the low and the high
    half of the sweep (``rnnbench.results.stats.regime_slopes``)."""
    points = scaling_points(frame)
    columns = ["impl"] + [f"{sweep} {regime}" for sweep in SCALING_SWEEPS for regime in REGIMES]
    out = []
    for impl, rows in points.groupby("impl", sort=True):
        row = {"impl": impl}
        for sweep in SCALING_SWEEPS:
            part = rows[rows["sweep"] == sweep]
            for regime, slope in regime_slopes(part["sweep_value"], part["us_per_step"]).items():
                row[f"{sweep} {regime}"] = round(slope, 2)
        out.append(row)
    return pd.DataFrame(out, columns=columns)


def overhead_table(rows: list[SummaryRow], fits: dict[str, dict]) -> pd.DataFrame:
    """Per implementation with a fit: the per-step overhead (the fit's intercept), the rate its arithmetic runs at,
    the fit's R^2 and points, and the overhead's share of the measured step at each reference configuration."""
    labels = list(dict.fromkeys(r.label for r in rows))
    share = {(r.impl, r.label): r.overhead_share for r in rows}
    out = []
    for impl, fit in fits.items():
        row = {"impl": impl, "overhead us": _round(fit["overhead_us"], 1), "GFLOP/s": _round(fit["gflops"], 2),
               "R^2": _round(fit["r2"], 3), "points": fit["points"]}
        for label in labels:
            value = share.get((impl, label), math.nan)
            row[f"overhead share {label}"] = None if math.isnan(value) else round(value, 3)
        out.append(row)
    return pd.DataFrame(out, columns=["impl", "overhead us", "GFLOP/s", "R^2", "points",
                                      *(f"overhead share {label}" for label in labels)])


def _round(value, digits: int):
    """``value`` rounded; None stays None (a DataFrame's float column shows it as NaN)."""
    return None if value is None else round(value, digits)


def trend_table(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """us/step at one reference config, one row per run (oldest first), one column per implementation."""
    epoch = frame[(frame["measure"] == Measure.EPOCH) & (frame["label"] == label)]
    if epoch.empty:
        return pd.DataFrame(columns=["datetime", "commit", "run"])
    wide = epoch.pivot_table(index=["datetime", "commit", "run"], columns="impl", values="us_per_step",
                             aggfunc="median").round(1)
    wide.columns.name = None
    return wide.reset_index().sort_values(["datetime", "run"]).reset_index(drop=True)


DENORMAL_COLUMNS = ["impl", "framework", "flushes denormals", "normal us", "denormal us", "denormal/normal"]
DENORMAL_SLOWER = 1.5  # a slowdown the finding names: beyond run-to-run noise by far


def _flushes(path) -> bool | None:
    """Whether the framework's own arithmetic flushes denormals, from a record's path (the NumPy family: NumPy's)."""
    if not isinstance(path, dict):
        return None
    own = [v for k, v in path.items() if k.endswith("_flushes_denormals") and not k.startswith("numpy_")]
    return (own or [path.get("numpy_flushes_denormals")])[0]


def denormal_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The newest run's denormal benchmark: each implementation's train step on normal and on denormal inputs, the
    ratio, and whether its framework flushes denormals (its path), slowest ratio first."""
    rows = newest_run(frame) if len(frame) else frame
    rows = rows[rows["measure"] == Measure.DENORMAL]
    out = []
    for impl, group in rows.groupby("impl", sort=False):
        us = group.groupby("inputs")["us_per_step"].median()
        if not {"normal", "denormal"} <= set(us.index):
            continue
        out.append({"impl": impl, "framework": group["framework"].iloc[0],
                    "flushes denormals": _flushes(group["path"].iloc[0]),
                    "normal us": round(us["normal"], 1), "denormal us": round(us["denormal"], 1),
                    "denormal/normal": round(us["denormal"] / us["normal"], 2)})
    table = pd.DataFrame(out, columns=DENORMAL_COLUMNS)
    return table.sort_values("denormal/normal", ascending=False, kind="stable").reset_index(drop=True)


def denormal_finding(table: pd.DataFrame) -> str:
    """Which implementations denormal inputs slowed by DENORMAL_SLOWER or more, and the largest ratio where the
    framework flushes."""
    slow = table[table["denormal/normal"] >= DENORMAL_SLOWER]
    text = ("Denormal inputs slowed " + ", ".join(f"{r['impl']} {r['denormal/normal']:.1f}x" for _, r in
                                                   slow.iterrows()) + ". " if len(slow)
            else f"No implementation was {DENORMAL_SLOWER}x slower on denormal inputs. ")
    for flushes, words in ((True, "where the framework flushes denormals"),
                           (False, "where it does not")):
        part = table[table["flushes denormals"] == flushes]  # noqa: E712 - a column of bools and None
        if len(part):
            top = part.iloc[0]
            text += (f"The largest ratio {words}: {top['impl']} {top['denormal/normal']:.2f}x "
                     f"({len(part)} implementation{'s' * (len(part) > 1)}). ")
    return text.strip()


TRUNCATION_COLUMNS = ["impl", "framework", "k2,k1", "us per window", "us per time step", "vs TF style"]


def truncation_cost_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The newest run's truncation benchmark: each implementation's train step at every BPTT(k2, k1) timed, and
    its time per time step processed (the window's over k1, what a window advances the stream) against its own
    TF-style step's (k1 = k2)."""
    rows = newest_run(frame) if len(frame) else frame
    rows = rows[rows["measure"] == Measure.TRUNCATION]
    out = []
    for impl, group in rows.groupby("impl", sort=False):
        k1 = group["shift"].where(group["shift"].notna(), group["num_steps"]).astype(int)
        per_step = group["us_per_step"] / k1
        tf = per_step[group["shift"].isna()]
        for (_, r), k, step in zip(group.iterrows(), k1, per_step):
            out.append({"impl": impl, "framework": r["framework"], "k2,k1": f"{int(r['num_steps'])},{k}",
                        "us per window": round(r["us_per_step"], 1), "us per time step": round(step, 1),
                        "vs TF style": round(step / tf.iloc[0], 2) if len(tf) else None})
    table = pd.DataFrame(out, columns=TRUNCATION_COLUMNS)
    order = {k: i for i, k in enumerate(sorted(set(table["k2,k1"]), key=lambda s: -int(s.split(",")[1])))}
    return table.sort_values(["impl", "k2,k1"], key=lambda c: c.map(order) if c.name == "k2,k1" else c,
                             kind="stable").reset_index(drop=True)


def truncation_cost_finding(table: pd.DataFrame) -> str:
    """The cost per time step of each truncation against TF style, as a range over the implementations."""
    parts = []
    for window, group in table[table["vs TF style"].notna()].groupby("k2,k1", sort=False):
        k2, k1 = (int(v) for v in window.split(","))
        if k1 == k2:
            continue
        parts.append(f"BPTT({k2}, {k1}) {group['vs TF style'].min():.1f}-{group['vs TF style'].max():.1f}x "
                     f"(its windows recompute {k2 / k1:g}x the steps)")
    return ("Per time step processed, against TF style: " + "; ".join(parts) + ".") if parts else ""


VERSION_COLUMNS = ["package", "benchmark", "impl", "measure", "A release", "B release", "B/A", "low", "high", "verdict"]


def _release_of(overrides: list[str], package: str) -> str | None:
    return next((o.split("==", 1)[1] for o in overrides if "==" in o and o.split("==", 1)[0].strip() == package), None)


def versions_table(docs: list[dict]) -> pd.DataFrame:
    """Paired comparisons of one code across releases of one package (``rnnbench ab --a PKG==X --b PKG==Y``, the
    same revision on both sides): every judged benchmark's B/A with its interval, per release B ran, for each
    package. Comparisons of two revisions, or of several packages at once, are left out."""
    rows = []
    for doc in docs:
        sides = doc["rnnbench_ab"]["sides"]
        a, b = sides["A"], sides["B"]
        packages = {o.split("==", 1)[0].strip() for o in (a.get("overrides") or []) + (b.get("overrides") or [])
                    if "==" in o}
        if a["tree"] != b["tree"] or len(packages) != 1:
            continue
        package = packages.pop()
        for j in doc["judgements"]:
            rows.append({"package": package, "benchmark": j["name"], "impl": j["impl"], "measure": j["measure"],
                         "A release": _release_of(a.get("overrides") or [], package) or "pinned",
                         "B release": _release_of(b.get("overrides") or [], package) or "pinned",
                         "B/A": round(j["ratio"], 4), "low": _round(j["low"], 4), "high": _round(j["high"], 4),
                         "verdict": j["verdict"]})
    table = pd.DataFrame(rows, columns=VERSION_COLUMNS)
    return table.sort_values(["package", "impl", "benchmark", "B release"], kind="stable").reset_index(drop=True)


def versions_finding(table: pd.DataFrame) -> str:
    """Which releases moved what: every benchmark whose interval lies wholly above or below 1, else that none
    did."""
    moved = table[(table["low"] > 1) | (table["high"] < 1)]
    if moved.empty:
        return "no benchmark's interval lies off 1: nothing measurably moved between the releases compared"
    return "; ".join(f"{r['package']} {r['A release']} -> {r['B release']}: {r['impl']} {r['measure']} "
                     f"({r['benchmark'].split('[')[-1].rstrip(']')}) {r['B/A']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"
                     for _, r in moved.iterrows())


DRIFT_COLUMNS = ["anchor", "commit", "committed", "family", "benchmark", "impl", "measure", "B/A", "low", "high",
                 "verdict", "threshold %"]


def drift_table(docs: list[dict]) -> pd.DataFrame:
    """Drift since an anchor: the paired comparisons of one fixed commit A (``rnnbench ab
    @benchmarks/baselines/ANCHOR HEAD``, one per commit measured) against two or more later commits B, every judged
    benchmark's B/A with its interval, ordered by B's commit time. Comparisons with package overrides, of the
    working tree, or whose A no other comparison shares are left out."""
    by_anchor: dict[str, list[dict]] = {}
    for doc in docs:
        sides = doc["rnnbench_ab"]["sides"]
        a, b = sides["A"], sides["B"]
        if a.get("commit") and b.get("commit") and not (a.get("overrides") or b.get("overrides")):
            by_anchor.setdefault(a["commit"], []).append(doc)
    rows = []
    for anchor, group in by_anchor.items():
        if len({d["rnnbench_ab"]["sides"]["B"]["commit"] for d in group}) < 2:
            continue
        for doc in group:
            meta = doc["rnnbench_ab"]
            b = meta["sides"]["B"]
            rows += [{"anchor": anchor[:10], "commit": b["commit"][:10], "committed": b.get("committed") or "",
                      "family": j["framework"], "benchmark": j["name"], "impl": j["impl"], "measure": j["measure"],
                      "B/A": round(j["ratio"], 4), "low": _round(j["low"], 4), "high": _round(j["high"], 4),
                      "verdict": j["verdict"], "threshold %": meta["threshold_pct"]} for j in doc["judgements"]]
    table = pd.DataFrame(rows, columns=DRIFT_COLUMNS)
    return table.sort_values(["anchor", "committed", "commit", "family", "benchmark"], kind="stable").reset_index(
        drop=True)


def drift_finding(table: pd.DataFrame) -> str:
    """Every benchmark whose drift at the latest commit measured exceeds the threshold (its estimate beyond it, or a
    ``worse`` verdict), else that none does."""
    parts = []
    for anchor, rows in table.groupby("anchor", sort=False):
        latest = rows[rows["commit"] == rows.iloc[-1]["commit"]]
        over = latest[(latest["B/A"] > 1 + latest["threshold %"] / 100) | (latest["verdict"] == "worse")]
        commits = rows["commit"].nunique()
        if over.empty:
            parts.append(f"no benchmark has drifted beyond {latest['threshold %'].iloc[0]:g}% since {anchor} "
                         f"({commits} commits measured, the latest {latest['commit'].iloc[0]})")
            continue
        parts.append(f"drift beyond {over['threshold %'].iloc[0]:g}% since {anchor} at {latest['commit'].iloc[0]}: "
                     + "; ".join(f"{r['impl']} {r['measure']} ({r['benchmark'].split('[')[-1].rstrip(']')}) "
                                 f"{r['B/A']:.3f}" + ("" if pd.isna(r["low"]) else
                                                      f" [{r['low']:.3f}, {r['high']:.3f}]")
                                 for _, r in over.iterrows()))
    return "; ".join(parts)


AB_COLUMNS = ["family", "benchmark", "impl", "measure", "pairs", "A us", "B us", "B/A", "low", "high", "detectable %",
              "verdict", "pairs to settle"]


def ab_table(judgements: list[dict]) -> pd.DataFrame:
    """A paired comparison's verdicts (``rnnbench ab`` JSON), grouped by family, worst first within each."""
    from rnnbench.spec.families import order

    rows = [{"family": j["framework"], "benchmark": j["name"], "impl": j["impl"], "measure": j["measure"],
             "pairs": j["pairs"], "A us": round(j["a"] * 1e6, 1), "B us": round(j["b"] * 1e6, 1),
             "B/A": round(j["ratio"], 4), "low": _round(j["low"], 4), "high": _round(j["high"], 4),
             "detectable %": _round(None if j["detectable"] is None else 100 * j["detectable"], 1),
             "verdict": j["verdict"], "pairs to settle": j.get("pairs_to_settle")} for j in judgements]
    frame = pd.DataFrame(rows, columns=AB_COLUMNS)
    if frame.empty:
        return frame
    frame["_order"] = frame["family"].map(order)
    return (frame.sort_values(["_order", "B/A"], ascending=[True, False]).drop(columns="_order")
            .reset_index(drop=True))


def peers_table(rows) -> pd.DataFrame:
    """The peers profile's rows (``rnnbench.results.summary.peer_rows``), one per case and implementation."""
    return pd.DataFrame([{
        "case": r.case, "impl": r.impl, "train step ms": _round(r.train_step_ms, 1),
        "GFLOP/s": _round(r.train_gflops, 1),
        "forward ms": _round(r.forward_ms, 2), "forward GFLOP/s": _round(r.forward_gflops, 1),
        "peak at size GFLOP/s": _round(r.peak_gflops, 1), "fraction of peak": _round(r.fraction, 3),
        "vs standard API": _round(r.vs_standard, 2), "build s": _round(r.build_s, 2)} for r in rows])


def crossover_table(points: dict[str, dict[int, dict[str, float]]]) -> pd.DataFrame:
    """The sweep's train step ms: one row per cell and hidden size, a column per implementation, and the fastest."""
    from rnnbench.results.summary import fastest_changes

    out = []
    for cell_name, by_hidden in points.items():
        fastest = dict(fastest_changes(by_hidden)[0])
        for h in sorted(by_hidden):
            out.append({"cell": cell_name, "hidden": h, "fastest": fastest.get(h),
                        **{impl: _round(ms, 2) for impl, ms in sorted(by_hidden[h].items())}})
    return pd.DataFrame(out)


def scan_table(rows) -> pd.DataFrame:
    """The scan profile's crossover: per family and T, its fastest loop and its fastest parallel scan (train step
    and forward, ms per call) and the loop's time over the scan's (above 1: the scan wins)."""
    from rnnbench.results.summary import scan_points

    train, fwd = scan_points(rows, "train_step"), scan_points(rows, "forward")
    out = []
    for family, ways in train.items():
        for T in sorted(set(ways.get("sequential", {})) | set(ways.get("parallel", {}))):
            row = {"family": family, "T": T}
            for measure, points in (("train", train), ("forward", fwd)):
                seq = points.get(family, {}).get("sequential", {}).get(T)
                par = points.get(family, {}).get("parallel", {}).get(T)
                row[f"{measure} loop"] = f"{seq[0]} {seq[1]:.3g} ms" if seq else "n/a"
                row[f"{measure} scan"] = f"{par[0]} {par[1]:.3g} ms" if par else "n/a"
                row[f"{measure} loop/scan"] = _round(seq[1] / par[1], 2) if seq and par else math.nan
            out.append(row)
    return pd.DataFrame(out)


def scan_fit_table(rows) -> pd.DataFrame:
    """Why the crossover lies where it does: each implementation each way, its train step fitted as
    ms = a + b T over the T timed (a: a call's fixed cost; b: a step's), and the operations one train step
    dispatched at the shortest and the longest T (per step of the window at the longest)."""
    from rnnbench.results.summary import scan_fit

    by: dict[tuple[str, str, str], dict[int, tuple[float, float]]] = {}
    for r in rows:
        if r.scan and r.train_step_ms == r.train_step_ms:
            by.setdefault((r.framework, r.impl, r.time_mode), {})[r.steps] = (r.train_step_ms, r.ops)
    out = []
    for (family, impl, way), points in sorted(by.items()):
        a, b = scan_fit({T: ms for T, (ms, _) in points.items()})
        first, last = min(points), max(points)
        ops_last = points[last][1]
        out.append({"family": family, "impl": impl, "way": way, "T timed": f"{first}-{last}",
                    "fixed ms (a)": _round(a, 3), "us per step (b)": _round(b, 2),
                    "ops at shortest T": _nan(points[first][1]), "ops at longest T": _nan(ops_last),
                    "ops per step at longest T": _round(ops_last / last, 2) if ops_last == ops_last else math.nan})
    return pd.DataFrame(out)


def scan_findings(rows) -> list[str]:
    """One line per family: where its fastest parallel scan starts to beat its fastest loop (train step and
    forward), or that it never does up to the longest T timed."""
    from rnnbench.results.summary import scan_crossover, scan_fit, scan_points

    def why(family: str, ways, measure: str) -> str:
        """The fitted cost of one more step each way, of the implementation fastest that way at the longest T
        (fitted over its own lengths): both ways grow linearly in T on one thread, so the scan can only overtake
        where its step costs less than the loop's."""
        b = {}
        for way in ("sequential", "parallel"):
            if not ways.get(way):
                return ""
            impl = ways[way][max(ways[way])][0]
            own = {r.steps: (r.train_step_ms if measure == "train_step" else r.forward_ms) for r in rows
                   if r.scan and r.framework == family and r.impl == impl and r.time_mode == way}
            b[way] = (impl, scan_fit({T: ms for T, ms in own.items() if ms == ms})[1])
        if not all(v == v for _, v in b.values()):
            return ""
        return (f" (one more step costs {b['parallel'][1]:.0f} us by the scan in {b['parallel'][0]}, "
                f"{b['sequential'][1]:.0f} by the loop in {b['sequential'][0]})")

    train, fwd = scan_points(rows, "train_step"), scan_points(rows, "forward")
    return [f"{family}: train step: {scan_crossover(ways)[1]}{why(family, ways, 'train_step')}; forward: "
            f"{scan_crossover(fwd.get(family, {}))[1]}{why(family, fwd.get(family, {}), 'forward')}"
            for family, ways in train.items()]
