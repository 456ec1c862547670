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
