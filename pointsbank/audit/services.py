"""Write and read the audit trail.

``record(actor, "adjustment.create", target=household, community_id=…, data={…})`` inserts a
row in the current transaction, so the action and its audit row commit or roll back together.
The client address comes from the request when there is one (``address`` for CLI and jobs is
``None``).
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request

from pointsbank import clock
from pointsbank.audit.models import AuditEvent
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.database import execute
from pointsbank.extensions import db


def record(actor: User | None, action: str, *, community_id: int | None = None,
           target: Any = None, target_type: str | None = None, target_id: Any = None,
           data: dict[str, Any] | None = None) -> None:
    """Insert the audit row now, in the current transaction (SQLAlchemy Core, one statement built
    once: every call that moves points writes one, and the ORM's flush cost more than the insert)."""
    if target is not None:
        target_type = target_type or target.__tablename__.rstrip("s")
        target_id = target_id if target_id is not None else target.id
    execute(_insert(), {
        "actor_id": actor.id if actor is not None else None,
        "action": action,
        "community_id": community_id,
        "target_type": target_type,
        "target_id": str(target_id) if target_id is not None else None,
        "address": request.remote_addr if has_request_context() else None,
        "data": data or {},
        "created_at": clock.now(),
    })


@functools.lru_cache(maxsize=1)
def _insert() -> sa.Insert:
    return sa.insert(AuditEvent.__table__)


def list_events(actor: User, *, actor_id: int | None = None, action: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                community_id: int | None = None, after_id: int | None = None, limit: int = 50) -> list[AuditEvent]:
    policy.require_role(actor, "admin")
    stmt = sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    scope = policy.admin_community_ids(actor)
    if scope is not None:
        stmt = stmt.where(AuditEvent.community_id.in_(scope))
    if actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if action:
        stmt = stmt.where(AuditEvent.action.like(action.rstrip("*") + "%") if action.endswith("*") else AuditEvent.action == action)
    if since is not None:
        stmt = stmt.where(AuditEvent.created_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.created_at < until)
    if community_id is not None:
        stmt = stmt.where(AuditEvent.community_id == community_id)
    if after_id is not None:
        stmt = stmt.where(AuditEvent.id < after_id)
    return list(db.session.scalars(stmt))
