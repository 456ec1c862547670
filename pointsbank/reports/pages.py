"""Read-only figures that only the pages show (the staff dashboard), in the caller's scope.

Each function takes the acting user, checks scope through ``policy`` (404 outside it) and
reads with aggregate queries — the database sums, not a Python loop. Records are narrowed by
``rules.listing.in_scope`` (a grid worker counts only its grids' households), exactly like
the record lists of the API.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community.models import Household
from pointsbank.extensions import db
from pointsbank.redeem.models import Redemption
from pointsbank.reports import periods
from pointsbank.rules import listing
from pointsbank.rules.models import BehaviourRecord, Objection

#: statuses whose points are on the ledger (an objected record keeps its points until resolved)
COUNTED_STATUSES = ("posted", "objected", "upheld")


@dataclass(frozen=True)
class QuarterTotals:
    period: str
    records: int
    points_awarded: int
    points_deducted: int
    redemptions: int
    points_redeemed: int
    redeemed_fen: int


@dataclass(frozen=True)
class Dashboard:
    pending_records: int
    open_objections: int
    quarter: QuarterTotals


def dashboard(actor: User, community_id: int) -> Dashboard:
    community = policy.community_for(actor, community_id, "admin", "staff", "grid_worker")
    pending = db.session.scalar(listing.in_scope(actor, sa.select(sa.func.count(BehaviourRecord.id)).where(
        BehaviourRecord.community_id == community.id, BehaviourRecord.status == "pending")))
    objections = db.session.scalar(listing.in_scope(actor, sa.select(sa.func.count(Objection.id)).join(
        BehaviourRecord, BehaviourRecord.id == Objection.record_id).where(
        Objection.community_id == community.id, Objection.status == "open")))
    return Dashboard(int(pending or 0), int(objections or 0), quarter_totals(actor, community.id))


def quarter_totals(actor: User, community_id: int, period: str | None = None) -> QuarterTotals:
    """Records posted (by their date) and redemptions made (by their time) in the quarter."""
    community = policy.community_for(actor, community_id, "admin", "staff", "grid_worker")
    quarter = periods.parse(period) if period else periods.current("quarter", community.timezone, clock.now())
    record = BehaviourRecord
    count, awarded, deducted = db.session.execute(listing.in_scope(actor, sa.select(
        sa.func.count(record.id),
        sa.func.coalesce(sa.func.sum(sa.case((record.points > 0, record.points), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((record.points < 0, record.points), else_=0)), 0),
    ).where(record.community_id == community.id, record.quarter_key == quarter.key,
            record.status.in_(COUNTED_STATUSES)))).one()
    start, end = quarter.bounds(community.timezone)
    redemptions, redeemed, fen = 0, 0, 0
    if actor.role != "grid_worker":  # redemptions are a community's money, not a grid's
        redemptions, redeemed, fen = db.session.execute(sa.select(
            sa.func.count(Redemption.id), sa.func.coalesce(sa.func.sum(Redemption.points), 0),
            sa.func.coalesce(sa.func.sum(Redemption.value_fen), 0),
        ).where(Redemption.community_id == community.id, Redemption.created_at >= start,
                Redemption.created_at < end, Redemption.reversed_at.is_(None))).one()
    return QuarterTotals(quarter.key, int(count), int(awarded), int(deducted), int(redemptions), int(redeemed),
                         int(fen))


def households_by_id(actor: User, ids: set[int]) -> dict[int, Household]:
    """The households behind a list of records, limited to what ``actor`` may see."""
    if not ids:
        return {}
    stmt = policy.households_in_scope(actor, sa.select(Household).where(Household.id.in_(ids)))
    return {h.id: h for h in db.session.scalars(stmt) if policy.household_visible(actor, h)}


def user_names(ids: set[int]) -> dict[int, str]:
    """Who recorded or approved: display name, else username (staff of the same community)."""
    if not ids:
        return {}
    rows = db.session.execute(sa.select(User.id, User.display_name, User.username).where(User.id.in_(ids)))
    return {row.id: row.display_name or row.username for row in rows}


def records_by_id(actor: User, ids: set[int]) -> dict[int, BehaviourRecord]:
    """The records behind a page of objections, in ``actor``'s scope, decorated like the API's."""
    if not ids:
        return {}
    found = list(db.session.scalars(listing.in_scope(actor, sa.select(BehaviourRecord).where(
        BehaviourRecord.id.in_(ids)))))
    return {r.id: r for r in listing.decorate(found)}
