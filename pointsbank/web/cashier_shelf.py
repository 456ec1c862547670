"""The shelf at the cashier's counter (``/shop/basket``, ``/shop/collect``).

* ``GET /shop/basket`` — the shop's items (search by name or barcode), each with a quantity
  field; ``static/js/basket.js`` adds one per tap, keeps the total, and reads a barcode with the
  phone camera through the browser's ``BarcodeDetector`` where it exists (Chrome on Android);
  elsewhere the barcode is typed into the barcode field (jsQR reads QR codes only). The
  voucher's code is scanned (a QR, read by the same camera) or typed.
* ``POST /shop/basket`` — ``redemptions.redeem(code=…, items=[…])``: one transaction, or the
  refusal (``out_of_stock`` naming the items and what is left, ``household_limit_reached`` …)
  shown large in the page's language with the basket kept; nothing is taken.
* ``GET/POST /shop/collect`` — hand over a reservation: its pickup code typed, or its QR read
  by ``static/js/scan.js`` (the scan page's camera, same element ids), then the receipt.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.auth.models import User
from pointsbank.cards import payments as card_payments, tokens as card_tokens
from pointsbank.database import unit_of_work
from pointsbank.errors import DomainError
from pointsbank.redeem import redemptions
from pointsbank.redeem.models import Shop
from pointsbank.shelf import services
from pointsbank.web.cashier_views import CODE_LABEL, REFUSAL_TITLES, _CODE_FIELD, _CODE_MISSING, _refusal, _shop, bp
from pointsbank.web.shelf_forms import basket_lines

#: headlines of the shelf's refusals, above the service's message (which names the items)
SHELF_REFUSAL_TITLES = {
    "out_of_stock": _l("Out of stock"),
    "household_limit_reached": _l("Household limit reached"),
    "stars_required": _l("More stars required"),
    "item_unavailable": _l("Not available now"),
    "item_not_found": _l("Not on this shelf"),
    "basket_empty": _l("The basket is empty"),
    "reservation_not_found": _l("Unknown pickup code"),
    "reservation_closed": _l("Already handed over or cancelled"),
    "reservation_expired": _l("Reservation expired"),
    "pickup_code_malformed": _l("Not a pickup code"),
}


class BasketForm(FlaskForm):
    code = StringField(CODE_LABEL, validators=[DataRequired(_CODE_MISSING), Length(max=2000)], render_kw=_CODE_FIELD)


class CollectForm(FlaskForm):
    code = StringField(_l("Pickup code (scanned, or the 16 digits)"),
                       validators=[DataRequired(_l("Scan the pickup QR code or type the 16-digit code.")),
                                   Length(max=64)], render_kw=_CODE_FIELD)


def _shelf_refusal(error: DomainError, code: str = "") -> dict[str, Any]:
    refusal = _refusal(error, code)
    title = SHELF_REFUSAL_TITLES.get(error.code) or REFUSAL_TITLES.get(error.code)
    if title is not None:
        refusal["title"] = str(title)
    return refusal


# --- the basket ------------------------------------------------------------------------------

def _render_basket(actor: User, shop: Shop, form: BasketForm, *, quantities: dict[int, int] | None = None,
                   refusal: dict[str, Any] | None = None, status: int = 200, card_pin: str | None = None) -> Any:
    """``card_pin``: the basket of a household card whose PIN was checked (``form.code`` is the card)."""
    q = (request.args.get("q") or "").strip()
    items = services.list_items(actor, shop.id, query=q or None)
    quantities = quantities or {}
    total = sum(item["points"] * quantities.get(item["id"], 0) for item in items)
    return render_template("shelf/cashier_basket.html", active="basket", shop=shop, form=form, items=items, q=q,
                           quantities=quantities, total=total, refusal=refusal, card_pin=card_pin), status


@bp.get("/basket")
@policy.allow("cashier")
def basket() -> Any:
    actor = current_user()
    return _render_basket(actor, _shop(actor), BasketForm())


@bp.post("/basket")
@policy.allow("cashier")
def redeem_basket() -> Any:
    actor = current_user()
    shop = _shop(actor)
    form = BasketForm()
    lines = basket_lines(request.form)
    quantities = {line["item_id"]: line["quantity"] for line in lines}
    if not form.validate():
        return _render_basket(actor, shop, form, quantities=quantities, status=400)
    code = form.code.data.strip()
    pin = request.form.get("pin") if card_tokens.looks_like_card(code) else None
    try:
        if pin is not None:  # a household card's basket (web.cashier_cards): paid with the card and PIN
            receipt = unit_of_work(card_payments.pay)(actor, card=code, pin=pin, items=lines)
        else:
            receipt = unit_of_work(redemptions.redeem)(actor, code=code, items=lines)
    except DomainError as error:
        return _render_basket(actor, shop, BasketForm(formdata=None, code=code), quantities=quantities,
                              refusal=_shelf_refusal(error, code), status=error.status, card_pin=pin)
    flash(_("Redeemed: %(points)s points.", points=receipt["points"]), "success")
    return redirect(url_for(".receipt", redemption_id=receipt["id"]))


# --- collecting a reservation ------------------------------------------------------------------

@bp.get("/collect")
@policy.allow("cashier")
def collect() -> Any:
    actor = current_user()
    shop = _shop(actor)
    return render_template("shelf/cashier_collect.html", active="collect", shop=shop, form=CollectForm(),
                           refusal=None)


@bp.post("/collect")
@policy.allow("cashier")
def collect_reservation() -> Any:
    actor = current_user()
    shop = _shop(actor)
    form = CollectForm()
    if not form.validate():
        return render_template("shelf/cashier_collect.html", active="collect", shop=shop, form=form,
                               refusal=None), 400
    code = form.code.data.strip()
    try:
        receipt = unit_of_work(services.collect_reservation)(actor, code=code)
    except DomainError as error:
        return render_template("shelf/cashier_collect.html", active="collect", shop=shop,
                               form=CollectForm(formdata=None), refusal=_shelf_refusal(error, code)), error.status
    flash(_("Handed over: %(points)s points.", points=receipt["points"]), "success")
    return redirect(url_for(".receipt", redemption_id=receipt["id"]))
