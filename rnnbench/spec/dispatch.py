"""What one call asks of its framework: how many times the host called into the runtime (launches) and how many
operations ran there (ops). This is where a step's per-call overhead comes from: an eager framework pays a dispatch
for every operation, a compiled one pays one launch for the whole step (or the whole epoch).

Each family counts with its own tool, and says which (``Dispatch.how``); the counter is named in the family's row
(``rnnbench.spec.families.Family.counter``) and lives with the family's implementations. The counts are exact for
what each tool sees, and what it does not see is said in ``how``: they compare variants within a family well, and
across families as orders of magnitude.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from rnnbench.spec.families import family


@dataclass(frozen=True)
class Dispatch:
    launches: int  # calls from the host into the runtime: eager operations, compiled-program or Session.run calls
    ops: int  # operations the runtime ran for them (kernels, graph nodes, NumPy calls), as ``how`` says
    how: str  # what was counted, with which tool


def count(framework: str, impl, call: Callable[[], object]) -> Dispatch:
    """Run ``call`` (one step of ``impl``) once under ``framework``'s counter."""
    module, function = family(framework).counter.split(":")
    return getattr(importlib.import_module(module), function)(impl, call)
