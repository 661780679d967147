"""No import cycles between kerasdigits' modules.

Every module of ``src/kerasdigits`` is parsed with :mod:`ast` (none is imported), and the
imports it runs when it is imported become the edges of a graph: the top-level statements,
including those in top-level ``if``/``try``/``with`` blocks and class bodies, but not the
imports inside functions (lazy, run on use) nor those under ``if TYPE_CHECKING:`` (never run).
Two modules importing each other, or any longer cycle, make the order of imports matter and
break in ways that are hard to see (a partly initialized module), so the graph must be
acyclic.

An import of a package's submodule counts as an import of that submodule only, not of its
parent packages: the parent is already being imported whenever one of its submodules is.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import kerasdigits

PACKAGE = "kerasdigits"
ROOT = Path(kerasdigits.__file__).resolve().parent


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__.py``)."""
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _eager_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run on import: not in functions, not under ``TYPE_CHECKING``."""
    for node in body:
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _eager_statements(node.orelse)
            continue
        for field in ("body", "orelse", "finalbody", "handlers"):
            children = getattr(node, field, None)
            if isinstance(children, list):
                blocks = [c for c in children if isinstance(c, ast.stmt | ast.ExceptHandler)]
                for child in blocks:
                    if isinstance(child, ast.ExceptHandler):
                        yield from _eager_statements(child.body)
                    else:
                        yield from _eager_statements([child])


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The kerasdigits modules that importing ``name`` imports directly."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in _eager_statements(tree.body):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, is_package, node.module, node.level)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in modules else base)
    return {m for m in found if m in modules and m != name}


def _resolve(name: str, is_package: bool, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    parts = name.split(".")
    if not is_package:
        parts.pop()
    parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, module] if module else parts)


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected component of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
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
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_graph_sees_the_package() -> None:
    graph = _graph()
    assert "kerasdigits.models._registry" in graph
    assert "kerasdigits._plugins" in graph["kerasdigits.models._registry"]
    assert "kerasdigits.models._spec" in graph["kerasdigits.models._registry"]
    # An import inside a function is lazy, one under TYPE_CHECKING never runs: no edges.
    assert "kerasdigits.models._build" not in graph["kerasdigits.cli"]
    assert "kerasdigits.datasets" not in graph["kerasdigits.export._export"]


def test_no_two_modules_import_each_other() -> None:
    graph = _graph()
    pairs = sorted(
        (a, b) for a, targets in graph.items() for b in targets if a < b and a in graph[b]
    )
    assert not pairs, f"modules importing each other: {pairs}"


def test_no_import_cycles() -> None:
    cycles = _cycles(_graph())
    assert not cycles, f"import cycles (modules of each): {cycles}"


def test_cycles_are_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _resolve("kerasdigits.models._build", False, "_spec", 1) == "kerasdigits.models._spec"
    assert _resolve("kerasdigits.models", True, "_spec", 1) == "kerasdigits.models._spec"
    assert _resolve("kerasdigits.models.zoo.mlp", False, None, 2) == "kerasdigits.models"
