"""Approving and rejecting pending records: four eyes, or six.

Invariants:

* only staff decide, never the one who recorded it (``second_person_required``), never a
  member of the record's household (``conflict_of_interest``);
* each staff member counts once (``already_approved``; unique (record, approver));
* the record posts — once — when its approvals reach ``approvals_required``; the record row
  is locked while deciding, so two approvers at the same moment cannot both post it;
* a rejected record scores 0 and gives its reserved cap back; every decision is audited.
"""

from __future__ import annotations

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community import freeze
from pointsbank.errors import NotFound
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.rules import listing, services as books
from pointsbank.rules.errors import AlreadyApproved, RecordNotPending, SecondPersonRequired
from pointsbank.rules.models import BehaviourRecord, RecordApproval
from pointsbank.rules.records import post_record
from pointsbank.database import lock_row


def locked_record(record_id: int, community_id: int | None = None) -> BehaviourRecord | None:
    """The record locked and re-read (:func:`pointsbank.database.lock_row`; the community, when
    known, names its shard)."""
    return lock_row(BehaviourRecord, record_id, community_id)


def _pending_for_decision(actor: User, record_id: int) -> BehaviourRecord:
    policy.require_role(actor, "staff")
    record = locked_record(record_id, actor.community_id)
    if record is None:
        raise NotFound()
    policy.household_for(actor, record.household_id, "staff")
    if record.status != "pending":
        raise RecordNotPending(status=record.status, details={"status": record.status})
    _refuse(policy.record_decision_refusal(actor, record))
    return record


def _refuse(refusal: str | None) -> None:
    """Raise the refusal the policy's four-eyes predicate names (none: the decision may go on)."""
    if refusal is not None:
        raise {"second_person_required": SecondPersonRequired, "conflict_of_interest": policy.ConflictOfInterest,
               "already_approved": AlreadyApproved}[refusal]()


def approve(actor: User, record_id: int) -> BehaviourRecord:
    record = _pending_for_decision(actor, record_id)
    ledger.lock_household_accounts(record.community_id, [record.household_id])  # the freeze is read under the lock
    freeze.ensure_not_frozen(record.community_id, record.household_id)
    approvers = set(db.session.scalars(sa.select(RecordApproval.approver_id)
                                       .where(RecordApproval.record_id == record.id)))
    _refuse(policy.record_decision_refusal(actor, record, approvers))
    db.session.add(RecordApproval(community_id=record.community_id, record_id=record.id, approver_id=actor.id,
                                  created_at=clock.now()))
    approvers.add(actor.id)
    if len(approvers) >= record.approvals_required:
        record.decided_at = clock.now()
        rule = books.book_of(record.rulebook_version_id).rule(record.rule_code)
        post_record(record, actor.id, rule.name_zh if rule else record.rule_code)
    db.session.flush()
    audit.record(actor, "record.approve", community_id=record.community_id, target=record,
                 data={"approvals": len(approvers), "approvals_required": record.approvals_required,
                       "status": record.status, "points": record.points})
    return listing.decorate([record])[0]


def reject(actor: User, record_id: int, *, reason: str) -> BehaviourRecord:
    record = _pending_for_decision(actor, record_id)
    record.status, record.decided_at, record.points = "rejected", clock.now(), 0
    record.reasons = [*record.reasons, {"code": "rejected", "params": {"reason": reason}}]
    db.session.flush()
    audit.record(actor, "record.reject", community_id=record.community_id, target=record,
                 data={"reason": reason, "requested_points": record.requested_points})
    return listing.decorate([record])[0]
