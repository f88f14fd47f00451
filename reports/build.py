"""Assembling a report from result files: pure apart from reading the JSON. ``reports.writer`` writes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from reports import figures, summaries
from reports.load import environment, load_curves, load_results
from rnnbench.config import targets_text


@dataclass
class Section:
    key: str  # file stem of its table and figure
    title: str
    description: str
    table: pd.DataFrame | None = None
    figure: Figure | None = None


@dataclass
class Report:
    sources: list[str]
    environment: pd.DataFrame
    sections: list[Section] = field(default_factory=list)


def build_report(paths) -> Report:
    paths = [Path(p) for p in paths]
    frame, curves = load_results(paths), load_curves(paths)
    report = Report(sources=[str(p) for p in paths], environment=environment(paths))
    add = report.sections.append
    add(Section("step_time", "Time per train step",
                "Median epoch time over its steps (warm; whole-epoch variants run an epoch per call), with its "
                f"interquartile range, and the speed-up against {summaries.BASELINE_IMPL}, the original TF1 loop.",
                summaries.speed_table(frame), figures.step_time_figure(frame)))
    add(Section("convergence", "Learning what theory allows",
                "Running mean of 100 step losses of a fresh reference run from the canonical weights, against the "
                "three exact levels: 1 epoch at T5-S4 should reach the t-3 level, 5 epochs at T10-S16 both.",
                summaries.convergence_table(frame), figures.loss_curve_figure(curves)))
    add(Section("time_to_target", "Time to target",
                "Training time (build excluded) until the running mean of 100 step losses first falls below "
                f"{targets_text(' or ')}. Whole-epoch variants are timed per epoch and spread evenly "
                "over its steps.", None, figures.time_to_target_figure(frame)))
    points = summaries.scaling_points(frame)
    if len(points):
        add(Section("scaling", "How the cost grows",
                    "One train step while state_size or num_steps grows from the T5-S4 reference (log-log), with "
                    "each implementation's fitted slope.", summaries.scaling_table(frame),
                    figures.scaling_figure(points)))
    else:
        add(Section("scaling", "How the cost grows",
                    "No sweep in these results: run `rnnbench bench --profile full` for the scaling plots."))
    add(Section("memory", "Peak memory", "Peak growth of the process's resident memory during the reference "
                "run; on CUDA, the GPU's maximum allocated memory.", summaries.memory_table(frame),
                figures.memory_figure(frame)))
    trend = summaries.trend_table(frame)
    if len(trend) >= 2:
        add(Section("trend", "Across runs", "Time per step at T5-S4 in every run given, oldest first.",
                    trend, figures.trend_figure(trend)))
    return report
