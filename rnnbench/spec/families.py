"""The framework families: one row each. What a family is decides which extra installs it, how its
implementations are named, which pytest marker selects its tests, and whether it needs a process of its own
(TensorFlow and PyTorch abort when they share an interpreter, so they never do)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from rnnbench.errors import lookup


@dataclass(frozen=True)
class Family:
    name: str  # as recorded in results: "numpy", "tensorflow", "torch"
    module: str  # the import that makes a process this family's (a framework's own, or the one that starts it)
    extra: str  # the pyproject extra that installs it ("" for the base install)
    prefix: str  # every implementation name starts with it
    own_process: bool  # never shares an interpreter with another family that has its own process
    marker: str  # pytest marker of its tests ("" when they need no framework)
    sources: str  # the source folder of its implementations (a change there can change only its timings)
    distributions: tuple[str, ...]  # the packages whose versions every run records; the framework's own first
    color: str  # its colour in every figure of the report
    counter: str  # "module:function" that counts what one step dispatches (``rnnbench.spec.dispatch``)
    path: str = ""  # "module:function" giving its switches of kernel and precision (``rnnbench.spec.path``)
    standard: str = ""  # its implementation written the standard way (nn.LSTM, Keras, lax.scan): what users write


FAMILIES: tuple[Family, ...] = (
    Family("numpy", "numpy", "", "numpy", own_process=False, marker="", sources="impl_numpy/",
           distributions=("numpy",), color="#4c72b0", counter="rnnbench.impl_numpy.dispatch:count", standard="numpy"),
    Family("tensorflow", "tensorflow", "tf", "tf-", own_process=True, marker="tf", sources="impl_tf/",
           distributions=("tensorflow", "tf-keras", "keras"), color="#dd8452",
           counter="rnnbench.impl_tf.runtime:count_dispatch", path="rnnbench.impl_tf.runtime:path",
           standard="tf-keras"),
    Family("torch", "torch", "torch", "torch-", own_process=True, marker="torch", sources="impl_torch/",
           distributions=("torch",), color="#c44e52", counter="rnnbench.impl_torch.runtime:count_dispatch",
           path="rnnbench.impl_torch.runtime:path", standard="torch-rnn"),
    # JAX ran correctly beside TensorFlow and PyTorch here; it gets its own process all the same, since XLA_FLAGS
    # and the CPU affinity that set its threads are process-wide (rnnbench.impl_jax.runtime). Its module is the one
    # that starts it, not jax: TensorFlow 2.21 imports jax whenever it is installed, without starting it.
    Family("jax", "rnnbench.impl_jax.runtime", "jax", "jax-", own_process=True, marker="jax", sources="impl_jax/",
           distributions=("jax", "jaxlib", "optax", "flax"), color="#55a868",
           counter="rnnbench.impl_jax.runtime:count_dispatch", path="rnnbench.impl_jax.runtime:path",
           standard="jax-scan"),
)
_BY_NAME = {f.name: f for f in FAMILIES}
# Code every family runs: a change here can change any family's timings. Everything else (tests, reports, docs,
# CI files) changes none.
CORE_SOURCES = ("rnnbench/", "benchmarks/", "pyproject.toml")
# Stored numbers and the CI gate's reference: data the timings never read. (The results layer is code: the
# benchmark process imports it to write its records, rnnbench.harness.provenance and the suites.)
NOT_CODE = ("benchmarks/baselines/",)


def family(name: str) -> Family:
    return lookup(_BY_NAME, name, "framework", "family")


def names() -> list[str]:
    return [f.name for f in FAMILIES]


def family_of(impl: str) -> str:
    """The family an implementation's name says (every name starts with its family's prefix); "" for none."""
    return next((f.name for f in FAMILIES if impl.startswith(f.prefix)), "")


def order(name: str) -> int:
    """Position in the table: families run, and are reported, in this order."""
    return names().index(name) if name in _BY_NAME else len(FAMILIES)


def affected_by(paths: list[str]) -> list[str]:
    """The families whose timings a change to ``paths`` (relative to the checkout) can change, in table order:
    all of them for a change to the core, a family's own for a change to its implementations, none otherwise."""
    paths = [p for p in paths if not p.startswith(NOT_CODE)]
    if any(p.startswith(CORE_SOURCES) for p in paths):
        return names()
    return [f.name for f in FAMILIES if any(p.startswith(f.sources) for p in paths)]


def conflicting_module(own: str) -> str | None:
    """The module of another own-process family already imported here, which ``own`` must not join."""
    if not family(own).own_process:
        return None
    for f in FAMILIES:
        if f.own_process and f.name != own and f.module in sys.modules:
            return f.module
    return None
