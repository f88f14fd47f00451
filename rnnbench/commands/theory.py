"""``rnnbench theory``: a task's theory levels, computed from its definition, 4 decimals."""

from __future__ import annotations

from rnnbench.tasks import DEFAULT_TASK, TASKS
from rnnbench.tasks import task as task_by_name

HELP = "a task's theory levels, computed from its definition"


def add_arguments(p) -> None:
    p.add_argument("--task", choices=tuple(TASKS), default=DEFAULT_TASK, help="(%(default)s)")


def run(args) -> int:
    for level in task_by_name(args.task).levels():
        print(f"{level.value:.4f}  {level.label}")
    return 0
