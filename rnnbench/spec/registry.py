"""The registry: implementation names mapped to ``module:Class``, imported only when used.

Listing never imports a framework: availability is decided from ``importlib.util.find_spec`` on the
modules an entry needs. Add a row here to add an implementation: the row, not the class, names it and
says which framework family it belongs to and where it runs.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from rnnbench.errors import UnsupportedError, UserError, lookup
from rnnbench.spec.cells import CELLS, CLASSIC_CELLS, PARALLEL, SEQUENTIAL, TIME_MODES, linear_cells
from rnnbench.spec.config import DEVICES, OPTIMIZERS, Profile, RunConfig
from rnnbench.spec.families import family
from rnnbench.tasks import TASKS


@dataclass(frozen=True)
class Entry:
    """One implementation, as data: its name, class, family, what it is, what it needs and where it runs.

    The entry is the one source of an implementation's name and framework; the class does not repeat them.
    """

    name: str
    target: str  # "module:Class"
    framework: str  # a family of rnnbench.spec.families
    summary: str  # one line: what this variant is
    requires: tuple[str, ...]  # importable modules it needs
    devices: tuple[str, ...] = ("cpu",)  # where it runs (a subset of rnnbench.spec.config.DEVICES)
    tasks: tuple[str, ...] = ("binary",)  # the tasks it can train (names of rnnbench.tasks.TASKS)
    cells: tuple[str, ...] = ("rnn",)  # the cells it can build (names of rnnbench.spec.cells.CELLS)
    bidirectional: bool = False  # it can build a bidirectional model (where the task allows one)
    optimizers: tuple[str, ...] = ("adagrad",)  # names of rnnbench.spec.config.OPTIMIZERS it runs
    truncation: bool = False  # it trains BPTT(k2, k1) with k1 < k2 (RunConfig.shift), else TF style only
    clips: bool = False  # it clips the gradients' global norm before the update (RunConfig.clip_norm)
    # the ways through time it runs (RunConfig.time_mode): "parallel" for a scan over the window (linear cells)
    time_modes: tuple[str, ...] = (SEQUENTIAL,)
    # (way through time, the longest window the scan profile builds it at) where its build unrolls the window into
    # a graph (a Python loop traced or compiled, or the scan's per-step lists): tracing and compiling grow with T
    unrolled: tuple[tuple[str, int], ...] = ()
    gap: str = ""  # why a task or cell is missing, shown with "n/a"
    # Tasks whose cold build takes too long for a profile without ``slow_builds`` (the main job, the gate): the
    # benchmarks time them in the full profile only, and skip them elsewhere with ``slow_build_why``.
    slow_build: tuple[str, ...] = ()
    slow_build_why: str = ""

    @property
    def extra(self) -> str:
        """The pyproject extra that installs its framework."""
        return family(self.framework).extra

    @property
    def install_hint(self) -> str:
        return f"pip install 'rnnbench[{self.extra}]'" if self.extra else "pip install rnnbench"

    def missing(self) -> list[str]:
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def available(self) -> tuple[bool, str]:
        missing = self.missing()
        if missing:
            return False, f"{', '.join(missing)} not installed (install: {self.install_hint})"
        return True, ""

    def unsupported(self, config: RunConfig) -> str | None:
        """Why this implementation cannot run ``config`` (naming the field), or None. Imports nothing."""
        why = f" ({self.gap})" if self.gap else ""
        if config.device not in self.devices:
            return f"device: {self.name} runs on {' or '.join(self.devices)} only, got {config.device!r}"
        if config.task not in self.tasks:
            return f"task: {self.name} does {', '.join(self.tasks)} only, not {config.task}{why}"
        if config.cell not in self.cells:
            return f"cell: {self.name} builds {', '.join(self.cells)} only, not {config.cell}{why}"
        if config.time_mode not in self.time_modes:
            return (f"time_mode: {self.name} runs {', '.join(self.time_modes)} only, not {config.time_mode}; "
                    f"{', '.join(e.name for e in ENTRIES if config.time_mode in e.time_modes)} run it "
                    f"(cells {', '.join(linear_cells())})")
        if config.optimizer not in self.optimizers:
            return f"optimizer: {self.name} runs {', '.join(self.optimizers)} only, not {config.optimizer}{why}"
        if config.bidirectional and not self.bidirectional:
            return f"bidirectional: {self.name} builds one direction only{why}"
        if config.shift is not None and not self.truncation:
            return (f"truncation: {self.name} trains TF-style windows only (k1 = k2 = num_steps), not "
                    f"{config.truncation}; {', '.join(e.name for e in ENTRIES if e.truncation)} train BPTT(k2, k1)")
        if config.clip_norm is not None and not self.clips:
            return (f"clip_norm: {self.name} does not clip gradients; "
                    f"{', '.join(e.name for e in ENTRIES if e.clips)} do")
        return None

    def too_slow_to_build(self, config: RunConfig, profile: Profile) -> str | None:
        """Why the benchmarks of ``profile`` skip this implementation at ``config``, or None."""
        if config.task in self.slow_build and not profile.slow_builds:
            return (f"profile: {self.name}'s {config.task} builds are timed in the full profile only "
                    f"({self.slow_build_why})")
        longest = dict(self.unrolled).get(config.time_mode)
        if profile.scan and longest is not None and config.num_steps > longest:
            return (f"profile: {self.name} unrolls a {config.time_mode} window into its graph; the scan profile "
                    f"builds it up to {longest} steps only (tracing and compiling grow with T)")
        return None

    def check(self, config: RunConfig) -> None:
        """Refuse a configuration this implementation does not support, naming the field."""
        reason = self.unsupported(config)
        if reason:
            raise UnsupportedError(reason)


_TF = ("tensorflow",)
_TF1 = ("tensorflow", "tf_keras")  # BasicRNNCell under Keras 3
_TORCH = ("torch",)
_JAX = ("jax", "optax")
_CPU_CUDA = DEVICES  # every device the suite knows
_ALL_TASKS = tuple(TASKS)
_EVERY_POINT = dict(tasks=_ALL_TASKS, cells=tuple(CELLS), bidirectional=True, optimizers=OPTIMIZERS)
# The minimal cells (mingru, minlstm), by a loop and by a parallel scan: what runs the canonical math over the
# framework's operations (rnnbench.model) takes both ways through time.
_BOTH_WAYS = dict(time_modes=TIME_MODES)
# The implementations built on a framework's own recurrent layers or cell objects, which have none for them.
_CLASSIC = dict(_EVERY_POINT, cells=CLASSIC_CELLS)
_NO_MIN_LAYER = "{} has no minGRU or minLSTM layer"
# Whose build unrolls the window (Entry.unrolled): a Python loop over the steps traced into one graph, and for the
# compiled hand-written gradients the scan's per-step lists too. On an AMD EPYC, 2026-12-07: tf-function and
# torch-compile built minGRU's 256-step window within minutes; tf-xla's had not compiled after 6 minutes (11 GB
# resident), so XLA's unrolled builds stop at 64.
_SEQ_UNROLLED = dict(unrolled=((SEQUENTIAL, 256),))
_XLA_UNROLLED = dict(unrolled=((SEQUENTIAL, 64),))
_BOTH_UNROLLED = dict(unrolled=((SEQUENTIAL, 256), (PARALLEL, 256)))
_XLA_BOTH_UNROLLED = dict(unrolled=((SEQUENTIAL, 64), (PARALLEL, 64)))
_FLAX = ("jax", "optax", "flax")
_FLAX_GRU = ("flax.linen.GRUCell gives the r and z gates one bias each where the canonical GRU trains two "
             "(b and bh), so its training cannot match")
_COMPILE_COST = dict(slow_build=("sine",),
                     slow_build_why="a cold compile of the whole epoch of its 49-step windows takes 15-25 s on 2 cores")

ENTRIES: tuple[Entry, ...] = (
    Entry("numpy", "rnnbench.impl_numpy.reference:NumpyReference", "numpy",
          "hand-written forward, BPTT, Adagrad and Adam for every task and cell (the minimal cells also by a "
          "log-space scan over time); the parity reference", ("numpy",),
          **_EVERY_POINT, **_BOTH_WAYS, truncation=True, clips=True),
    Entry("tf-cell", "rnnbench.impl_tf.graph:TFCell", "tensorflow",
          "TF1 graph + Session, the tutorial's hand-written cell (and LSTM, GRU) unrolled in Python, state fed back",
          _TF, **_EVERY_POINT, **_SEQ_UNROLLED, clips=True),
    Entry("tf-static", "rnnbench.impl_tf.graph:TFStatic", "tensorflow",
          "TF1 graph + Session, static_rnn over BasicRNNCell / BasicLSTMCell / a canonical cell object (GRU, minGRU, "
          "minLSTM)", _TF1, **_EVERY_POINT, **_SEQ_UNROLLED, clips=True),
    Entry("tf-dynamic", "rnnbench.impl_tf.graph:TFDynamic", "tensorflow",
          "TF1 graph + Session, dynamic_rnn (graph while_loop) over the same TF1 cells",
          _TF1, **_EVERY_POINT, clips=True),
    Entry("tf-function", "rnnbench.impl_tf.eager:TFFunction", "tensorflow",
          "TF2: one tf.function per window (GradientTape), called from Python",
          _TF, **_EVERY_POINT, **_BOTH_WAYS, truncation=True, **_SEQ_UNROLLED, clips=True),
    Entry("tf-keras", "rnnbench.impl_tf.keras3:TFKeras", "tensorflow",
          "TF2: Keras 3 SimpleRNN / LSTM / GRU (Bidirectional) + Dense, tf.function step, Keras optimizers",
          _TF, **_CLASSIC, gap=_NO_MIN_LAYER.format("Keras"), clips=True),
    Entry("tf-xla", "rnnbench.impl_tf.eager:TFXLA", "tensorflow",
          "TF2: the window step compiled by XLA (jit_compile=True)",
          _TF, **_EVERY_POINT, **_BOTH_WAYS, truncation=True, **_XLA_UNROLLED, clips=True),
    Entry("tf-xla-epoch", "rnnbench.impl_tf.eager:TFXLAEpoch", "tensorflow",
          "TF2: a whole epoch in one XLA-compiled tf.function (while_loop), hand-written gradients",
          _TF, **_EVERY_POINT, **_BOTH_WAYS, **_XLA_BOTH_UNROLLED, clips=True),
    Entry("torch-rnn", "rnnbench.impl_torch.modules:TorchRNN", "torch",
          "nn.RNN / nn.LSTM / nn.GRU (batch_first, bidirectional) + nn.Linear, eager, torch.optim",
          _TORCH, _CPU_CUDA, **_CLASSIC, gap=_NO_MIN_LAYER.format("torch.nn"), truncation=True, clips=True),
    Entry("torch-cell", "rnnbench.impl_torch.modules:TorchCell", "torch",
          "nn.RNNCell / nn.LSTMCell / nn.GRUCell called per time step in a Python loop + nn.Linear",
          _TORCH, _CPU_CUDA, **_CLASSIC, gap=_NO_MIN_LAYER.format("torch.nn"), truncation=True, clips=True),
    Entry("torch-manual", "rnnbench.impl_torch.modules:TorchManual", "torch",
          "the canonical cells written with tensor ops, autograd, torch.optim", _TORCH, _CPU_CUDA, **_EVERY_POINT,
          **_BOTH_WAYS, truncation=True, clips=True),
    Entry("torch-fused", "rnnbench.impl_torch.fused:TorchFused", "torch",
          "eager: hand-written backward (every cell), one matmul per product over all steps, whole epochs per call",
          _TORCH, _CPU_CUDA, **_EVERY_POINT, **_BOTH_WAYS, clips=True),
    Entry("torch-compile", "rnnbench.impl_torch.fused:TorchCompile", "torch",
          "torch.compile (Inductor) of torch-fused's whole epoch and window step; small products multiply-and-reduce",
          _TORCH, _CPU_CUDA, **_EVERY_POINT, **_BOTH_WAYS, **_COMPILE_COST, **_BOTH_UNROLLED, clips=True),
    Entry("jax-jit", "rnnbench.impl_jax.jit:JaxJit", "jax",
          "jax.jit of one window step (value_and_grad through the cell math, lax.scan over time), optax",
          _JAX, _CPU_CUDA, **_EVERY_POINT, **_BOTH_WAYS, truncation=True, clips=True),
    Entry("jax-scan", "rnnbench.impl_jax.jit:JaxScan", "jax",
          "a whole epoch in one jax.jit call: lax.scan over the windows (and over time inside each), optax",
          _JAX, _CPU_CUDA, **_EVERY_POINT, **_BOTH_WAYS, clips=True),
    Entry("jax-flax", "rnnbench.impl_jax.linen:JaxFlax", "jax",
          "Flax linen: nn.RNN over nn.SimpleCell / nn.LSTMCell (nn.Bidirectional) + nn.Dense, one jax.jit window step",
          _FLAX, _CPU_CUDA, **dict(_EVERY_POINT, cells=("rnn", "lstm")),
          gap=f"{_FLAX_GRU}; {_NO_MIN_LAYER.format('Flax')}", clips=True),
)

_BY_NAME = {e.name: e for e in ENTRIES}


def names() -> list[str]:
    return [e.name for e in ENTRIES]


def entry(name: str) -> Entry:
    return lookup(_BY_NAME, name, "impl", "implementation")


def available_names() -> list[str]:
    return [e.name for e in ENTRIES if e.available()[0]]


def create(name: str, config: RunConfig | None = None):
    """Import the implementation's module and return a new, unbuilt instance.

    Given the config it will be built with, a configuration the entry does not support is refused first.
    """
    e = entry(name)
    if config is not None:
        e.check(config)
    ok, reason = e.available()
    if not ok:
        raise UserError(f"impl {name}: unavailable: {reason}")
    module_name, class_name = e.target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls()
