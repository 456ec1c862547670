"""Fixtures: ``app``, ``client``, ``runner``, ``db`` on SQLite or PostgreSQL, and factories.

The backend is chosen per run: ``POINTSBANK_TEST_DB=sqlite`` (default) or ``postgresql``
(at ``POINTSBANK_TEST_PG_URL``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``).
``make test`` runs the suite once on each. The schema is created once per run by the
migrations (never ``create_all``); each test starts from a clean state: on SQLite a fresh
copy of the migrated file, on PostgreSQL every table truncated. Under pytest-xdist each
worker gets its own PostgreSQL database (``<name>_gw0`` …), created when missing.
With ``CI`` set, an unreachable PostgreSQL fails the run instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa

from pointsbank import create_app
from pointsbank.extensions import db as _db

BACKEND = os.environ.get("POINTSBANK_TEST_DB", "sqlite")
PG_URL = os.environ.get("POINTSBANK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = "2026-05-15T02:00:00+00:00"  # 10:00 in Shanghai, mid-quarter


def pytest_report_header(config: pytest.Config) -> str:
    return f"pointsbank backend: {BACKEND}" + (f" ({PG_URL})" if BACKEND == "postgresql" else "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if BACKEND != "postgresql":
        skip = pytest.mark.skip(reason="needs PostgreSQL: run with POINTSBANK_TEST_DB=postgresql (make test does)")
        for item in items:
            if "postgres_only" in item.keywords:
                item.add_marker(skip)


def _worker_url(base: str, worker: str) -> str:
    url = sa.engine.make_url(base)
    if worker and worker != "master":
        url = url.set(database=f"{url.database}_{worker}")
    return url.render_as_string(hide_password=False)


def _ensure_pg_database(url: str) -> None:
    parsed = sa.engine.make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database})
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    finally:
        admin.dispose()


def _migrate(url: str) -> None:
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test"})
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(revision="heads")
        _db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> dict[str, Any]:
    if BACKEND == "postgresql":
        url = _worker_url(PG_URL, worker_id)
        try:
            _ensure_pg_database(url)
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            engine.dispose()
        except sa.exc.OperationalError as error:
            if os.environ.get("CI"):
                pytest.exit(f"PostgreSQL is not reachable at {url} and CI is set: {error}", returncode=3)
            pytest.skip(f"PostgreSQL not reachable: {error}")
        _migrate(url)
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            tables = [r[0] for r in conn.execute(sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"))]
        engine.dispose()
        return {"url": url, "tables": tables}
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrate(f"sqlite:///{path}")
    return {"path": path}


def fresh_database(database_template: dict[str, Any], directory: Path) -> str:
    """The URL of a migrated, empty database: on PostgreSQL the worker's database truncated, on
    SQLite a copy of the migrated template file in ``directory``."""
    if BACKEND == "postgresql":
        url = database_template["url"]
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE " + ", ".join(database_template["tables"]) + " RESTART IDENTITY CASCADE")
        engine.dispose()
        return url
    path = directory / "test.db"
    shutil.copyfile(database_template["path"], path)
    return f"sqlite:///{path}"


@pytest.fixture
def database_url(database_template: dict[str, Any], tmp_path: Path) -> Iterator[str]:
    yield fresh_database(database_template, tmp_path)


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return {"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test-secret", "CLOCK": NOW,
            "EVIDENCE_DIR": str(tmp_path / "evidence"), "WTF_CSRF_ENABLED": False, "DB_POOL_SIZE": 20}


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Any]:
    application = create_app(app_config)
    with application.app_context():
        yield application
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def db(app: Any) -> Any:
    return _db


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Any) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def world(app: Any) -> Any:
    """A small world: two communities with households, a shop, one login per role (see factories)."""
    from tests.factories import build_world

    return build_world(app)
