"""Assembling a report from result files: pure apart from reading the JSON. ``reports.writer`` writes it.

Everything the report says about the tasks (theory levels, reference configurations, goals, targets, the baseline)
comes from the results themselves (``machine_info.rnnbench``), never from the suite's own definitions. The report
opens with findings computed from the results, then speed, parity, a section per task, and the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure

from rnnbench.errors import UserError
from rnnbench.reports import figures, summaries
from rnnbench.reports.load import (
    environment,
    load_curves,
    load_free_runs,
    load_results,
    load_traces,
    read_runs,
)
from rnnbench.results.records import ReferenceFacts, TaskFacts
from rnnbench.results.schema import outcome, run_info
from rnnbench.results.summary import (
    peak_gflops,
    peer_rows,
    reference_labels,
    run_overhead,
    summary_rows,
    sweep_points,
    targets_text,
)
from rnnbench.spec.measures import Measure


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


def _expected(references: list[ReferenceFacts], tasks: dict[str, TaskFacts]) -> str:
    parts = []
    for r in references:
        if r.goal:
            parts.append(f"{_epochs(r.epochs)} at {r.label} should reach {r.goal.text} on held-out data")
        else:
            label = tasks[r.task].labels[r.expected_level]
            parts.append(f"{_epochs(r.epochs)} at {r.label} should reach the level '{label}'")
    return "; ".join(parts)


def ab_sections(path, doc: dict) -> list[Section]:
    """A paired comparison (``rnnbench ab --json``): its verdicts and their forest plot, grouped by family."""
    meta = doc["rnnbench_ab"]
    sides = meta["sides"]
    table = summaries.ab_table(doc["judgements"])
    name = " vs ".join(f"{k} = {v['name']} ({(v['commit'] or 'working tree')[:10]})"
                       + "".join(f" + {o}" for o in v.get("overrides") or []) for k, v in sides.items())
    text = (f"{name}: {meta['pairs']} repetitions ({meta['design']}), each timing both sides in fresh processes at "
            "one thread; B/A is the Hodges-Lehmann estimate of the repetitions' ratios, with its exact signed-rank "
            f"interval (>= {meta['confidence']:.0%}); the dashed lines mark the threshold, "
            f"{meta['threshold_pct']:g}%. Detectable: the smallest change these pairs find at 80% power.")
    paths = meta.get("path_differences") or []
    if paths:
        text += " The sides took different paths, so a change of time may be the path, not the code: " + "; ".join(
            p.removeprefix("path differs ") for p in paths) + "."
    failures = doc["loss"]["failures"]
    text += (" B's training runs: " + ("; ".join(failures) if failures else "every final loss in its band") + "."
             if doc["loss"]["docs"] else " No loss check in this comparison.")
    if table.empty:
        return [Section("ab", "Paired comparison", text + " Nothing was timed: " + "; ".join(meta["notes"]))]
    return [Section("ab", "Paired comparison", text, table, figures.forest_figure(table, meta["threshold_pct"]))]


def drift_sections(abs_: list[tuple]) -> list[Section]:
    """Drift since an anchor: the paired comparisons of one fixed commit against later ones, along the commits."""
    table = summaries.drift_table([d for _, d in abs_])
    if table.empty:
        return []
    finding = summaries.drift_finding(table)
    return [Section("drift", "Drift since the anchor",
                    finding[:1].upper() + finding[1:] + ". "
                    "The anchor (benchmarks/baselines/ANCHOR, moved only on purpose) against each commit measured "
                    "(rnnbench ab @benchmarks/baselines/ANCHOR HEAD, paired on one machine): each benchmark's B/A, "
                    "the Hodges-Lehmann estimate of the repetitions' ratios, with its signed-rank interval, in "
                    "commit order: a thousand small cuts show here where each commit's gate passed.", table,
                    figures.drift_figure(table))]


def versions_sections(abs_: list[tuple]) -> list[Section]:
    """Across versions: the paired comparisons of one code across releases of one package, side by side."""
    table = summaries.versions_table([d for _, d in abs_])
    if table.empty:
        return []
    return [Section("versions", "Across versions",
                    "The same code with one package at another release on each side (rnnbench ab --a PKG==X --b "
                    "PKG==Y): each benchmark's B/A, the Hodges-Lehmann estimate of the repetitions' ratios, with its "
                    "signed-rank interval, per release. What moved (an interval wholly off 1): "
                    + summaries.versions_finding(table) + ".", table, figures.versions_figure(table))]


def study_sections(studies: list[tuple]) -> list[Section]:
    """Each study's section: its finding first, its table and its figure."""
    from rnnbench.results.studies import summary as study_summary

    sections = []
    for path, doc in studies:
        summary = study_summary(doc)
        if doc["study"] == "gradients":
            sections.append(Section(
                "study-gradients", "Gradient flow through time",
                f"{summary['finding']} From {path.name}: mean ||dL_t/dh_(t-k)|| against k (per sequence, over the "
                f"batch and the window's last {doc['positions']} positions), NumPy's backpropagation in float64, the "
                f"binary task at {doc['base']['state_size']} units; 'per step' is the curve's geometric rate past "
                "k = 5 (below 1 it vanishes, above 1 it explodes). Conditions: the canonical initialisation, after "
                f"{doc['epochs']} epoch(s) of training, and the recurrent weights scaled to spectral radius "
                + ", ".join(f"{r:g}" for r in doc["radii"]) + " (each gate's block of a gated cell alike). "
                "The LSTM's curve is the gradient at h with c held. Clipping: training from the largest radius, "
                f"{doc['clipping'][0]['steps'] if doc['clipping'] else 0} steps, without and with "
                f"--clip-norm {doc['clip_norm']:g}. {doc['seconds']:.0f} s on {doc['machine']['cpu']}.",
                pd.DataFrame(summary["table"]), figures.gradients_figure(doc)))
            if doc["clipping"]:
                sections.append(Section("study-clipping", "Gradient clipping from an exploding start",
                                        "Global-norm clipping (--clip-norm) during training from the largest "
                                        "spectral radius: each step's gradient norm before clipping, the steps "
                                        "clipped and the loss reached (mean of the last 100 steps).",
                                        pd.DataFrame(doc["clipping"])))
            continue
        sections.append(Section(
            "study-truncation", "Truncation styles",
            f"{summary['finding']} From {path.name}: the binary task with the vanilla RNN ({doc['base']['state_size']} "
            f"units, {doc['base']['optimizer']} {doc['base']['learning_rate']}), {doc['epochs']} epochs of a fresh "
            f"stream per run, trained by {doc['impl']}, seeds {', '.join(map(str, doc['seeds']))}; n is the "
            "backpropagation length each style is swept over (TF style: windows of n side by side, each error "
            "backpropagated 1 to n steps; true: BPTT(n, 1), every error n steps; BPTT(2n, n): n+1 to 2n steps). A "
            "dependency counts as learned where the median final loss over the seeds lies below the midpoint of "
            "the theory levels either side of it (t-3: "
            + ", t-8: ".join(f"{v:.4f}" for v in doc["thresholds"].values())
            + f"). {doc['seconds']:.0f} s on {doc['machine']['cpu']}.",
            pd.DataFrame(summary["table"]), figures.truncation_figure(doc)))
    return sections


def build_report(paths) -> Report:
    from rnnbench.reports.load import split_kinds

    paths, abs_, studies = split_kinds(paths)
    if not paths:  # only comparisons and studies: the environment of the comparisons' B side, then their sections
        runs = [(p, d["repetitions"][0]["docs"]["B"] if d["repetitions"] else next(iter(d["loss"]["docs"].values())))
                for p, d in abs_ if d["repetitions"] or d["loss"]["docs"]]
        report = Report(sources=[str(p) for p, _ in abs_ + studies], environment=environment(runs))
        report.sections += drift_sections(abs_) + versions_sections(abs_)
        for p, d in abs_:
            report.sections += ab_sections(p, d)
        report.sections += study_sections(studies)
        return report
    report = build_run_report(paths)
    report.sections += drift_sections(abs_) + versions_sections(abs_)
    for p, d in abs_:
        report.sections += ab_sections(p, d)
    report.sections += study_sections(studies)
    report.sources += [str(p) for p, _ in abs_ + studies]
    return report


def build_run_report(paths) -> Report:
    runs = read_runs(paths)  # each file read and checked once
    frame, curves, traces = load_results(runs), load_curves(runs), load_traces(runs)
    if frame.empty:
        raise UserError(f"report: no benchmark records in {', '.join(str(p) for p, _ in runs)}")
    newest = summaries.newest_run_name(frame)
    doc = next(doc for p, doc in runs if p.stem == newest)  # the run the tables and figures describe
    meta = run_info(doc)
    tasks, references, baseline, run = meta.tasks, meta.references, meta.baseline_impl, outcome(doc)
    rows = summary_rows(doc)
    peak = peak_gflops(doc)
    present = [label for label in reference_labels(doc) if any(r.label == label for r in rows)]
    order = present or reference_labels(doc)
    newest_traces = traces[traces["run"] == newest]
    parity = summaries.parity_table(newest_traces)
    report = Report(sources=[str(p) for p, _ in runs], environment=environment(runs))
    add = report.sections.append
    repeats = {p: outcome(d).repeated_records for p, d in runs if outcome(d).repeated_records}
    if repeats:
        add(Section("left_out", "Left out", "Records that repeat an earlier record of their file (its name and its "
                    "facts: configuration, machine) were left out of every table and figure; a results file holds "
                    "each benchmark once: " + "; ".join(f"{n:,} in {p}" for p, n in repeats.items())
                    + "."))
    twice = summaries.repeat_runs(frame)  # the same code run twice on this machine: how the medians repeated
    rerun = summaries.repeat_table(frame, *twice) if twice else pd.DataFrame()
    add(Section("findings", "Findings", "Computed from the newest run: the fastest implementation at each "
                "configuration and its margin over the next; each framework's fastest and slowest variant by train "
                "step, with what one step dispatches (launches into the runtime, operations run: the section "
                "\"What one step dispatches\"); the largest parity deviation, what missed its target, and how the "
                "step medians repeated an earlier run of the same code on this machine (the section \"Run to run\").",
                summaries.findings(rows, parity, summaries.scaling_points(frame),
                                   summaries.repeat_finding(rerun) if len(rerun) else None, peer_rows(doc))))
    peer_results = peer_rows(doc)  # --profile peers
    sweep = sweep_points(peer_results)
    scan_results = [r for r in peer_results if r.scan]  # --profile scan
    peer_results = [r for r in peer_results if not r.swept and not r.scan]
    peers = summaries.peers_table(peer_results)
    if scan_results:
        add(Section("in_parallel_over_time", "In parallel over time",
                    "minGRU (Feng et al. 2024; h_t = (1 - z_t) h_{t-1} + z_t g(k_t), linear in h) by a loop over the "
                    "window and by a parallel scan (JAX: lax.associative_scan; NumPy, PyTorch, TensorFlow: the "
                    "log-space form, cumsum and logcumsumexp; rnnbench/model/scan.py), at T = 16 to 4,096, hidden "
                    "64, input 64, batch 16, one layer (--profile scan). Each family's fastest implementation each "
                    "way, the train step (forward, BPTT, Adam) and the forward pass; above 1 in loop/scan the scan "
                    "wins. Findings: " + " ".join(f"{line}." for line in summaries.scan_findings(scan_results))
                    + " An implementation that unrolls the window into its graph is timed up to the length its "
                    "registry row gives (Entry.unrolled: 256 steps, 64 under XLA); the others at every T. Memory "
                    "is not measured here: both ways keep O(T B H) per window for the backward pass (the loop "
                    "each step's gates, the scan its cumulative sums and every state).",
                    summaries.scan_table(scan_results), figures.scan_figure(scan_results)))
        add(Section("in_parallel_over_time_why", "In parallel over time: why",
                    "Each implementation's train step fitted as ms = a + b T over the T it was timed at (a: what a "
                    "call costs whatever its length; b: what one more step costs), and the operations one train "
                    "step ran (rnnbench/spec/dispatch.py: eager ops, or the compiled program's kernels). A loop pays "
                    "its per-step dispatches in b; the scan replaces them by a few whole-window operations, whose "
                    "cost per step is arithmetic (several times the loop's: exp, log1p and the cumulative passes "
                    "over T B H elements).", summaries.scan_fit_table(scan_results)))
    if sweep:
        add(Section("crossover", "Where the fastest implementation changes",
                    "Each cell's train step over hidden sizes 16 to 1024 at 50 steps, batch 32, input = hidden "
                    "(--profile peers, the sweep-CELL-hH cases), log-log, one line per implementation, the fastest at "
                    "each size circled; the findings name the size at which it changes. Only implementations timed "
                    "at every size compete.", summaries.crossover_table(sweep), figures.crossover_figure(sweep)))
    if len(peers):
        add(Section("peers", "At the sizes users run",
                    "The peers' configurations (rnnbench/spec/peers.py: PyTorch's fastrnns, DeepBench, stefbraun, "
                    "glample) on random data: each implementation's train step (forward, backward, Adam) and forward "
                    "pass, GFLOP/s, its fraction of NumPy's float32 matmul rate on the same products at the case's "
                    "shapes in the same run (benchmarks/test_peers.py: all steps' input projection in one product, "
                    "a product a step, the weights' gradient in one; at an inference case, the forward's alone), "
                    "its build time, and its speed-up over its framework's standard API (nn.LSTM, Keras, lax.scan; "
                    "above 1: faster). Cases no implementation can build yet are in \"Not applicable\".", peers))
    failed = run.failed
    if failed:
        add(Section("failed", "Failed", "Benchmarks that crashed or diverged in this run, each with its error; the "
                    "others ran. rnnbench bench exited 1.",
                    pd.DataFrame([{"impl": f.impl, "benchmark": f.test, "error": f.error} for f in failed])))
    gaps = summaries.not_applicable_table(run.not_applicable)
    if len(gaps):
        add(Section("not_applicable", "Not applicable",
                    "Points of the grid an implementation declares it does not support, or builds too slowly for "
                    "the run's profile (its registry entry, with the reason): n/a, never built or timed.", gaps))
    add(Section("step_time", "Time per train step",
                "Median epoch time over its steps (warm; whole-epoch variants run an epoch per call), with its "
                f"interquartile range, and the speed-up against {baseline}, the original TF1 loop. Where the "
                "reference training run had as many epochs after its first as the profile times, those epochs are "
                "the rounds (the same run_epoch, not run again).",
                summaries.speed_table(rows, baseline, peak), figures.step_time_figure(frame, order, baseline)))
    if len(rerun):
        earlier, latest = twice
        key = frame[frame["run"] == latest].iloc[0]
        add(Section("repeat", "Run to run",
                    f"The same code timed twice on one machine: {earlier} and {latest}, both of commit "
                    f"{key['commit']} on {key['machine']} ({key['cpu']}), {key['run_threads']} thread(s), profile "
                    f"{key['profile']}. Every step median both timed (a train step, a forward window, an epoch per "
                    f"step), the newest over the earlier: {summaries.repeat_finding(rerun)}. A median marked NO "
                    "moved by more than the tolerance with no change of code; a paired comparison (rnnbench ab) "
                    "says whether a change is real.", rerun))
    if len(parity):
        add(Section("parity", "Parity with NumPy, step by step",
                    "Each implementation's dloss = |step loss - numpy's step loss| over the first steps of the "
                    "reference run, from the same canonical weights and data (log scale). The tests hold the first 50 "
                    "steps within 1e-4; float32 rounding then grows through the training. A peer case's run "
                    "(--profile peers) is its parity at size: its 20 steps within the case's tolerance, derived from "
                    "float32 accumulation over its longest product (rnnbench/spec/parity.py), the dashed line."
                    + "".join(f" {t}: {f.parity_why}." for t, f in tasks.items() if f.parity_why), parity,
                    figures.parity_figure(newest_traces, [*order, *(c for c in parity["config"].unique()
                                                                    if c not in order)], tasks)))
    for task, facts in tasks.items():
        task_refs = [r for r in references if r.task == task and r.label in order]
        if not task_refs:
            continue
        labels = [r.label for r in task_refs]
        levels = ", ".join(f"{v:.4f} {facts.labels[k]}" for k, v in facts.levels.items())
        task_rows = [r for r in rows if r.label in labels]
        add(Section(f"task-{task}", f"Task {task}: learning what theory allows",
                    f"{facts.summary}. Loss: {facts.loss}; theory levels: {levels}. Running mean of 100 step "
                    f"losses of a fresh reference run from the canonical weights: {_expected(task_refs, tasks)}.",
                    summaries.convergence_table(task_rows, facts.labels),
                    figures.loss_curve_figure(curves[curves["label"].isin(labels)], labels, facts)))
        free_runs = load_free_runs([(p, d) for p, d in runs if p.stem == newest])
        free_runs = free_runs[free_runs["label"].isin(labels)]
        if len(free_runs):
            add(Section(f"task-{task}-free-run", f"Task {task}: free-running generation",
                        "From the first true value of one held-out sequence, each prediction is fed back as the next "
                        "input; the table above gives each implementation's free-running MSE over every held-out "
                        "sequence.", None, figures.free_run_figure(free_runs)))
        accuracy = summaries.accuracy_table(task_rows)
        if len(accuracy):
            add(Section(f"task-{task}-accuracy", f"Task {task}: test accuracy",
                        "Accuracy of the class read at the last step, on the held-out test images.", accuracy))
    add(Section("time_to_target", "Time to target",
                "Training time (build excluded) until the running mean of 100 step losses first falls below "
                f"{targets_text(doc, ' or ')}. Whole-epoch variants are timed per epoch and spread evenly "
                "over its steps.", None, figures.time_to_target_figure(frame, order)))
    cells = summaries.cells_table(frame)
    if len(cells):
        add(Section("cells", "Cells side by side", "One train step of the vanilla RNN, the LSTM and the GRU at the "
                    "same configuration, per implementation (full profile).", cells, figures.cells_figure(cells)))
    points = summaries.scaling_points(frame)
    if len(points):
        add(Section("scaling", "How the cost grows",
                    f"One train step while state_size, num_steps or batch_size grows from the {order[0]} reference "
                    "(log-log), with each implementation's log-log slope over the low half of each sweep (bound by "
                    "per-call overhead) and over the high half (bound by arithmetic).", summaries.scaling_table(frame),
                    figures.scaling_figure(points, summaries.SCALING_SWEEPS)))
    else:
        add(Section("scaling", "How the cost grows",
                    "No sweep in these results: run `rnnbench bench --profile full` for the scaling plots."))
    fits = run_overhead(doc)
    if fits:
        add(Section("overhead", "Overhead and arithmetic",
                    "Each implementation's train step fitted as overhead + flops / rate over its state-size sweep "
                    "(least squares on relative error): the intercept is what a step costs with no arithmetic "
                    "(Python, dispatch, Session calls, launches), the rate what its arithmetic runs at; R^2 says how "
                    "well a straight line holds (below 0.95, the rate itself changes with size: caches, threads, "
                    "another kernel). The batch-size sweep is left out: what it grows at small states is mostly "
                    "work the FLOP count leaves out (gates, nonlinearities, the loss), which no one rate fits. At "
                    "each reference configuration, the overhead share is what the arithmetic at that rate does not "
                    "explain of the measured step.",
                    summaries.overhead_table(rows, fits), figures.overhead_figure(rows, order)))
    else:
        add(Section("overhead", "Overhead and arithmetic",
                    "No sweep in these results: `rnnbench bench --profile full` fits each implementation's step "
                    "time as overhead + arithmetic and shows the share of each at the reference configurations."))
    denormals = summaries.denormal_table(frame)
    if len(denormals):
        add(Section("denormal", "Denormals",
                    f"{summaries.denormal_finding(denormals)} One train step of "
                    f"{', '.join(frame.loc[frame['measure'] == Measure.DENORMAL, 'label'].unique())} on its inputs "
                    "and on the same inputs scaled below the smallest normal float, which puts every state, "
                    "pre-activation and weight gradient into denormals unless the arithmetic flushes them to zero "
                    "(\"flushes denormals\", measured in each run's path). A framework that does not flush may take "
                    "a slow path on them (oneDNN#561 measured an LSTM 18-27x slower); one that flushes computes "
                    "zeros instead, a different result (full profile, or `--measure denormal`).", denormals))
    truncation = summaries.truncation_cost_table(frame)
    if len(truncation):
        add(Section("truncation_cost", "What truncation costs",
                    f"{summaries.truncation_cost_finding(truncation)} One train step of "
                    f"{', '.join(sorted(set(frame.loc[frame['measure'] == Measure.TRUNCATION, 'label'])))} as "
                    "BPTT(k2, k1): a window of k2 steps that advances the stream by k1, so its time over k1 is "
                    "what one time step of the stream costs (full profile, or `--measure truncation`).", truncation))
    dispatched = summaries.dispatch_table(rows)
    if len(dispatched):
        add(Section("dispatch", "What one step dispatches",
                    "One more train step after its timing, counted with each framework's own tool: launches are "
                    "the calls from Python into the runtime (an eager operation, a compiled function or graph, a "
                    "Session.run), ops the operations that ran for them. "
                    + " ".join(f"{fw}: {how}." for fw, how in summaries.dispatch_how(frame).items())
                    + " Where each operation is a launch of its own (NumPy, PyTorch's eager variants), the step time "
                    "per launch is what a call from Python costs; where the step is one launch (a Session.run, a "
                    "tf.function, a jitted JAX step), that cost moves into the runtime, which schedules the ops. The "
                    "counts are exact for what each tool sees; across frameworks, compare orders of magnitude.",
                    dispatched))
    roofline = summaries.roofline_points(frame)
    peak_text = (f"the run's float32 matmul peak, {peak:.1f} GFLOP/s at its thread count" if peak == peak
                 else "the run's float32 matmul peak (not measured in these results)")
    if len(roofline):
        add(Section("roofline", "Roofline",
                    "Achieved GFLOP/s of one train step while state_size grows (the products and the update, as "
                    f"rnnbench/model/flops.py counts them, over the median step time), against {peak_text}. The speed "
                    "table's fraction of peak is the same ratio at the reference configurations.", None,
                    figures.roofline_figure(roofline, peak)))
    else:
        add(Section("roofline", "Roofline",
                    f"The speed table gives each reference's achieved GFLOP/s and its fraction of {peak_text}; "
                    "`rnnbench bench --profile full` adds the rate against state size."))
    paths = summaries.path_table(frame)
    if len(paths):
        moved = paths[paths["other runs"] != ""]
        add(Section("path", "The path each run took",
                    "What each framework ran with in the newest run, read back from the running process: oneDNN, "
                    "the matmul precision, TF32, XLA flags, x64, thread pools, whether its arithmetic flushes "
                    "denormals (measured), the BLAS with the kernel it chose. "
                    + (f"{len(moved)} switch{'es' * (len(moved) > 1)} took another value in an earlier run given "
                       "(\"other runs\"): a change of time between those runs may be the path, not the code."
                       if len(moved) else "Every earlier run given took the same path."), paths))
    add(Section("memory", "Peak memory", "Peak growth of the process's resident memory during the reference "
                "run; on CUDA, the GPU's maximum allocated memory.", summaries.memory_table(rows),
                figures.memory_figure(frame, order)))
    trend = summaries.trend_table(frame, order[0])
    if len(trend) >= 2:
        add(Section("trend", "Across runs", f"Time per step at {order[0]} in every run given, oldest first.",
                    trend, figures.trend_figure(trend, order[0])))
    return report
