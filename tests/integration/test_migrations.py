"""The schema is made only by migrations, and the models agree with the newest one."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pointsbank.database import autogenerate_includes
from pointsbank.extensions import db as _db


def _diff(db):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": autogenerate_includes})
        return compare_metadata(context, _db.metadata)


def test_models_and_migrations_agree_autogenerate_finds_nothing_to_change(app, db):
    assert _diff(db) == []


def test_every_model_table_was_created_by_the_migrations(app, db):
    import sqlalchemy as sa

    existing = set(sa.inspect(db.engine).get_table_names())
    assert set(_db.metadata.tables) <= existing
    assert "alembic_version" in existing


def test_the_tenant_migration_keeps_every_row_both_ways_and_the_ledger_verifies(app, world, client, db):
    """0011_tenants on a database with a history (awards, a voucher redeemed, one open): down to
    0010_notify and up again, every table keeps its rows, the keys are the tenant keys again, and
    ``ledger verify`` finds nothing."""
    import sqlalchemy as sa
    from flask_migrate import downgrade, upgrade

    from pointsbank.ledger.verify import verify
    from tests.integration.helpers_redeem import give, issued

    give(world, "a1", 60)
    give(world, "b1", 20)
    spent = issued(client, world, "resident_a1", 30)
    assert client.post("/api/v1/redemptions", json={"code": spent["token"], "points": 25},
                       headers=world.headers("cashier_a")).status_code == 201
    issued(client, world, "resident_a1", 5)
    db.session.commit()
    db.session.remove()

    def counts():
        with db.engine.connect() as conn:
            return {t: conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in sorted(_db.metadata.tables)}

    def primary_key(table):
        return sa.inspect(db.engine).get_pk_constraint(table)["constrained_columns"]

    before = counts()
    assert before["postings"] > 0 and before["redemptions"] == 1 and before["vouchers"] == 2
    downgrade(revision="0010_notify")
    assert counts() == before
    if db.engine.dialect.name == "postgresql":
        assert primary_key("postings") == ["id"]
    upgrade(revision="heads")
    assert counts() == before
    if db.engine.dialect.name == "postgresql":
        assert primary_key("postings") == ["id", "community_id"]
    db.session.remove()
    report = verify()
    db.session.remove()  # SQLite: the session's transaction holds the write lock
    assert report.ok and report.postings == before["postings"], report.differences[:5]
    assert _diff(db) == []
