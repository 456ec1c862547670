"""What residents and staff read: a household's history, newest first."""

from __future__ import annotations

from typing import Any

from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.ledger import services as ledger
from pointsbank.pagination import page_of


def household_history(actor: User, household_id: int, *, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    household = policy.household_for(actor, household_id)
    rows = ledger.household_postings(ledger.household_account_id(household.id), limit=limit + 1,
                                     before_id=int(cursor) if cursor else None)
    return page_of(rows, limit, lambda row: row.id)
