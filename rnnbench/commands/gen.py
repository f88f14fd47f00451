"""``rnnbench gen``: a task's data (epoch 0) written to an npz, in the form ``--data-in`` reads."""

from __future__ import annotations

import numpy as np

from rnnbench.commands.config_args import check_fits
from rnnbench.console import emit
from rnnbench.errors import ConfigError, UserError
from rnnbench.files import atomic_write, check_output
from rnnbench.spec.arguments import non_negative_int, positive_int
from rnnbench.spec.config import RunConfig
from rnnbench.tasks import DEFAULT_TASK, TASKS
from rnnbench.tasks import task as task_by_name

HELP = "write a task's data (epoch 0) to an npz, in the form --data-in reads"


def add_arguments(p) -> None:
    p.add_argument("--task", choices=tuple(TASKS), default=DEFAULT_TASK, help="(%(default)s)")
    p.add_argument("--size", type=positive_int, default=None, help="samples (the task's epoch size)")
    p.add_argument("--seed", type=non_negative_int, default=None, help="(0)")
    p.add_argument("--out", required=True, help="F.npz")


def run(args) -> int:
    spec = task_by_name(args.task)
    given = {k: v for k, v in (("size", args.size), ("seed", args.seed)) if v is not None}
    try:
        config = RunConfig.for_task(args.task, **given)
    except ConfigError as exc:
        if exc.field == "size" or args.size is None:
            raise
        least = min_size(args.task)
        raise UserError(f"--size: {args.size} is too small for the task {args.task}'s reference windows "
                        f"(at least {least}; {exc})") from None
    check_output(args.out, "--out")
    check_fits(config)
    arrays = spec.generate(config, 0)
    atomic_write(args.out, lambda f: np.savez(f, **arrays))
    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in arrays.items())
    emit(f"wrote {args.out}: task {args.task}, {shapes} (seed {config.seed})")
    return 0


def min_size(task: str) -> int:
    """The smallest ``--size`` the task's reference configuration runs with (``gen`` takes no other field)."""
    config = RunConfig.for_task(task)
    for size in range(1, config.size + 1):
        try:
            RunConfig.for_task(task, size=size)
            return size
        except ConfigError:
            continue
    return config.size
