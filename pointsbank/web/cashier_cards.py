"""Paying with a household card at the counter (``/shop/card/…``): scan, PIN pad, points or basket, receipt.

1. The scan page reads the card's QR like a voucher's; ``POST /shop/check`` sees a card
   credential (``PBC1.…``) and shows the PIN pad (:func:`pin_pad`) instead of the confirmation.
2. ``POST /shop/card/pin`` — ``cards.payments.check``: the resident's PIN typed on the pad (big
   digits; ``static/js/pinpad.js``, or the field typed without JavaScript). A wrong PIN is
   counted and shown with the attempts left; blocked, revoked, unknown cards go back to the scan
   page with the refusal shown large.
3. The points of the goods (``POST /shop/card/pay``, ``cards.payments.pay``), or the shelf basket
   (``POST /shop/card/basket`` shows :mod:`pointsbank.web.cashier_shelf`'s basket carrying the
   card and PIN instead of a voucher code), then the receipt.

The PIN travels in hidden fields of the next form only, on the cashier's own phone; the payment
checks it again (and counts it) in its own transaction.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, PasswordField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp

from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.auth.models import User
from pointsbank.cards import payments
from pointsbank.database import unit_of_work
from pointsbank.errors import DomainError
from pointsbank.redeem.models import Shop
from pointsbank.web.cashier_views import REFUSAL_TITLES, ScanForm, _refusal, _render_scan, _shop, bp

REFUSAL_TITLES.update({
    "wrong_pin": _l("Wrong PIN"),
    "card_blocked": _l("Card blocked"),
    "card_revoked": _l("Card revoked"),
    "card_not_found": _l("Unknown card"),
    "card_forged": _l("Forged card"),
    "card_malformed": _l("Not a household card"),
    "insufficient_points": _l("Not enough points"),
})

_PIN_RULES = [DataRequired(_l("Type the 6-digit PIN.")), Regexp(r"^[0-9]{6}$", message=_l("The PIN is 6 digits."))]


class PinForm(FlaskForm):
    card = HiddenField(validators=[DataRequired(), Length(max=600)])
    pin = PasswordField(_l("PIN (6 digits, typed by the resident)"), validators=_PIN_RULES,
                        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 6,
                                   "pattern": "[0-9]{6}"})


class CardPayForm(FlaskForm):
    card = HiddenField(validators=[DataRequired(), Length(max=600)])
    pin = HiddenField(validators=[DataRequired(), Length(max=6)])
    points = IntegerField(_l("Points of the goods"),
                          validators=[InputRequired(_l("Enter the points of the goods.")),
                                      NumberRange(min=1, max=1_000_000, message=_l("Points must be 1 or more."))],
                          render_kw={"inputmode": "numeric", "min": 1, "autocomplete": "off"})


def pin_pad(actor: User, shop: Shop, card: str, refusal: dict[str, Any] | None = None, status: int = 200) -> Any:
    """The PIN pad for a scanned card; a card the payment would refuse whatever the PIN (unknown,
    revoked, blocked, another community's, a frozen household) is refused on the scan page at once."""
    try:
        found = unit_of_work(payments.inspect)(actor, card=card)
    except DomainError as error:
        return _back_to_scan(actor, shop, error, card)
    form = PinForm(formdata=None, card=card)
    return render_template("cashier/card_pin.html", active="scan", shop=shop, form=form, refusal=refusal,
                           attempts_left=found["attempts_left"]), status


def _back_to_scan(actor: User, shop: Shop, error: DomainError, card: str = "") -> Any:
    # the refused card is the page's data-refused: the camera seeing it again does not resubmit it
    return _render_scan(actor, shop, ScanForm(formdata=None), _refusal(error, card), error.status)


def _checked(actor: User, shop: Shop, card: str, pin: str) -> Any:
    """None once the PIN is right, else the page that answers the refusal."""
    try:
        unit_of_work(payments.check)(actor, card=card, pin=pin)
    except DomainError as error:
        if error.code == "wrong_pin":
            return pin_pad(actor, shop, card, _refusal(error), error.status)
        return _back_to_scan(actor, shop, error, card)
    return None


@bp.post("/card/pin")
@policy.allow("cashier")
def card_pin() -> Any:
    actor = current_user()
    shop = _shop(actor)
    form = PinForm()
    if not form.validate():
        if form.card.errors:
            return _render_scan(actor, shop, ScanForm(formdata=None), status=400)
        return render_template("cashier/card_pin.html", active="scan", shop=shop, form=form, refusal=None), 400
    refused = _checked(actor, shop, form.card.data, form.pin.data)
    if refused is not None:
        return refused
    pay_form = CardPayForm(formdata=None, card=form.card.data, pin=form.pin.data)
    return render_template("cashier/card_points.html", active="scan", shop=shop, form=pay_form, refusal=None)


@bp.post("/card/pay")
@policy.allow("cashier")
def card_pay() -> Any:
    actor = current_user()
    shop = _shop(actor)
    form = CardPayForm()
    if not form.validate():
        if form.card.errors or form.pin.errors:
            return _render_scan(actor, shop, ScanForm(formdata=None), status=400)
        return render_template("cashier/card_points.html", active="scan", shop=shop, form=form, refusal=None), 400
    try:
        receipt = unit_of_work(payments.pay)(actor, card=form.card.data, pin=form.pin.data, points=form.points.data)
    except DomainError as error:
        if error.code in ("insufficient_points", "points_not_positive"):
            return render_template("cashier/card_points.html", active="scan", shop=shop, form=form,
                                   refusal=_refusal(error)), error.status
        if error.code == "wrong_pin":
            return pin_pad(actor, shop, form.card.data, _refusal(error), error.status)
        return _back_to_scan(actor, shop, error, form.card.data)
    flash(_("Paid with the household card: %(points)s points.", points=receipt["points"]), "success")
    return redirect(url_for(".receipt", redemption_id=receipt["id"]))


@bp.post("/card/basket")
@policy.allow("cashier")
def card_basket() -> Any:
    """The shelf basket for a card whose PIN was just checked: the basket form carries the card and PIN."""
    from pointsbank.web.cashier_shelf import BasketForm, _render_basket

    actor = current_user()
    shop = _shop(actor)
    form = CardPayForm()
    if not (form.card.validate(form) and form.pin.validate(form)):
        return _render_scan(actor, shop, ScanForm(formdata=None), status=400)
    return _render_basket(actor, shop, BasketForm(formdata=None, code=form.card.data), card_pin=form.pin.data)
