"""The import graph of `textlstm`: no cycles, and a configuration layer without TensorFlow.

The graph comes from grimp (installed with import-linter, `pip install -e ".[test]"`),
which reads the source statically: every `import` counts, including those inside
functions, so a cycle hidden by a deferred import is still reported. Names that
`textlstm._lazy` resolves through `importlib` are not imports and are not seen.
The layering itself is checked by `lint-imports` (`.importlinter`).
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp")


def import_graph() -> tuple[dict[str, set[str]], dict[tuple[str, str], str]]:
    """Module -> the textlstm modules it imports directly, and where each import is.

    Besides grimp's static imports, a module that calls `importlib.import_module`
    is taken to import every textlstm module it names in a string literal (a
    registry importing modules by name at import time), except the values of
    `_LAZY` attribute tables (`textlstm._lazy`), which import on attribute access
    only, and the root package name. `"module:attribute"` strings resolved on
    first use (`textlstm.tasks`) are not module names and do not count.
    """
    graph = grimp.build_graph("textlstm", include_external_packages=False, cache_dir=None)
    modules = set(graph.modules)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) & modules for m in modules}
    where: dict[tuple[str, str], str] = {}
    for importer, imported_set in edges.items():
        for imported in imported_set:
            details = graph.get_import_details(importer=importer, imported=imported)
            where[importer, imported] = ", ".join(f"line {d['line_number']}" for d in details)
    for importer, imported, line in dynamic_imports(modules):
        if imported != importer:
            edges[importer].add(imported)
            where.setdefault((importer, imported), f"line {line}, importlib")
    return edges, where


def source_file(module: str) -> Path:
    """The file of a textlstm module, found without importing it (or its package)."""
    root = Path(importlib.util.find_spec("textlstm").origin).parent
    path = root.joinpath(*module.split(".")[1:])
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def dynamic_imports(modules: set[str]):
    """(importer, imported, line) for module names given to `importlib.import_module` (see `import_graph`)."""
    for module in sorted(modules):
        tree = ast.parse(source_file(module).read_text(encoding="utf-8"))
        calls = any(
            isinstance(n, ast.Call) and getattr(n.func, "attr", getattr(n.func, "id", None)) == "import_module"
            for n in ast.walk(tree)
        )
        if not calls:
            continue
        lazy = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in targets):
                    lazy.update(id(n) for n in ast.walk(node))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in modules
                and node.value != "textlstm"
                and id(node) not in lazy
            ):
                yield module, node.value, node.lineno


def strongly_connected_components(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of one node without a self-edge are left out."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in edges[node]:
                        components.append(sorted(component))
    return components


def cycle_in(component: list[str], edges: dict[str, set[str]], start: str | None = None) -> list[str]:
    """A shortest cycle through `start` (the component's first module), as a chain `a, b, ..., a`."""
    members = set(component)
    start = start or component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:  # breadth-first, so the chain is as short as the graph allows
        following = []
        for node in frontier:
            for child in sorted(edges[node] & members):
                if child == start:
                    chain = [start]
                    while node != start:
                        chain.append(node)
                        node = previous[node]
                    return [start, *reversed(chain[1:]), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # cannot happen in a strongly connected component


def test_tarjan_finds_cycles():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"a"}}
    assert strongly_connected_components(edges) == [["a", "b", "c"], ["e"]]
    assert cycle_in(["a", "b", "c"], edges) == ["a", "b", "c", "a"]
    assert cycle_in(["e"], edges) == ["e", "e"]


def test_no_import_cycles():
    edges, where = import_graph()
    assert "textlstm.config" in edges
    report = []
    for component in strongly_connected_components(edges):
        cycles = {}  # one shortest cycle through each member, rotations of one cycle counted once
        for start in component:
            steps = cycle_in(component, edges, start)[:-1]
            first = steps.index(min(steps))
            canonical = steps[first:] + steps[:first]
            cycles[" -> ".join([*canonical, canonical[0]])] = [*canonical, canonical[0]]
        report.append(f"cycle group {{{', '.join(component)}}}:")
        for chain, steps in sorted(cycles.items(), key=lambda c: (len(c[1]), c[0])):
            lines = "; ".join(f"{a} -> {b} ({where[a, b]})" for a, b in zip(steps, steps[1:]))
            report.append(f"    {chain}    [{lines}]")
    assert not report, "import cycles among textlstm modules:\n  " + "\n  ".join(report)


@pytest.mark.parametrize("module", ["textlstm", "textlstm.config"])
def test_configuration_does_not_import_tensorflow(module):
    code = f"import sys, {module}; assert 'tensorflow' not in sys.modules, [m for m in sys.modules if 'tensorflow' in m][:5]"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"importing {module} imports TensorFlow:\n{result.stderr[-2000:]}"
