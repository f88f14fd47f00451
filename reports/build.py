"""Assembling a report from result files: pure apart from reading the JSON. ``reports.writer`` writes it.

Everything the report says about the task (theory levels, reference configurations, targets, the baseline) comes
from the results themselves (``machine_info.rnnbench``), never from the suite's own definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure

from rnnbench.errors import UserError
from rnnbench.reports import figures, summaries
from rnnbench.reports.load import environment, load_curves, load_results, read_runs
from rnnbench.results import run_info
from rnnbench.summary import reference_labels, summary_rows, targets_text


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


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def build_report(paths) -> Report:
    runs = read_runs(paths)  # each file read and checked once
    frame, curves = load_results(runs), load_curves(runs)
    if frame.empty:
        raise UserError(f"report: no benchmark records in {', '.join(str(p) for p, _ in runs)}")
    newest = summaries.newest_run_name(frame)
    doc = next(doc for p, doc in runs if p.stem == newest)  # the run the tables and figures describe
    meta = run_info(doc)
    theory, references, baseline = meta["theory"], meta["references"], meta["baseline_impl"]
    order = reference_labels(doc)
    rows = summary_rows(doc)
    report = Report(sources=[str(p) for p, _ in runs], environment=environment(runs))
    add = report.sections.append
    add(Section("step_time", "Time per train step",
                "Median epoch time over its steps (warm; whole-epoch variants run an epoch per call), with its "
                f"interquartile range, and the speed-up against {baseline}, the original TF1 loop.",
                summaries.speed_table(rows, baseline), figures.step_time_figure(frame, order, baseline)))
    expected = ", ".join(f"{_epochs(r['epochs'])} at {r['label']} should reach the level "
                         f"'{theory['labels'][r['expected_level']]}'" for r in references)
    add(Section("convergence", "Learning what theory allows",
                "Running mean of 100 step losses of a fresh reference run from the canonical weights, against the "
                f"exact levels of the task: {expected}.",
                summaries.convergence_table(rows, theory["labels"]), figures.loss_curve_figure(curves, order, theory)))
    add(Section("time_to_target", "Time to target",
                "Training time (build excluded) until the running mean of 100 step losses first falls below "
                f"{targets_text(doc, ' or ')}. Whole-epoch variants are timed per epoch and spread evenly "
                "over its steps.", None, figures.time_to_target_figure(frame, order)))
    points = summaries.scaling_points(frame)
    if len(points):
        add(Section("scaling", "How the cost grows",
                    f"One train step while state_size or num_steps grows from the {order[0]} reference (log-log), "
                    "with each implementation's fitted slope.", summaries.scaling_table(frame),
                    figures.scaling_figure(points)))
    else:
        add(Section("scaling", "How the cost grows",
                    "No sweep in these results: run `rnnbench bench --profile full` for the scaling plots."))
    add(Section("memory", "Peak memory", "Peak growth of the process's resident memory during the reference "
                "run; on CUDA, the GPU's maximum allocated memory.", summaries.memory_table(rows),
                figures.memory_figure(frame, order)))
    trend = summaries.trend_table(frame, order[0])
    if len(trend) >= 2:
        add(Section("trend", "Across runs", f"Time per step at {order[0]} in every run given, oldest first.",
                    trend, figures.trend_figure(trend, order[0])))
    return report
