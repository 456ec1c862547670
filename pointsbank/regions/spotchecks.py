"""Spot checks of posted records (抽查): a random sample for a second staff member to look at.

Invariants:

* the sample is a pure function of the stored seed, the size and the candidates — the
  period's records still ``posted``, in id order (:func:`draw`): drawn again with the same seed
  over the same records it is the same sample (``seed`` may be given to redraw one, else a
  random 63-bit seed is drawn and stored);
* each item is checked once, by staff of the community who did not record it and do not belong
  to its household: ``confirmed``, or ``disputed`` — a dispute opens an objection on the record
  (:func:`pointsbank.rules.objections.open_objection`, the record moves to ``objected``), which
  staff other than the disputer resolve through ``POST /objections/{id}/resolve``: ``reversed``
  undoes the points through the ledger, ``upheld`` keeps them;
* drawing, confirming and disputing each leave an audit row.

    >>> draw([11, 12, 13, 14, 15], seed=7, size=2) == draw([11, 12, 13, 14, 15], seed=7, size=2)
    True
"""

from __future__ import annotations

import random
import secrets
from typing import Any, Sequence

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community.models import Household
from pointsbank.database import lock_for_update, row_by_id
from pointsbank.errors import Conflict, Forbidden, NotFound, Unprocessable
from pointsbank.extensions import db
from pointsbank.regions.models import SpotCheck, SpotCheckItem
from pointsbank.reports import periods, rankings
from pointsbank.rules import objections
from pointsbank.rules.approvals import locked_record
from pointsbank.rules.errors import NotOpenToObjection
from pointsbank.rules.models import BehaviourRecord

MAX_SEED = 2 ** 63 - 1


class NothingToCheck(Unprocessable):
    code = "nothing_to_check"
    message = _l("No posted record of %(period)s is left to check.")


class RecorderCannotCheck(Forbidden):
    code = "recorder_cannot_check"
    message = _l("A record is checked by a second staff member, not by the one who recorded it.")


class AlreadyChecked(Conflict):
    code = "spot_check_item_checked"
    message = _l("This record of the spot check was already checked (%(status)s).")


def draw(candidates: Sequence[int], *, seed: int, size: int) -> list[int]:
    """``size`` of ``candidates`` (all when fewer), chosen by ``seed`` alone, in id order."""
    ordered = sorted(candidates)
    return sorted(random.Random(seed).sample(ordered, min(size, len(ordered))))


def candidates(community_id: int, period: periods.Period) -> list[int]:
    return list(db.session.scalars(
        sa.select(BehaviourRecord.id).where(BehaviourRecord.community_id == community_id,
                                            rankings.period_column(period) == period.key,
                                            BehaviourRecord.status == "posted")
        .order_by(BehaviourRecord.id)))


def draw_spot_check(actor: User, community_id: int, *, period: str, size: int, seed: int | None = None) -> SpotCheck:
    community = policy.community_for(actor, community_id, "admin", "staff")
    parsed = periods.parse(period)
    pool = candidates(community.id, parsed)
    if not pool:
        raise NothingToCheck(period=parsed.key)
    seed = secrets.randbelow(MAX_SEED) if seed is None else seed
    check = SpotCheck(community_id=community.id, period=parsed.key, size=size, seed=seed, drawn_by_id=actor.id,
                      created_at=clock.now())
    db.session.add(check)
    db.session.flush()
    sample = draw(pool, seed=seed, size=size)
    db.session.add_all(SpotCheckItem(community_id=community.id, spot_check_id=check.id, record_id=record_id,
                                     status="pending") for record_id in sample)
    db.session.flush()
    audit.record(actor, "spot_check.draw", community_id=community.id, target=check,
                 data={"period": parsed.key, "size": size, "seed": seed, "records": sample})
    return check


def spot_check_for(actor: User, spot_check_id: int) -> SpotCheck:
    policy.require_role(actor, "admin", "staff")
    check = row_by_id(SpotCheck, spot_check_id, actor.community_id)
    if check is None:
        raise NotFound()
    policy.community_for(actor, check.community_id, "admin", "staff")
    return check


def _locked_item(check: SpotCheck, record_id: int) -> SpotCheckItem:
    stmt = (sa.select(SpotCheckItem).where(SpotCheckItem.community_id == check.community_id,
                                           SpotCheckItem.spot_check_id == check.id,
                                           SpotCheckItem.record_id == record_id)
            .execution_options(populate_existing=True))
    item = db.session.scalar(lock_for_update(stmt))
    if item is None:
        raise NotFound()
    return item


def check_item(actor: User, spot_check_id: int, record_id: int, *, outcome: str,
               note: str | None = None) -> SpotCheckItem:
    """``confirmed`` or ``disputed`` (``note`` is then the objection's reason) by a second staff member."""
    policy.require_role(actor, "staff")
    check = spot_check_for(actor, spot_check_id)
    item = _locked_item(check, record_id)
    record = locked_record(record_id, check.community_id)
    if item.status != "pending":
        raise AlreadyChecked(status=item.status, details={"status": item.status})
    refusal = policy.spot_check_refusal(actor, record)  # the predicate the fairness page asks too
    if refusal == "recorder_cannot_check":
        raise RecorderCannotCheck()
    if refusal is not None:
        raise policy.ConflictOfInterest() if refusal == "conflict_of_interest" else Forbidden()
    if outcome == "disputed":
        if record.status != "posted":
            raise NotOpenToObjection(status=record.status, details={"status": record.status})
        objection = objections.open_objection(actor, record, reason=note or "抽查存疑")
        item.objection_id = objection.id
    item.status, item.checked_by_id, item.checked_at, item.note = outcome, actor.id, clock.now(), note
    db.session.flush()
    audit.record(actor, f"spot_check.{'dispute' if outcome == 'disputed' else 'confirm'}",
                 community_id=check.community_id, target=item,
                 data={"spot_check_id": check.id, "record_id": record_id, "note": note,
                       "objection_id": item.objection_id})
    return item


def item_rows(check: SpotCheck) -> list[dict[str, Any]]:
    from pointsbank.rules.models import Objection

    rows = db.session.execute(
        sa.select(SpotCheckItem, BehaviourRecord.household_id, Household.number, BehaviourRecord.rule_code,
                  BehaviourRecord.points, BehaviourRecord.occurred_on, BehaviourRecord.recorded_by_id,
                  BehaviourRecord.status.label("record_status"), Objection.status.label("objection_status"))
        .join(BehaviourRecord, BehaviourRecord.id == SpotCheckItem.record_id)
        .join(Household, Household.id == BehaviourRecord.household_id)
        .outerjoin(Objection, Objection.id == SpotCheckItem.objection_id)
        .where(SpotCheckItem.community_id == check.community_id, SpotCheckItem.spot_check_id == check.id)
        .order_by(SpotCheckItem.record_id))
    return [{"record_id": r.SpotCheckItem.record_id, "household_id": r.household_id, "number": r.number,
             "rule_code": r.rule_code, "points": r.points, "occurred_on": r.occurred_on,
             "recorded_by_id": r.recorded_by_id, "record_status": r.record_status,
             "status": r.SpotCheckItem.status, "checked_by_id": r.SpotCheckItem.checked_by_id,
             "checked_at": r.SpotCheckItem.checked_at, "note": r.SpotCheckItem.note,
             "objection_id": r.SpotCheckItem.objection_id, "objection_status": r.objection_status} for r in rows]


def spot_check_view(check: SpotCheck) -> dict[str, Any]:
    return {"id": check.id, "community_id": check.community_id, "period": check.period, "size": check.size,
            "seed": check.seed, "drawn_by_id": check.drawn_by_id, "created_at": check.created_at,
            "items": item_rows(check)}


def get_spot_check(actor: User, spot_check_id: int) -> dict[str, Any]:
    return spot_check_view(spot_check_for(actor, spot_check_id))


def item_view(actor: User, spot_check_id: int, record_id: int) -> dict[str, Any]:
    check = spot_check_for(actor, spot_check_id)
    return next(row for row in item_rows(check) if row["record_id"] == record_id)


def list_spot_checks(actor: User, community_id: int, period: str | None = None) -> list[dict[str, Any]]:
    community = policy.community_for(actor, community_id, "admin", "staff")
    stmt = sa.select(SpotCheck).where(SpotCheck.community_id == community.id).order_by(SpotCheck.id.desc())
    if period:
        stmt = stmt.where(SpotCheck.period == periods.parse(period).key)
    return [spot_check_view(check) for check in db.session.scalars(stmt.limit(50))]
