"""The registry: implementation names mapped to ``module:Class``, imported only when used.

Listing never imports a framework: availability is decided from ``importlib.util.find_spec`` on the
modules an entry needs. Add a row here to add an implementation.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from rnnbench.errors import UserError


@dataclass(frozen=True)
class Entry:
    name: str
    target: str  # "module:Class"
    framework: str
    summary: str  # one line: what this variant is
    requires: tuple[str, ...]  # importable modules it needs
    extra: str  # the pyproject extra that installs them

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


_TF = ("tensorflow",)
_TF1 = ("tensorflow", "tf_keras")  # BasicRNNCell under Keras 3
_TORCH = ("torch",)

ENTRIES: tuple[Entry, ...] = (
    Entry("numpy", "impl_numpy.rnn:NumpyRNN", "numpy",
          "hand-written forward, BPTT and Adagrad; the parity reference", ("numpy",), ""),
    Entry("tf-cell", "impl_tf.graph:TFCell", "tensorflow",
          "TF1 graph + Session, the tutorial's hand-written cell unrolled in Python, state fed back", _TF, "tf"),
    Entry("tf-static", "impl_tf.graph:TFStatic", "tensorflow",
          "TF1 graph + Session, tf.compat.v1.nn.static_rnn over BasicRNNCell", _TF1, "tf"),
    Entry("tf-dynamic", "impl_tf.graph:TFDynamic", "tensorflow",
          "TF1 graph + Session, tf.compat.v1.nn.dynamic_rnn over BasicRNNCell (graph while_loop)", _TF1, "tf"),
    Entry("tf-function", "impl_tf.eager:TFFunction", "tensorflow",
          "TF2: one tf.function per window (GradientTape), called from Python", _TF, "tf"),
    Entry("tf-keras", "impl_tf.keras3:TFKeras", "tensorflow",
          "TF2: Keras 3 SimpleRNN + Dense, tf.function train step, Keras Adagrad (epsilon=0)", _TF, "tf"),
    Entry("tf-xla", "impl_tf.eager:TFXLA", "tensorflow",
          "TF2: the window step compiled by XLA (jit_compile=True)", _TF, "tf"),
    Entry("tf-xla-epoch", "impl_tf.eager:TFXLAEpoch", "tensorflow",
          "TF2: a whole epoch in one XLA-compiled tf.function (while_loop over windows)", _TF, "tf"),
    Entry("torch-rnn", "impl_torch.modules:TorchRNN", "torch",
          "nn.RNN (batch_first) + nn.Linear, eager, one optimizer step per window", _TORCH, "torch"),
    Entry("torch-cell", "impl_torch.modules:TorchCell", "torch",
          "nn.RNNCell called per time step in a Python loop + nn.Linear", _TORCH, "torch"),
    Entry("torch-manual", "impl_torch.modules:TorchManual", "torch",
          "the canonical cell written with tensor ops, autograd, torch.optim.Adagrad", _TORCH, "torch"),
    Entry("torch-fused", "impl_torch.fused:TorchFused", "torch",
          "eager: hand-written backward, one matmul per product over all steps, whole epochs per call",
          _TORCH, "torch"),
    Entry("torch-compile", "impl_torch.fused:TorchCompile", "torch",
          "torch.compile (Inductor) of torch-fused's window step; small products as multiply-and-reduce",
          _TORCH, "torch"),
)

_BY_NAME = {e.name: e for e in ENTRIES}


def names() -> list[str]:
    return [e.name for e in ENTRIES]


def entry(name: str) -> Entry:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UserError(f"impl: unknown implementation {name!r}; valid: {', '.join(names())}") from None


def available_names() -> list[str]:
    return [e.name for e in ENTRIES if e.available()[0]]


def create(name: str):
    """Import the implementation's module and return a new, unbuilt instance."""
    e = entry(name)
    ok, reason = e.available()
    if not ok:
        raise UserError(f"impl {name}: unavailable: {reason}")
    module_name, class_name = e.target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls()
