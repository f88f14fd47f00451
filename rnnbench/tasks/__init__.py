"""The tasks, one module each, and the table of them. To add a task: a module with a ``Task`` subclass, and one
row here."""

from __future__ import annotations

from rnnbench.errors import lookup
from rnnbench.tasks import binary, digits, random, sin2cos, sine
from rnnbench.tasks.base import Goal, Level, Levels, ReferenceSpec, Task

TASKS: dict[str, Task] = {t.name: t for t in (binary.TASK, sine.TASK, sin2cos.TASK, digits.TASK, random.TASK)}
DEFAULT_TASK = "binary"


def task(name: str) -> Task:
    return lookup(TASKS, name, "task", "task")


__all__ = ["TASKS", "DEFAULT_TASK", "task", "Task", "Level", "Levels", "Goal", "ReferenceSpec"]
