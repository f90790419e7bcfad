"""The rooms' import rules (DESIGN.md, ``[tool.importlinter]`` in pyproject.toml) hold, and no
module of ``bot`` or ``index`` is part of a runtime import cycle.

import-linter checks the one-way doors; it has no contract for cycles, so the cycle check is
here, on grimp's graph (the one import-linter builds). Imports inside functions count: a lazy
import still ties two modules together, and only an accident of timing keeps it from failing.
``if TYPE_CHECKING:`` imports do not count: they never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_hold() -> None:
    """``lint-imports`` (as CI runs it) keeps every contract of pyproject.toml."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (
        "an import breaks a rule of the rooms (pyproject.toml, [tool.importlinter]); "
        "import from a lower room or move the code:\n" + result.stdout + result.stderr
    )


def test_front_ends_never_delete_a_collection_themselves() -> None:
    """Rule 4: adding, removing and forgetting documents is ``bot.core.documents``'s job; the
    command line and the Discord bot call it (the import contract keeps them from
    ``index.ingest.intake``; this keeps them from ``Collections.purge``)."""
    calls = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for room in ("bot/cli", "bot/discord")
        for path in sorted((ROOT / room).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "purge"
    ]
    assert not calls, "call bot.core.documents instead of purging a collection: " + ", ".join(
        calls
    )


def test_no_runtime_import_cycle_in_bot_or_index() -> None:
    """Every cycle found is listed, with one import path around it."""
    graph = grimp.build_graph("bot", "index", exclude_type_checking_imports=True)
    cycles = [
        _one_loop(graph, component)
        for component in _strongly_connected(graph.modules, graph.find_modules_directly_imported_by)
        if len(component) > 1
    ]
    assert not cycles, "runtime import cycles (break each one):\n" + "\n".join(
        " -> ".join(loop) for loop in cycles
    )


def _strongly_connected(
    modules: Iterable[str], imported_by: Callable[[str], set[str]]
) -> Iterator[set[str]]:
    """Tarjan's strongly connected components of the import graph, iteratively (no recursion
    limit on a long chain)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = 0
    for start in sorted(modules):
        if start in index:
            continue
        work = [(start, iter(sorted(imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            module, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(imported_by(target)))))
                    break
                if target in on_stack:
                    low[module] = min(low[module], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[module])
                if low[module] == index[module]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == module:
                            break
                    yield component


def _one_loop(graph: grimp.ImportGraph, component: set[str]) -> list[str]:
    """One import path from a module of the cycle back to itself, for the message."""
    first = min(component)
    for target in sorted(graph.find_modules_directly_imported_by(first) & component):
        back = graph.find_shortest_chain(importer=target, imported=first)
        if back:
            return [first, *back]
    return sorted(component)
