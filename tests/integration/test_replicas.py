"""Reads on a real streaming replica (``POINTSBANK_DATABASE_REPLICA_URL``; ``pointsbank.replicas``).

A throwaway primary (``reliability.pgcluster``) and a hot standby made from it with
``pg_basebackup -R`` stream WAL on this machine. The proof that a read was served by the replica
is a stale answer: with the replica's replay paused, a write on the primary is not yet there,
and a login that did not write still sees the old balance — until the replica lags past
``REPLICA_MAX_LAG_SECONDS`` and is skipped. The login that wrote reads its own write at once;
a stopped replica costs nobody an error.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pytest
import sqlalchemy as sa

from pointsbank import create_app
from pointsbank.extensions import db
from pointsbank.replicas import HEADER, forget_lag
from reliability.pgcluster import PgCluster
from tests.conftest import NOW
from tests.factories import build_world

pytestmark = pytest.mark.postgres_only

MAX_LAG = 3


class Standby:
    """A hot standby of ``primary``, streaming from it (its own data directory and port)."""

    def __init__(self, primary: PgCluster) -> None:
        self.primary = primary
        self.port = PgCluster._free_port()
        self.data = primary.root / "standby"
        self.log = primary.root / "standby.log"

    def create(self) -> None:
        self.primary._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
                          "-D", str(self.data), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync",
                          timeout=180)
        with open(self.data / "postgresql.conf", "a") as conf:
            # the standby's own record of what it ran: every statement in its log
            conf.write(f"\nport = {self.port}\nhot_standby = on\nlog_statement = 'all'\n")
        self.start()

    def start(self) -> None:
        self.primary._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "start", timeout=90)

    def stop(self) -> None:
        self.primary._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def ran_since(self, offset: int) -> str:
        """The statements the standby logged after ``offset`` (a size of its log)."""
        with open(self.log, "rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", "replace")

    def log_size(self) -> int:
        return self.log.stat().st_size

    def sql(self, database: str, statement: str) -> Any:
        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            return conn.execute(statement).fetchone()


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[PgCluster, Standby]]:
    with PgCluster() as primary:
        primary.create_database("pointsbank_replica")
        standby = Standby(primary)
        standby.create()
        try:
            yield primary, standby
        finally:
            standby.stop()


@pytest.fixture
def served(clusters: tuple[PgCluster, Standby], tmp_path: Path) -> Iterator[tuple[Any, Any, Standby]]:
    primary, standby = clusters
    with psycopg.connect(primary.url(), autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "pointsbank_replica" WITH (FORCE)')
        conn.execute('CREATE DATABASE "pointsbank_replica"')
    config = {"DATABASE_URL": primary.url("pointsbank_replica"), "TESTING": True, "SECRET_KEY": "replica-test",
              "CLOCK": NOW, "EVIDENCE_DIR": str(tmp_path / "evidence"), "WTF_CSRF_ENABLED": False,
              "DATABASE_REPLICA_URL": standby.url("pointsbank_replica"),
              "REPLICA_MAX_LAG_SECONDS": MAX_LAG, "REPLICA_CHECK_SECONDS": 0}
    app = create_app(config)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(revision="heads")
        world = build_world(app)
        db.session.remove()
    _caught_up(standby, lambda: standby.sql("pointsbank_replica", "SELECT count(*) FROM api_tokens")[0] >= 12)
    forget_lag()
    try:
        yield app, world, standby
    finally:
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()
        standby.sql("postgres", "SELECT pg_wal_replay_resume()") if _running(standby) else None


def _running(standby: Standby) -> bool:
    try:
        standby.sql("postgres", "SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


def _caught_up(standby: Standby, condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except psycopg.Error:
            pass
        assert time.monotonic() < deadline, "the standby did not catch up"
        time.sleep(0.1)


def _replayed(standby: Standby) -> bool:
    row = standby.sql("postgres", "SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()")
    return bool(row[0])


def _balance(client: Any, world: Any, login: str, household: str = "a1") -> tuple[int, str | None]:
    response = client.get(f"/api/v1/households/{world[household]}", headers=world.headers(login))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["balance"], response.headers.get(HEADER)


def _adjust(client: Any, world: Any, points: int) -> None:
    response = client.post(f"/api/v1/households/{world['a1']}/adjustments", headers=world.headers("staff_a"),
                           json={"points": points, "reason": "replica test"})
    assert response.status_code == 201, response.get_json()


def test_reads_go_to_the_replica_a_writer_reads_its_own_writes_and_a_lagging_replica_is_skipped(served):
    app, world, standby = served
    resident, staff = app.test_client(), app.test_client()  # two logins, two cookie jars

    before = standby.log_size()
    assert _balance(resident, world, "resident_a1") == (100, "replica")
    assert "FROM households" in standby.ran_since(before)  # the standby ran the balance read itself

    # a write the replica has replayed, so that its last replayed transaction is recent; then pause
    _adjust(staff, world, 5)
    _caught_up(standby, lambda: _replayed(standby) and _balance(resident, world, "resident_a1")[0] == 105)
    standby.sql("postgres", "SELECT pg_wal_replay_pause()")
    paused_at = time.monotonic()
    _adjust(staff, world, 7)

    # the login that wrote reads its write from the primary; the other login still gets the
    # replica's answer, which lacks it (so that answer really came from the replica)
    assert _balance(staff, world, "staff_a") == (112, None)
    stale = _balance(resident, world, "resident_a1")
    assert time.monotonic() - paused_at < MAX_LAG, "the machine was too slow for this check"
    assert stale == (105, "replica")

    # paused for longer than the lag allows: skipped, the primary answers
    time.sleep(max(0.0, MAX_LAG + 0.5 - (time.monotonic() - paused_at)))
    assert _balance(resident, world, "resident_a1") == (112, None)

    # replay resumed: the replica serves again, with the write
    standby.sql("postgres", "SELECT pg_wal_replay_resume()")
    _caught_up(standby, lambda: _replayed(standby))
    assert _balance(resident, world, "resident_a1") == (112, "replica")

    # the writer's window (lag + check interval) has passed: it reads from the replica too
    time.sleep(MAX_LAG + 0.2)
    assert _balance(staff, world, "staff_a") == (112, "replica")
    # ... and its next write takes it back to the primary at once
    _adjust(staff, world, 1)
    assert _balance(staff, world, "staff_a") == (113, None)


def test_every_replica_read_answers_on_the_replica_and_a_proxy_use_is_audited_on_the_primary(served):
    app, world, standby = served
    client = app.test_client()
    granted = client.post(f"/api/v1/households/{world['a1']}/proxies", headers=world.headers("staff_a"),
                          json={"user_id": world.users["resident_a2"]})
    assert granted.status_code == 201, granted.get_json()
    _caught_up(standby, lambda: _replayed(standby) and standby.sql(
        "pointsbank_replica", "SELECT count(*) FROM household_proxies")[0] == 1)
    time.sleep(MAX_LAG + 0.2)  # staff_a's own-writes window

    reads = [
        ("resident_a1", f"/api/v1/households/{world['a1']}"),
        ("resident_a1", f"/api/v1/households/{world['a1']}/postings"),
        ("resident_a1", f"/api/v1/households/{world['a1']}/passbook?period=2026"),
        ("staff_a", f"/api/v1/communities/{world['alpha']}/rankings?period=2026Q2"),
        ("staff_a", f"/api/v1/communities/{world['alpha']}/rankings/export?period=2026Q2&format=csv"),
        ("staff_a", f"/api/v1/communities/{world['alpha']}/notice?period=2026Q1"),
        ("staff_a", f"/api/v1/communities/{world['alpha']}/notice/export?period=2026Q1&format=xlsx"),
        ("admin", f"/api/v1/regions/{world['county']}/rankings?period=2026Q2"),
        ("admin", f"/api/v1/regions/{world['county']}/dashboard?period=2026Q2"),
        ("admin", f"/api/v1/regions/{world['county']}/dashboard/export?period=2026Q2&format=csv"),
    ]
    for login, path in reads:
        response = app.test_client().get(path, headers=world.headers(login))
        assert response.status_code == 200, (path, response.get_json())
        assert response.headers.get(HEADER) == "replica", path

    # a proxy reads on the replica; the audit of that use is written on the primary
    proxy = app.test_client().get(f"/api/v1/households/{world['a1']}", headers=world.headers("resident_a2"))
    assert proxy.status_code == 200
    with app.app_context():
        uses = db.session.execute(sa.text("SELECT count(*) FROM audit_events WHERE action = 'proxy.use'")).scalar()
    assert uses == 1

    # writes never go to the replica
    before = standby.log_size()
    assert client.post(f"/api/v1/households/{world['a1']}/adjustments", headers=world.headers("staff_a2"),
                       json={"points": 2, "reason": "on the primary"}).headers.get(HEADER) is None
    assert "INSERT" not in standby.ran_since(before)


def test_a_stopped_replica_is_skipped_without_an_error(served):
    app, world, standby = served
    client = app.test_client()
    assert _balance(client, world, "resident_a1") == (100, "replica")
    standby.stop()
    try:
        started = time.monotonic()
        assert _balance(client, world, "resident_a1") == (100, None)
        assert time.monotonic() - started < 5
        assert _balance(client, world, "resident_a1") == (100, None)
    finally:
        standby.start()
        _caught_up(standby, lambda: _replayed(standby))
    forget_lag()
    assert _balance(client, world, "resident_a1") == (100, "replica")
