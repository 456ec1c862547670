"""Point resets and expiry, as each community chooses (``Community.points_reset``).

* ``none`` — points are kept for good.
* ``quarter`` / ``year`` — at the end of each period every household goes back to its base:
  one ledger transaction ``household ↔ issuance`` of ``base − balance at the boundary``, in
  both directions (a household above its base gives the surplus back, one below it — after
  deductions — is raised to it). The balance at the boundary is the one after the last
  posting before it, so points earned after the boundary are kept even if the job runs late.
  A reset makes earlier ones irrelevant, so when the scheduler catches up several missed
  boundaries only the newest is applied (the older runs complete as ``superseded``).
* ``expire`` — at the end of each year, points earned more than ``points_expire_years``
  years ago and not spent lapse, oldest first (FIFO): with N = 2, points earned in 2024 lapse
  at the end of 2026. For each household, ``old credits − all debits`` (never more than what
  is above the base) goes back to issuance; credits are the positive postings but the opening
  base, debits every negative posting (spending, deductions, earlier expiries), so a second
  computation never expires the same point twice. Points returned from a cancelled voucher
  count from the day they came back.

Points held in an open voucher are outside the household's balance and are not touched.
Only boundaries after ``points_policy_since`` (when the choice was made) apply. Each run is
guarded by the job-run record (job ``reset`` or ``expiry``), so it happens once per period.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.community.models import Community
from pointsbank.errors import NotFound
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.ledger.models import Account, LedgerTransaction, Posting
from pointsbank.reports import periods

RESET_KIND, EXPIRY_KIND = "reset", "point_expiry"


def _community(community_id: int) -> Community:
    community = db.session.get(Community, community_id)
    if community is None:
        raise NotFound()
    return community


def balances_at(community_id: int, boundary: datetime) -> list[tuple[int, int, int]]:
    """(account id, household id, balance after the last posting before ``boundary``) of every
    household account that had one."""
    before = (sa.select(Posting.balance_after).where(Posting.account_id == Account.id, Posting.created_at < boundary)
              .order_by(Posting.id.desc()).limit(1).scalar_subquery())
    rows = db.session.execute(sa.select(Account.id, Account.household_id, before.label("balance"))
                              .where(Account.community_id == community_id, Account.kind == "household")
                              .order_by(Account.id))
    return [(r.id, r.household_id, int(r.balance)) for r in rows if r.balance is not None]


def reset_balances(community_id: int, period: periods.Period, now: datetime | None = None) -> dict[str, Any]:
    community = _community(community_id)
    moment = now or clock.now()
    period.ensure_closed(community.timezone, moment)
    latest = periods.last_closed(period.kind, community.timezone, moment)
    if period != latest:
        return {"superseded_by": latest.key}
    boundary = period.bounds(community.timezone)[1]
    issuance = ledger.system_accounts(community_id)["issuance"]
    households, moved = 0, 0
    for account_id, household_id, balance in balances_at(community_id, boundary):
        delta = community.base_points - balance
        if delta:
            ledger.post(community_id, RESET_KIND, [(issuance, -delta), (account_id, delta)],
                        reference=("period", period.key), memo=f"{period.key}: back to the base of {community.base_points}")
            households, moved = households + 1, moved - delta
    return {"households": households, "points": moved}


def _expiring(community_id: int, cutoff: datetime, base: int, household_id: int | None = None) -> list[tuple[int, int, int]]:
    """(account id, household id, points that lapse) for credits before ``cutoff`` not yet consumed."""
    old_credits = sa.func.coalesce(sa.func.sum(sa.case(
        (sa.and_(Posting.points > 0, Posting.created_at < cutoff, LedgerTransaction.kind != "opening"),
         Posting.points), else_=0)), 0)
    debits = sa.func.coalesce(sa.func.sum(sa.case((Posting.points < 0, -Posting.points), else_=0)), 0)
    stmt = (sa.select(Account.id, Account.household_id, Account.balance, old_credits.label("old"),
                      debits.label("debits"))
            .join(Posting, Posting.account_id == Account.id)
            .join(LedgerTransaction, sa.and_(LedgerTransaction.community_id == Posting.community_id,
                                             LedgerTransaction.id == Posting.transaction_id))
            .where(Account.community_id == community_id, Account.kind == "household")
            .group_by(Account.id, Account.household_id, Account.balance).order_by(Account.id))
    if household_id is not None:
        stmt = stmt.where(Account.household_id == household_id)
    result = []
    for row in db.session.execute(stmt):
        points = min(int(row.old) - int(row.debits), int(row.balance) - base)
        if points > 0:
            result.append((row.id, row.household_id, points))
    return result


def expiry_cutoff(community: Community, year: periods.Period) -> datetime:
    """Credits before this instant lapse at the end of ``year``."""
    return periods.local_midnight(periods.Period(year.year - community.points_expire_years + 1).first_day(),
                                  community.timezone)


def expire_points(community_id: int, period: periods.Period, now: datetime | None = None) -> dict[str, Any]:
    community = _community(community_id)
    period.ensure_closed(community.timezone, now or clock.now())
    if period.kind != "year" or not community.points_expire_years:
        return {"households": 0, "points": 0}
    issuance = ledger.system_accounts(community_id)["issuance"]
    households, moved = 0, 0
    for account_id, _household_id, points in _expiring(community_id, expiry_cutoff(community, period),
                                                        community.base_points):
        ledger.post(community_id, EXPIRY_KIND, [(account_id, -points), (issuance, points)],
                    reference=("period", period.key),
                    memo=f"{period.key}: points older than {community.points_expire_years} year(s) lapse")
        households, moved = households + 1, moved + points
    return {"households": households, "points": moved}


def upcoming_reset(community: Community, household_id: int | None = None) -> dict[str, Any] | None:
    """What the next boundary will do, for the resident's page: ``{kind, effective_at, last_day,
    points}`` where ``points`` is what the household (or, without one, every household together)
    stands to lose — negative when a reset will raise it to the base. None when nothing is planned."""
    now = clock.now()
    if community.points_reset in ("quarter", "year"):
        period = periods.current(community.points_reset, community.timezone, now)
        stmt = sa.select(sa.func.coalesce(sa.func.sum(Account.balance - community.base_points), 0)).where(
            Account.community_id == community.id, Account.kind == "household")
        if household_id is not None:
            stmt = stmt.where(Account.household_id == household_id)
        points, kind = int(db.session.scalar(stmt) or 0), "reset"
    elif community.points_reset == "expire" and community.points_expire_years:
        period = periods.current("year", community.timezone, now)
        points = sum(p for _, _, p in _expiring(community.id, expiry_cutoff(community, period), community.base_points,
                                                household_id))
        kind = "expiry"
    else:
        return None
    return {"kind": kind, "period": period.key, "effective_at": period.bounds(community.timezone)[1],
            "last_day": period.last_day(), "points": points}
