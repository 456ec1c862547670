"""A database connection lost at the end of a request: the finished answer still goes out.

``make check-reliability`` (the database restart during load) found a bare 500 from gunicorn:
a read had its answer ready when PostgreSQL went down, and the rollback that closes every
request's session failed in the teardown. The session must be closed despite the dead
connection, the answer sent, and the next request served by a fresh pooled connection.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import jsonify

from pointsbank import create_app
from pointsbank.database import unit_of_work
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


def _terminate(pids: list[int]) -> None:
    killer = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    with killer.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS int[])) AS pid"),
                     {"pids": pids})
    killer.dispose()


@pytest.mark.postgres_only
def test_a_pooled_connection_the_server_closed_while_idle_is_replaced_at_checkout_without_a_ping(
        app_config: dict[str, Any], app: Any) -> None:
    served = create_app({**app_config, "TESTING": False})
    assert not served.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping")

    @served.get("/test-only/backend")
    def backend():
        return jsonify(pid=db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())

    client = served.test_client()
    first = client.get("/test-only/backend").get_json()["pid"]
    _terminate([first])  # a restart, or an administrator, ends the idle pooled connection's backend
    time.sleep(0.2)
    again = client.get("/test-only/backend")
    assert again.status_code == 200 and again.get_json()["pid"] != first
    with served.app_context():
        db.engine.dispose()


@pytest.mark.postgres_only
def test_a_use_case_whose_connection_dies_before_the_commit_is_run_again_and_commits_once(app: Any) -> None:
    attempts: list[int] = []

    @unit_of_work
    def use_case() -> int:
        pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        attempts.append(pid)
        if len(attempts) == 1:
            _terminate([pid])  # the connection dies in the middle of the use case
        db.session.execute(sa.text("CREATE TEMP TABLE IF NOT EXISTS lost_once (n int)"))
        return db.session.execute(sa.text("SELECT count(*) FROM lost_once")).scalar_one()

    assert use_case() == 0
    assert len(attempts) == 2 and attempts[0] != attempts[1]


@pytest.mark.postgres_only
def test_the_health_check_on_a_pooled_connection_the_server_closed_answers_200_from_a_new_one(
        app_config: dict[str, Any], app: Any) -> None:
    served = create_app({**app_config, "TESTING": False})
    client = served.test_client()
    assert client.get("/healthz").status_code == 200
    with served.app_context():
        raw = db.engine.raw_connection()
        pid = raw.driver_connection.info.backend_pid
        raw.close()
    _terminate([pid])
    time.sleep(0.2)
    # the checkout sees the closed socket and opens another connection: no failure at all
    assert client.get("/healthz").status_code == 200
    with served.app_context():
        db.engine.dispose()
