"""``database.execute`` on PostgreSQL: a statement seen twice runs on the driver's cursor, and
answers what SQLAlchemy's own path answers — rows, types, errors, lost connections."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from pointsbank import database
from pointsbank.audit.models import AuditEvent
from pointsbank.community.models import Community, Household

pytestmark = pytest.mark.postgres_only


def _statement() -> sa.Select:
    households, communities = Household.__table__, Community.__table__
    return (sa.select(households.c.id, households.c.number, households.c.frozen_at, communities.c.code,
                      communities.c.timezone, sa.literal("fixed").label("fixed"))
            .join(communities, communities.c.id == households.c.community_id)
            .where(households.c.community_id == sa.bindparam("community_id"))
            .order_by(households.c.id))


def test_a_statement_run_again_answers_what_sqlalchemy_answers(app, db, world):
    statement = _statement()
    moment = datetime(2026, 5, 1, 8, 30, tzinfo=timezone.utc)
    db.session.execute(sa.update(Household).where(Household.id == world["a1"]).values(frozen_at=moment))
    expected = db.session.connection().execute(statement, {"community_id": world["alpha"]}).all()
    first = database.execute(statement, {"community_id": world["alpha"]}).all()  # seen once: SQLAlchemy's path
    assert statement not in database._PLANS
    again = database.execute(statement, {"community_id": world["alpha"]})  # the driver's cursor
    assert statement in database._PLANS and isinstance(again, database._Rows)
    rows = again.all()
    assert [tuple(r) for r in rows] == [tuple(r) for r in expected] == [tuple(r) for r in first]
    assert len(rows) >= 2 and rows[0].fixed == "fixed" and rows[0]._asdict()["code"] == expected[0].code
    frozen = next(r for r in rows if r.id == world["a1"])
    assert frozen.frozen_at == moment and frozen.frozen_at.tzinfo is not None  # UTCDateTime's result processing
    one = database.execute(statement, {"community_id": world["alpha"]})
    assert one.first() == rows[0] and one.scalar() == rows[0].id
    none = database.execute(statement, {"community_id": -1})
    assert none.first() is None and none.all() == [] and none.scalar() is None
    with pytest.raises(sa_exc.NoResultFound):
        none.one()
    with pytest.raises(sa_exc.MultipleResultsFound):
        database.execute(statement, {"community_id": world["alpha"]}).one()


def test_an_insert_is_compiled_for_the_columns_it_is_given_and_python_defaults_keep_sqlalchemys_path(app, db, world):
    insert = sa.insert(AuditEvent.__table__).returning(AuditEvent.__table__.c.id)
    now = datetime(2026, 5, 1, tzinfo=timezone.utc)
    values = {"action": "test.fast", "community_id": world["alpha"], "created_at": now, "data": {"n": 1}}
    ids = [database.execute(insert, {**values, "data": {"n": n}}).scalar_one() for n in range(3)]
    assert len(set(ids)) == 3
    stored = db.session.execute(sa.select(AuditEvent.data, AuditEvent.created_at).where(
        AuditEvent.id.in_(ids)).order_by(AuditEvent.id)).all()
    assert [row.data for row in stored] == [{"n": 0}, {"n": 1}, {"n": 2}]  # JSON bound as SQLAlchemy binds it
    assert all(row.created_at == now for row in stored)
    # without created_at its Python default must be computed: that statement keeps SQLAlchemy's path
    short = {k: v for k, v in values.items() if k != "created_at"}
    more = [database.execute(insert, short).scalar_one() for _ in range(3)]
    assert database._PLANS[insert][tuple(short)] is None and len(set(more)) == 3


def test_errors_are_sqlalchemys_and_a_listener_sees_every_statement(app, db, world):
    statement = sa.select(sa.cast(sa.bindparam("value"), sa.Integer).label("n"))
    for _ in range(2):
        assert database.execute(statement, {"value": "7"}).scalar() == 7
    with pytest.raises(sa_exc.DBAPIError) as raised:
        database.execute(statement, {"value": "not a number"})
    assert database.sqlstate(raised.value) == "22P02"
    db.session.rollback()
    seen: list[str] = []

    def listener(_conn, _cursor, sql, *_args):
        seen.append(sql)

    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert database.execute(statement, {"value": "8"}).scalar() == 8
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)
    assert len(seen) == 1 and "CAST" in seen[0]


def test_a_connection_the_server_closed_is_invalidated_as_on_sqlalchemys_path(app, db, world):
    statement = sa.select(sa.literal(1).label("one")).where(sa.bindparam("x") == sa.bindparam("x"))
    for _ in range(2):
        assert database.execute(statement, {"x": 1}).scalar() == 1
    pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar()  # the session's connection, held
    other = sa.create_engine(db.engine.url)
    with other.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    other.dispose()
    with pytest.raises(sa_exc.DBAPIError) as raised:
        database.execute(statement, {"x": 1})
    assert raised.value.connection_invalidated and database.is_connection_error(raised.value)
    db.session.rollback()
    assert database.execute(statement, {"x": 1}).scalar() == 1
    assert db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar() != pid
