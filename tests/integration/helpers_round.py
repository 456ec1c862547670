"""Helpers for the quarterly round: move the clock, redeem through the redeem services, record
behaviour through the ledger, and read back what the round produced.

Redemptions go through the real services (``issue_voucher`` as the resident, ``redeem`` by
token as the cashier, ``reverse_redemption`` as staff), so the ledger, the escrow and the
fixed ``value_fen`` are exactly what production writes. Behaviour records are inserted as
rows with their points posted through ``ledger.post`` (the rules package is built in parallel;
these tests need only the record's status, points, category and period keys).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from pointsbank.auth.models import User
from pointsbank.community.models import Community
from pointsbank.config import parse_clock
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.ledger.verify import verify
from pointsbank.redeem import redemptions, vouchers
from pointsbank.redeem.models import Redemption
from pointsbank.reports import periods
from pointsbank.reports.models import SettlementLine, SettlementStatement
from pointsbank.rules.models import BehaviourRecord, RuleBookVersion
from pointsbank.rules.rulebook import default_rulebook_text
from tests.integration.helpers_ledger import award
from pointsbank.database import row_by_id

#: moments in Asia/Shanghai, as UTC (Shanghai midnight = 16:00 UTC the day before)
Q2_EARLY = "2026-05-15T02:00:00+00:00"
Q2_LAST_MINUTE = "2026-06-30T15:59:00+00:00"   # 23:59 on 30 June in Shanghai
Q3_FIRST_MINUTE = "2026-06-30T16:00:00+00:00"  # 00:00 on 1 July in Shanghai
AFTER_Q2 = "2026-07-01T01:00:00+00:00"         # 09:00 on 1 July in Shanghai
Q2 = periods.parse("2026Q2")
Q3 = periods.parse("2026Q3")


def at(app: Any, moment: str | datetime) -> datetime:
    """Freeze the application clock at ``moment``."""
    app.config["CLOCK"] = parse_clock(moment)
    return app.config["CLOCK"]


def relogin(app: Any, world: Any, moment: str | datetime) -> datetime:
    """Move the clock and give every login of the world a token that is valid then."""
    from tests.factories import token_for

    frozen = at(app, moment)
    for name, user_id in world.users.items():
        world.tokens[name] = token_for(user_id)
    db.session.commit()
    return frozen


def user(world: Any, name: str) -> User:
    return db.session.get(User, world.users[name])


def redeem(app: Any, world: Any, moment: str, points: int, *, household: str = "a1", resident: str = "resident_a1",
           cashier: str = "cashier_a") -> int:
    """A redemption of ``points`` at ``moment`` (the household is given the points first); its id."""
    at(app, moment)
    award(_community_of(world, household), world[household], points)
    voucher = vouchers.issue_voucher(user(world, resident), points=points)
    receipt = redemptions.redeem(user(world, cashier), code=voucher["token"], points=points)
    db.session.commit()
    return receipt["id"]


def reverse(app: Any, world: Any, moment: str, redemption_id: int, staff: str = "staff_a2") -> None:
    at(app, moment)
    redemptions.reverse_redemption(user(world, staff), redemption_id, reason="wrong goods rung up")
    db.session.commit()


def set_point_value(app: Any, world: Any, moment: str, fen: int, community: str = "alpha") -> None:
    at(app, moment)
    db.session.get(Community, world[community]).point_value_fen = fen
    db.session.commit()


def _community_of(world: Any, household: str) -> int:
    return world["beta"] if household.startswith("b") else world["alpha"]


def _version(community_id: int) -> int:
    found = db.session.scalar(sa.select(RuleBookVersion.id).where(RuleBookVersion.community_id == community_id))
    if found is None:
        row = RuleBookVersion(community_id=community_id, version="round-test", effective_from=date(2026, 1, 1),
                              source=default_rulebook_text())
        db.session.add(row)
        db.session.flush()
        found = row.id
    return found


def record(world: Any, household: str, points: int, *, occurred_on: date = date(2026, 5, 10),
           status: str = "posted", category: str = "volunteer", posted_at: datetime | None = None) -> int:
    """A behaviour record with its points on the ledger (posted/objected/upheld; reversed ones
    are posted then reversed), committed; its id."""
    community_id = _community_of(world, household)
    quarter = periods.quarter_of(occurred_on)
    row = BehaviourRecord(community_id=community_id, household_id=world[household],
                          rulebook_version_id=_version(community_id), rule_code=f"{category}_rule", category=category,
                          occurred_on=occurred_on, month_key=occurred_on.strftime("%Y-%m"), quarter_key=quarter.key,
                          year_key=str(occurred_on.year), status=status, points=points, requested_points=points,
                          recorded_by_id=world.users["staff_a2" if community_id == world["alpha"] else "staff_b"])
    db.session.add(row)
    db.session.flush()
    if status in ("posted", "objected", "upheld", "reversed") and points:
        posted = award(community_id, world[household], points)
        row.transaction_id, row.posted_at = posted.transaction_id, posted_at or posted.created_at
        if status == "reversed":
            row.reversal_transaction_id = ledger.reverse(posted.transaction_id, community_id=community_id,
                                                         actor_id=None).transaction_id
    elif status in ("posted", "objected", "upheld"):
        row.posted_at = posted_at
    db.session.commit()
    return row.id


def statements_of(community_id: int, period: str) -> list[SettlementStatement]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(SettlementStatement).where(
        SettlementStatement.community_id == community_id, SettlementStatement.period == period)
        .order_by(SettlementStatement.shop_id)))


def lines_of(statement_id: int) -> list[SettlementLine]:
    return list(db.session.scalars(sa.select(SettlementLine).where(SettlementLine.statement_id == statement_id)
                                   .order_by(SettlementLine.id)))


def redemption(redemption_id: int) -> Redemption:
    return row_by_id(Redemption, redemption_id)


def ledger_ok(community_id: int | None = None) -> bool:
    db.session.expire_all()
    report = verify(community_id)
    assert report.ok, report.differences
    return True
