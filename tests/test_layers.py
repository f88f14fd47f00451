"""The core's layers, kept: each package of ``rnnbench`` imports only the layers below it, so what a module may
depend on is visible from where it lives (``rnnbench/*/__init__.py`` says what each layer holds). The one use of an
implementation by the core is the NumPy reference, by two layers and on purpose: ``training`` computes every
implementation's held-out metrics with the reference's forward pass (the same judge for all), and ``studies``
reads the reference's backpropagation. The implementations themselves import only the core's interface."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
GROUND = {"errors", "files", "console", "paths", "cpus", "__version__"}  # rnnbench/*.py: what every layer may use
# a layer -> the layers it may import (besides itself and the ground)
ALLOWED = {
    "spec": {"tasks"},
    "tasks": {"spec"},  # the tasks are declarations too: a task names the config fields it reads
    "model": {"spec", "tasks"},
    # the held-out evaluation runs the NumPy reference's forward pass (rnnbench.training.evaluate)
    "training": {"spec", "tasks", "model", "impl_numpy"},
    "results": {"spec"},
    "harness": {"spec", "tasks", "model", "training", "results"},
    "reports": {"spec", "results"},
    # a study trains (and the gradient study reads the NumPy reference's backpropagation); its JSON is results'
    "studies": {"spec", "tasks", "model", "training", "impl_numpy", "results"},
    "commands": {"spec", "tasks", "model", "training", "results", "harness", "reports", "studies"},
}


def layer_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    if rel.parts[0] == "reports":
        return "reports"
    if rel.name == "__main__.py":
        return "commands"  # the entry point: ``python -m rnnbench`` is the CLI
    return rel.parts[1] if len(rel.parts) > 2 else "ground"


def imported_layers(path: Path) -> set[str]:
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names] if node.module == "rnnbench" else [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "rnnbench" and len(parts) > 1:
                layers.add("ground" if parts[1] in GROUND else parts[1])
    return layers


def test_every_layer_imports_only_the_layers_below_it():
    broken = []
    for path in sorted([*ROOT.glob("rnnbench/**/*.py"), *ROOT.glob("reports/*.py")]):
        layer = layer_of(path)
        allowed = {"ground", layer} | ALLOWED.get(layer, set())
        if layer == "ground":
            allowed = {"ground"}
        for other in sorted(imported_layers(path) - allowed):
            broken.append(f"{path.relative_to(ROOT)} ({layer}) imports rnnbench.{other}")
    assert not broken, "\n".join(broken)


def test_the_package_is_grouped_by_layer():
    """The flat package is gone: at the top only the ground floor, the entry point and the layer packages."""
    top = {p.stem for p in (ROOT / "rnnbench").glob("*.py")}
    assert top == {"__init__", "__main__", *GROUND} - {"__version__"}
    layers = {p.parent.name for p in (ROOT / "rnnbench").glob("*/__init__.py")}
    assert layers == set(ALLOWED) - {"reports"}


# An implementation depends on NumPy, its framework and the core's interface: the declarations (spec, tasks), the
# shared model rules (model) and the ground floor; and on its own family's package. The NumPy reference is written
# apart from the shared model rules, so that parity compares two writings.
IMPL_ALLOWED = {"ground", "spec", "tasks", "model"}


def test_implementations_import_only_the_core_interface():
    broken = []
    for path in sorted(ROOT.glob("impl_*/*.py")):
        own = f"impl_{path.parent.name.removeprefix('impl_')}"
        allowed = IMPL_ALLOWED - ({"model"} if own == "impl_numpy" else set()) | {own}
        for other in sorted(imported_layers(path) - allowed):
            broken.append(f"{path.relative_to(ROOT)} imports rnnbench.{other}")
    assert not broken, "\n".join(broken)


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] != "rnnbench":  # impl_*, reports, benchmarks: installed inside the rnnbench namespace
        parts = ["rnnbench", *parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST, known: set[str]) -> set[str]:
    """Every rnnbench module a file imports, at module level or inside a function (not under TYPE_CHECKING)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            node.body = []  # annotations only: never imported when the program runs
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found & known


def test_no_import_cycle():
    """No module reaches itself through what it imports, however late (an import inside a function counts)."""
    paths = [*ROOT.glob("rnnbench/**/*.py"), *ROOT.glob("impl_*/*.py"), *ROOT.glob("reports/*.py")]
    known = {_module_name(p) for p in paths}
    graph = {_module_name(p): _imports(ast.parse(p.read_text()), known) - {_module_name(p)} for p in paths}
    state: dict[str, int] = {}  # 1: on the path being followed, 2: done

    def follow(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for other in sorted(graph.get(module, ())):
            if state.get(other) == 1:
                return [*path[path.index(other):], other]
            if other not in state:
                cycle = follow(other, [*path, other])
                if cycle:
                    return cycle
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = follow(module, [module])
            assert cycle is None, " -> ".join(cycle)
