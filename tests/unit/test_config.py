"""Settings: defaults, the environment, and what production refuses."""

from datetime import datetime, timezone

import pytest

from pointsbank import clock, create_app


def test_the_default_database_is_a_sqlite_file_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("POINTSBANK_DATABASE_URL", raising=False)
    app = create_app({"SECRET_KEY": "x"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{app.instance_path}/pointsbank.db"


def test_settings_come_from_pointsbank_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("POINTSBANK_DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.setenv("POINTSBANK_TOKEN_TTL_HOURS", "2")
    monkeypatch.setenv("POINTSBANK_SECRET_KEY", "from-env")
    app = create_app()
    assert app.config["TOKEN_TTL_HOURS"] == 2
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("/x.db")


def test_a_postgresql_url_uses_psycopg_3(tmp_path):
    app = create_app({"DATABASE_URL": "postgresql://u@h/db", "SECRET_KEY": "x"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def test_the_test_clock_freezes_now_for_the_app(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/c.db", "SECRET_KEY": "x", "CLOCK": "2026-09-30T16:00:00+00:00"})
    with app.app_context():
        assert clock.now() == datetime(2026, 9, 30, 16, tzinfo=timezone.utc)
        assert clock.today_in("Asia/Shanghai").isoformat() == "2026-10-01"


def test_production_refuses_the_test_clock_and_a_missing_secret(tmp_path):
    with pytest.raises(RuntimeError, match="POINTSBANK_CLOCK"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/p.db", "ENV": "production", "SECRET_KEY": "s",
                    "CLOCK": "2026-01-01T00:00:00Z"})
    with pytest.raises(RuntimeError, match="POINTSBANK_SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/p.db", "ENV": "production"})


def test_the_default_body_limit_applies_although_flask_predefines_the_key(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/m.db", "SECRET_KEY": "x"})
    assert app.config["MAX_CONTENT_LENGTH"] == 16 * 1024 * 1024
    response = app.test_client().post("/api/v1/auth/tokens", data=b" " * (16 * 1024 * 1024 + 1),
                                      content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


def test_a_replica_url_becomes_the_replica_bind_with_a_short_connect_timeout(tmp_path):
    app = create_app({"DATABASE_URL": "postgresql://u@primary/db", "DATABASE_REPLICA_URL": "postgresql://u@standby/db",
                      "SECRET_KEY": "x"})
    bind = app.config["SQLALCHEMY_BINDS"]["replica"]
    assert bind["url"] == "postgresql+psycopg://u@standby/db"
    assert bind["connect_args"]["connect_timeout"] == 2
    assert "connect_timeout" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]  # the primary waits


def test_a_replica_needs_a_postgresql_primary(tmp_path):
    with pytest.raises(RuntimeError, match="REPLICA_URL"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/r.db", "DATABASE_REPLICA_URL": "postgresql://u@h/db",
                    "SECRET_KEY": "x"})
