"""The passbook (存折): a household's statement for a quarter or a year, for its folder.

This module lives in ``reports`` (a statement of a closed or open period, like the shops'
settlement statements); the movements come from :func:`pointsbank.ledger.history.period_movements`.
Every movement of the household's account in the period is a line, oldest first, in plain
words — the rule of a record (× quantity), the shop of a redemption or reservation, the reason
of a staff correction, a reversal, a voucher set aside or returned, a reset or lapse — with
the points and the running balance after it. Invariants (tested)::

    opening + Σ points = closing;  each line's balance = opening + Σ points up to it
    = the ledger's ``balance_after`` of that posting;  closing = the account's balance at the end

``GET /households/{id}/passbook?period=2026Q3`` for the staff of the household's community, its
grid worker, its residents and its proxies (the household's usual scope, plus a grant).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import get_locale, gettext as _, lazy_gettext as _l

from pointsbank import clock
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community.freeze import frozen_view
from pointsbank.extensions import db
from pointsbank.ledger import history, services as ledger
from pointsbank.redeem.models import Redemption, Shop
from pointsbank.reports import periods
from pointsbank.reports.resets import EXPIRY_KIND, RESET_KIND
from pointsbank.rules import services as books
from pointsbank.rules.models import BehaviourRecord

TITLES = {
    "opening": _l("Account opened"),
    "award": _l("Points awarded"),
    "deduction": _l("Points deducted"),
    "adjustment": _l("Correction by staff"),
    "reversal": _l("Taken back"),
    "voucher_issue": _l("Voucher created"),
    "redemption": _l("Voucher used at a shop"),
    "voucher_return": _l("Voucher points returned"),
    "card_payment": _l("Paid with the household card"),
    "expiry": _l("Voucher expired unused"),
    "reservation_hold": _l("Basket reserved"),
    "reservation_return": _l("Reservation points returned"),
    "offline_overdraft": _l("Offline double spend"),
    RESET_KIND: _l("Points reset to the base"),
    EXPIRY_KIND: _l("Old points lapsed"),
}


def passbook(actor: User, household_id: int, *, period: str | None = None) -> dict[str, Any]:
    """The passbook of ``period`` (``2026Q3`` or ``2026``; default: the running quarter)."""
    household = policy.household_for(actor, household_id, proxy=True)
    community = household.community
    span = periods.parse(period) if period else periods.current("quarter", community.timezone, clock.now())
    start, end = span.bounds(community.timezone)
    opening, rows = history.period_movements(household.community_id,
                                             ledger.household_account_id(household.id, community_id=household.community_id),
                                             start, end)
    words = _Words(community, rows)
    lines, balance = [], opening
    for row in rows:
        balance += int(row.points)
        lines.append({"id": row.id, "transaction_id": row.transaction_id, "at": row.created_at,
                      "date": periods.local_date(row.created_at, community.timezone), "kind": row.kind,
                      "title": str(TITLES.get(row.kind, row.kind)), "description": words.of(row),
                      "points": int(row.points), "balance": balance, "balance_after": int(row.balance_after)})
    return {
        "period": span.key, "first_day": span.first_day(), "last_day": span.last_day(),
        "is_closed": span.is_closed(community.timezone, clock.now()),
        "household": {"id": household.id, "number": household.number, "head_name": household.head_name,
                      "address": household.address, "grid": household.grid.name if household.grid else None,
                      "residents": [r.name for r in household.residents],
                      "frozen": frozen_view(household.frozen_reason, household.frozen_note, household.frozen_at)},
        "community": {"id": community.id, "name": community.name, "code": community.code},
        "base_points": community.base_points, "opening_balance": opening, "closing_balance": balance,
        "points_in": sum(line["points"] for line in lines if line["points"] > 0),
        "points_out": -sum(line["points"] for line in lines if line["points"] < 0),
        "redeemable_at_close": max(0, balance - community.base_points),
        "lines": lines, "printed_at": clock.now(),
    }


class _Words:
    """The plain words of each movement, with what they name read once for the whole period:
    the records (rule, quantity), the rule books' names, the shops of redemptions and reservations."""

    def __init__(self, community: Any, rows: list[Any]) -> None:
        self.community = community
        self.english = str(get_locale() or "zh_CN").startswith("en")
        record_ids = {int(r.reference_id) for r in rows if r.reference_type == "record" and
                      (r.reference_id or "").isdigit()}
        self.records = {rec.id: rec for rec in db.session.scalars(
            sa.select(BehaviourRecord).where(BehaviourRecord.community_id == community.id,
                                             BehaviourRecord.id.in_(record_ids)))} if record_ids else {}
        self.books: dict[int, Any] = {}
        voucher_ids = {r.reference_id for r in rows if r.kind in ("redemption", "card_payment")
                       and r.reference_type == "voucher"}
        self.redemptions = {row.voucher_id: row for row in db.session.execute(
            sa.select(Redemption.voucher_id, Redemption.points, Shop.name).join(Shop, Shop.id == Redemption.shop_id)
            .where(Redemption.community_id == community.id, Redemption.voucher_id.in_(voucher_ids)))} \
            if voucher_ids else {}
        shop_ids = {int(r.reference_id) for r in rows if r.reference_type == "shop" and (r.reference_id or "").isdigit()}
        self.shops = dict(db.session.execute(sa.select(Shop.id, Shop.name).where(Shop.id.in_(shop_ids))).tuples()
                          .all()) if shop_ids else {}

    def rule_name(self, record: BehaviourRecord) -> str:
        if record.rulebook_version_id not in self.books:
            self.books[record.rulebook_version_id] = books.book_of(record.rulebook_version_id)
        rule = self.books[record.rulebook_version_id].rule(record.rule_code)
        if rule is None:
            return record.rule_code
        return (rule.name_en if self.english and rule.name_en else rule.name_zh) or record.rule_code

    def of(self, row: Any) -> str:
        kind, memo = row.kind, row.memo or ""
        if row.reference_type == "record" and (row.reference_id or "").isdigit() \
                and int(row.reference_id) in self.records:
            record = self.records[int(row.reference_id)]
            rule = self.rule_name(record)
            if kind == "reversal" or row.reversal_of_id:
                return _("The record \u201c%(rule)s\u201d was reversed after an objection.", rule=rule)
            return f"{rule} \u00d7 {record.quantity}" if record.quantity and record.quantity > 1 else rule
        if kind == "opening":
            return _("The account opens with the base of %(base)s points.", base=self.community.base_points)
        if kind == "voucher_issue":
            return _("Points set aside for a voucher until it is used, cancelled or expires.")
        if kind == "redemption":
            found = self.redemptions.get(row.reference_id or "")
            if found is not None:
                return _("%(points)s points spent at %(shop)s; the rest of the voucher came back.",
                         points=found.points, shop=found.name)
            return _("The rest of the voucher came back.")
        if kind == "card_payment":
            found = self.redemptions.get(row.reference_id or "")
            if found is not None:
                return _("%(points)s points spent at %(shop)s with the household card.", points=found.points,
                         shop=found.name)
            return _("Spent at a shop with the household card.")
        if kind == "reservation_hold" and row.reference_type == "shop":
            return _("Points held for a basket reserved at %(shop)s.",
                     shop=self.shops.get(int(row.reference_id), "") if (row.reference_id or "").isdigit() else "")
        if row.reference_type == "reservation" and kind in ("expiry", "reservation_return"):
            return _("The reserved basket was not collected; its points came back.")
        if kind == "offline_overdraft":
            return _("A voucher used twice offline was paid from the account: %(reason)s", reason=memo)
        if kind == "voucher_return":
            return _("The voucher's points came back to the account.")
        if kind == "expiry" and row.reference_type == "voucher":
            return _("The voucher was not used in time; its points came back.")
        if kind == RESET_KIND:
            return _("End of %(period)s: the balance goes back to the base of %(base)s points.",
                     period=row.reference_id or "", base=self.community.base_points)
        if kind == EXPIRY_KIND:
            return _("End of %(period)s: points earned more than %(years)s year(s) earlier and not spent lapse.",
                     period=row.reference_id or "", years=self.community.points_expire_years or "")
        if kind == "adjustment":
            return _("Correction by staff: %(reason)s", reason=memo) if memo else str(TITLES["adjustment"])
        if kind == "reversal":
            return _("Taken back: %(reason)s", reason=memo) if memo else str(TITLES["reversal"])
        return memo or str(TITLES.get(kind, kind))
