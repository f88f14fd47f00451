"""The truncation study (``rnnbench study truncation``): which backpropagation length each style of truncated
backpropagation needs to learn the binary task's two dependencies.

R2RT's "Styles of Truncated Backpropagation" observes that TF-style truncation (windows of n side by side, the
state carried, no gradient across a boundary) backpropagates only a window's last error n steps and its first
one step, while "true" truncation, BPTT(n, 1), backpropagates every error n steps; it reads TF style with n as
true truncation with a much smaller n ("true n ~ TF-style 2n"). The binary task says exactly which dependency a run
learned: its theory levels (0.6616 nothing, 0.5192 t-3, 0.4545 t-3 and t-8) are far apart, and a final loss below
the midpoint of two adjacent levels has learned the lower one.

Styles, each swept over n (``STYLES``): ``tf`` (num_steps = n), ``true`` (BPTT(n, 1)), ``half`` (BPTT(2n, n): every
error backpropagated n to 2n steps). For each n and seed one training run of the vanilla RNN from the canonical
weights; the study records every final loss, and ``rnnbench.results.studies`` gives, per style, the smallest n
whose median final loss over the seeds lies below each midpoint.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rnnbench.results.studies import SCHEMAS

STUDY = "truncation"
SCHEMA_VERSION = SCHEMAS[STUDY]


@dataclass(frozen=True)
class Style:
    name: str
    label: str  # as the tables and figures name it
    k2_k1: object  # n -> (k2, k1)
    backprop: str  # how far each error is backpropagated, in words

    def window(self, n: int) -> tuple[int, int]:
        return self.k2_k1(n)


STYLES: dict[str, Style] = {s.name: s for s in (
    Style("tf", "TF style, num_steps = n", lambda n: (n, n), "1 to n steps (a window's first error 1, its last n)"),
    Style("true", "true, BPTT(n, 1)", lambda n: (n, 1), "n steps, every error"),
    Style("half", "BPTT(2n, n)", lambda n: (2 * n, n), "n+1 to 2n steps"),
)}

# The default sweep: the vanilla RNN at the (10,16) reference's state size and optimizer, several seeds, n from
# below the t-3 dependency (needs 4 steps: x_{t-3} .. x_t) to past the t-8 one (9 steps). Measured on an AMD EPYC
# (2 vCPU, 2026-12-01): 85 s with two processes (90 training runs).
DEFAULT_NS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16)
DEFAULT_SEEDS = (0, 1, 2)
DEFAULT_EPOCHS = 2
DEFAULT_IMPL = "numpy"
BASE = dict(task="binary", cell="rnn", state_size=16, optimizer="adagrad", learning_rate=0.1, batch_size=200,
            size=1_000_000)
DEPENDENCIES = {"t-3": ("nothing", "lag3"), "t-8": ("lag3", "both")}  # the levels either side of each midpoint


def study_config(style: str, n: int, seed: int, epochs: int, threads: int = 1, **base):
    """One point's configuration (a RunConfig): the base, the style's window and shift at n, the seed."""
    from rnnbench.spec.config import RunConfig

    k2, k1 = STYLES[style].window(n)
    fields = {**BASE, **base}
    return RunConfig.for_task(fields.pop("task"), **fields, num_steps=k2, shift=k1, seed=seed, epochs=epochs,
                              threads=threads)


def levels() -> list[dict]:
    """The binary task's theory levels, as the study records them (key, value, label)."""
    from rnnbench.tasks.binary import theory_levels

    return [{"key": lv.key, "value": lv.value, "label": lv.label} for lv in theory_levels()]


def thresholds(recorded: list[dict]) -> dict[str, float]:
    """The midpoints between adjacent theory levels that say which dependency a final loss has learned."""
    value = {lv["key"]: lv["value"] for lv in recorded}
    return {dep: (value[a] + value[b]) / 2 for dep, (a, b) in DEPENDENCIES.items()}


def run_point(impl: str, style: str, n: int, seed: int, epochs: int) -> dict:
    """Train one point; what the study records of it."""
    from rnnbench.training.train import train

    config = study_config(style, n, seed, epochs)
    t0 = time.perf_counter()
    result = train(impl, config, progress=False, held_out=False)
    k2, k1 = STYLES[style].window(n)
    return {"style": style, "n": n, "k2": k2, "k1": k1, "seed": seed, "final_loss": result.final_loss,
            "steps": result.steps, "seconds": round(time.perf_counter() - t0, 2)}
