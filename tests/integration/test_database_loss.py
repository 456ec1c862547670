"""A database connection lost at the end of a request: the finished answer still goes out.

``make check-reliability`` (the database restart during load) found a bare 500 from gunicorn:
a read had its answer ready when PostgreSQL went down, and the rollback that closes every
request's session failed in the teardown. The session must be closed despite the dead
connection, the answer sent, and the next request served by a fresh pooled connection.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import jsonify

from pointsbank import create_app
from pointsbank.extensions import db
from tests.conftest import BACKEND


def _kill_connection_of_the_session() -> None:
    """The connection under the request's session dies, as in a database restart."""
    raw = db.session.connection().connection.dbapi_connection
    if BACKEND == "postgresql":
        pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        killer = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
        with killer.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.dispose()
    else:
        raw.close()


def test_an_answer_computed_before_the_connection_died_is_sent_and_the_next_request_recovers(
        app_config: dict[str, Any], app: Any) -> None:
    # a second app, without the fixture's long-lived app context: each request pushes and tears
    # down its own, as under gunicorn
    served = create_app({**app_config, "TESTING": False})

    @served.get("/test-only/read-then-lose-the-connection")
    def read_then_lose_the_connection():
        answer = db.session.execute(sa.text("SELECT 41 + 1")).scalar_one()
        _kill_connection_of_the_session()
        return jsonify(answer=answer)

    @served.get("/test-only/read")
    def read():
        return jsonify(answer=db.session.execute(sa.text("SELECT 7")).scalar_one())

    client = served.test_client()
    lost = client.get("/test-only/read-then-lose-the-connection")
    assert (lost.status_code, lost.get_json()) == (200, {"answer": 42})
    for _ in range(3):
        again = client.get("/test-only/read")
        assert (again.status_code, again.get_json()) == (200, {"answer": 7})
    with served.app_context():
        db.engine.dispose()
