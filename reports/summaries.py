"""Pure functions: summary rows and the tidy frame in, display tables (DataFrames) out. No I/O, no plotting.

The speed and convergence tables are the rows of ``rnnbench.summary`` (one definition of each column, shared
with the CLI's summary) in pandas form. Tables describe the newest run; ``trend_table`` spans every run.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rnnbench.results import Measure
from rnnbench.stats import loglog_slope
from rnnbench.summary import SummaryRow


def newest_run_name(frame: pd.DataFrame) -> str:
    """The most recent run (by its datetime, then by name): the one the tables and figures describe."""
    runs = frame[["run", "datetime"]].drop_duplicates().sort_values(["datetime", "run"])
    return runs["run"].iloc[-1]


def newest_run(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the most recent run."""
    return frame[frame["run"] == newest_run_name(frame)]


def _nan(value):
    return np.nan if value is None else value


def speed_table(rows: list[SummaryRow], baseline: str) -> pd.DataFrame:
    """Per config and implementation: us/step (median epoch time over its steps) with its IQR, the speed-up
    against the baseline, one train step, one forward window and the build time. Fastest first per config."""
    epoch = [r for r in rows if not math.isnan(r.us_per_step)]
    return pd.DataFrame({
        "config": [r.label for r in epoch],
        "impl": [r.impl for r in epoch],
        "framework": [r.framework for r in epoch],
        "us/step": [round(r.us_per_step, 1) for r in epoch],
        "IQR us": [round(r.iqr_us_per_step, 1) for r in epoch],
        f"vs {baseline}": [round(r.speedup, 2) for r in epoch],
        "train_step us": [round(r.train_step_us, 1) for r in epoch],
        "forward us": [round(r.forward_us, 1) for r in epoch],
        "build s": [round(r.build_s, 3) for r in epoch],
    })


def convergence_table(rows: list[SummaryRow], labels: dict[str, str]) -> pd.DataFrame:
    """Per config and implementation: final loss of the reference run against the theory level it should
    reach (``labels`` says what each level means), and the time (training seconds and steps) until the running
    mean of 100 losses met the target. Ordered by config, then final loss."""
    order = {label: i for i, label in enumerate(dict.fromkeys(r.label for r in rows))}
    trained = sorted((r for r in rows if r.trained), key=lambda r: (order[r.label], r.final_loss, r.impl))
    return pd.DataFrame({
        "config": [r.label for r in trained],
        "impl": [r.impl for r in trained],
        "final loss": [round(r.final_loss, 4) for r in trained],
        "expected": [f"{r.expected_loss:.4f} ({labels[r.expected_level]})" for r in trained],
        "reached level": [labels[r.nearest_level] for r in trained],
        "learned": ["yes" if r.learned else "NO" for r in trained],
        "target": [r.target for r in trained],
        "seconds to target": [round(r.seconds_to_target, 3) if r.reached else np.nan for r in trained],
        "steps to target": pd.Series([int(r.steps_to_target) if r.reached else None for r in trained], dtype=object),
    })


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
    """The sweep rows of the newest run: impl, sweep, sweep_value, us_per_step."""
    rows = newest_run(frame)
    rows = rows[rows["measure"] == Measure.SCALING]
    return rows[["impl", "sweep", "sweep_value", "us_per_step"]].sort_values(["sweep", "impl", "sweep_value"])


def scaling_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per implementation: the log-log slope of step time against state_size and against num_steps."""
    points = scaling_points(frame)
    out = []
    for impl, rows in points.groupby("impl", sort=True):
        row = {"impl": impl}
        for sweep in ("state_size", "num_steps"):
            part = rows[rows["sweep"] == sweep]
            row[f"slope vs {sweep}"] = round(loglog_slope(part["sweep_value"], part["us_per_step"]), 2)
        out.append(row)
    return pd.DataFrame(out, columns=["impl", "slope vs state_size", "slope vs num_steps"])


def trend_table(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """us/step at one reference config, one row per run (oldest first), one column per implementation."""
    epoch = frame[(frame["measure"] == Measure.EPOCH) & (frame["label"] == label)]
    if epoch.empty:
        return pd.DataFrame(columns=["datetime", "commit", "run"])
    wide = epoch.pivot_table(index=["datetime", "commit", "run"], columns="impl", values="us_per_step",
                             aggfunc="median").round(1)
    wide.columns.name = None
    return wide.reset_index().sort_values(["datetime", "run"]).reset_index(drop=True)
