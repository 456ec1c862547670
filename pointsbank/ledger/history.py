"""What residents and staff read: a household's history, newest first, and the movements of a
period oldest first with the balance before it (the passbook's, :mod:`pointsbank.reports.passbook`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.ledger.models import LedgerTransaction, Posting
from pointsbank.pagination import page_of


def household_history(actor: User, household_id: int, *, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    household = policy.household_ref(actor, household_id, proxy=True)  # one Core statement, no ORM objects
    rows = ledger.household_postings(household.community_id,
                                     ledger.household_account_id(household.id, community_id=household.community_id),
                                     limit=limit + 1, before_id=int(cursor) if cursor else None)
    return page_of(rows, limit, lambda row: row.id)


def period_movements(community_id: int, account_id: int, start: datetime, end: datetime) -> tuple[int, list[sa.Row]]:
    """(the balance before ``start``, the postings in ``[start, end)`` oldest first) of a household
    account, each posting with its transaction's kind, reference and memo and ``balance_after``.
    Two statements; the rows are those :func:`household_history` pages through."""
    opening = db.session.scalar(
        sa.select(Posting.balance_after).where(Posting.community_id == community_id, Posting.account_id == account_id,
                                               Posting.created_at < start)
        .order_by(Posting.id.desc()).limit(1))
    rows = db.session.execute(
        sa.select(Posting.id, Posting.points, Posting.balance_after, Posting.created_at,
                  LedgerTransaction.id.label("transaction_id"), LedgerTransaction.kind,
                  LedgerTransaction.reference_type, LedgerTransaction.reference_id, LedgerTransaction.memo,
                  LedgerTransaction.reversal_of_id)
        .join(LedgerTransaction, sa.and_(LedgerTransaction.id == Posting.transaction_id,
                                         LedgerTransaction.community_id == Posting.community_id))
        .where(Posting.community_id == community_id, Posting.account_id == account_id,
               Posting.created_at >= start, Posting.created_at < end)
        .order_by(Posting.id)).all()
    return int(opening or 0), list(rows)
