"""The reference configurations: each task's seed settings (and the binary task's two classic points), what each
must reach, and the full profile's cell sweep. Benchmarks time them, the gate holds their loss bands, tests
check convergence at them."""

from __future__ import annotations

from dataclasses import dataclass

from rnnbench.spec.cells import CELLS
from rnnbench.spec.config import RunConfig
from rnnbench.spec.measures import REFERENCE_MEASURES, Measure
from rnnbench.tasks import TASKS, Goal

LIGHT_MEASURES = (Measure.TRAIN, Measure.EPOCH)


@dataclass(frozen=True)
class Reference:
    """A reference configuration and what it is expected to reach."""

    label: str  # config_label(config), e.g. "binary-rnn-T5-S4", "digits-lstm-T8-S64"
    config: RunConfig
    expected_level: str | None  # a key of the task's theory levels the final loss should lie nearest
    target: float  # time-to-target: first time the running mean of 100 step losses falls below this
    loss_band: tuple[float, float]  # where final_loss must land; leaving it is a regression, always
    goal: Goal | None = None  # what the held-out data must show (eval_loss, test_accuracy)
    timed: bool = True  # the benchmarks time it; else a convergence reference only
    every_measure: bool = False  # all of REFERENCE_MEASURES; else LIGHT_MEASURES (the main job's time budget)
    timed_by: tuple[str, ...] | None = None  # the measures, where a case names its own (a peer case)
    source: str = ""  # a peer case's source (rnnbench.spec.peers); "" for the references
    swept: bool = False  # a point of the peers' sweep over hidden sizes

    @property
    def measures(self) -> tuple[str, ...]:
        """What the benchmarks measure here. The binary references get every measure; the other tasks' their
        training run and the epoch, timed on the implementation that run trained: each build costs seconds
        (XLA, torch.compile), and one per case keeps the main job within its time. A peer case: its own."""
        if self.timed_by is not None:
            return self.timed_by
        return REFERENCE_MEASURES if self.every_measure else LIGHT_MEASURES

    @property
    def task(self) -> str:
        return self.config.task

    def learned(self, final_loss: float, levels, metrics: dict) -> bool:
        """It reached what this configuration should: its goal on held-out data, else its theory level."""
        if self.goal is not None:
            return self.goal.met(metrics.get(self.goal.metric))
        return levels.nearest(final_loss) == self.expected_level


def config_label(config: RunConfig) -> str:
    """Task, cell (with "-bi" when bidirectional), window and state size: "binary-rnn-T5-S4"."""
    return (f"{config.task}-{config.variant}-T{config.num_steps}-S{config.state_size}"
            + config.task_spec.label_suffix(config))


def selected(config: RunConfig, tasks: list[str] | None = None, cells: list[str] | None = None) -> bool:
    """Whether ``config`` is among the chosen tasks and cells (none chosen: all), as ``--task``/``--cell`` say."""
    return (not tasks or config.task in tasks) and (not cells or config.cell in cells)


def reference_configs(threads: int | None = None, device: str = "cpu", tasks: list[str] | None = None,
                      cells: list[str] | None = None, timed: bool = False) -> tuple[Reference, ...]:
    """Every task's references (binary first), or those of the chosen ``tasks`` and ``cells``; with ``timed``, only
    those the benchmarks time."""
    extra = {"device": device} if threads is None else {"threads": threads, "device": device}
    refs = []
    for name, spec in TASKS.items():
        for r in spec.references():
            if timed and not r.timed:
                continue
            config = RunConfig.for_task(name, **{**r.overrides, **extra})
            if not selected(config, tasks, cells):
                continue
            refs.append(Reference(config_label(config), config, r.expected_level, r.target, r.loss_band, r.goal,
                                  r.timed, r.every_measure))
    return tuple(refs)


# Denormal honesty (full profile): the LSTM reference that reads features, timed on its inputs and on them scaled
# into denormals (the binary task reads tokens, one-hot inside each implementation, which no scaling reaches).
DENORMAL_AT = "digits-lstm-T8-S64"

# What truncation costs (full profile): the binary (10,16) reference's train step at BPTT(10, k1) for each k1 here
# (10 is TF style), on the implementations that train it.
TRUNCATION_AT = "binary-rnn-T10-S16"
TRUNCATION_SHIFTS = (10, 5, 2, 1)

# The full profile's cell sweep: every cell at these references (binary (10,16) and the digits configuration).
CELL_SWEEP_AT = ("binary-rnn-T10-S16", "digits-lstm-T8-S64")
CELL_SWEEP = tuple(CELLS)


def peer_references(threads: int | None = None, device: str = "cpu", peers: list[str] | None = None,
                    cells: list[str] | None = None, scan: bool = False) -> tuple[Reference, ...]:
    """Every peer case (``rnnbench.spec.peers``) as a reference (with ``scan``, the scan profile's crossover
    sweep instead), or those of the chosen ``peers`` and ``cells``. Labelled by the case's name; its level is
    chance, which a few steps cannot leave."""
    from rnnbench.spec.peers import PEERS

    out = []
    for case in PEERS.values():
        if (peers and case.name not in peers) or (cells and case.cell not in cells):
            continue
        if not peers and case.scan != scan:
            continue
        config = case.config(threads, device)
        chance = config.task_spec.levels().nothing_learned()
        out.append(Reference(case.name, config, "chance", chance, (0.0, float("inf")), timed_by=case.measures,
                             source=case.source, swept=case.swept))
    return tuple(out)
