"""The peers' configurations: the sizes other RNN benchmarks time, as named cases of the ``random`` task
(``--profile peers``; one case or more: ``--peer NAME``), and the sweep over hidden sizes that finds where the
fastest implementation changes (``sweep-CELL-hH``). Each fact of a case is here once: its cell, input width,
hidden units, steps, batch, layers, direction, what is timed, and where it comes from.

What is timed: ``train`` cases time the train step (forward, backward, the update) and the forward pass;
``inference`` cases (DeepBench's device-inference set, batch 1) the forward pass alone. The readout is a softmax
over ``classes`` at every step, or at the last where the peer reads the last state (stefbraun: 10 classes;
glample: the last hidden state, there under a mean squared error); its cost is small beside the recurrence at
these sizes and the same in every implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnbench.spec.config import RunConfig

TRAIN, INFERENCE, STEP = "train", "inference", "step"  # STEP: the train step alone (the sweep's points)
PEERS_TASK = "random"
# windows in a case's training run: its step losses against NumPy's are the parity at size (the report's parity
# table and figure, within rnnbench.spec.parity's tolerance for the case)
PARITY_WINDOWS = 20


@dataclass(frozen=True)
class PeerCase:
    name: str
    cell: str
    input_size: int
    hidden: int
    steps: int
    batch: int
    source: str  # repository and file
    layers: int = 1
    bidirectional: bool = False
    timed: str = TRAIN  # TRAIN: train step and forward; INFERENCE: the forward pass alone; STEP: the train step
    target: str = "each"  # "each" step or the "last" (the peer reads the last state)
    classes: int = 10
    time_mode: str = "sequential"  # RunConfig.time_mode: the scan profile's cases run both ways

    def config(self, threads: int | None = None, device: str = "cpu") -> RunConfig:
        """The case as a run of the random task (PARITY_WINDOWS windows an epoch; threads: the run's, or every
        core)."""
        extra = {} if threads is None else {"threads": threads}
        return RunConfig.for_task(PEERS_TASK, cell=self.cell, input_width=self.input_size, state_size=self.hidden,
                                  num_steps=self.steps, batch_size=self.batch, size=PARITY_WINDOWS * self.batch,
                                  bidirectional=self.bidirectional, layers=self.layers, target_at=self.target,
                                  classes=self.classes, time_mode=self.time_mode, device=device, **extra)

    @property
    def measures(self) -> tuple[str, ...]:
        from rnnbench.spec.measures import Measure

        return {TRAIN: (Measure.TRAIN_STEP, Measure.FORWARD), INFERENCE: (Measure.FORWARD,),
                STEP: (Measure.TRAIN_STEP,)}[self.timed]

    @property
    def swept(self) -> bool:
        """A point of the sweep over hidden sizes (where the fastest implementation changes), not a peer's."""
        return self.name.startswith(SWEEP_PREFIX)

    @property
    def scan(self) -> bool:
        """A point of the scan profile's crossover sweep (``--profile scan``), not a peer's."""
        return self.name.startswith(SCAN_PREFIX)


FASTRNNS = ("pytorch/pytorch benchmarks/fastrnns (runner.py: seqLength 100, numLayers 1, inputSize = hiddenSize 512, "
            "miniBatch 64)")
DEEPBENCH = "baidu-research/DeepBench code/kernels/rnn_problems.h"
STEFBRAUN = "stefbraun/rnn_benchmarks (arXiv 1806.01818): 1x320/100 LSTM, input 125, batch 64, 10 classes"
GLAMPLE = "glample/rnn-benchmarks README: input 100, 30 steps, the last hidden state"


def _deepbench(name: str, cell_: str, hidden: int, steps: int, batch: int, what: str, timed: str = TRAIN):
    return PeerCase(name, cell_, hidden, hidden, steps, batch, f"{DEEPBENCH} ({what})", timed=timed)


# Where the fastest implementation changes: each cell's train step over these hidden sizes at 50 steps, batch 32,
# input = hidden (the sweep; one figure per cell in the report, and a finding naming the size).
SWEEP_PREFIX = "sweep-"
SWEEP_CELLS = ("rnn", "lstm", "gru")
SWEEP_HIDDEN = (16, 64, 256, 512, 1024)
SWEEP_STEPS, SWEEP_BATCH = 50, 32
SWEEP_SOURCE = "rnnbench: each cell's train step over hidden sizes, 50 steps, batch 32, input = hidden"


def sweep_name(cell_: str, hidden: int) -> str:
    return f"{SWEEP_PREFIX}{cell_}-h{hidden}"


# The sequence length where a parallel scan over time starts to win (``--profile scan``): minGRU's train step and
# forward pass by a loop and by the scan at each of these lengths, hidden 64, input 64, batch 16, one layer (the
# issue's sweep; the report's "In parallel over time"). An implementation that unrolls the window into its graph is
# timed up to the length its registry row gives (``rnnbench.spec.registry.Entry.unrolled``).
SCAN_PREFIX = "scan-"
SCAN_CELL = "mingru"
SCAN_STEPS = (16, 64, 256, 1024, 4096)
SCAN_HIDDEN = SCAN_INPUT = 64
SCAN_BATCH = 16
SCAN_SOURCE = "rnnbench: minGRU by a loop and by a parallel scan over time, hidden 64, input 64, batch 16"


def scan_name(time_mode: str, steps: int) -> str:
    return f"{SCAN_PREFIX}{SCAN_CELL}-{time_mode}-T{steps}"


PEERS: dict[str, PeerCase] = {c.name: c for c in (
    PeerCase("fastrnns-lstm", "lstm", 512, 512, 100, 64, FASTRNNS),
    _deepbench("deepbench-train-lstm-512", "lstm", 512, 25, 16, "training: LSTM 512, batch 16, 25 steps"),
    _deepbench("deepbench-train-lstm-256", "lstm", 256, 150, 16, "training: LSTM 256, batch 16, 150 steps"),
    _deepbench("deepbench-train-rnn-1760", "rnn", 1760, 50, 16, "training: vanilla 1760, batch 16, 50 steps"),
    _deepbench("deepbench-infer-rnn-32", "rnn", 32, 672, 1, "device inference: vanilla 32, batch 1, 672 steps",
               INFERENCE),
    _deepbench("deepbench-infer-rnn-64", "rnn", 64, 96, 1, "device inference: vanilla 64, batch 1, 96 steps",
               INFERENCE),
    _deepbench("deepbench-infer-lstm-256", "lstm", 256, 150, 1, "device inference: LSTM 256, batch 1, 150 steps",
               INFERENCE),
    PeerCase("stefbraun-lstm", "lstm", 125, 320, 100, 64, STEFBRAUN, target="last"),
    PeerCase("stefbraun-lstm-4layers", "lstm", 125, 320, 100, 64, STEFBRAUN + "; four stacked layers", layers=4,
             target="last"),
    *(PeerCase(f"glample-lstm-{h}-b{b}", "lstm", 100, h, 30, b, GLAMPLE + f" (LSTM {h}, batch {b})", target="last")
      for h in (128, 512, 1024) for b in (32, 128)),
    *(PeerCase(sweep_name(c, h), c, h, h, SWEEP_STEPS, SWEEP_BATCH, SWEEP_SOURCE, timed=STEP)
      for c in SWEEP_CELLS for h in SWEEP_HIDDEN),
    *(PeerCase(scan_name(way, T), SCAN_CELL, SCAN_INPUT, SCAN_HIDDEN, T, SCAN_BATCH, SCAN_SOURCE, time_mode=way)
      for T in SCAN_STEPS for way in ("sequential", "parallel")),
)}


def peer(name: str) -> PeerCase:
    from rnnbench.errors import lookup

    return lookup(PEERS, name, "peer", "peer case")
