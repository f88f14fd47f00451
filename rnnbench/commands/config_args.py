"""A run's configuration from the command line (``rnnbench train``): its options, the ``RunConfig`` they make with
what ``--data-in`` decides, and the checks made before any work (the data file, the memory it needs)."""

from __future__ import annotations

import numpy as np

from rnnbench.errors import UserError
from rnnbench.files import load_npz
from rnnbench.spec.arguments import (
    at_least_two,
    non_negative_int,
    positive_float,
    positive_int,
    thread_count,
    truncation,
)
from rnnbench.spec.cells import CELLS, TIME_MODES, linear_cells
from rnnbench.spec.config import DEVICES, DTYPES, OPTIMIZERS, TARGETS, RunConfig
from rnnbench.tasks import DEFAULT_TASK, TASKS
from rnnbench.tasks.random import DEFAULT_CLASSES, DEFAULT_INPUT, DEFAULT_TARGET

CONFIG_ARGS = ("cell", "bidirectional", "layers", "optimizer", "num_steps", "state_size", "batch_size", "size",
               "epochs", "seed", "learning_rate", "clip_norm", "threads", "device", "dtype", "input_width", "classes",
               "target_at", "time_mode")


def add_config_arguments(p) -> None:
    """The run's fields. Left out, each takes the task's reference value (``rnnbench theory --task T`` lists
    them)."""
    sized = ", ".join(n for n, t in TASKS.items() if t.sized_by_config)
    p.add_argument("--task", choices=tuple(TASKS), default=DEFAULT_TASK,
                   help="what to learn (%(default)s); its defaults are the seed's settings")
    p.add_argument("--cell", choices=tuple(CELLS), default=None, help="the recurrent cell (the task's)")
    p.add_argument("--bidirectional", action="store_true", default=None,
                   help="add a backward direction (tasks of independent sequences: sine, digits)")
    p.add_argument("--layers", type=positive_int, default=None, metavar="N",
                   help="stacked layers, each reading the one below's states (1; tasks of independent sequences)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=None, help="the task's by default")
    p.add_argument("--num-steps", type=positive_int, default=None, help="window (sequence) length")
    p.add_argument("--truncation", type=truncation, default=None, metavar="tf|K2,K1",
                   help="tf: windows of num_steps side by side, each error backpropagated to its window's start "
                        "(the default); K2,K1: BPTT(k2, k1), windows of K2 steps every K1 steps, the loss on each "
                        "window's last K1 positions, every error backpropagated at least K2-K1+1 steps (streams)")
    p.add_argument("--state-size", type=positive_int, default=None, help="hidden units")
    p.add_argument("--batch-size", type=positive_int, default=None, help="rows or sequences per step")
    p.add_argument("--size", type=positive_int, default=None,
                   help="samples per epoch: stream points, or sequences (with --data-in: the file's)")
    p.add_argument("--epochs", type=positive_int, default=None)
    p.add_argument("--seed", type=non_negative_int, default=None, help="(0)")
    p.add_argument("--lr", type=positive_float, default=None, dest="learning_rate", help="the optimizer's step size")
    p.add_argument("--clip-norm", type=positive_float, default=None, metavar="C",
                   help="clip the gradients' global norm to C before every update (default: no clipping)")
    p.add_argument("--threads", type=thread_count, default=None,
                   help=f"threads for every framework and BLAS (all cores: {RunConfig().threads})")
    p.add_argument("--input-size", type=positive_int, default=None, dest="input_width", metavar="N",
                   help=f"features per input step (task {sized}; {DEFAULT_INPUT} by default; every other task has "
                        "its own width)")
    p.add_argument("--classes", type=at_least_two, default=None, metavar="C",
                   help=f"classes of the targets (task {sized}; {DEFAULT_CLASSES} by default)")
    p.add_argument("--target", choices=TARGETS, default=None, dest="target_at",
                   help=f"a target at each step or at the last (task {sized}; {DEFAULT_TARGET} by default)")
    p.add_argument("--device", choices=DEVICES, default=None, help="(cpu)")
    p.add_argument("--dtype", choices=DTYPES, default=None, help="(float32)")
    p.add_argument("--time-mode", choices=TIME_MODES, default=None,
                   help=f"through the window by a loop of dependent steps (sequential) or by a parallel scan "
                        f"(parallel: {', '.join(linear_cells())} only)")


def config_from_args(args, from_data: dict | None = None) -> RunConfig:
    """The task's reference configuration, with every field the user gave (and what ``--data-in`` decides)."""
    given = {k: getattr(args, k) for k in CONFIG_ARGS if getattr(args, k, None) is not None}
    truncation_given = getattr(args, "truncation", None)
    if truncation_given is not None:
        k2, k1 = truncation_given
        if given.get("num_steps", k2) != k2:
            raise UserError(f"--num-steps {given['num_steps']} disagrees with --truncation {k2},{k1}, whose window "
                            f"is {k2} steps; drop --num-steps")
        given.update(num_steps=k2, shift=k1)
    for key, value in (from_data or {}).items():
        if key in given and given[key] != value:
            flag = "--" + ("lr" if key == "learning_rate" else key.replace("_", "-"))
            raise UserError(f"{flag} {given[key]} disagrees with {args.data_in} ({key} {value}); drop {flag}")
        given[key] = value
    return RunConfig.for_task(args.task, **given)


def load_data(path: str, task) -> dict[str, np.ndarray]:
    """``--data-in``: the arrays ``rnnbench gen --task T`` writes (digits: a Keras-format mnist.npz), checked."""
    arrays = load_npz(path, task.data_keys)
    if any(a.size == 0 for a in arrays.values()):
        raise UserError(f"{path}: {' and '.join(k for k, a in arrays.items() if a.size == 0)} are empty; "
                        "expected data (rnnbench gen --task T writes it)")
    return task.check_data(path, arrays)


def check_fits(config: RunConfig, data: bool = True) -> None:
    """Refuse up front a run that cannot fit in this machine's memory, naming what grows with the user's input
    and what it would need: the model (weights, gradients, optimizer state, the activations BPTT keeps) and,
    unless the data was read from a file (``data=False``), the generated data."""
    from rnnbench.spec.params import model_bytes

    have = available_memory()
    model = model_bytes(config)
    if model > have:
        raise UserError(f"state_size: {config.state_size} units at batch_size {config.batch_size} and num_steps "
                        f"{config.num_steps} need about {model / 2**30:,.1f} GiB for the model (weights, gradients, "
                        f"optimizer state, activations); this machine has {have / 2**30:,.1f} GiB available")
    need = config.task_spec.data_bytes(config) if data else 0
    if need + model > have:
        raise UserError(f"size: {config.size} samples need about {need / 2**30:,.1f} GiB for their data (and "
                        f"{model / 2**30:,.1f} GiB for the model); this machine has {have / 2**30:,.1f} GiB "
                        "available")


def available_memory() -> int:
    import psutil

    return psutil.virtual_memory().available
