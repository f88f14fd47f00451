"""The run configuration: one frozen dataclass, validated on construction."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

import numpy as np

from rnnbench.errors import ConfigError

DEVICES = ("cpu", "cuda")
DTYPES = ("float32", "float64")


def _default_threads() -> int:
    return os.cpu_count() or 1


# The thread count every benchmark runs at unless told otherwise (``rnnbench bench``, ``pytest benchmarks``, each
# repetition of ``rnnbench ab``). Chosen from the process-to-process spread of the medians, measured on this
# project's 2-core machines (AMD EPYC, 3 fresh processes per family, binary's train step and forward): at 1
# thread the median spread per family was 1.01-1.06 (worst 1.49), at 2 threads 1.09-1.64 (worst 2.00), and the
# steps were faster at 1 thread (median 0.84x the 2-thread time). ``--threads N`` times N.
BENCH_THREADS = 1


OPTIMIZERS = ("adagrad", "adam")  # rnnbench.spec.optimizer has their semantics


@dataclass(frozen=True)
class RunConfig:
    """One run. The defaults are the binary task's reference (5,4); ``for_task`` gives another task's."""

    task: str = "binary"  # a name of rnnbench.tasks.TASKS
    cell: str = "rnn"  # a name of rnnbench.spec.cells.CELLS
    bidirectional: bool = False  # a backward direction too (tasks of independent sequences only)
    # stacked layers: layer l > 1 reads layer l - 1's states (both directions', forward first); tasks of
    # independent sequences only (a carried state would be one per layer)
    layers: int = 1
    optimizer: str = "adagrad"  # "adagrad" (TF1 semantics) or "adam" (torch.optim.Adam semantics)
    num_steps: int = 5  # window length: steps of truncated backpropagation (a sequence's length); BPTT's k2
    # BPTT(k2, k1)'s k1 (Williams & Peng): windows of num_steps advance by this many steps, each takes its loss on
    # its last k1 positions and carries the state after its first k1 steps. None: num_steps (TF style, today's).
    shift: int | None = None
    state_size: int = 4  # hidden units
    batch_size: int = 200  # rows the stream is cut into, or sequences per step
    learning_rate: float = 0.1  # the optimizer's step size
    # Global-norm clipping before the update: every gradient times min(1, clip_norm / ||g||), ||g|| the norm of all
    # of them together (torch's clip_grad_norm_, tf.clip_by_global_norm, optax.clip_by_global_norm). None: none.
    clip_norm: float | None = None
    size: int = 1_000_000  # samples per epoch: stream points, or sequences (images)
    epochs: int = 1  # passes, each over fresh data
    seed: int = 0  # seeds the data and the initial parameters
    threads: int = field(default_factory=_default_threads)  # same for every framework in a run
    device: str = "cpu"  # "cpu" or "cuda"
    dtype: str = "float32"  # "float32" or "float64"
    # The sizes of a task sized by the run (``random``; None for every other task, whose widths are its own):
    input_width: int | None = None  # features per input step (--input-size)
    classes: int | None = None  # classes of its targets (--classes)
    target_at: str | None = None  # targets at "each" step or the "last" (--target)
    # How a window goes through time (rnnbench.spec.cells.TIME_MODES): "sequential", a loop of dependent steps, or
    # "parallel", a parallel scan over the window, for a cell whose update is linear in h (mingru, minlstm) only.
    time_mode: str = "sequential"

    def __post_init__(self) -> None:
        from rnnbench.spec.cells import CELLS, PARALLEL, TIME_MODES, linear_cells
        from rnnbench.tasks import TASKS

        for name, table in (("task", TASKS), ("cell", CELLS), ("optimizer", OPTIMIZERS), ("device", DEVICES),
                            ("dtype", DTYPES), ("time_mode", TIME_MODES)):
            if getattr(self, name) not in table:
                raise ConfigError(name, f"must be one of {', '.join(table)}, got {getattr(self, name)!r}")
        for name in ("num_steps", "state_size", "batch_size", "size", "epochs", "threads", "layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(name, f"must be a positive integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError("seed", f"must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.learning_rate, (int, float)) or not self.learning_rate > 0:
            raise ConfigError("learning_rate", f"must be a number > 0, got {self.learning_rate!r}")
        if self.shift is not None:
            self._check_shift()
        if self.time_mode == PARALLEL and not CELLS[self.cell].linear:
            raise ConfigError("time_mode", f"parallel needs a cell whose update is linear in h "
                                           f"({', '.join(linear_cells())}); {self.cell} is not")
        if self.learning_rate != self.learning_rate or self.learning_rate == float("inf"):
            raise ConfigError("learning_rate", f"must be finite, got {self.learning_rate!r}")
        if self.learning_rate > float(np.finfo(self.dtype).max):
            raise ConfigError("learning_rate", f"{self.learning_rate!r} overflows {self.dtype} (largest "
                                               f"{float(np.finfo(self.dtype).max):.3g})")
        if self.clip_norm is not None and (isinstance(self.clip_norm, bool)
                                           or not isinstance(self.clip_norm, (int, float))
                                           or not 0 < self.clip_norm < float("inf")):
            raise ConfigError("clip_norm", f"must be a finite number > 0 (or absent: no clipping), got "
                                           f"{self.clip_norm!r}")
        if not isinstance(self.bidirectional, bool):
            raise ConfigError("bidirectional", f"must be true or false, got {self.bidirectional!r}")
        if self.bidirectional and not self.task_spec.bidirectional_ok:
            raise ConfigError("bidirectional", f"task {self.task} carries its state from window to window, "
                                               "so a backward direction cannot see a whole sequence; "
                                               "bidirectional applies to sine and digits")
        if self.layers > 1 and self.task_spec.carries_state:
            stacked = ", ".join(n for n, t in TASKS_OF().items() if not t.carries_state)
            raise ConfigError("layers", f"task {self.task} carries its state from window to window, one state "
                                        f"per layer; stacked layers apply to tasks of independent sequences "
                                        f"({stacked}), got {self.layers}")
        self._check_sizes()
        self.task_spec.validate(self)

    def _check_sizes(self) -> None:
        spec = TASKS_OF()[self.task]
        for name, flag in SIZED_FIELDS.items():
            value = getattr(self, name)
            if value is None:
                continue
            if not spec.sized_by_config:
                sized = ", ".join(n for n, t in TASKS_OF().items() if t.sized_by_config)
                raise ConfigError(flag, f"applies to task {sized} only; task {self.task} has its own (input width "
                                        f"{spec.input_size(self)}, {spec.output_size(self)} outputs)")
            if name == "target_at":
                if value not in TARGETS:
                    raise ConfigError(flag, f"must be one of {', '.join(TARGETS)}, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int) or value < (2 if name == "classes" else 1):
                raise ConfigError(flag, f"must be an integer >= {2 if name == 'classes' else 1}, got {value!r}")

    def _check_shift(self) -> None:
        k1 = self.shift
        if isinstance(k1, bool) or not isinstance(k1, int) or not 1 <= k1 <= self.num_steps:
            raise ConfigError("truncation", f"k1 must be an integer from 1 to k2 = num_steps ({self.num_steps}), "
                                            f"got {k1!r}")
        if k1 == self.num_steps:  # k1 = k2 is TF style: one name for one thing
            object.__setattr__(self, "shift", None)
            return
        if not (self.task_spec.carries_state and self.task_spec.each_step):
            from rnnbench.tasks import TASKS

            which = ", ".join(n for n, t in TASKS.items() if t.carries_state and t.each_step)
            raise ConfigError("truncation", f"BPTT(k2, k1) with k1 < k2 needs a stream with a target at every step "
                                            f"({which}); task {self.task} has independent sequences")

    @property
    def k1(self) -> int:
        """The steps each window advances and the positions that carry its loss (``shift``, or num_steps)."""
        return self.shift or self.num_steps

    @property
    def truncation(self) -> str:
        """"tf" (k1 = k2 = num_steps), or "k2,k1": ``--truncation``'s spelling."""
        return "tf" if self.shift is None else f"{self.num_steps},{self.shift}"

    @classmethod
    def for_task(cls, task: str = "binary", **fields) -> RunConfig:
        """The task's reference configuration (the seed's settings), with ``fields`` on top."""
        from rnnbench.tasks import task as lookup_task

        return cls(task=task, **{**lookup_task(task).defaults, **fields})

    @property
    def task_spec(self):
        """The ``rnnbench.tasks.Task`` this config runs (a task sized by the run: the variant of its classes and
        targets)."""
        return TASKS_OF()[self.task].for_config(self)

    @property
    def input_size(self) -> int:
        """Width of an input row: the one-hot width of a token task, else the features per step."""
        return self.task_spec.input_size(self)

    @property
    def output_size(self) -> int:
        """Classes of a classification task, values per step of a regression."""
        return self.task_spec.output_size(self)

    @property
    def num_classes(self) -> int:
        """The binary task's alphabet (its input and output width): what the implementations of binary read."""
        return self.output_size

    @property
    def row_length(self) -> int:
        """Columns in each of the batch_size rows a stream is cut into."""
        return self.size // self.batch_size

    @property
    def windows_per_epoch(self) -> int:
        """Train steps in one epoch; what does not fill a window or a batch is dropped."""
        return self.task_spec.windows_per_epoch(self)

    @property
    def variant(self) -> str:
        """The model, e.g. "lstm", "gru-bi", "lstm-x4" (four stacked layers) or "mingru-parallel" (by a parallel
        scan over time)."""
        return (self.cell + ("-bi" if self.bidirectional else "") + (f"-x{self.layers}" if self.layers > 1 else "")
                + ("-parallel" if self.parallel else ""))

    @property
    def parallel(self) -> bool:
        """Whether a window goes through time by a parallel scan (``time_mode``)."""
        return self.time_mode == "parallel"

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def TASKS_OF() -> dict:  # noqa: N802 - the task table, imported late (the tasks import this module)
    from rnnbench.tasks import TASKS

    return TASKS


TARGETS = ("each", "last")  # where a task sized by the run puts its targets
# RunConfig's fields of a task sized by the run, and the names its errors give them (the options' names)
SIZED_FIELDS = {"input_width": "input_size", "classes": "classes", "target_at": "target"}


BASELINE_IMPL = "tf-cell"  # the original tutorial's TF1 loop: every speed-up is against it


@dataclass(frozen=True)
class Profile:
    """How much ``rnnbench bench`` measures."""

    name: str
    max_time: float  # pytest-benchmark --benchmark-max-time per benchmark, seconds
    sweeps: bool  # also the scaling sweeps (SWEEPS)
    help: str
    # Rounds of the epoch measure (after one warm-up epoch). The gate's rank test needs 5 a side to reach p < 0.05
    # (with 3 it cannot); the main job, which no gate reads, takes 3 to stay within its time.
    epoch_rounds: int = 5
    # Also the implementations whose builds are too slow for the main job's time at some tasks (``Entry.slow_build``).
    slow_builds: bool = False
    # Also each reference run's peak memory in a fresh process of its own (a framework's import each time).
    fresh_memory: bool = False
    # Also what one train step dispatches at the references not timed step by step (one more step after each
    # training run, after the clock): a whole-epoch variant compiles its window step for it, seconds at a long window.
    dispatch_everywhere: bool = False
    # Rounds of the original sample-by-sample generator, a fixed historical comparison (2.7 s a round on an AMD
    # EPYC): the main job takes one.
    original_loop_rounds: int = 3
    # Also the opt-in measures (``measures.OPT_IN_FILES``): the LSTM's train step on denormal inputs beside normal
    # ones, and BPTT(k2, k1)'s train step with k1 swept. Any profile runs one that ``--measure`` names.
    opt_in: tuple[str, ...] = ()
    # Instead of the reference configurations, the peers' (``rnnbench.spec.peers``): the sizes users train.
    peers: bool = False
    # Of the peers' table, the crossover sweep of a loop against a parallel scan over time (``SCAN_STEPS``).
    scan: bool = False


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("quick", 0.5, False, "the reference configurations", epoch_rounds=3, original_loop_rounds=1),
    Profile("full", 1.0, True, "also the scaling sweeps, the slowest builds and memory in fresh processes",
            slow_builds=True, fresh_memory=True, dispatch_everywhere=True, opt_in=("denormal", "truncation")),
    Profile("ci", 0.1, False, "quick with fewer rounds, for the regression gate"),
    # One repetition of `rnnbench ab`: the repetition is the sample, so one timed epoch (after its warm-up) will do.
    Profile("pair", 0.1, False, "ci's configurations with one timed epoch: a repetition of rnnbench ab",
            epoch_rounds=1),
    Profile("peers", 1.0, False, "the peers' configurations (PyTorch's fastrnns, DeepBench, stefbraun, glample) "
            "on random data, instead of the reference configurations: train step and forward at the sizes users "
            "run, and NumPy's matmul rate at each case's shapes", peers=True),
    Profile("scan", 0.5, False, "minGRU by a loop and by a parallel scan over time at T = 16 to 4,096 (hidden 64, "
            "batch 16): where the scan starts to win, per family", peers=True, scan=True),
)}
DEFAULT_PROFILE = "quick"


def opted_in(profile: Profile, measure: str, named: list[str] | None) -> bool:
    """Whether an opt-in measure runs: the profile takes it, or ``--measure`` names it."""
    return measure in profile.opt_in or measure in (named or [])


def profiles_help() -> str:
    return "; ".join(f"{p.name}: {p.help}" + (" (default)" if p.name == DEFAULT_PROFILE else "")
                     for p in PROFILES.values())


# The full profile's sweeps: one parameter varied from the (5,4) reference, one window timed per point.
SWEEPS: dict[str, tuple[int, ...]] = {
    "state_size": (4, 16, 64, 256, 1024),
    "num_steps": (5, 20, 50, 200),
    "batch_size": (1, 10, 100, 1000, 2000),
}
