"""What every benchmark record and every run says about itself (DESIGN.md), built in one place.

Records carry ``extra_info`` (impl, framework, version, device, threads, measure, the config fields, final_loss);
runs carry ``machine_info.rnnbench``: versions, BLAS, threads, CPUs, device, profile, and what the reports need
and must not recompute (each task's theory levels and their labels, the reference configurations with their
goals, the baseline).
"""

from __future__ import annotations

import importlib.metadata as md
import platform

from threadpoolctl import threadpool_info

from rnnbench.cpus import allowed_cpus
from rnnbench.harness.lock import lock_facts
from rnnbench.results.records import Record, RunInfo, checked
from rnnbench.results.schema import BENCH_SCHEMA_VERSION
from rnnbench.spec import families, registry
from rnnbench.spec.config import BASELINE_IMPL
from rnnbench.spec.path import path
from rnnbench.spec.references import Reference, reference_configs
from rnnbench.tasks import TASKS

VERSIONED = (*(d for f in families.FAMILIES for d in f.distributions), "pytest-benchmark")


def record_info(impl: str, framework: str, version: str, *, device: str, threads: int, measure: str,
                **more) -> dict:
    """The ``extra_info`` of one benchmark record: who ran, where, what was measured, the path the process took
    (``rnnbench.spec.path``: its framework's, read once its runtime has started; a probe's, the process's), and
    anything more (each a field of ``rnnbench.results.records.Record``)."""
    return checked(Record, {"impl": impl, "framework": framework, "version": version, "device": device,
                            "threads": threads, "measure": measure, "final_loss": None, "path": path(framework),
                            **more})


def case_info(name: str, reference: Reference, versions: dict, measure: str, **more) -> dict:
    """``record_info`` of an implementation at a configuration: its label and every config field too."""
    framework = registry.entry(name).framework
    cfg = reference.config
    fields = {k: v for k, v in cfg.as_dict().items() if k not in ("device", "threads")}
    return record_info(name, framework, versions.get(framework, ""), device=cfg.device, threads=cfg.threads,
                       measure=measure, label=reference.label, **{**fields, **peer_fields(reference, framework),
                                                                   **more})


def peer_fields(reference: Reference, framework: str) -> dict:
    """What a peer case's records say of it, so that the report needs no table of the suite's (none for a
    reference configuration)."""
    if not reference.source:
        return {}
    from rnnbench.spec import families

    swept = {"sweep": "hidden", "sweep_value": reference.config.state_size} if reference.swept else {}
    return {"peer_source": reference.source, "standard_impl": families.family(framework).standard or None, **swept}


def goal_facts(reference: Reference) -> dict | None:
    g = reference.goal
    return None if g is None else {"metric": g.metric, "bound": g.bound, "higher_is_better": g.higher_is_better,
                                   "text": g.text()}


def reference_facts() -> list[dict]:
    """The timed reference configurations as the results record them, in order."""
    return [{"label": r.label, "task": r.config.task, "cell": r.config.cell, "bidirectional": r.config.bidirectional,
             "optimizer": r.config.optimizer, "expected_level": r.expected_level, "target": r.target,
             "loss_band": list(r.loss_band), "goal": goal_facts(r), "epochs": r.config.epochs,
             "num_steps": r.config.num_steps, "state_size": r.config.state_size, "batch_size": r.config.batch_size}
            for r in reference_configs(timed=True)]


def task_facts() -> dict:
    """Each task's theory levels (in its loss's units) and what each means, in order."""
    return {name: {"summary": t.summary, "loss": t.loss, "levels": t.levels().as_dict(),
                   "labels": t.levels().labels(), "parity_dtype": t.parity_dtype, "parity_why": t.parity_why}
            for name, t in TASKS.items()}


def machine_info(*, threads: int, device: str, profile: str, frameworks: list[str]) -> dict:
    """``machine_info.rnnbench`` of a run."""
    versions = {}
    for dist in VERSIONED:
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = None
    return checked(RunInfo, {
        "schema_version": BENCH_SCHEMA_VERSION,
        "versions": versions,
        "python": platform.python_version(),
        "threads": threads,
        "cpus": allowed_cpus(),
        "device": device,
        "profile": profile,
        "frameworks": frameworks,
        "blas": [{k: pool.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
                 for pool in threadpool_info()],
        "tasks": task_facts(),
        "references": reference_facts(),
        "baseline_impl": BASELINE_IMPL,
        "lock": lock_facts(versions),
    })


def record_rate(benchmark, flops: int) -> None:
    """A timed computation's ``flops`` and, from its median, the achieved ``gflops`` (none with
    ``--benchmark-disable``, which keeps no statistics)."""
    benchmark.extra_info["flops"] = flops
    if benchmark.stats is not None:
        benchmark.extra_info["gflops"] = flops / benchmark.stats.stats.median / 1e9
