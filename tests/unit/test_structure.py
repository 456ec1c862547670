"""The package's shape, checked: no import cycle between its modules, the dialect asked in one
place, the exceptions a leaf, and the ledger's locks and ids drawn only inside the ledger."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pointsbank"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _owner(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports_at_import_time(module: str) -> set[str]:
    """The package's modules that ``module`` imports when it is imported: its module-level
    imports (not those inside functions, nor ``if TYPE_CHECKING:`` blocks)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for statement in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(statement, ast.If) and "TYPE_CHECKING" in ast.unparse(statement.test):
            continue
        for node in ast.walk(statement):
            if isinstance(node, ast.Import):
                found |= {_owner(a.name) for a in node.names if a.name.startswith("pointsbank")}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    kept = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(kept + ([base] if base else []))
                if base.startswith("pointsbank"):
                    found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else _owner(base)
                              for a in node.names}
    return found - {None, module}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

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
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_cycle_finder_reports_a_cycle_and_nothing_else():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert import_cycles(graph) == [["a", "b", "c"]]


def test_no_two_modules_of_the_package_import_each_other_at_import_time():
    graph = {module: _imports_at_import_time(module) for module in MODULES}
    assert "pointsbank.web.staff_blueprint" in graph["pointsbank.web.staff_records"]  # the walk sees imports
    assert import_cycles(graph) == []


def _python_files_mentioning(pattern: str) -> set[str]:
    return {str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("*.py")
            if re.search(pattern, p.read_text(encoding="utf-8"))}


def test_only_the_database_module_asks_the_dialect():
    assert _python_files_mentioning(r"dialect\.name") == {"pointsbank/database.py"}


def test_the_exceptions_module_imports_nothing_of_the_package():
    assert _imports_at_import_time("pointsbank.errors") == set()
    assert "pointsbank" not in MODULES["pointsbank.errors"].read_text(encoding="utf-8").split('"""', 2)[2]



def test_only_the_ledger_and_the_database_module_build_ledger_locks_or_draw_ledger_ids():
    outside = {f for f in _python_files_mentioning(r"locked_columns|next_transaction_id|next_id_column")
               if not f.startswith("pointsbank/ledger/") and f != "pointsbank/database.py"}
    assert outside == set()
