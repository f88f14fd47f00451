"""Pure functions: tidy frames in, matplotlib Figures out (never shown, never saved here)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display: figures are only ever rendered to files

import textwrap  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FormatStrFormatter  # noqa: E402

from rnnbench.reports.summaries import newest_run  # noqa: E402
from rnnbench.results.records import TaskFacts  # noqa: E402
from rnnbench.results.stats import regime_slopes  # noqa: E402
from rnnbench.spec.families import FAMILIES, family_of  # noqa: E402
from rnnbench.spec.families import order as family_order  # noqa: E402
from rnnbench.spec.measures import Measure  # noqa: E402

FRAMEWORK_COLORS = {f.name: f.color for f in FAMILIES}  # the family table's; a family it lacks is grey
FAMILY_STYLES = {f.name: style for f, style in zip(FAMILIES, ("-", "--", ":", "-."))}  # loss curves: by family


def _color(framework: str) -> str:
    return FRAMEWORK_COLORS.get(framework, "grey")


def _framework_legend(ax, frameworks) -> None:
    from matplotlib.patches import Patch

    present = sorted(set(frameworks), key=family_order)
    ax.legend(handles=[Patch(color=_color(f), label=f) for f in present], fontsize=8, loc="upper right")


def _panels(n: int, height: float, width: float = 6.0, columns: int = 2) -> tuple[Figure, list]:
    """n panels, at most ``columns`` side by side; spare grid cells are hidden."""
    n = max(n, 1)
    cols = min(n, columns)
    rows = -(-n // cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(rows, cols)).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def step_time_figure(frame: pd.DataFrame, order: list[str], baseline: str) -> Figure:
    """us/step per implementation with IQR error bars and the speed-up against the baseline, a panel per config."""
    fig, panels = _bar_panels(frame, Measure.EPOCH, "us_per_step", ascending=False, order=order)
    for ax, label, rows, y, us_per_step in panels:
        err = np.vstack([rows["us_per_step"] - rows["q1_us_per_step"], rows["q3_us_per_step"] - rows["us_per_step"]])
        ax.errorbar(us_per_step, y, xerr=np.clip(err, 0, None), fmt="none", ecolor="black", capsize=3)
        base = rows.loc[rows["impl"] == baseline, "us_per_step"]
        for yi, us, right in zip(y, rows["us_per_step"], rows["q3_us_per_step"].fillna(rows["us_per_step"])):
            note = f" {us:.0f} us" + (f"  ({base.iloc[0] / us:.1f}x)" if len(base) else "")
            ax.text(max(us, right), yi, note, va="center", fontsize=8)
        _framework_legend(ax, rows["framework"])
        ax.set_xlabel("microseconds per train step (median, IQR bars)")
        ax.set_title(f"{label}: time per step" + (f", speed-up vs {baseline}" if len(base) else ""))
        ax.set_xlim(0, rows["q3_us_per_step"].max() * 1.45)
    return fig


LOSS_UNITS = {"xent": "cross-entropy (nats)", "mse": "mean squared error"}


def loss_curve_figure(curves: pd.DataFrame, order: list[str], task: TaskFacts) -> Figure:
    """Running mean of 100 step losses for every implementation of one task against its theory levels, as the
    run recorded them."""
    labels = [label for label in order if label in set(curves["label"])] or list(order)
    levels = task.levels
    fig, axes = _panels(len(labels), 4.5)
    latest = curves[curves["run"] == curves["run"].iloc[-1]] if len(curves) else curves
    log = task.loss == "mse"  # regression losses fall by orders of magnitude
    impls = sorted(set(latest["impl"]), key=lambda i: (family_order(family_of(i)), i))
    palette = matplotlib.colormaps["tab20"]
    for ax, label in zip(axes, labels):
        rows_label = latest[latest["label"] == label]
        for impl, rows in rows_label.groupby("impl"):  # 16 lines: a colour each, a line style per family
            ax.plot(rows["step"], rows["loss"], label=impl, linewidth=1, color=palette(impls.index(impl) % 20),
                    linestyle=FAMILY_STYLES.get(family_of(impl), "-"))
        for key, level in levels.items():
            if log and level < 1e-9:
                continue  # an exact level of 0 has no place on a log axis; the table names it
            ax.axhline(level, color="black", linestyle="--", linewidth=0.8)
            ax.text(ax.get_xlim()[1], level, f" {level:.4f} {task.labels[key]}", va="bottom", ha="right",
                    fontsize=8)
        ax.set_title(f"{label}: running mean of 100 step losses")
        ax.set_xlabel("train step")
        ax.set_ylabel(LOSS_UNITS[task.loss])
        if log:
            ax.set_yscale("log")
        elif len(levels) > 1:
            ax.set_ylim(min(levels.values()) - 0.015, max(levels.values()) + 0.04)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, ncol=2)
    return fig


def parity_figure(traces: pd.DataFrame, labels_in_order: list[str], tasks: dict[str, TaskFacts] | None = None,
                  reference: str = "numpy") -> Figure:
    """Each implementation's per-step |loss - reference loss| (log scale), a panel per config: loss curves lie on
    top of each other, so this is where agreement, and where it ends, shows. A task whose parity the tests hold
    in another dtype than the run's (``tasks[task].parity_dtype``, as the run recorded it) says why on its
    panel."""
    latest = traces[traces["run"] == traces["run"].iloc[-1]] if len(traces) else traces
    labels = [label for label in labels_in_order if label in set(latest["label"])]
    fig, axes = _panels(len(labels), 3.8)
    for ax, label in zip(axes, labels):
        group = latest[latest["label"] == label]
        ref = group[group["impl"] == reference].set_index("step")["loss"]
        for impl, own in group[group["impl"] != reference].groupby("impl"):
            diff = (own.set_index("step")["loss"] - ref).abs().dropna()
            ax.plot(diff.index, diff.clip(lower=1e-9), label=impl, linewidth=1)
        tolerance = float(group["tolerance"].max())  # the config's, as its run recorded it
        ax.axhline(tolerance, color="black", linestyle="--", linewidth=0.8)
        ax.text(ax.get_xlim()[1], tolerance, f" parity tolerance {tolerance:.2g}", va="bottom", ha="right", fontsize=8)
        ax.set_yscale("log")
        ax.set_title(f"{label}: |step loss - {reference}'s|")
        why = tasks[group["task"].iloc[0]].parity_why if tasks and len(group) else ""
        if why:
            ax.text(0.01, 0.01, "\n".join(textwrap.wrap(why, 70)), transform=ax.transAxes,
                    fontsize=7, va="bottom", ha="left", color="#555555")
        ax.set_xlabel("train step")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, ncol=2)
    return fig


def free_run_figure(free_runs: pd.DataFrame) -> Figure:
    """One held-out sine: the truth against each implementation's free-running generation."""
    latest = free_runs[free_runs["run"] == free_runs["run"].iloc[-1]] if len(free_runs) else free_runs
    fig, (ax,) = _panels(1, 4.0, width=10)
    truth = latest.drop_duplicates("step")
    ax.plot(truth["step"], truth["truth"], color="black", linewidth=2, label="truth")
    for impl, rows in latest.groupby("impl"):
        ax.plot(rows["step"], rows["generated"], linewidth=1, linestyle="--", label=f"{impl} (free-running)")
    ax.set_xlabel("step")
    ax.set_ylabel("value")
    ax.set_title("sine: generation from the first true value, each prediction fed back")
    ax.legend(fontsize=7)
    return fig


def cells_figure(cells: pd.DataFrame) -> Figure:
    """Time per train step of each cell, per implementation, a panel per configuration."""
    configs = list(dict.fromkeys(cells["config"]))
    columns = [c for c in cells.columns if c.endswith("us/step")]
    fig, axes = _panels(len(configs), 0.5 * cells["impl"].nunique() * max(len(columns), 1) / 2 + 1.8)
    for ax, config in zip(axes, configs):
        rows = cells[cells["config"] == config]
        y = np.arange(len(rows))
        height = 0.8 / max(len(columns), 1)
        for k, column in enumerate(columns):
            ax.barh(y + k * height, rows[column].astype(float).fillna(0), height=height, label=column.split()[0])
        ax.set_yticks(y + 0.4 - height / 2, rows["impl"])
        ax.set_xlabel("microseconds per train step")
        ax.set_title(f"{config}: cells side by side")
        ax.legend(fontsize=7)
    return fig


def _bar_panels(frame: pd.DataFrame, measure: str, value: str, ascending: bool, order: list[str]):
    """A figure with one horizontal-bar panel per reference config (``order``) of the newest run, and per panel
    (axes, label, rows, y positions, bar values)."""
    rows_all = newest_run(frame)
    rows_all = rows_all[(rows_all["measure"] == measure) & rows_all["label"].isin(order)]
    labels = [label for label in order if label in set(rows_all["label"])]
    fig, axes = _panels(len(labels), 0.45 * rows_all["impl"].nunique() + 1.5)
    panels = []
    for ax, label in zip(axes, labels):
        rows = rows_all[rows_all["label"] == label].sort_values(value, ascending=ascending, na_position="first")
        y = np.arange(len(rows))
        values = rows[value].astype(float).fillna(0)
        ax.barh(y, values, color=[_color(f) for f in rows["framework"]])
        ax.set_yticks(y, rows["impl"])
        panels.append((ax, label, rows, y, values))
    return fig, panels


def time_to_target_figure(frame: pd.DataFrame, order: list[str]) -> Figure:
    fig, panels = _bar_panels(frame, Measure.TRAIN, "seconds_to_target", ascending=False, order=order)
    for ax, label, rows, y, seconds in panels:
        for yi, s, steps, reached in zip(y, seconds, rows["steps_to_target"], rows["reached"]):
            ax.text(s, yi, f" {s:.2f} s ({int(steps)} steps)" if reached else " not reached", va="center", fontsize=8)
        target = rows["target"].iloc[0] if len(rows) else float("nan")
        ax.set_title(f"{label}: training time until the mean of 100 losses < {target}")
        ax.set_xlabel("seconds of training (build excluded)")
        ax.set_xlim(0, max(seconds.max(), 1e-3) * 1.5)
    return fig


def memory_figure(frame: pd.DataFrame, order: list[str]) -> Figure:
    fig, panels = _bar_panels(frame, Measure.TRAIN, "peak_rss_mb", ascending=True, order=order)
    for ax, label, *_ in panels:
        ax.set_xlabel("peak RSS growth during the reference run (MB)")
        ax.set_title(f"{label}: memory")
    return fig


def overhead_figure(rows, order: list[str]) -> Figure:
    """Each implementation's step at every reference configuration as two stacked bars, its arithmetic at the
    fitted rate and the overhead the rest is, fastest first (as the speed table): ``rows`` are the summary's
    (``rnnbench.results.summary.SummaryRow``) with an overhead share."""
    shared = [r for r in rows if not np.isnan(r.overhead_share)]
    labels = [label for label in order if any(r.label == label for r in shared)]
    fig, axes = _panels(len(labels), 4.0)
    for ax, label in zip(axes, labels):
        mine = sorted((r for r in shared if r.label == label), key=lambda r: -r.us_per_step)
        y = np.arange(len(mine))
        overhead = np.array([r.us_per_step * r.overhead_share for r in mine])
        work = np.array([r.us_per_step for r in mine]) - overhead
        ax.barh(y, work, color=[_color(r.framework) for r in mine], label="arithmetic at the fitted rate")
        ax.barh(y, overhead, left=work, color="#dddddd", edgecolor=[_color(r.framework) for r in mine],
                label="overhead (the rest)")
        for yi, r in zip(y, mine):
            ax.text(r.us_per_step, yi, f" {100 * r.overhead_share:.0f}% overhead", va="center", fontsize=7)
        ax.set_yticks(y, [r.impl for r in mine], fontsize=8)
        ax.set_xlabel("microseconds per train step")
        ax.set_xlim(0, max(r.us_per_step for r in mine) * 1.35)
        ax.set_title(f"{label}: overhead and arithmetic")
        ax.legend(fontsize=7, loc="lower right")
    return fig


def scaling_figure(points: pd.DataFrame, sweeps: tuple[str, ...]) -> Figure:
    """Log-log time per step against each swept field, with each implementation's slopes over the low and the high
    half of the sweep."""
    fig, axes = _panels(len(sweeps), 4.5)
    for ax, sweep in zip(axes, sweeps):
        for impl, rows in points[points["sweep"] == sweep].groupby("impl"):
            slopes = regime_slopes(rows["sweep_value"], rows["us_per_step"])
            ax.plot(rows["sweep_value"], rows["us_per_step"], marker="o", linewidth=1,
                    label=f"{impl} (slopes {slopes['low']:.2f} / {slopes['high']:.2f})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(sweep)
        ax.set_ylabel("microseconds per train step")
        ax.set_title(f"cost against {sweep} (log-log)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return fig


def crossover_figure(points: dict[str, dict[int, dict[str, float]]]) -> Figure:
    """One panel per cell: the train step's time against hidden size (log-log), one line per implementation, the
    fastest at each size marked (``rnnbench.results.summary.sweep_points`` and ``fastest_changes``)."""
    from rnnbench.results.summary import fastest_changes

    fig, axes = _panels(len(points), 4.5)
    for ax, (cell_name, by_hidden) in zip(axes, points.items()):
        sizes = sorted(by_hidden)
        impls = sorted({i for h in sizes for i in by_hidden[h]})
        for impl in impls:
            xs = [h for h in sizes if impl in by_hidden[h]]
            ax.plot(xs, [by_hidden[h][impl] for h in xs], marker=".", linewidth=1, label=impl)
        fastest, finding = fastest_changes(by_hidden)
        if fastest:
            ax.scatter([h for h, _ in fastest], [by_hidden[h][i] for h, i in fastest], s=120, facecolors="none",
                       edgecolors="black", zorder=3, label="fastest")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sizes, [str(h) for h in sizes])
        ax.minorticks_off()
        ax.set_xlabel("hidden units (input = hidden; 50 steps, batch 32)")
        ax.set_ylabel("ms per train step")
        ax.set_title(f"{cell_name}: {finding}"[:90], fontsize=8)
        ax.legend(fontsize=6, ncol=2)
    return fig


def trend_figure(trend: pd.DataFrame, label: str) -> Figure:
    """us/step per implementation across stored runs, in time order, labelled by date and commit."""
    fig, (ax,) = _panels(1, 4.5, width=10)
    impls = [c for c in trend.columns if c not in ("datetime", "commit", "run")]
    x = np.arange(len(trend))
    for impl in impls:
        ax.plot(x, trend[impl], marker="o", linewidth=1, label=impl)
    ticks = [f"{d:%Y-%m-%d %H:%M}\n{c or r}" if pd.notna(d) else str(r)
             for d, c, r in zip(trend["datetime"], trend["commit"], trend["run"])]
    ax.set_xticks(x, ticks, fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("microseconds per train step")
    ax.set_title(f"{label}: time per step across runs")
    if impls:
        ax.legend(fontsize=7, ncol=3)
    return fig


def roofline_figure(points: pd.DataFrame, peak: float) -> Figure:
    """Achieved GFLOP/s of one train step against state size (log-log), one line per implementation, with the run's
    float32 matmul peak drawn across."""
    fig, axes = _panels(1, 4.5, width=8.0, columns=1)
    ax = axes[0]
    for impl, rows in points.groupby("impl"):
        ax.plot(rows["state_size"], rows["gflops"], marker="o", linewidth=1, label=impl)
    if peak == peak:  # not NaN
        ax.axhline(peak, color="black", linestyle="--", linewidth=1, label=f"matmul peak {peak:.0f} GFLOP/s")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("state_size")
    ax.set_ylabel("GFLOP/s (rnnbench.model.flops count)")
    ax.set_title("roofline: achieved rate of one train step against the matmul peak")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return fig


VERDICT_COLORS = {"worse": "#c44e52", "better": "#55a868", "same": "#4c72b0", "inconclusive": "#999999"}


def forest_figure(table: pd.DataFrame, threshold_pct: float) -> Figure:
    """Each benchmark's ratio B/A with its interval, grouped by family (a panel each), on a log axis; the dashed
    lines mark the threshold either side of 1. ``table`` is ``summaries.ab_table``."""
    families = list(dict.fromkeys(table["family"]))
    heights = [max(len(table[table["family"] == f]), 1) for f in families]
    fig = Figure(figsize=(9, 1.0 + 0.22 * sum(heights) + 0.5 * len(families)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(families), 1, sharex=True, gridspec_kw={"height_ratios": heights}))
    limit = 1 + threshold_pct / 100
    for ax, family in zip(axes, families):
        rows = table[table["family"] == family].reset_index(drop=True)
        y = np.arange(len(rows))[::-1]
        for yi, (_, row) in zip(y, rows.iterrows()):
            color = VERDICT_COLORS.get(row["verdict"], "#333333")
            if pd.notna(row["low"]):  # an interval exists (enough pairs)
                ax.plot([row["low"], row["high"]], [yi, yi], color=color, lw=2)
            ax.plot([row["B/A"]], [yi], "o", color=color, ms=4)
        ax.set_yticks(y, [f"{b} [{v}]" for b, v in zip(rows["benchmark"], rows["verdict"])], fontsize=6)
        for x, style in ((1.0, "-"), (limit, "--"), (1 / limit, "--")):
            ax.axvline(x, color="#555555", ls=style, lw=0.8)
        ax.set_xscale("log")
        for axis_format in (ax.xaxis.set_major_formatter, ax.xaxis.set_minor_formatter):
            axis_format(FormatStrFormatter("%.2f"))
        ax.tick_params(axis="x", which="both", labelsize=7)
        ax.set_title(family, fontsize=9, loc="left")
    axes[-1].set_xlabel("B / A (interval: exact signed-rank; dashed: the threshold)")
    return fig


def _ratio_panels(table: pd.DataFrame, by: str, height: float):
    """(the train steps' rows, or every row where there are none; the values of ``by`` in order; a figure with a
    panel per value; its axes): the frame of a figure of B/A ratios."""
    steps = table[table["measure"] == "train_step"]
    if steps.empty:
        steps = table
    panels = list(dict.fromkeys(steps[by]))
    fig = Figure(figsize=(8, height * len(panels)), layout="constrained")
    return steps, panels, fig, np.atleast_1d(fig.subplots(len(panels), 1))


def _ratio_line(ax, x, group: pd.DataFrame, name: str) -> None:
    """One benchmark's B/A at ``x`` with its intervals, labelled by its parameters."""
    line = ax.plot(x, group["B/A"], "o-", ms=3, lw=1, label=name.split("[")[-1].rstrip("]"))[0]
    ax.vlines(x, group["low"].astype(float), group["high"].astype(float), color=line.get_color(), lw=1, alpha=0.6)


def versions_figure(table: pd.DataFrame) -> Figure:
    """Each train step's B/A against the release B ran, one line per benchmark, with its interval (one panel per
    package); 1 is the release A ran."""
    steps, packages, fig, axes = _ratio_panels(table, "package", 3.2)
    for ax, package in zip(axes, packages):
        rows = steps[steps["package"] == package]
        releases = sorted(dict.fromkeys(rows["B release"]), key=_release_key)
        x_of = {r: i for i, r in enumerate(releases)}
        names = sorted(dict.fromkeys(rows["benchmark"]))
        for k, (name, group) in enumerate(rows.groupby("benchmark", sort=True)):
            group = group.sort_values("B release", key=lambda c: c.map(_release_key))
            dodge = (k - (len(names) - 1) / 2) * 0.5 / max(len(names), 1)  # side by side, intervals apart
            _ratio_line(ax, [x_of[r] + dodge for r in group["B release"]], group, name)
        ax.axhline(1.0, color="#555555", lw=0.8)
        ax.set_xticks(range(len(releases)), releases)
        a_release = ", ".join(dict.fromkeys(rows["A release"]))
        ax.set_xlabel(f"{package} release on side B (A: {a_release})")
        ax.set_ylabel("train step B / A")
        ax.legend(fontsize=6, ncol=2)
    return fig


def drift_figure(table: pd.DataFrame) -> Figure:
    """Each train step's B/A against the anchor along the commits measured (in commit order), one line per
    benchmark with its interval, a panel per family; the dashed line marks the threshold."""
    steps, families, fig, axes = _ratio_panels(table, "family", 2.8)
    commits = list(dict.fromkeys(steps["commit"]))  # the table is in commit order
    x_of = {c: i for i, c in enumerate(commits)}
    for ax, family in zip(axes, families):
        rows = steps[steps["family"] == family]
        for name, group in rows.groupby("benchmark", sort=True):
            _ratio_line(ax, [x_of[c] for c in group["commit"]], group, name)
        limit = 1 + rows["threshold %"].max() / 100
        ax.axhline(1.0, color="#555555", lw=0.8)
        ax.axhline(limit, color="#c44e52", ls="--", lw=0.8)
        ax.set_xticks(range(len(commits)), commits, rotation=45, fontsize=6)
        ax.set_ylabel("B / A (the anchor)")
        ax.set_title(f"{family}: drift since {', '.join(dict.fromkeys(rows['anchor']))}", fontsize=9, loc="left")
        ax.legend(fontsize=6, ncol=2)
    axes[-1].set_xlabel("commit (in commit order)")
    return fig


def _release_key(release: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in release.replace("+", ".").split("."))


def truncation_figure(doc: dict) -> Figure:
    """Final loss against n for each truncation style: the median over the seeds, each seed a dot, and the binary
    task's theory levels drawn across with the midpoints that say what was learned."""
    fig = Figure(figsize=(7.5, 4), layout="constrained")
    ax = fig.subplots()
    runs = pd.DataFrame(doc["runs"])
    for style in doc["styles"]:
        rows = runs[runs["style"] == style]
        median = rows.groupby("n")["final_loss"].median()
        line = ax.plot(median.index, median.values, "o-", lw=1.5, ms=4, label=doc["style_labels"][style])[0]
        ax.scatter(rows["n"], rows["final_loss"], s=8, color=line.get_color(), alpha=0.4)
    for level in doc["levels"]:
        ax.axhline(level["value"], color="#555555", lw=0.8)
        ax.annotate(f"{level['label']} ({level['value']:.4f})", (ax.get_xlim()[1], level["value"]), fontsize=7,
                    ha="right", va="bottom", color="#555555")
    for value in doc["thresholds"].values():
        ax.axhline(value, color="#999999", lw=0.6, ls=":")
    ax.set_xlabel("n (backpropagation length)")
    ax.set_ylabel("final loss (mean of the last 100 steps)")
    ax.set_xticks(sorted(runs["n"].unique()))
    ax.legend(fontsize=8)
    return fig


def gradients_figure(doc: dict) -> Figure:
    """mean ||dL_t/dh_(t-k)|| against k, log scale: one panel per condition, the cells overlaid."""
    conditions = list(dict.fromkeys(c["condition"] for c in doc["curves"]))
    fig = Figure(figsize=(3.2 * len(conditions), 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(conditions), sharey=True))
    for ax, condition in zip(axes, conditions):
        for curve in doc["curves"]:
            if curve["condition"] == condition:
                ax.semilogy(range(len(curve["norms"])), curve["norms"], lw=1.5, label=curve["cell"])
        ax.set_title(condition, fontsize=9)
        ax.set_xlabel("k (steps back)")
    axes[0].set_ylabel("mean ||dL_t / dh_(t-k)||")
    axes[0].legend(fontsize=8)
    return fig


def scan_figure(rows) -> Figure:
    """One panel per family: each implementation's train step against T (log-log), the loop solid, the parallel
    scan dashed; the crossover (``rnnbench.results.summary.scan_crossover``) marked, or the title says the scan
    never wins."""
    from rnnbench.results.summary import scan_crossover, scan_points

    lines: dict[str, dict[tuple[str, str], dict[int, float]]] = {}
    for r in rows:
        if r.scan and r.train_step_ms == r.train_step_ms:
            lines.setdefault(r.framework, {}).setdefault((r.impl, r.time_mode), {})[r.steps] = r.train_step_ms
    fastest = scan_points(rows, "train_step")
    fig, axes = _panels(len(lines), 4.0)
    for ax, (family, by_impl) in zip(axes, lines.items()):
        for (impl, way), points in sorted(by_impl.items()):
            Ts = sorted(points)
            loop = way == "sequential"
            ax.plot(Ts, [points[T] for T in Ts], marker=".", linewidth=1, linestyle="-" if loop else "--",
                    label=f"{impl} ({'loop' if loop else 'scan'})")
        crossover, finding = scan_crossover(fastest.get(family, {}))
        if crossover is not None:
            ax.axvline(crossover, color="black", linewidth=0.8, linestyle=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("T, steps in the window (hidden 64, input 64, batch 16)")
        ax.set_ylabel("ms per train step")
        ax.set_title(f"{family}: {finding}"[:90], fontsize=8)
        ax.legend(fontsize=6, ncol=2)
    return fig
