"""Issuing, revoking and unblocking household cards (staff of the household's community).

``issue_card(staff, household_id, pin="042917")`` revokes the household's live card, if any,
and writes a new one whose credential (:mod:`pointsbank.cards.tokens`) is signed with the
community's voucher key; the PIN is stored as werkzeug's salted slow hash (the password scheme,
``PASSWORD_HASH_METHOD``). The token is not stored: Ed25519 is deterministic, so signing the
card's claims again with the key it names gives the same token (the print sheet does).
A frozen household gets no card (422 ``household_frozen``). Every change is audited.

The card row is locked (``FOR UPDATE``) before it changes, the same lock a payment takes, so
a revoke or unblock never interleaves with a PIN attempt.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Iterable

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import generate_password_hash

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.cards import tokens
from pointsbank.cards.errors import CardBeingIssued, CardNotBlocked, NoLiveCard, PinMalformed, PinsDiffer
from pointsbank.cards.models import MAX_WRONG_PINS, HouseholdCard
from pointsbank.community import freeze
from pointsbank.community.models import Community, Household
from pointsbank.database import dialect_name, insert_or_conflict, lock_for_update
from pointsbank.extensions import db
from pointsbank.redeem import keys
from pointsbank.regions.stars import household_stars

PIN_RE = re.compile(r"^[0-9]{6}$")


def check_pin_shape(pin: Any, repeat: Any = None) -> str:
    if not isinstance(pin, str) or not PIN_RE.fullmatch(pin):
        raise PinMalformed()
    if repeat is not None and repeat != pin:
        raise PinsDiffer()
    return pin


def hash_pin(pin: str) -> str:
    return generate_password_hash(pin, method=current_app.config["PASSWORD_HASH_METHOD"])


@functools.lru_cache(maxsize=2)
def _live_card_lock(dialect: str) -> sa.Select:
    cards = HouseholdCard.__table__
    stmt = sa.select(HouseholdCard).where(cards.c.community_id == sa.bindparam("community_id"),
                                          cards.c.household_id == sa.bindparam("household_id"),
                                          cards.c.revoked_at.is_(None))
    return lock_for_update(stmt, dialect)


def _live_card(household: Household) -> HouseholdCard | None:
    """The household's live card, locked until the unit of work ends (read as committed)."""
    return db.session.scalar(_live_card_lock(dialect_name()).execution_options(populate_existing=True),
                             {"community_id": household.community_id, "household_id": household.id})


def token_of(card: HouseholdCard, pair=None) -> str:
    pair = pair or keys.keypair_for_kid(card.kid)
    return tokens.sign(pair, tokens.CardClaims(card_id=card.id, community_id=card.community_id,
                                               household_id=card.household_id))


def status_of(card: HouseholdCard) -> str:
    if card.revoked_at is not None:
        return "revoked"
    return "blocked" if card.blocked_at is not None else "live"


def card_view(card: HouseholdCard, *, token: str | None = None) -> dict[str, Any]:
    return {"card_id": card.id, "household_id": card.household_id, "community_id": card.community_id,
            "status": status_of(card), "wrong_pins": card.wrong_pins,
            "attempts_left": 0 if card.blocked_at is not None else MAX_WRONG_PINS - card.wrong_pins,
            "blocked_at": card.blocked_at, "revoked_at": card.revoked_at, "created_at": card.created_at,
            "token": token, "print_url": f"/staff/cards/print?household_id={card.household_id}"}


def _staff_household(actor: User, household_id: int) -> Household:
    household = policy.household_for(actor, household_id, "staff")
    policy.ensure_not_own_household(actor, household.id)
    return household


def issue_card(actor: User, household_id: int, *, pin: str, pin_repeat: str | None = None) -> dict[str, Any]:
    """A new card for the household (its old one revoked), answered with its credential once."""
    household = _staff_household(actor, household_id)
    check_pin_shape(pin, pin_repeat)
    old = _live_card(household)
    freeze.ensure_row_not_frozen(household)
    now = clock.now()
    if old is not None:
        old.revoked_at, old.revoked_by_id = now, actor.id
        db.session.flush()
    pair = keys.active_key(household.community_id)
    card = HouseholdCard(community_id=household.community_id, household_id=household.id, kid=pair.kid,
                         pin_hash=hash_pin(pin), wrong_pins=0, issued_by_id=actor.id, created_at=now)
    insert_or_conflict(card, CardBeingIssued())
    audit.record(actor, "card.issue", community_id=household.community_id, target=card,
                 data={"household_id": household.id, "number": household.number,
                       "replaces_card_id": old.id if old is not None else None})
    return card_view(card, token=token_of(card, pair))


def revoke_card(actor: User, household_id: int) -> dict[str, Any]:
    """Revoke the household's live card (lost or stolen): from now on it is refused as revoked."""
    household = _staff_household(actor, household_id)
    card = _live_card(household)
    if card is None:
        raise NoLiveCard()
    card.revoked_at, card.revoked_by_id = clock.now(), actor.id
    db.session.flush()
    audit.record(actor, "card.revoke", community_id=household.community_id, target=card,
                 data={"household_id": household.id, "number": household.number})
    return card_view(card)


def unblock_card(actor: User, household_id: int) -> dict[str, Any]:
    """Unblock the household's blocked card: the wrong-PIN counter starts again at zero."""
    household = _staff_household(actor, household_id)
    card = _live_card(household)
    if card is None:
        raise NoLiveCard()
    if card.blocked_at is None:
        raise CardNotBlocked()
    card.blocked_at, card.wrong_pins = None, 0
    db.session.flush()
    audit.record(actor, "card.unblock", community_id=household.community_id, target=card,
                 data={"household_id": household.id, "number": household.number})
    return card_view(card)


def get_card(actor: User, household_id: int) -> dict[str, Any]:
    """The household's live card (its status), for staff of its community; 404 ``no_card``."""
    household = policy.household_for(actor, household_id, "staff")
    card = db.session.scalar(sa.select(HouseholdCard).where(
        HouseholdCard.community_id == household.community_id, HouseholdCard.household_id == household.id,
        HouseholdCard.revoked_at.is_(None)))
    if card is None:
        raise NoLiveCard()
    return card_view(card)


def live_card_of(household: Any) -> HouseholdCard | None:
    """The live card of a household already in the caller's scope (the household page)."""
    return db.session.scalar(sa.select(HouseholdCard).where(
        HouseholdCard.community_id == household.community_id, HouseholdCard.household_id == household.id,
        HouseholdCard.revoked_at.is_(None)))


def print_sheet(actor: User, household_ids: Iterable[int] | None = None) -> dict[str, Any]:
    """The cards to print on A4: those of ``household_ids`` (each in the caller's scope), or every
    live card of the staff member's community; each with its household number, head, stars (of the
    newest computed year) and credential."""
    policy.require_role(actor, "staff")
    community = db.session.get(Community, actor.community_id)
    stmt = (sa.select(HouseholdCard, Household)
            .join(Household, sa.and_(Household.community_id == HouseholdCard.community_id,
                                     Household.id == HouseholdCard.household_id))
            .where(HouseholdCard.community_id == actor.community_id, HouseholdCard.revoked_at.is_(None))
            .order_by(Household.number))
    if household_ids is not None:
        ids = [policy.household_for(actor, int(h), "staff").id for h in household_ids]
        stmt = stmt.where(HouseholdCard.household_id.in_(ids or [-1]))
    cards = [{"card_id": card.id, "household_id": household.id, "number": household.number,
              "head_name": household.head_name, "status": status_of(card), "token": token_of(card),
              "stars": household_stars(household.community_id, household.id)}  # 星级文明户, on its card
             for card, household in db.session.execute(stmt)]
    return {"community_name": community.name if community else "", "cards": cards}
