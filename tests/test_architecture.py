"""The import contract: layers you can see in the tree, imports that go one way.

spec → instance → relax → solver → analysis → pipeline → io → web → cli. A module may
import its own layer and the layers below it, never a higher one; no import
cycle, counting imports inside functions and under TYPE_CHECKING; the checker
imports only ``spec`` so that it stays independent of the model it checks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "matchmaker"

# Lowest first. "errors" is the base every layer may raise from; the package root
# (``matchmaker/__init__.py``) re-exports the library and sits above it all.
LAYERS = ["errors", "spec", "instance", "relax", "solver", "analysis", "pipeline", "io", "web", "cli", "", "__main__"]
MAX_TOP_LEVEL_MODULES = 8
MIN_SUBPACKAGES = 4


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom | ast.Import) -> list[str]:
    """Modules of this package that ``node`` imports, as names relative to the package."""
    known = _modules()
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names if alias.name.split(".")[0] == "matchmaker"]
        return [name.removeprefix("matchmaker").lstrip(".") for name in names]
    if node.level == 0:
        if not (node.module or "").startswith("matchmaker"):
            return []
        base = node.module.removeprefix("matchmaker").lstrip(".")
    else:
        package = importer.split(".") if importer else []
        if not is_package:
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    targets = []
    for alias in node.names:  # ``from . import greedy`` imports a module, not a name
        candidate = f"{base}.{alias.name}" if base else alias.name
        targets.append(candidate if candidate in known else base)
    return targets


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name, path in _modules().items():
        is_package = path.name == "__init__.py"
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges.update(target for target in _resolve(name, is_package, node) if target != name)
        graph[name] = edges
    return graph


def _layer(module: str) -> int:
    top = module.split(".")[0]
    return LAYERS.index(top)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_belongs_to_a_layer():
    unplaced = [name for name in _modules() if name.split(".")[0] not in LAYERS]
    assert unplaced == []


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_imports_go_one_way():
    upward = [
        f"{source} imports {target}"
        for source, targets in _graph().items()
        for target in targets
        if _layer(target) > _layer(source)
    ]
    assert upward == []


def test_checker_imports_only_spec():
    imported = _graph()["analysis.checker"]
    assert imported and all(target.split(".")[0] == "spec" for target in imported), imported


def test_tree_shows_the_layers():
    top_level = [path for path in PACKAGE.glob("*.py")]
    subpackages = [path for path in PACKAGE.iterdir() if (path / "__init__.py").exists()]
    assert len(top_level) <= MAX_TOP_LEVEL_MODULES, sorted(path.name for path in top_level)
    assert len(subpackages) >= MIN_SUBPACKAGES


@pytest.mark.parametrize(
    "source, expected",
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ],
)
def test_cycle_finder_finds_cycles(source, expected):
    """The contract test itself can fail: it sees a cycle when there is one."""
    assert _cycles(source) == expected
