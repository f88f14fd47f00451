"""Pure functions: the tidy frame in, display tables (DataFrames) out. No I/O, no plotting.

Tables describe the newest run in the frame; ``trend_table`` spans every run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnbench.config import BASELINE_IMPL, reference_configs
from rnnbench.stats import loglog_slope
from rnnbench.task import LEVEL_LABELS, theory_levels

REFERENCE_ORDER = tuple(ref.label for ref in reference_configs())


def newest_run(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the most recent run (by its datetime, then by name)."""
    runs = frame[["run", "datetime"]].drop_duplicates().sort_values(["datetime", "run"])
    return frame[frame["run"] == runs["run"].iloc[-1]]


def _reference_rows(frame: pd.DataFrame, measure: str) -> pd.DataFrame:
    rows = frame[(frame["measure"] == measure) & frame["label"].isin(REFERENCE_ORDER)].copy()
    rows["order"] = rows["label"].map(REFERENCE_ORDER.index)
    return rows


def speed_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per config and implementation: us/step (median epoch time over its steps) with its IQR, the speed-up
    against tf-cell, one train step, one forward window and the build time. Fastest first per config."""
    run = newest_run(frame)
    epoch = _reference_rows(run, "epoch")
    keyed = {m: run[run["measure"] == m].set_index(["label", "impl"]) for m in ("train_step", "forward", "build")}
    base = epoch[epoch["impl"] == BASELINE_IMPL].set_index("label")["us_per_step"]
    table = pd.DataFrame({
        "config": epoch["label"],
        "impl": epoch["impl"],
        "framework": epoch["framework"],
        "us/step": epoch["us_per_step"].round(1),
        "IQR us": (epoch["q3_us_per_step"] - epoch["q1_us_per_step"]).round(1),
        f"vs {BASELINE_IMPL}": (epoch["label"].map(base) / epoch["us_per_step"]).round(2),
        "train_step us": [_lookup(keyed["train_step"], r, "us_per_step", 1) for r in epoch.itertuples()],
        "forward us": [_lookup(keyed["forward"], r, "us_per_step", 1) for r in epoch.itertuples()],
        "build s": [_lookup(keyed["build"], r, "median_s", 3) for r in epoch.itertuples()],
        "_order": epoch["order"],
    })
    return _finish(table.sort_values(["_order", "us/step"]))


def convergence_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per config and implementation: final loss of the reference run against the theory level it should
    reach, and the time (training seconds and steps) until the running mean of 100 losses met the target."""
    levels = theory_levels().as_dict()
    train = _reference_rows(newest_run(frame), "train")
    table = pd.DataFrame({
        "config": train["label"],
        "impl": train["impl"],
        "final loss": train["final_loss"].round(4),
        "expected": train["expected_level"].map(lambda k: f"{levels[k]:.4f} ({LEVEL_LABELS[k]})"),
        "reached level": train["nearest_level"].map(LEVEL_LABELS),
        "learned": np.where(train["nearest_level"] == train["expected_level"], "yes", "NO"),
        "target": train["target"],
        "seconds to target": train["seconds_to_target"].round(3),
        "steps to target": pd.Series([int(v) if pd.notna(v) else None for v in train["steps_to_target"]],
                                     index=train.index, dtype=object),
        "_order": train["order"],
    })
    table.loc[~train["reached"].astype(bool).to_numpy(), ["seconds to target"]] = np.nan
    return _finish(table.sort_values(["_order", "final loss", "impl"]))


def memory_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Peak RSS growth during the reference run (and the GPU's maximum allocated memory on CUDA)."""
    train = _reference_rows(newest_run(frame), "train")
    table = pd.DataFrame({
        "config": train["label"], "impl": train["impl"], "device": train["device"],
        "peak RSS growth MB": train["peak_rss_mb"].round(1),
        "CUDA max allocated MB": train["cuda_max_allocated_mb"].astype(float).round(1),
        "_order": train["order"],
    })
    return _finish(table.sort_values(["_order", "peak RSS growth MB"], ascending=[True, False]))


def scaling_points(frame: pd.DataFrame) -> pd.DataFrame:
    """The sweep rows of the newest run: impl, sweep, sweep_value, us_per_step."""
    rows = newest_run(frame)
    rows = rows[rows["measure"] == "scaling"]
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


def trend_table(frame: pd.DataFrame, label: str = "T5-S4") -> pd.DataFrame:
    """us/step at one reference config, one row per run (oldest first), one column per implementation."""
    epoch = frame[(frame["measure"] == "epoch") & (frame["label"] == label)]
    if epoch.empty:
        return pd.DataFrame(columns=["datetime", "commit", "run"])
    wide = epoch.pivot_table(index=["datetime", "commit", "run"], columns="impl", values="us_per_step",
                             aggfunc="median").round(1)
    wide.columns.name = None
    return wide.reset_index().sort_values(["datetime", "run"]).reset_index(drop=True)


def _lookup(table: pd.DataFrame, row, column: str, digits: int):
    try:
        value = table.loc[(row.label, row.impl), column]
    except KeyError:
        return np.nan
    return round(float(value.iloc[0] if isinstance(value, pd.Series) else value), digits)


def _finish(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns="_order").reset_index(drop=True)
