"""Settings, read from ``POINTSBANK_*`` environment variables.

Every setting has a documented default (README, "Configuration"). Nothing here is read at
import time: :func:`load` runs inside :func:`pointsbank.create_app`.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flask import Flask

#: name -> (default, description). The README's configuration table is generated from this.
SETTINGS: dict[str, tuple[Any, str]] = {
    "DATABASE_URL": (None, "SQLAlchemy URL; default: a SQLite file `pointsbank.db` in the instance folder"),
    "SECRET_KEY": (None, "signs sessions and CSRF tokens; default: generated once and kept in the instance folder"),
    "ENV": ("development", "`production` refuses `POINTSBANK_CLOCK` and the generated secret key"),
    "TIMEZONE": ("Asia/Shanghai", "default time zone of new communities"),
    "CLOCK": (None, "an ISO 8601 timestamp the app and its jobs take as now (frozen); for demos, drills and tests"),
    "TOKEN_TTL_HOURS": (720, "lifetime of an API token"),
    "LOGIN_MAX_FAILURES": (5, "failed logins per username within the window before logins are refused"),
    "LOGIN_MAX_FAILURES_PER_ADDRESS": (30, "failed logins per client address within the window"),
    "LOGIN_WINDOW_MINUTES": (15, "the window of the login throttle"),
    "PASSWORD_HASH_METHOD": ("scrypt", "werkzeug password hashing method for new passwords"),
    "MAX_CONTENT_LENGTH": (16 * 1024 * 1024, "largest request body in bytes (uploads included)"),
    "DB_POOL_SIZE": (10, "database connections kept per process (PostgreSQL); at least gunicorn's --threads, "
                         "or connections beyond it are opened and closed per request"),
    "DB_PREPARE_THRESHOLD": (1, "executions of a statement on a connection before psycopg prepares it on the server "
                                "(PostgreSQL; prepared statements live per pooled connection, so keep the pool "
                                "at least gunicorn's --threads)"),
    "DB_RETRIES": (5, "times a use case is retried on a PostgreSQL serialisation failure or deadlock"),
    "EVIDENCE_DIR": (None, "where evidence files are stored; default: `evidence/` in the instance folder"),
    "SESSION_COOKIE_SECURE": (False, "send the web session cookie over HTTPS only"),
    "TRUSTED_PROXIES": (0, "reverse proxies in front of the app (nginx: 1) whose X-Forwarded-For/-Proto/-Host are "
                           "believed: the client address that login throttling counts, HTTPS for HSTS and cookies"),
    "REDEEM_GUESSES_PER_CASHIER": (10, "failed short-code lookups per cashier within the window before lookups are refused"),
    "REDEEM_GUESSES_PER_SHOP": (30, "failed short-code lookups per shop (all its cashiers) within the window"),
    "REDEEM_GUESS_WINDOW_MINUTES": (10, "the window of the short-code guess throttle"),
    "CARD_PIN_FAILURES_PER_SHOP": (20, "wrong household-card PINs at one shop (all its cashiers) within the window before card payments there are refused"),
    "CARD_PIN_WINDOW_MINUTES": (10, "the window of the card PIN throttle per shop"),
    "RESERVATION_TTL_HOURS": (168, "how long a shelf reservation holds its points and goods before they go back"),
    "DATABASE_REPLICA_URL": (None, "a streaming replica of `DATABASE_URL` (PostgreSQL): balance reads, histories, "
                                   "boards, rankings, dashboards and exports go there (README, \"Reads on a replica\")"),
    "REPLICA_MAX_LAG_SECONDS": (5, "a replica further behind than this is skipped, and a login that wrote within it "
                                   "reads from the primary (its own writes)"),
    "REPLICA_CHECK_SECONDS": (1.0, "how long a process trusts its last look at the replica's lag"),
    "SMS_PROVIDER": ("log", "how SMS notifications leave: `log` (the app log, phone masked) or `webhook` "
                            "(a JSON POST to `POINTSBANK_SMS_WEBHOOK_URL`; 2xx = sent)"),
    "SMS_WEBHOOK_URL": (None, "the SMS gateway's URL for `POINTSBANK_SMS_PROVIDER=webhook`; it must dedupe by "
                              "`idempotency_key` (a message can arrive twice after a crash: at-least-once)"),
    "SMS_WEBHOOK_TIMEOUT_SECONDS": (10, "how long the sender waits for the gateway before counting a failed attempt"),
    "NOTIFY_MAX_ATTEMPTS": (5, "send attempts of an SMS before it is marked `failed`"),
    "NOTIFY_RETRY_SECONDS": (60, "the first retry's delay; each further attempt waits twice as long"),
    "NOTIFY_EXPIRY_WINDOW_HOURS": (6, "vouchers and reservations expiring within this many hours are told about, once"),
    "NOTIFY_EVERY_SECONDS": (60, "how often the scheduler scans for expiring items and sends due SMS"),
}


def load(app: Flask, test_config: dict[str, Any] | None = None) -> None:
    """Defaults, then the environment, then the test mapping (flaskr's order)."""
    for name, (default, _) in SETTINGS.items():
        # not setdefault: Flask predefines some of these keys as None (MAX_CONTENT_LENGTH,
        # SECRET_KEY), and a None there would silently switch our default off
        if app.config.get(name) is None:
            app.config[name] = default
    app.config.from_prefixed_env("POINTSBANK")
    if test_config:
        app.config.update(test_config)

    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'pointsbank.db'}"
    if not app.config["EVIDENCE_DIR"]:
        app.config["EVIDENCE_DIR"] = str(instance / "evidence")
    production = app.config["ENV"] == "production"
    if not app.config["SECRET_KEY"]:
        if production:
            raise RuntimeError("POINTSBANK_SECRET_KEY must be set when POINTSBANK_ENV=production")
        app.config["SECRET_KEY"] = _instance_secret(instance)
    if app.config["CLOCK"]:
        if production:
            raise RuntimeError("POINTSBANK_CLOCK is refused when POINTSBANK_ENV=production")
        app.config["CLOCK"] = parse_clock(app.config["CLOCK"])

    url = app.config["DATABASE_URL"]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    # no pool_pre_ping: a round trip before every request's first statement. A pooled connection
    # whose server went away is found at checkout without one (database.configure_engine), and a
    # use case whose connection died before anything was committed is run again (unit_of_work).
    engine_options: dict[str, Any] = {}
    if url.startswith("postgresql"):
        engine_options.update(pool_size=int(app.config["DB_POOL_SIZE"]), max_overflow=10, pool_recycle=1800,
                              connect_args={"prepare_threshold": int(app.config["DB_PREPARE_THRESHOLD"])})
    else:
        engine_options["connect_args"] = {"timeout": 30, "check_same_thread": False}
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options)
    replica = app.config["DATABASE_REPLICA_URL"]
    if replica:
        if not url.startswith("postgresql"):
            raise RuntimeError("POINTSBANK_DATABASE_REPLICA_URL needs a PostgreSQL POINTSBANK_DATABASE_URL")
        if replica.startswith("postgresql://"):
            replica = "postgresql+psycopg://" + replica.removeprefix("postgresql://")
        # a replica that does not answer must not hold a request for long: it is skipped instead
        replica_options = {**engine_options, "connect_args": {**engine_options["connect_args"], "connect_timeout": 2}}
        app.config.setdefault("SQLALCHEMY_BINDS", {"replica": {"url": replica, **replica_options}})

    # flask-smorest / OpenAPI
    app.config.update(
        API_TITLE="pointsbank",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "zh_CN")
    # relative to the package: the catalogs of the pages and of the API messages (pointsbank.web)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "web/translations")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config["TIMEZONE"])
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)


def parse_clock(value: str | datetime) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _instance_secret(instance: Path) -> str:
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
