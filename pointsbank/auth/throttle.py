"""Throttling of failed attempts (logins, short-code guesses), kept in the database so that
every worker process and every server sees the same counts.

``check(scope, key, limit, window)`` refuses with 429 (and ``Retry-After``) once ``limit``
failures were recorded for ``key`` within ``window`` seconds; ``hit`` records one failure.
Failures are flushed into the current unit of work and kept even when the use case is refused
(the refusals raised with them have ``keeps_changes``).
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.auth.models import ThrottleEvent
from pointsbank.errors import TooManyAttempts
from pointsbank.extensions import db


def failures(scope: str, key: str, window_seconds: int) -> tuple[int, sa.DateTime | None]:
    since = clock.now() - timedelta(seconds=window_seconds)
    count, oldest = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(ThrottleEvent.created_at)).where(
            ThrottleEvent.scope == scope, ThrottleEvent.key == key, ThrottleEvent.created_at > since)
    ).one()
    return int(count), oldest


def check(scope: str, key: str, limit: int, window_seconds: int) -> None:
    count, oldest = failures(scope, key, window_seconds)
    if count >= limit:
        from pointsbank.database import UTCDateTime

        oldest_at = UTCDateTime().process_result_value(oldest, db.engine.dialect) if oldest else clock.now()
        retry_after = (oldest_at + timedelta(seconds=window_seconds) - clock.now()).total_seconds()
        raise TooManyAttempts(retry_after=int(retry_after) + 1)


def hit(scope: str, key: str) -> None:
    db.session.add(ThrottleEvent(scope=scope, key=key))
    db.session.flush()


def prune(older_than_seconds: int = 86400) -> int:
    """Delete throttle rows older than a day (a job calls this)."""
    cutoff = clock.now() - timedelta(seconds=older_than_seconds)
    result = db.session.execute(sa.delete(ThrottleEvent).where(ThrottleEvent.created_at < cutoff))
    return result.rowcount or 0
