"""The tenant rules of ``pointsbank.tenancy``, read from the migrated database's own catalog.

Nothing here is a list kept by hand: the tables, keys and foreign keys come from PostgreSQL's
``pg_constraint``/``pg_index`` of the schema the migrations made, and the statements from what the
app sent while it served one award, one voucher issue, one redemption, one balance read and one
history page. A new table without a class, a distributed table whose key leaves ``community_id``
out, or a hot-path statement on a distributed table that names no community fails here.

The statements are parsed with PostgreSQL's own parser (``pglast``, libpg_query).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from pglast import ast, parse_sql

from pointsbank import tenancy
from pointsbank.extensions import db as _db
from tests.fixtures.rules import publish
from tests.integration.helpers_redeem import give, issued

pytestmark = pytest.mark.postgres_only

COLUMN = tenancy.DISTRIBUTION_COLUMN


def _constraints(db: Any) -> list[Any]:
    """Every primary, unique and foreign key of the public schema, with column names."""
    return db.session.execute(sa.text("""
        SELECT c.conname AS name, c.contype AS kind, t.relname AS table_name, f.relname AS referred,
               ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) AS columns,
               ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                     JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i) AS referred_columns
        FROM pg_constraint c
        JOIN pg_class t ON t.oid = c.conrelid
        JOIN pg_namespace s ON s.oid = t.relnamespace AND s.nspname = 'public'
        LEFT JOIN pg_class f ON f.oid = c.confrelid
        WHERE c.contype IN ('p', 'u', 'f')""")).all()


def _unique_indexes(db: Any) -> list[Any]:
    """Unique indexes that are not constraints (partial ones: ``uq_household_proxies_open`` …)."""
    return db.session.execute(sa.text("""
        SELECT i.relname AS name, t.relname AS table_name,
               ARRAY(SELECT a.attname FROM unnest(x.indkey) k(n)
                     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n) AS columns
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_namespace s ON s.oid = t.relnamespace AND s.nspname = 'public'
        WHERE x.indisunique AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)""")).all()


def _tables(db: Any) -> set[str]:
    return set(db.session.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")))


def test_every_table_of_the_migrated_schema_has_exactly_one_class(app, db):
    tables = _tables(db)
    classes = {"distributed": tenancy.DISTRIBUTED, "reference": set(tenancy.REFERENCE), "local": set(tenancy.LOCAL)}
    unclassed = sorted(t for t in tables if not any(t in names for names in classes.values()))
    assert unclassed == [], f"tables without a class in pointsbank.tenancy: {unclassed}"
    twice = sorted(t for t in tables if sum(t in names for names in classes.values()) > 1)
    assert twice == []
    assert set().union(*classes.values()) - tables == set(), "a class names a table the migrations do not make"
    for name in tables:
        assert tenancy.table_class(name) in classes


def test_a_table_without_a_class_is_refused_by_name(app, db):
    with pytest.raises(KeyError, match="no class"):
        tenancy.table_class("a_new_table")


def test_every_distributed_table_has_a_not_null_community_id(app, db):
    nullable = dict(db.session.execute(sa.text(
        "SELECT table_name, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'public' AND column_name = :c"), {"c": COLUMN}).tuples().all())
    for table in sorted(tenancy.DISTRIBUTED):
        assert nullable.get(table) == "NO", f"{table}.{COLUMN} is missing or nullable"


def test_every_key_of_a_distributed_table_includes_community_id(app, db):
    problems = []
    for row in _constraints(db):
        if row.table_name not in tenancy.DISTRIBUTED or row.kind == "f":
            continue
        if COLUMN not in row.columns:
            problems.append(f"{row.table_name}.{row.name} {row.columns}")
    for row in _unique_indexes(db):
        if row.table_name in tenancy.DISTRIBUTED and COLUMN not in row.columns:
            problems.append(f"{row.table_name}.{row.name} {row.columns}")
    assert problems == []
    keyed = {row.table_name for row in _constraints(db) if row.kind == "p"}
    assert tenancy.DISTRIBUTED <= keyed, "a distributed table without a primary key"


def test_foreign_keys_between_distributed_tables_go_through_community_id_and_none_point_at_local_ones(app, db):
    problems = []
    for row in _constraints(db):
        if row.kind != "f":
            continue
        source, target = tenancy.table_class(row.table_name), tenancy.table_class(row.referred)
        if source == "distributed" and target == "distributed":
            pairs = dict(zip(row.columns, row.referred_columns))
            if pairs.get(COLUMN) != COLUMN:
                problems.append(f"{row.name}: {row.columns} -> {row.referred}{row.referred_columns}")
        elif source == "distributed" and target == "local":
            problems.append(f"{row.name}: a distributed table refers to the coordinator-local {row.referred}")
        elif source != "distributed" and target == "distributed":
            problems.append(f"{row.name}: {source} {row.table_name} refers to the distributed {row.referred}")
    assert problems == []


# --- the hot paths' statements -------------------------------------------------------------

def _statement_nodes(node: Any) -> Iterator[Any]:
    """Every SELECT/INSERT/UPDATE/DELETE in a parse tree (CTEs and subqueries included)."""
    if isinstance(node, (ast.SelectStmt, ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt)):
        yield node
    if isinstance(node, ast.Node):
        for name in node:
            yield from _statement_nodes(getattr(node, name))
    elif isinstance(node, (tuple, list)):
        for each in node:
            yield from _statement_nodes(each)


def _ranges(node: Any) -> Iterator[ast.RangeVar]:
    """The tables of a FROM list (through joins, not into subqueries: those are their own scope)."""
    if isinstance(node, ast.RangeVar):
        yield node
    elif isinstance(node, ast.JoinExpr):
        yield from _ranges(node.larg)
        yield from _ranges(node.rarg)
    elif isinstance(node, (tuple, list)):
        for each in node:
            yield from _ranges(each)


def _conditions(node: Any) -> Iterator[ast.A_Expr]:
    """Every ``a = b`` in a WHERE clause or a join's ON (not inside subqueries)."""
    if isinstance(node, ast.A_Expr) and node.kind == 0 and [n.sval for n in node.name] == ["="]:
        yield node
    elif isinstance(node, ast.BoolExpr):
        for each in node.args:
            yield from _conditions(each)
    elif isinstance(node, ast.JoinExpr):
        yield from _conditions(node.quals)
        yield from _conditions(node.larg)
        yield from _conditions(node.rarg)
    elif isinstance(node, (tuple, list)):
        for each in node:
            yield from _conditions(each)


def _column(node: Any) -> tuple[str, ...] | None:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.ColumnRef):
        return tuple(f.sval for f in node.fields if isinstance(f, ast.String))
    return None


def _is_value(node: Any) -> bool:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    return isinstance(node, (ast.ParamRef, ast.A_Const))


def _anchored(aliases: list[str], conditions: list[ast.A_Expr]) -> set[str]:
    """The tables of a scope that name one community: ``alias.community_id = $n`` (or a constant,
    or a column of an enclosing query's table: a correlated subquery), and, through joins, every
    table whose ``community_id`` equals an anchored one's. An unqualified ``community_id`` is the
    only table's of its scope."""
    def owner(column: tuple[str, ...] | None) -> str | None:
        if column is None or column[-1] != COLUMN:
            return None
        if len(column) == 1:
            return aliases[0] if len(aliases) == 1 else None
        return column[-2]

    anchored: set[str] = set()
    links: list[tuple[str, str]] = []
    for condition in conditions:
        left, right = _column(condition.lexpr), _column(condition.rexpr)
        for side, other, other_node in ((left, right, condition.rexpr), (right, left, condition.lexpr)):
            table = owner(side)
            if table not in aliases:
                continue
            other_table = owner(other)
            if _is_value(other_node) or (other_table is not None and other_table not in aliases):
                anchored.add(table)
            elif other_table is not None:
                links.append((table, other_table))
    changed = True
    while changed:
        changed = False
        for table, other in links:
            if other in anchored and table not in anchored:
                anchored.add(table)
                changed = True
    return anchored


def unrouted(sql: str) -> list[str]:
    """The distributed tables a statement touches without naming one community (empty: it is routed)."""
    text = re.sub(r"%\((\w+)\)s", "$1", sql)  # psycopg's named placeholders → PostgreSQL's
    problems = []
    for statement in _statement_nodes(parse_sql(text)):
        if isinstance(statement, ast.InsertStmt):
            table = statement.relation.relname
            columns = [c.name for c in statement.cols or ()]
            if table in tenancy.DISTRIBUTED and COLUMN not in columns:
                problems.append(f"INSERT INTO {table} without {COLUMN}")
            continue
        if isinstance(statement, ast.SelectStmt):
            ranges, where = list(_ranges(statement.fromClause)), statement.whereClause
            conditions = list(_conditions(statement.fromClause)) + list(_conditions(where))
        else:
            extra = statement.fromClause if isinstance(statement, ast.UpdateStmt) else statement.usingClause
            ranges = [statement.relation, *_ranges(extra)]
            conditions = list(_conditions(statement.whereClause)) + list(_conditions(extra))
        aliases = [r.alias.aliasname if r.alias else r.relname for r in ranges]
        anchored = _anchored(aliases, conditions)
        for table, alias in zip(ranges, aliases):
            if table.relname in tenancy.DISTRIBUTED and alias not in anchored:
                problems.append(f"{table.relname} ({alias}) without a {COLUMN} condition")
    return problems


def test_the_statement_checker_tells_a_routed_statement_from_one_that_asks_every_shard():
    assert unrouted("SELECT id FROM accounts WHERE community_id = %(c)s AND id = %(i)s") == []
    assert unrouted("SELECT a.id FROM accounts a JOIN postings p ON p.account_id = a.id "
                    "AND p.community_id = a.community_id WHERE a.community_id = 1") == []
    assert unrouted("SELECT id FROM accounts WHERE id = %(i)s") == ["accounts (accounts) without a community_id condition"]
    assert unrouted("SELECT a.id FROM accounts a JOIN postings p ON p.account_id = a.id WHERE a.community_id = 1") \
        == ["postings (p) without a community_id condition"]
    assert unrouted("INSERT INTO postings (transaction_id, points) VALUES (1, 2)") \
        == ["INSERT INTO postings without community_id"]
    assert unrouted("UPDATE accounts SET balance = 1 WHERE id = 3") == ["accounts (accounts) without a community_id condition"]
    assert unrouted("WITH t AS (INSERT INTO ledger_transactions (id, community_id) VALUES (1, 2)) "
                    "SELECT id FROM users WHERE id = 1") == []  # users: coordinator-local
    assert unrouted("SELECT a.id FROM accounts a JOIN postings p ON p.community_id = a.community_id") \
        == ["accounts (a) without a community_id condition", "postings (p) without a community_id condition"]
    assert unrouted("SELECT id FROM vouchers WHERE community_id IN (SELECT community_id FROM shop_partnerships "
                    "WHERE shop_id = 4)") == ["vouchers (vouchers) without a community_id condition",
                                              "shop_partnerships (shop_partnerships) without a community_id condition"]


class Capture:
    """The statements the app sends on its engine while ``with capture:`` is open."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.on = False

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.on:
            self.statements.append(statement)

    def __enter__(self) -> "Capture":
        self.statements, self.on = [], True
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.on = False


@pytest.fixture
def capture(app):
    seen = Capture()
    with app.app_context():
        sa.event.listen(_db.engine, "before_cursor_execute", seen)
        try:
            yield seen
        finally:
            sa.event.remove(_db.engine, "before_cursor_execute", seen)


def _assert_routed(statements: list[str]) -> None:
    assert statements, "nothing was captured"
    touched = [s for s in statements if any(re.search(rf"\b{t}\b", s) for t in tenancy.DISTRIBUTED)]
    assert touched, "no statement on a distributed table was captured"
    problems = {s: unrouted(s) for s in statements}
    assert {s: p for s, p in problems.items() if p} == {}


def test_an_award_names_one_community_in_every_statement_on_a_distributed_table(client, world, db, capture):
    publish(client, world)
    headers = world.headers("staff_a2", **{"Idempotency-Key": "tenancy-award"})
    body = {"household_id": world["a1"], "rule_code": "good_deed", "occurred_on": "2026-05-10"}
    with capture:
        response = client.post("/api/v1/records", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    _assert_routed(capture.statements)


def test_a_voucher_issue_and_its_redemption_name_one_community_in_every_statement(client, world, db, capture):
    give(world, "a1", 50)
    with capture:
        voucher = issued(client, world, "resident_a1", 30)
    _assert_routed(capture.statements)
    with capture:
        response = client.post("/api/v1/redemptions", json={"code": voucher["token"], "points": 30},
                               headers=world.headers("cashier_a"))
    assert response.status_code == 201, response.get_json()
    _assert_routed(capture.statements)


def test_a_balance_read_and_a_history_page_name_one_community_in_every_statement(client, world, db, capture):
    give(world, "a1", 20)
    with capture:
        balance = client.get(f"/api/v1/households/{world['a1']}", headers=world.headers("resident_a1"))
    assert balance.status_code == 200 and balance.get_json()["balance"] == 120
    _assert_routed(capture.statements)
    with capture:
        history = client.get(f"/api/v1/households/{world['a1']}/postings", headers=world.headers("resident_a1"))
    assert history.status_code == 200, history.get_json()
    _assert_routed(capture.statements)


def test_an_import_that_posts_names_one_community_in_every_statement(client, world, db, capture):
    import io

    publish(client, world)
    rows = "户号,规则代码,日期,数量,备注\r\nA-001,good_deed,2026/5/3,,\r\nA-002,volunteer_hour,2026/5/4,3,\r\n"
    form = {"file": (io.BytesIO(rows.encode()), "records.csv"), "post": "true"}
    with capture:
        response = client.post(f"/api/v1/communities/{world['alpha']}/records/import", data=form,
                               headers=world.headers("staff_a2"), content_type="multipart/form-data")
    assert response.status_code in (200, 201), response.get_json()
    assert response.get_json()["posted"] == 2, response.get_json()
    _assert_routed(capture.statements)
    # the rows themselves go by COPY on the driver's connection (pointsbank.bulk), not captured
    # here: each carries its community, as every INSERT must
    from pointsbank.ledger.posting import POSTING_COLUMNS, TRANSACTION_COLUMNS
    from pointsbank.rules.importer import RECORD_COLUMNS

    for columns in (RECORD_COLUMNS, TRANSACTION_COLUMNS, POSTING_COLUMNS):
        assert COLUMN in columns
