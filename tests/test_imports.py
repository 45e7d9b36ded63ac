"""The module graph of `zoo` and `export`, read from the source (no imports run).

Design: the check reads every `import` statement, at module level and inside functions, so that
a cycle is not hidden by moving an import into a function.
"""
from __future__ import annotations

import ast
import os

from conftest import REPO_ROOT

PACKAGES = ("zoo", "export")
# The command lines: entry points that may import anything (nothing imports them).
ENTRY_POINTS = {"zoo.train", "zoo.evaluate", "zoo.gibbs_walk", "zoo.pretrained.__main__",
                "export.__main__"}


def module_files() -> dict[str, str]:
    """{dotted module name: path} of every .py file under PACKAGES."""
    modules = {}
    for package in PACKAGES:
        for directory, _, files in os.walk(os.path.join(REPO_ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(directory, name)
                    dotted = os.path.relpath(path, REPO_ROOT)[:-3].replace(os.sep, ".")
                    modules[dotted.removesuffix(".__init__")] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """{module: the zoo/export modules it imports anywhere in its source}."""
    modules = module_files()

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in modules.items():
        with open(path) as handle:
            tree = ast.parse(handle.read())
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets.update(resolve(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.update(resolve(f"{node.module}.{alias.name}") for alias in node.names)
        graph[module] = {t for t in targets if t and t != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_trainer_and_the_metrics_callback_import_in_one_direction():
    graph = import_graph()
    assert "zoo.callbacks_metrics" in graph["zoo.trainer"]
    assert "zoo.trainer" not in graph["zoo.callbacks_metrics"]
    assert graph["zoo.rundir"] == set()  # below everything that reads run directories


def test_no_import_cycles_anywhere():
    assert cycles(import_graph()) == []


def test_only_the_command_line_of_zoo_imports_export():
    """`export` writes zoo models (it imports zoo); within zoo only the command line
    `zoo.train` imports `export`, after the run, so the trainer library never does."""
    graph = import_graph()
    for module, targets in graph.items():
        if module.startswith("zoo") and module not in ENTRY_POINTS:
            assert not {t for t in targets if t.startswith("export")}, module
    assert any(t.startswith("export") for t in graph["zoo.train"])
    assert not any(t.startswith("export") for t in graph["zoo.trainer"])


def test_the_trainer_and_the_callback_have_no_function_level_imports():
    for module in ("zoo.trainer", "zoo.callbacks_metrics", "zoo.rundir"):
        with open(module_files()[module]) as handle:
            tree = ast.parse(handle.read())
        nested = [node.lineno for function in ast.walk(tree)
                  if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for node in ast.walk(function) if isinstance(node, (ast.Import, ast.ImportFrom))]
        assert nested == [], (module, nested)
