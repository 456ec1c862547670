"""Reading records: who sees which, filters, pages.

Scope: an admin sees the records of its communities; staff those of its community; a grid
worker those of the households in its grids; a resident its own household's records and, as
the public notice (公示) of its community, every record once posted (posted, objected,
upheld, reversed). Outside its scope a record answers 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.auth import policy
from pointsbank.auth.models import User, UserGrid
from pointsbank.community.models import Community, Grid, Household
from pointsbank.errors import NotFound
from pointsbank.extensions import db
from pointsbank.pagination import keyset_page
from pointsbank.rules.models import BehaviourRecord, RecordApproval

PUBLIC_STATUSES = ("posted", "objected", "upheld", "reversed")


def in_scope(actor: User, stmt: sa.Select) -> sa.Select:
    record = BehaviourRecord
    if actor.role == "admin":
        ids = policy.admin_community_ids(actor)
        return stmt if ids is None else stmt.where(record.community_id.in_(ids or {-1}))
    if actor.role == "staff":
        return stmt.where(record.community_id == actor.community_id)
    if actor.role == "grid_worker":
        grids = sa.select(UserGrid.grid_id).where(UserGrid.user_id == actor.id)
        return stmt.where(record.community_id == actor.community_id, record.household_id.in_(
            sa.select(Household.id).where(Household.grid_id.in_(grids))))
    if actor.role == "resident":
        return stmt.where(record.community_id == actor.community_id, sa.or_(
            record.household_id == actor.household_id, record.status.in_(PUBLIC_STATUSES)))
    return stmt.where(sa.false())


def get_record(actor: User, record_id: int) -> BehaviourRecord:
    policy.require_role(actor, "admin", "staff", "grid_worker", "resident")
    record = db.session.scalar(in_scope(actor, sa.select(BehaviourRecord).where(BehaviourRecord.id == record_id)))
    if record is None:
        raise NotFound()
    return decorate([record])[0]


def list_records(actor: User, *, community_id: int | None = None, status: str | None = None,
                 household_id: int | None = None, grid: str | None = None, rule_code: str | None = None,
                 period: str | None = None, open_to_objection: bool | None = None, limit: int = 50,
                 cursor: str | None = None) -> dict[str, Any]:
    policy.require_role(actor, "admin", "staff", "grid_worker", "resident")
    record = BehaviourRecord
    stmt = in_scope(actor, sa.select(record))
    community = None
    if community_id is not None:
        community = policy.community_for(actor, community_id)
        stmt = stmt.where(record.community_id == community.id)
    elif actor.community_id is not None:
        community = db.session.get(Community, actor.community_id)
    if status:
        stmt = stmt.where(record.status == status)
    if household_id is not None:
        stmt = stmt.where(record.household_id == household_id)
    if grid:
        stmt = stmt.where(record.household_id.in_(
            sa.select(Household.id).join(Grid, sa.and_(Grid.community_id == Household.community_id,
                                                       Grid.id == Household.grid_id)).where(Grid.name == grid)))
    if rule_code:
        stmt = stmt.where(record.rule_code == rule_code)
    if period:
        column = record.quarter_key if "Q" in period else record.month_key if "-" in period else record.year_key
        stmt = stmt.where(column == period)
    if open_to_objection is not None:
        if community is None:
            raise NotFound()  # an admin names the community whose notice it reads
        cutoff = clock.now() - timedelta(days=community.notice_days)
        is_open = sa.and_(record.status == "posted", record.posted_at > cutoff)
        stmt = stmt.where(is_open if open_to_objection else sa.not_(is_open))
    page = keyset_page(stmt, record.id, limit=limit, cursor=cursor)
    page["items"] = decorate(page["items"])
    return page


def decorate(records: list[BehaviourRecord]) -> list[BehaviourRecord]:
    """Attach what a record's view shows besides its columns: approvers and the notice deadline."""
    if not records:
        return records
    ids = [r.id for r in records]
    approvers: dict[int, list[int]] = {}
    for record_id, approver_id in db.session.execute(
            sa.select(RecordApproval.record_id, RecordApproval.approver_id)
            .where(RecordApproval.record_id.in_(ids)).order_by(RecordApproval.id)):
        approvers.setdefault(record_id, []).append(approver_id)
    notice_days = dict(db.session.execute(sa.select(Community.id, Community.notice_days).where(
        Community.id.in_({r.community_id for r in records}))).tuples().all())
    for record in records:
        record.approved_by = approvers.get(record.id, [])
        record.notice_until = (record.posted_at + timedelta(days=notice_days[record.community_id])
                               if record.posted_at else None)
    return records
