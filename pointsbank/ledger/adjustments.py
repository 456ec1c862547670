"""Manual corrections by staff, through the ledger.

An adjustment of |points| ≤ the community's ``adjustment_two_person_above`` posts at once;
above it, it waits for a second staff member (never the requester, never a member of the
household) to approve. Every step leaves an audit row.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.errors import Conflict, NotFound, Unprocessable
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.ledger.models import Adjustment
from pointsbank.notify import services as notify
from pointsbank.database import lock_for_update, lock_row


class SecondPersonRequired(Unprocessable):
    code = "second_person_required"
    message = _l("A second staff member must approve this; you requested it.")


class AdjustmentNotPending(Conflict):
    code = "adjustment_not_pending"
    message = _l("This adjustment is no longer pending.")


def request_adjustment(actor: User, household_id: int, *, points: int, reason: str) -> Adjustment:
    household = policy.household_for(actor, household_id, "staff")
    policy.ensure_not_own_household(actor, household.id)
    adjustment = Adjustment(community_id=household.community_id, household_id=household.id, points=points,
                            reason=reason, requested_by_id=actor.id, status="pending")
    db.session.add(adjustment)
    db.session.flush()
    audit.record(actor, "adjustment.request", community_id=household.community_id, target=adjustment,
                 data={"household_id": household.id, "points": points, "reason": reason})
    if abs(points) <= household.community.adjustment_two_person_above:
        _post(actor, adjustment)
    return adjustment


def _pending(actor: User, adjustment_id: int) -> Adjustment:
    """The pending adjustment a staff member of its community decides on, locked so that two
    decisions at once cannot both pass the ``pending`` check (PostgreSQL; SQLite's immediate
    write transaction already serialises them)."""
    policy.require_role(actor, "staff")
    adjustment = lock_row(Adjustment, adjustment_id, actor.community_id)
    if adjustment is None:
        raise NotFound()
    policy.household_for(actor, adjustment.household_id, "staff")
    if adjustment.status != "pending":
        raise AdjustmentNotPending()
    return adjustment


def approve_adjustment(actor: User, adjustment_id: int) -> Adjustment:
    adjustment = _pending(actor, adjustment_id)
    refusal = policy.adjustment_decision_refusal(actor, adjustment)
    if refusal is not None:
        raise {"second_person_required": SecondPersonRequired, "conflict_of_interest": policy.ConflictOfInterest}[
            refusal]()
    adjustment.approved_by_id = actor.id
    _post(actor, adjustment)
    audit.record(actor, "adjustment.approve", community_id=adjustment.community_id, target=adjustment,
                 data={"points": adjustment.points})
    return adjustment


def reject_adjustment(actor: User, adjustment_id: int, *, reason: str | None = None) -> Adjustment:
    """A second staff member (or the requester, withdrawing it) turns a pending adjustment down."""
    adjustment = _pending(actor, adjustment_id)
    adjustment.status = "rejected"
    adjustment.approved_by_id = actor.id
    adjustment.decided_at = clock.now()
    audit.record(actor, "adjustment.reject", community_id=adjustment.community_id, target=adjustment,
                 data={"points": adjustment.points, "reason": reason})
    db.session.flush()
    return adjustment


def list_adjustments(actor: User, community_id: int, *, status: str | None = None, limit: int = 50,
                     cursor: str | None = None) -> dict:
    from pointsbank.pagination import keyset_page

    policy.community_for(actor, community_id, "admin", "staff")
    stmt = sa.select(Adjustment).where(Adjustment.community_id == community_id)
    if status:
        stmt = stmt.where(Adjustment.status == status)
    return keyset_page(stmt, Adjustment.id, limit=limit, cursor=cursor)


def _post(actor: User, adjustment: Adjustment) -> None:
    # lock the row so two approvers cannot both post it
    locked = db.session.execute(lock_for_update(sa.select(Adjustment.status).where(
        Adjustment.community_id == adjustment.community_id, Adjustment.id == adjustment.id))).scalar_one()
    if locked != "pending":
        raise AdjustmentNotPending()
    issuance = ledger.system_accounts(adjustment.community_id)["issuance"]
    account = ledger.household_account_id(adjustment.household_id, community_id=adjustment.community_id)
    posted = ledger.post(adjustment.community_id, "adjustment",
                         [(issuance, -adjustment.points), (account, adjustment.points)],
                         actor_id=actor.id, reference=("adjustment", adjustment.id), memo=adjustment.reason[:255])
    adjustment.status = "posted"
    adjustment.transaction_id = posted.transaction_id
    adjustment.decided_at = clock.now()
    db.session.flush()
    notify.adjustment_posted(adjustment.community_id, adjustment.household_id, adjustment.id, adjustment.points,
                             adjustment.reason)
