"""The refusals of household cards (a leaf: imports nothing of the package)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from pointsbank.errors import BadRequest, Conflict, DomainError, NotFound, Unprocessable


class CardMalformed(BadRequest):
    code = "card_malformed"
    message = _l("This is not a household card: scan the card's QR code again.")


class CardForged(Unprocessable):
    code = "card_forged"
    message = _l("This card's signature is not valid: it was altered or not issued by the community.")


class CardNotFound(NotFound):
    code = "card_not_found"
    message = _l("No household card matches this code.")


class CardRevoked(DomainError):
    status, code = 410, "card_revoked"
    message = _l("This card was revoked (lost or replaced): ask the office for the new card.")


class CardBlocked(DomainError):
    status, code = 423, "card_blocked"
    message = _l("This card is blocked after five wrong PINs in a row: staff at the office must unblock it.")


class WrongPin(DomainError):
    status, code = 401, "wrong_pin"
    message = _l("Wrong PIN: %(attempts_left)s attempts left before the card is blocked.")


class PinMalformed(BadRequest):
    code = "pin_malformed"
    message = _l("The PIN is 6 digits.")


class PinsDiffer(BadRequest):
    code = "pins_differ"
    message = _l("The two PINs are not the same.")


class NoLiveCard(NotFound):
    code = "no_card"
    message = _l("This household has no live card.")


class CardNotBlocked(Conflict):
    code = "card_not_blocked"
    message = _l("This card is not blocked.")


class CardOrCode(BadRequest):
    code = "card_or_code"
    message = _l("Give either a voucher code or a card with its PIN.")


class CardBeingIssued(Conflict):
    code = "card_being_issued"
    message = _l("Another card is being issued for this household at this moment; try again.")
