"""Settlement statements as use cases: run, list, read, confirm, pay.

* ``run_settlement(admin, "2026Q2", community_id=None)`` settles every community in the
  admin's scope (or one) through the run guard, in the caller's unit of work; a period that
  was already settled answers ``already_completed`` and changes nothing. All of them at once,
  set-based: one guard claim, one ``INSERT … SELECT … GROUP BY community_id, shop_id`` with
  each community's quarter bounds (its own time zone) as a ``VALUES`` list.
* ``confirm`` rebuilds the draft first: if a redemption of it was reversed since it was built,
  the rebuilt draft is kept and the call answers 409 ``statement_changed`` with the new totals,
  so nobody confirms figures that are no longer true; the admin confirms again.
* ``pay`` posts ``shop −points, settled +points`` through the ledger (none when the net is 0),
  once: a second pay answers 409 (and the API's ``Idempotency-Key`` replays the first answer).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community.models import Community
from pointsbank.database import lock_for_update
from pointsbank.errors import Conflict, NotFound
from pointsbank.extensions import db
from pointsbank.jobs.guard import run_guarded_many
from pointsbank.ledger import services as ledger
from pointsbank.pagination import keyset_page
from pointsbank.redeem.models import Shop
from pointsbank.reports import periods, settlement
from pointsbank.reports.models import SettlementLine, SettlementStatement


class StatementNotFound(NotFound):
    code = "statement_not_found"
    message = _l("No such settlement statement.")


class StatementNotDraft(Conflict):
    code = "statement_not_draft"
    message = _l("Only a draft statement can be confirmed; this one is %(status)s.")


class StatementChanged(Conflict):
    code = "statement_changed"
    message = _l("A redemption on this statement was corrected since it was drafted; the statement was rebuilt. "
                 "Check the new totals and confirm again.")
    keeps_changes = True


class StatementNotConfirmed(Conflict):
    code = "statement_not_confirmed"
    message = _l("Confirm the statement before paying it.")


class StatementAlreadyPaid(Conflict):
    code = "statement_already_paid"
    message = _l("This statement has already been paid.")


def statement_view(statement: SettlementStatement, lines: list[sa.Row] | None = None,
                   shop_name: str | None = None) -> dict[str, Any]:
    view = {c: getattr(statement, c) for c in (
        "id", "community_id", "shop_id", "period", "count", "points", "amount_fen", "status", "adjustment_count",
        "adjustment_points", "adjustment_fen", "created_at", "built_at", "confirmed_at", "confirmed_by_id", "paid_at",
        "paid_by_id", "transaction_id")}
    view["shop_name"] = shop_name if shop_name is not None else db.session.get(Shop, statement.shop_id).name
    if lines is not None:
        view["lines"] = lines
    return view


def run_settlement(actor: User | None, period_key: str, community_id: int | None = None) -> dict[str, Any]:
    period = periods.parse(period_key)
    if period.kind != "quarter":
        raise periods.InvalidPeriod(period=period_key)
    if actor is not None:
        ids = [policy.community_for(actor, community_id, "admin").id] if community_id is not None else [
            c.id for c in db.session.scalars(policy.visible_communities(actor))]
    else:
        ids = [community_id] if community_id is not None else list(db.session.scalars(sa.select(Community.id)))
    bounds = settlement.quarter_bounds(ids, period, clock.now())  # refuse before running anything
    results = run_guarded_many("settlement", ids, period.key, lambda claimed: settlement.settle_quarters(
        {cid: bounds[cid] for cid in claimed}, period.key))
    runs = [{"community_id": r.community_id, "outcome": r.outcome, "attempt": r.attempt, **r.summary}
            for r in results]
    audit.record(actor, "settlement.run", data={"period": period.key, "runs": runs})
    return {"period": period.key, "runs": runs}


def _scoped(actor: User, stmt: sa.Select) -> sa.Select:
    scope = policy.admin_community_ids(actor)
    return stmt if scope is None else stmt.where(SettlementStatement.community_id.in_(scope or {-1}))


def statement_for(actor: User, statement_id: int, *, lock: bool = False) -> SettlementStatement:
    policy.require_role(actor, "admin")
    stmt = sa.select(SettlementStatement).where(SettlementStatement.id == statement_id)
    if lock:
        # the lock names the statement's community (one shard on Citus): read unlocked first
        community_id = db.session.scalar(_scoped(actor, sa.select(SettlementStatement.community_id).where(
            SettlementStatement.id == statement_id)))
        stmt = lock_for_update(stmt.where(SettlementStatement.community_id == community_id)).execution_options(
            populate_existing=True)
    statement = db.session.scalar(_scoped(actor, stmt))
    if statement is None:
        raise StatementNotFound()
    return statement


def list_statements(actor: User, *, period: str | None = None, community_id: int | None = None,
                    status: str | None = None, shop_id: int | None = None, limit: int = 50,
                    cursor: str | None = None) -> dict[str, Any]:
    policy.require_role(actor, "admin")
    stmt = _scoped(actor, sa.select(SettlementStatement))
    if period is not None:
        stmt = stmt.where(SettlementStatement.period == periods.parse(period).key)
    if community_id is not None:
        stmt = stmt.where(SettlementStatement.community_id == community_id)
    if status is not None:
        stmt = stmt.where(SettlementStatement.status == status)
    if shop_id is not None:
        stmt = stmt.where(SettlementStatement.shop_id == shop_id)
    return _page(stmt, limit, cursor)


def list_shop_statements(actor: User, shop_id: int, *, period: str | None = None, limit: int = 50,
                         cursor: str | None = None) -> dict[str, Any]:
    """A shop's statements: its cashiers see all of them, staff and admins those of their communities."""
    from pointsbank.redeem.shops import shop_for

    shop = shop_for(actor, shop_id, "admin", "staff", "cashier")
    stmt = sa.select(SettlementStatement).where(SettlementStatement.shop_id == shop.id)
    if actor.role == "staff":
        stmt = stmt.where(SettlementStatement.community_id == actor.community_id)
    elif actor.role == "admin":
        stmt = _scoped(actor, stmt)
    if period is not None:
        stmt = stmt.where(SettlementStatement.period == periods.parse(period).key)
    return _page(stmt, limit, cursor)


def _page(stmt: sa.Select, limit: int, cursor: str | None) -> dict[str, Any]:
    page = keyset_page(stmt, SettlementStatement.id, limit=limit, cursor=cursor)
    names = dict(db.session.execute(sa.select(Shop.id, Shop.name).where(
        Shop.id.in_({s.shop_id for s in page["items"]}))).tuples().all()) if page["items"] else {}
    page["items"] = [statement_view(s, shop_name=names.get(s.shop_id, "")) for s in page["items"]]
    return page


def statement_lines(statement: SettlementStatement) -> list[sa.Row]:
    """Its redemptions (read from ``redemptions``, chronological), then its adjustments (stored)."""
    L = SettlementLine
    adjustments = sa.select(L.id, L.kind, L.redemption_id, L.occurred_at, L.points, L.point_value_fen, L.value_fen,
                            L.origin_statement_id).where(L.statement_id == statement.id).order_by(L.id)
    return [*db.session.execute(settlement.redemption_lines(statement)), *db.session.execute(adjustments)]


def get_statement(actor: User, statement_id: int) -> dict[str, Any]:
    statement = statement_for(actor, statement_id)
    return statement_view(statement, statement_lines(statement))


def confirm_statement(actor: User, statement_id: int) -> dict[str, Any]:
    statement = statement_for(actor, statement_id, lock=True)
    if statement.status != "draft":
        raise StatementNotDraft(status=statement.status)
    before = _totals(statement)
    settlement.rebuild(statement)
    if _totals(statement) != before:
        audit.record(actor, "settlement.rebuild", community_id=statement.community_id, target=statement,
                     data={"before": before, "after": _totals(statement)})
        raise StatementChanged(details={"before": before, "after": _totals(statement)})
    statement.status, statement.confirmed_at, statement.confirmed_by_id = "confirmed", clock.now(), actor.id
    audit.record(actor, "settlement.confirm", community_id=statement.community_id, target=statement,
                 data=_totals(statement))
    db.session.flush()
    return statement_view(statement)


def pay_statement(actor: User, statement_id: int) -> dict[str, Any]:
    statement = statement_for(actor, statement_id, lock=True)
    if statement.status == "paid":
        raise StatementAlreadyPaid()
    if statement.status != "confirmed":
        raise StatementNotConfirmed()
    if statement.points:
        cid = statement.community_id
        posted = ledger.post(cid, "settlement", [(ledger.shop_account(cid, statement.shop_id), -statement.points),
                                                 (ledger.system_accounts(cid)["settled"], statement.points)],
                             actor_id=actor.id, reference=("settlement", statement.id),
                             memo=f"{statement.period} settlement: {statement.amount_fen} fen")
        statement.transaction_id = posted.transaction_id
    statement.status, statement.paid_at, statement.paid_by_id = "paid", clock.now(), actor.id
    audit.record(actor, "settlement.pay", community_id=statement.community_id, target=statement,
                 data=_totals(statement))
    db.session.flush()
    return statement_view(statement)


def _totals(statement: SettlementStatement) -> dict[str, int]:
    return {"count": statement.count, "points": statement.points, "amount_fen": statement.amount_fen,
            "adjustment_count": statement.adjustment_count}
