"""``pointsbank db distribute`` on a real Citus coordinator: run only where one is given
(``POINTSBANK_TEST_CITUS_URL``, a database with the ``citus`` extension whose schema ``public``
this test replaces); CI has none and skips it (README, "Many villages: Citus", says how it was run).
It migrates from scratch, lays the schema out twice and checks ``citus_tables`` against
:mod:`pointsbank.tenancy`."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from pointsbank import create_app, tenancy
from pointsbank.cli import main
from pointsbank.extensions import db as _db

CITUS_URL = os.environ.get("POINTSBANK_TEST_CITUS_URL")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not CITUS_URL, reason="no Citus coordinator: set "
                                                    "POINTSBANK_TEST_CITUS_URL to run it")]


@pytest.fixture
def citus_app():
    from flask_migrate import upgrade

    engine = sa.create_engine(CITUS_URL)
    with engine.begin() as conn:  # not DROP SCHEMA public: Citus's own views live there (the extension would go)
        tables = conn.scalars(sa.text(
            "SELECT quote_ident(relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "AND relkind IN ('r', 'p') AND NOT relation_is_a_known_shard(oid)")).all()
        if tables:
            conn.exec_driver_sql(f"DROP TABLE {', '.join(tables)} CASCADE")
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS pointsbank_refuse_change()")
        conn.exec_driver_sql(f'ALTER DATABASE "{engine.url.database}" RESET citus.enable_unsafe_triggers')
    engine.dispose()
    app = create_app({"DATABASE_URL": CITUS_URL, "TESTING": True, "SECRET_KEY": "test"})
    with app.app_context():
        upgrade(revision="heads")
        yield app
        _db.session.remove()
        _db.engine.dispose()


def test_the_migrated_schema_is_laid_out_as_the_tenancy_module_says_and_a_second_run_changes_nothing(citus_app):
    runner = citus_app.test_cli_runner()
    first = runner.invoke(main, ["db", "distribute"])
    assert first.exit_code == 0, first.output
    assert "citus.enable_unsafe_triggers: set on for this database" in first.output
    with _db.engine.connect() as conn:
        held = dict(conn.execute(sa.text(
            "SELECT c.relname, t.citus_table_type FROM citus_tables t JOIN pg_class c ON c.oid = t.table_name "
            "WHERE c.relnamespace = 'public'::regnamespace")).all())
        colocations = set(conn.scalars(sa.text(
            "SELECT colocation_id FROM citus_tables WHERE citus_table_type = 'distributed'")))
        columns = set(conn.scalars(sa.text(
            "SELECT distribution_column FROM citus_tables WHERE citus_table_type = 'distributed'")))
    assert {t for t, kind in held.items() if kind == "distributed"} == set(tenancy.DISTRIBUTED)
    assert {t for t, kind in held.items() if kind == "reference"} == set(tenancy.REFERENCE)
    assert {t for t, kind in held.items() if kind == "local"} <= set(tenancy.LOCAL)
    assert len(colocations) == 1 and columns == {"community_id"}

    second = runner.invoke(main, ["db", "distribute"])
    assert second.exit_code == 0, second.output
    assert "nothing to do: the schema was already laid out" in second.output
    assert "postings: already distributed by community_id" in second.output
