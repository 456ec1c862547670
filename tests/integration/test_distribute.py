"""``pointsbank db distribute`` where there is no Citus (SQLite, the plain PostgreSQL of the test
run): it refuses, says what it needs, and changes nothing; and it reads the migrated schema's own
catalogs (the layout itself was verified on a Citus 13 cluster: README, "Many villages: Citus")."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pointsbank.cli import main
from pointsbank.database import is_postgresql
from pointsbank.distribute import dependency_order, migration_refusal, problems, read_catalog


def _database_settings(db) -> list:
    with db.engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT setconfig FROM pg_db_role_setting WHERE setdatabase = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())")).all()


def _schema(db) -> list[str]:
    return sorted(sa.inspect(db.engine).get_table_names())


def test_on_sqlite_it_refuses_and_says_what_it_needs(app, db, runner):
    if is_postgresql():
        pytest.skip("the SQLite half (PostgreSQL: the next test)")
    tables = _schema(db)
    result = runner.invoke(main, ["db", "distribute"])
    assert result.exit_code == 1
    assert "needs a Citus coordinator (PostgreSQL with the citus extension)" in result.output
    assert "Nothing was changed" in result.output
    assert _schema(db) == tables


@pytest.mark.postgres_only
def test_on_plain_postgresql_it_refuses_names_the_missing_extension_and_changes_nothing(app, db, runner):
    before = (_schema(db), _database_settings(db))
    for args in (["db", "distribute"], ["db", "distribute", "--dry-run"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 1
        assert "has no citus extension" in result.output
        assert "CREATE EXTENSION citus" in result.output
        assert "refused; nothing was changed" in result.output
    assert (_schema(db), _database_settings(db)) == before  # no ALTER DATABASE, no table touched


@pytest.mark.postgres_only
def test_the_catalog_of_the_migrated_schema_orders_every_referred_table_first(app, db):
    with db.engine.connect() as conn:
        catalog = read_catalog(conn, with_citus=False)
    assert catalog.tables == set(_schema(db))
    assert {"postings", "ledger_transactions"} <= catalog.triggered  # the append-only triggers
    assert "pk_postings" in {name for name, _ in catalog.unique_keys["postings"]}
    assert any(k.table == "postings" and k.referred == "accounts" for k in catalog.foreign_keys)
    order = dependency_order(catalog.tables, catalog.foreign_keys)
    for key in catalog.foreign_keys:
        if key.table != key.referred:
            assert order.index(key.referred) < order.index(key.table), key.name


@pytest.mark.postgres_only
def test_a_table_the_tenancy_module_does_not_class_is_named_from_the_database(app, db):
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE scratch_notes (id serial PRIMARY KEY)")
    try:
        with db.engine.connect() as conn:
            found = problems(read_catalog(conn, with_citus=False))
        assert "table scratch_notes has no class in pointsbank.tenancy (DISTRIBUTED, REFERENCE or LOCAL)" in found
        assert not [p for p in found if "has no class" in p and "scratch_notes" not in p]
    finally:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE scratch_notes")


@pytest.mark.postgres_only
def test_a_schema_behind_the_newest_migration_is_refused_with_the_command_that_fixes_it(app, db):
    with db.engine.connect() as conn:
        assert migration_refusal(conn) is None  # the test database is migrated
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001_foundation'")
        refusal = migration_refusal(conn)
        conn.rollback()
    assert refusal.startswith("the database is at revision 0001_foundation, not the newest (")
    assert refusal.endswith("run pointsbank db upgrade first")
