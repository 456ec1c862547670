"""Public notice (公示) and objections.

Invariants:

* a posted record is open to objection by any resident of its community while
  ``posted_at + community.notice_days`` is still ahead of ``clock.now()``; after that
  ``notice_period_over``;
* one objection at a time: objecting moves the record ``posted → objected``;
* staff resolve it — never the objector, never a member of the record's household:
  ``upheld`` keeps the points (record ``upheld``), ``reversed`` undoes them with a reversing
  ledger transaction (record ``reversed``, its cap usage given back);
* every step leaves an audit row.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community.models import Community
from pointsbank.errors import NotFound
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.notify import services as notify
from pointsbank.pagination import keyset_page
from pointsbank.rules import services as books
from pointsbank.rules.approvals import locked_record
from pointsbank.rules.listing import PUBLIC_STATUSES
from pointsbank.rules.errors import NoticePeriodOver, NotOpenToObjection, ObjectionNotOpen, ObjectorCannotResolve
from pointsbank.rules.models import Objection
from pointsbank.database import lock_row


def raise_objection(actor: User, record_id: int, *, reason: str) -> Objection:
    policy.require_role(actor, "resident")
    record = locked_record(record_id, actor.community_id)
    if record is None or record.community_id != actor.community_id or (
            record.status not in PUBLIC_STATUSES and record.household_id != actor.household_id):
        raise NotFound()
    if record.status != "posted":
        raise NotOpenToObjection(status=record.status, details={"status": record.status})
    community = db.session.get(Community, record.community_id)
    notice_until = record.posted_at + timedelta(days=community.notice_days)
    if clock.now() >= notice_until:
        raise NoticePeriodOver(notice_until=notice_until.isoformat(), details={"notice_until": notice_until.isoformat()})
    return open_objection(actor, record, reason=reason)


def open_objection(actor: User, record: Any, *, reason: str, action: str = "record.object") -> Objection:
    """Open the objection on a locked ``posted`` record (the caller has checked who may): the record
    moves to ``objected`` until staff resolve it. A resident's objection comes through
    :func:`raise_objection`; a spot check's dispute (:mod:`pointsbank.regions.spotchecks`) by a
    second staff member comes here directly, at any time, with its own audit action."""
    objection = Objection(community_id=record.community_id, record_id=record.id, raised_by_id=actor.id,
                          reason=reason, status="open", created_at=clock.now())
    db.session.add(objection)
    record.status = "objected"
    db.session.flush()
    audit.record(actor, action, community_id=record.community_id, target=objection,
                 data={"record_id": record.id, "reason": reason})
    return objection


def _locked_objection(objection_id: int, community_id: int | None) -> Objection | None:
    return lock_row(Objection, objection_id, community_id)


def resolve(actor: User, objection_id: int, *, outcome: str, note: str | None = None) -> Objection:
    """``upheld``: the record stands; ``reversed``: its points are taken back through the ledger."""
    policy.require_role(actor, "staff")
    objection = _locked_objection(objection_id, actor.community_id)
    if objection is None:
        raise NotFound()
    record = locked_record(objection.record_id, objection.community_id)
    policy.household_for(actor, record.household_id, "staff")
    if objection.status != "open":
        raise ObjectionNotOpen(status=objection.status, details={"status": objection.status})
    refusal = policy.objection_decision_refusal(actor, objection, record)
    if refusal is not None:
        raise {"objector_cannot_resolve": ObjectorCannotResolve, "conflict_of_interest": policy.ConflictOfInterest}[
            refusal]()
    if outcome == "reversed" and record.transaction_id is not None:
        rule = books.book_of(record.rulebook_version_id).rule(record.rule_code)
        name = rule.name_zh if rule else record.rule_code
        reversal = ledger.reverse(record.transaction_id, community_id=record.community_id, actor_id=actor.id,
                                  memo=f"异议成立，撤销：{name}"[:255], reference=("record", record.id))
        record.reversal_transaction_id = reversal.transaction_id
        notify.record_reversed(record.community_id, record.household_id, record.id, record.points, name)
    record.status = outcome
    objection.status, objection.resolved_by_id = outcome, actor.id
    objection.resolution_note, objection.resolved_at = note, clock.now()
    db.session.flush()
    audit.record(actor, "objection.resolve", community_id=record.community_id, target=objection,
                 data={"record_id": record.id, "outcome": outcome, "note": note, "points": record.points})
    return objection


def list_objections(actor: User, *, community_id: int | None = None, status: str | None = None,
                    record_id: int | None = None, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    policy.require_role(actor, "admin", "staff")
    stmt = sa.select(Objection)
    if community_id is not None:
        stmt = stmt.where(Objection.community_id == policy.community_for(actor, community_id, "admin", "staff").id)
    elif actor.role == "staff":
        stmt = stmt.where(Objection.community_id == actor.community_id)
    else:
        scope = policy.admin_community_ids(actor)
        if scope is not None:
            stmt = stmt.where(Objection.community_id.in_(scope or {-1}))
    if status:
        stmt = stmt.where(Objection.status == status)
    if record_id is not None:
        stmt = stmt.where(Objection.record_id == record_id)
    return keyset_page(stmt, Objection.id, limit=limit, cursor=cursor)
