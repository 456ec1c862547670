"""The package's shape, checked: no import cycle between its modules, the dialect asked in one
place, one FOR UPDATE helper, the exceptions a leaf, the ledger's locks and ids drawn only inside
the ledger, four-eyes rules decided by the policy (never re-implemented in a template), and no
package reaching for another package's private names. Each check is shown to catch what it
forbids on a small made-up case, so none of them can pass by looking at nothing."""

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



#: the ledger's lock and id builders, and a draw of ids for a ledger table
LEDGER_LOCK_OR_ID = (r"locked_columns|next_transaction_id|next_id_column"
                     r"|next_ids\(\s*(LedgerTransaction|Posting|Account)\b")


def test_only_the_ledger_and_the_database_module_build_ledger_locks_or_draw_ledger_ids():
    outside = {f for f in _python_files_mentioning(LEDGER_LOCK_OR_ID)
               if not f.startswith("pointsbank/ledger/") and f != "pointsbank/database.py"}
    assert outside == set()
    assert re.search(LEDGER_LOCK_OR_ID, "ids = next_ids(LedgerTransaction.__table__, 3)")  # the pattern bites
    assert not re.search(LEDGER_LOCK_OR_ID, "ids = next_ids(BehaviourRecord.__table__, 3)")


LEDGER_TABLES = re.compile(r"\b(Account|accounts|LedgerTransaction|ledger_transactions|Posting|postings)\b")


def ledger_locks_in(source: str) -> list[int]:
    """Lines of ``source`` locking rows of a ledger table: a ``lock_for_update`` or
    ``with_for_update`` (a call or a keyword) whose statement names accounts, transactions or postings."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        locks = name in ("lock_for_update", "with_for_update") or any(
            k.arg == "with_for_update" for k in node.keywords)
        if locks and LEDGER_TABLES.search(ast.unparse(node)):
            found.append(node.lineno)
    return found


def test_no_module_outside_the_ledger_locks_ledger_rows():
    assert ledger_locks_in("s = lock_for_update(sa.select(Account.id).where(Account.id == 1))") == [1]
    assert ledger_locks_in("s = lock_for_update(sa.select(Voucher).where(Voucher.id == v))") == []
    outside = {str(p.relative_to(PACKAGE.parent)): ledger_locks_in(p.read_text(encoding="utf-8"))
               for p in PACKAGE.rglob("*.py") if "ledger" not in p.relative_to(PACKAGE).parts[:1]}
    assert {f: lines for f, lines in outside.items() if lines} == {}


def test_the_database_module_is_the_one_for_update_helper():
    """``database.lock_for_update`` is the one FOR UPDATE (PostgreSQL; SQLite holds its write
    lock): nobody else calls ``with_for_update`` or passes it to ``session.get``."""
    assert _python_files_mentioning(r"with_for_update") == {"pointsbank/database.py"}


TEMPLATES = PACKAGE / "web" / "templates"
#: a record's author (``recorded_by_id``, ``raised_by_id``, ``requested_by_id``…) compared with the login
FOUR_EYES_IN_TEMPLATE = re.compile(r"\w+_by_id\s*(==|!=)\s*(user|current_user|actor)\.id\b"
                                   r"|\b(user|current_user|actor)\.id\s*(==|!=)\s*[\w.\[\]'\"]*_by_id\b"
                                   r"|\b(user|current_user|actor)\.id\s+(not\s+)?in\s+[\w.]*(approved_by|_by_ids?)\b")


def test_no_template_decides_four_eyes_itself():
    """Who may decide a record, an objection, an adjustment or a spot-check item is the policy's
    predicate (a template global, :data:`pointsbank.auth.policy.DECISION_PREDICATES`); a
    template comparing an author's id with the login re-implements it."""
    assert FOUR_EYES_IN_TEMPLATE.search('{% if item.recorded_by_id != user.id %}')
    assert FOUR_EYES_IN_TEMPLATE.search('{% if user.id == o.raised_by_id %}')
    assert FOUR_EYES_IN_TEMPLATE.search('{% if user.id not in r.approved_by %}')
    assert not FOUR_EYES_IN_TEMPLATE.search('{{ names.get(r.recorded_by_id, "") }}')
    found = {str(t.relative_to(TEMPLATES)): n for t in TEMPLATES.rglob("*.html")
             for n, line in enumerate(t.read_text(encoding="utf-8").splitlines(), 1)
             if FOUR_EYES_IN_TEMPLATE.search(line)}
    assert found == {}


def test_the_pages_ask_the_same_predicates_as_the_services(app):
    from pointsbank.auth import policy

    names = {p.__name__ for p in policy.DECISION_PREDICATES}
    assert {"record_decision_refusal", "objection_decision_refusal", "adjustment_decision_refusal",
            "spot_check_refusal"} <= names
    assert all(app.jinja_env.globals.get(p.__name__) is p for p in policy.DECISION_PREDICATES)


def _package_of(module: str) -> str:
    """``pointsbank.reports.api`` → ``reports``; a top-level module is its own package."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def private_imports(module: str, source: str, is_package: bool = False) -> list[str]:
    """Another package's private names (``_name``, not dunders) that ``module``'s ``source``
    imports (``from pointsbank.x import _name``) or reaches through a module it imported
    (``x._name``)."""
    package = module if is_package else module.rpartition(".")[0]
    tree = ast.parse(source)
    aliases: dict[str, str] = {}
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                kept = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(kept + ([base] if base else []))
            if not base.startswith("pointsbank"):
                continue
            for name in node.names:
                if f"{base}.{name.name}" in MODULES:
                    aliases[name.asname or name.name] = f"{base}.{name.name}"
                elif (name.name.startswith("_") and not name.name.startswith("__")
                      and _package_of(base) != _package_of(module)):
                    found.append(f"{base}.{name.name}")
        elif isinstance(node, ast.Import):
            for name in node.names:
                if name.name.startswith("pointsbank") and name.asname:
                    aliases[name.asname] = name.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and node.attr.startswith("_") and not node.attr.startswith("__")
                and _package_of(aliases[node.value.id]) != _package_of(module)):
            found.append(f"{aliases[node.value.id]}.{node.attr}")
    return found


def test_no_package_uses_another_packages_private_names():
    assert private_imports("pointsbank.regions.api", "from pointsbank.reports.api import BINARY, _file") == [
        "pointsbank.reports.api._file"]
    assert private_imports("pointsbank.web.pages", "from pointsbank.reports import exports\nexports._csv(1)") == [
        "pointsbank.reports.exports._csv"]
    assert private_imports("pointsbank.reports.api", "from pointsbank.reports.exports import _csv") == []
    found = {module: names for module, path in MODULES.items()
             if (names := private_imports(module, path.read_text(encoding="utf-8"), path.name == "__init__.py"))}
    assert found == {}


def test_every_csv_and_xlsx_is_answered_by_the_reports_export_responder():
    """``reports.exports.attachment`` is the one responder of a CSV/XLSX file: no other module
    writes an attachment's headers itself (and so none can skip the formula neutralising)."""
    assert _python_files_mentioning(r"Content-Disposition") == {"pointsbank/reports/exports.py"}
