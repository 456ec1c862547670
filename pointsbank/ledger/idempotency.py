"""Idempotency keys for every API call that moves points.

Stack it under :func:`~pointsbank.database.unit_of_work` and above the flask-smorest
decorators, so the key row, the points moved and the stored response commit together::

    @policy.allow("staff")
    @unit_of_work
    @idempotent
    @blp.arguments(RecordCreateSchema)
    @blp.response(201, RecordSchema)
    def post(self, data): ...

* first call with a key: the key row is inserted first (``ON CONFLICT DO NOTHING``), the use
  case runs, its response is stored with the row;
* the same key and body again: the stored response is returned, nothing moves;
* the same key with another body: 422 ``idempotency_key_reused``;
* a concurrent duplicate blocks on the unique key until the first commits, then replays it
  (PostgreSQL), or queues on the write lock (SQLite) — never both succeed.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any, Callable

import sqlalchemy as sa
from flask import Response, request
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite

from pointsbank.auth.current import current_user
from pointsbank.errors import BadRequest, Conflict, DomainError, Unprocessable
from pointsbank.database import dialect_name, execute, utcnow
from pointsbank.extensions import db
from pointsbank.ledger.models import IdempotencyKey

HEADER = "Idempotency-Key"


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_key_reused"
    message = _l("This Idempotency-Key was already used with a different request.")


class IdempotencyKeyInvalid(BadRequest):
    code = "idempotency_key_invalid"
    message = _l("An Idempotency-Key is 1 to 255 printable characters.")


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"
    message = _l("A request with this Idempotency-Key is still being processed.")


def fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.path.encode())
    digest.update(b"?" + request.query_string)
    digest.update(b"\n" + request.get_data(cache=True))
    return digest.hexdigest()


def idempotent(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return fn(*args, **kwargs)
        if not (0 < len(key) <= 255) or not key.isprintable():
            raise IdempotencyKeyInvalid()
        user = current_user()
        request_print = fingerprint()
        row_id = execute(_claim(dialect_name()), {
            "user_id": user.id, "key": key, "fingerprint": request_print, "created_at": utcnow()}).scalar()
        if row_id is None:
            stored = db.session.execute(sa.select(IdempotencyKey).where(
                IdempotencyKey.user_id == user.id, IdempotencyKey.key == key)).scalar_one()
            if stored.fingerprint != request_print:
                raise IdempotencyKeyReused()
            if stored.status_code is None:
                raise IdempotencyInProgress()
            response = Response(stored.response_body, status=stored.status_code, mimetype="application/json")
            response.headers["Idempotent-Replayed"] = "true"
            return response
        try:
            response = fn(*args, **kwargs)
        except DomainError as error:
            if error.keeps_changes:  # the refusal commits; the key must not stay half-used
                db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.id == row_id))
            raise
        if isinstance(response, Response):
            status, body = response.status_code, response.get_data(as_text=True)
        else:  # a view returning a plain value
            status, body = 200, str(response)
        execute(_store(), {"row_id": row_id, "status_code": status, "response_body": body})
        return response

    return wrapper


# built once per process: constructing them cost about as much CPU as running them

@functools.lru_cache(maxsize=2)
def _claim(dialect: str) -> sa.Insert:
    keys = IdempotencyKey.__table__
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(keys)
    return insert.on_conflict_do_nothing().returning(keys.c.id)


@functools.lru_cache(maxsize=1)
def _store() -> sa.Update:
    keys = IdempotencyKey.__table__
    return sa.update(keys).where(keys.c.id == sa.bindparam("row_id")).values(
        status_code=sa.bindparam("status_code"), response_body=sa.bindparam("response_body"))
