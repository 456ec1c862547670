"""Reads on a streaming replica (DESIGN.md, "Tenants and replicas").

With ``POINTSBANK_DATABASE_REPLICA_URL`` set, the views marked :func:`replica_read` — balance
reads, histories, boards, rankings, dashboards and exports — run their statements on the
replica, and everything else (every write, the login's token check, the audit of a proxy's use)
on the primary. Three rules keep an answer from the replica as good as one from the primary:

* **Lag.** Each process looks at the replica at most every ``REPLICA_CHECK_SECONDS``: is its WAL
  receiver streaming, and how far behind is its replay (0 when it has replayed all it received,
  else the age of the last transaction it replayed). A replica that does not answer, is not
  streaming or is further behind than ``REPLICA_MAX_LAG_SECONDS`` is skipped: the read goes to
  the primary, and nobody sees an error.
* **Your own writes.** A login that wrote (a unit of work committed for it) within the last
  ``REPLICA_MAX_LAG_SECONDS + REPLICA_CHECK_SECONDS`` reads from the primary: since the replica is
  used only when it is less than the lag behind, anything older than that window is on it. The
  moment of the last write is kept per login in the process and sent back to the client in the
  ``pb_wrote_at`` cookie (browsers and HTTP clients with a cookie jar return it, so the rule holds
  across gunicorn's processes too).
* **Reads only.** A statement of a replica request that tried to write would fail on the replica
  (it is read-only); what must write after a read (a proxy's use audited after the answer)
  leaves the replica first (:func:`leave`).

A response served from the replica carries ``X-Pointsbank-Read-From: replica`` (for operators
and the tests). SQLite and a deployment without a replica never get here: :func:`route` returns
at its first line.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, TypeVar

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, request
from sqlalchemy import exc as sa_exc

from pointsbank.database import close_session, start_read_only
from pointsbank.extensions import db

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

BIND = "replica"
COOKIE = "pb_wrote_at"
HEADER = "X-Pointsbank-Read-From"

#: how far the replica's replay is behind, in seconds; NULL when its WAL receiver is not streaming
LAG = sa.text("""
    SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0.0
                WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN NULL
                WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0
                ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float END
""")

_lock = threading.Lock()
#: per process: when the replica was last looked at, and its lag then (None: not usable)
_seen: dict[str, Any] = {"at": float("-inf"), "lag": None}
#: per process: login id -> wall-clock time of its last committed write
_writes: dict[int, float] = {}


def replica_read(fn: F) -> F:
    """Mark a view whose statements may run on the replica (it only reads, and an answer a few
    seconds old is right for it)."""
    fn._pb_replica = True  # type: ignore[attr-defined]
    return fn


def configured() -> bool:
    return bool(current_app.config.get("DATABASE_REPLICA_URL"))


def replica_lag() -> float | None:
    """The replica's lag in seconds as this process last saw it (looked at again when the last
    look is older than ``REPLICA_CHECK_SECONDS``); None when it does not answer or is not streaming."""
    now = time.monotonic()
    with _lock:
        if now - _seen["at"] < float(current_app.config["REPLICA_CHECK_SECONDS"]):
            return _seen["lag"]
    try:
        with db.engines[BIND].connect() as conn:
            lag = conn.execute(LAG).scalar()
            conn.rollback()
    except sa_exc.DBAPIError as error:
        log.warning("the replica is skipped, it does not answer: %s", str(error).splitlines()[0])
        lag = None
    with _lock:
        _seen.update(at=time.monotonic(), lag=None if lag is None else float(lag))
        return _seen["lag"]


def forget_lag() -> None:
    """Look at the replica again at the next replica read (tests; after a failover)."""
    with _lock:
        _seen.update(at=float("-inf"), lag=None)


def _own_write_window() -> float:
    return float(current_app.config["REPLICA_MAX_LAG_SECONDS"]) + float(current_app.config["REPLICA_CHECK_SECONDS"])


def _last_write(user_id: int | None) -> float:
    moments = [_writes.get(user_id, 0.0)] if user_id is not None else []
    try:
        moments.append(float(request.cookies.get(COOKIE, "0")))
    except ValueError:
        pass
    return max(moments, default=0.0)


def route(view_method: Any, user: Any) -> None:
    """Before a view runs (after its caller is known): move the request onto the replica when the
    view is marked, the login has not just written and the replica is close enough."""
    if not getattr(view_method, "_pb_replica", False) or not configured():
        return
    if time.time() - _last_write(getattr(user, "id", None)) < _own_write_window():
        return
    lag = replica_lag()
    if lag is None or lag > float(current_app.config["REPLICA_MAX_LAG_SECONDS"]):
        return
    read_only = g.pop("pb_read_only", False)
    close_session(None)  # the token check's connection (the primary) goes back to its pool
    g.pb_replica = True
    if read_only:
        start_read_only()


def on_replica() -> bool:
    return bool(g.get("pb_replica"))


def leave() -> None:
    """Back to the primary for what follows in this request (a write after a replica read)."""
    if g.pop("pb_replica", False):
        g.pop("pb_read_only", None)
        close_session(None)
        db.session.close()


def _after(response: Response) -> Response:
    if g.get("pb_replica"):
        response.headers[HEADER] = "replica"
    if g.get("pb_wrote") and configured():
        moment = time.time()
        user = g.get("user")
        if user is not None:
            with _lock:
                _writes[user.id] = moment
        response.set_cookie(COOKIE, f"{moment:.3f}", max_age=int(_own_write_window()) + 1, httponly=True,
                            samesite="Lax", secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response


def _teardown(_error: BaseException | None) -> None:
    g.pop("pb_wrote", None)
    leave()  # the next use of the session (an app context that outlives the request) binds to the primary


def init_app(app: Flask) -> None:
    """The hooks, only where a replica is configured: a deployment without one pays nothing per request."""
    if app.config.get("DATABASE_REPLICA_URL"):
        app.after_request(_after)
        app.teardown_request(_teardown)
