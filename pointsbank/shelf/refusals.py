"""The shelf's named refusals: each carries its stable code and a translated message."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from pointsbank.errors import Conflict, DomainError, NotFound, Unprocessable


class ItemNotFound(NotFound):
    code = "item_not_found"
    message = _l("No such item on this shelf.")


class BarcodeTaken(Conflict):
    code = "barcode_taken"
    message = _l("Another item of this shop already has the barcode %(barcode)s.")


class EvidenceNotFound(NotFound):
    code = "evidence_not_found"
    message = _l("No such photo: upload it first (POST /evidence).")


class InvalidItem(Unprocessable):
    code = "invalid_item"
    message = _l("This item is not valid: %(reason)s")


class StockNotTracked(Unprocessable):
    code = "stock_not_tracked"
    message = _l("This item's stock is unlimited: there is nothing to count or move.")


class StockWouldBeNegative(Unprocessable):
    code = "stock_negative"
    message = _l("Only %(stock)s left: the stock cannot go below zero.")


class OutOfStock(Conflict):
    """``details.items``: ``[{item_id, name, requested, left}]`` for every item short of stock."""

    code = "out_of_stock"
    message = _l("Not enough left of: %(names)s.")


class HouseholdLimitReached(Unprocessable):
    code = "household_limit_reached"
    message = _l("This household has already taken its share of: %(names)s.")


class StarsRequired(Unprocessable):
    code = "stars_required"
    message = _l("Only households with enough stars may take: %(names)s.")


class ItemUnavailable(Unprocessable):
    code = "item_unavailable"
    message = _l("Not available now: %(names)s.")


class BasketEmpty(DomainError):
    status, code = 400, "basket_empty"
    message = _l("Pick at least one item.")


class PointsOrItems(DomainError):
    status, code = 400, "points_or_items"
    message = _l("Give either the points to ring up or the items of the basket, not both.")


class ReservationNotFound(NotFound):
    code = "reservation_not_found"
    message = _l("No reservation matches this code.")


class ReservationClosed(Conflict):
    """A reservation already collected, cancelled or expired (``details.status``)."""

    code = "reservation_closed"
    message = _l("This reservation is already %(status)s.")


class ReservationExpired(DomainError):
    status, code = 410, "reservation_expired"
    message = _l("This reservation has expired; its points and goods go back.")


class PickupCodeMalformed(DomainError):
    status, code = 400, "pickup_code_malformed"
    message = _l("This is not a pickup code: scan the QR code again or type the 16 digits.")
