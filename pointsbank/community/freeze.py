"""Freezing a household (moved away, deceased, under review): nothing moves until it is unfrozen.

A frozen household keeps its balance and its history; what would move its points is refused
with 422 ``household_frozen`` before anything is written — an award or deduction recorded for
it (one record, a group, a bulk import's row, the approval that would post a pending record),
a voucher issued from it, a voucher or basket of it rung up at a shop, a reservation made for
it or collected. Adjustments by staff, reversals, voucher returns and the community's
resets/expiry still run: they correct or close what already happened.

The state lives on the household row (``frozen_reason``, ``frozen_note``, ``frozen_at``), so a
path that already reads that row checks the column it has; every other path calls the one
function :func:`ensure_not_frozen` *after* it has locked the household's ledger account::

    locks = ledger.lock(community_id, household_ids=[household_id], …)
    freeze.ensure_not_frozen(community_id, household_id)  # 422 household_frozen, nothing written

:func:`freeze_household` takes that same account lock before it writes the columns, so a
movement that holds the lock finishes first and one that waits for it reads the frozen state
after the freeze committed: no point moves for a household after its freeze commits.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community.models import FREEZE_REASONS, Household
from pointsbank.database import execute
from pointsbank.errors import Conflict, Unprocessable
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger

REASON_LABELS = {
    "moved_away": _l("moved away"),
    "deceased": _l("deceased"),
    "under_review": _l("under review"),
}
assert set(REASON_LABELS) == set(FREEZE_REASONS)


class HouseholdFrozen(Unprocessable):
    code = "household_frozen"
    message = _l("This household is frozen (%(reason)s): no points move for it until staff unfreeze it.")


class HouseholdNotFrozen(Conflict):
    code = "household_not_frozen"
    message = _l("This household is not frozen.")


def label(reason: str | None) -> str | None:
    """The reason in the request's language (``None`` when not frozen)."""
    return str(REASON_LABELS[reason]) if reason in REASON_LABELS else None


def frozen_view(reason: str | None, note: str | None, frozen_at: datetime | None) -> dict[str, Any] | None:
    """What every view of a household carries: ``None``, or the reason (code and words), note and time."""
    if reason is None:
        return None
    return {"reason": reason, "label": label(reason), "note": note, "frozen_at": frozen_at}


def refusal(number: str, reason: str, note: str | None, frozen_at: datetime | None) -> HouseholdFrozen:
    """The refusal; its message and details never name the household (a cashier reads them too)."""
    return HouseholdFrozen(reason=label(reason),
                           details={"reason": reason, "note": note,
                                    "frozen_at": frozen_at.isoformat() if frozen_at else None})


def _frozen_select(*conditions: Any) -> sa.Select:
    """The frozen households of one community among those ``conditions`` name: what a refusal says."""
    households = Household.__table__
    return (sa.select(households.c.id, households.c.number, households.c.frozen_reason, households.c.frozen_note,
                      households.c.frozen_at)
            .where(households.c.community_id == sa.bindparam("community_id"), *conditions,
                   households.c.frozen_reason.is_not(None)))


@functools.lru_cache(maxsize=1)
def _frozen_statement() -> sa.Select:
    return _frozen_select(Household.__table__.c.id.in_(sa.bindparam("ids", expanding=True)))


def frozen_among(community_id: int, household_ids: Iterable[int]) -> dict[int, Any]:
    """The frozen ones of these households of the community: id → row (number, frozen_reason,
    note, at); one statement."""
    ids = sorted(set(household_ids))
    if not ids:
        return {}
    found: dict[int, Any] = {}
    for start in range(0, len(ids), 1000):
        found.update((row.id, row) for row in execute(_frozen_statement(), {
            "community_id": community_id, "ids": ids[start:start + 1000]}))
    return found


@functools.lru_cache(maxsize=1)
def _frozen_one_statement() -> sa.Select:
    return _frozen_select(Household.__table__.c.id == sa.bindparam("id"))


def ensure_not_frozen(community_id: int, household_id: int) -> None:
    """Refuse with 422 ``household_frozen`` if the household is frozen. Call it after the
    household's ledger account is locked (see the module docstring); one primary-key read (no
    expanding ``IN``: the same statement on every call, run prepared on the driver's cursor)."""
    row = execute(_frozen_one_statement(), {"community_id": community_id, "id": household_id}).first()
    if row is not None:
        raise refusal(row.number, row.frozen_reason, row.frozen_note, row.frozen_at)


def ensure_none_frozen(community_id: int, household_ids: Iterable[int]) -> None:
    """:func:`ensure_not_frozen` for many households at once (a group record): the first frozen
    one is named, ``details.household_ids`` lists them all."""
    frozen = frozen_among(community_id, household_ids)
    if frozen:
        first = frozen[min(frozen)]
        error = refusal(first.number, first.frozen_reason, first.frozen_note, first.frozen_at)
        error.details["household_ids"] = sorted(frozen)
        raise error


def ensure_row_not_frozen(household: Any) -> None:
    """The check for a path that already holds the household (an ORM object or a row with
    ``number`` and the ``frozen_*`` columns): no statement."""
    if household.frozen_reason is not None:
        raise refusal(household.number, household.frozen_reason, household.frozen_note, household.frozen_at)


# --- use cases -----------------------------------------------------------------------------

def freeze_household(actor: User, household_id: int, *, reason: str, note: str | None = None) -> Household:
    """Freeze (staff of the household's community, never their own household). Freezing a
    frozen household again changes its reason and note. Audited as ``household.freeze``."""
    household = policy.household_for(actor, household_id, "staff")
    policy.ensure_not_own_household(actor, household.id)
    ledger.lock_household_accounts(household.community_id, [household.id])  # movements in flight finish first
    db.session.refresh(household)
    before = {"reason": household.frozen_reason, "note": household.frozen_note}
    household.frozen_reason = reason
    household.frozen_note = note.strip() if note and note.strip() else None
    household.frozen_at = clock.now()
    audit.record(actor, "household.freeze", community_id=household.community_id, target=household,
                 data={"number": household.number, "reason": reason, "note": household.frozen_note,
                       "before": before if before["reason"] else None})
    db.session.flush()
    return household


def unfreeze_household(actor: User, household_id: int) -> Household:
    """Unfreeze: everything works again as before; the freeze stays in the audit trail."""
    household = policy.household_for(actor, household_id, "staff")
    policy.ensure_not_own_household(actor, household.id)
    ledger.lock_household_accounts(household.community_id, [household.id])
    db.session.refresh(household)
    if household.frozen_reason is None:
        raise HouseholdNotFrozen()
    audit.record(actor, "household.unfreeze", community_id=household.community_id, target=household,
                 data={"number": household.number, "reason": household.frozen_reason, "note": household.frozen_note,
                       "frozen_at": household.frozen_at.isoformat() if household.frozen_at else None})
    household.frozen_reason = household.frozen_note = household.frozen_at = None
    db.session.flush()
    return household
