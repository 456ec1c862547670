"""The cashier's pages (``/shop``): scan a voucher, confirm it, redeem it, hand over a receipt.

1. ``GET /shop`` — the scan page: the phone camera (``static/js/scan.js`` decodes frames with
   the vendored jsQR and submits the form on a hit), or the short code typed, and the points
   of the goods;
2. ``POST /shop/check`` — the confirmation: ``redemptions.inspect_voucher`` runs every check
   ``redeem`` runs (a refused code is refused here, with the same error) and answers the
   voucher's face value, so the cashier sees it before ringing anything up;
3. ``POST /shop/redeem`` — ``redemptions.redeem``, then the receipt (``/shop/receipts/<id>``).

Every refusal is the service's :class:`~pointsbank.errors.DomainError`, shown large in the
page's language (``#refusal`` with ``data-code``). Cashiers never see a household.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.auth.models import User
from pointsbank.cards import tokens as card_tokens
from pointsbank.community import services as community_services
from pointsbank.database import unit_of_work
from pointsbank.errors import DomainError
from pointsbank.redeem import redemptions, shops, tokens
from pointsbank.redeem.models import Shop
from pointsbank.reports import pages as queries

bp = Blueprint("cashier", __name__, url_prefix="/shop")

CODE_LABEL = _l("Voucher code (scanned, or the 16 digits under the QR)")
POINTS_LABEL = _l("Points of the goods")
_CODE_MISSING = _l("Scan the QR code or type the 16-digit code.")
_POINTS_RULES = [NumberRange(min=1, max=1_000_000, message=_l("Points must be 1 or more."))]
_CODE_FIELD = {"inputmode": "numeric", "autocomplete": "off", "autocapitalize": "none", "spellcheck": "false",
               "enterkeyhint": "next"}


class ScanForm(FlaskForm):
    """Step 1: the code and, if the cashier knows it already, the points of the goods."""
    code = StringField(CODE_LABEL, validators=[DataRequired(_CODE_MISSING), Length(max=2000)], render_kw=_CODE_FIELD)
    points = IntegerField(POINTS_LABEL, validators=[Optional(), *_POINTS_RULES],
                          render_kw={"inputmode": "numeric", "min": 1, "autocomplete": "off"})


class RedeemForm(FlaskForm):
    """Step 2: the confirmed code and the points to ring up."""
    code = StringField(CODE_LABEL, validators=[DataRequired(_CODE_MISSING), Length(max=2000)])
    points = IntegerField(POINTS_LABEL, validators=[InputRequired(_l("Enter the points of the goods.")), *_POINTS_RULES],
                          render_kw={"inputmode": "numeric", "min": 1, "autocomplete": "off"})


#: a short headline per refusal code, above the service's own message
REFUSAL_TITLES = {
    "voucher_already_redeemed": _l("Already used"),
    "voucher_expired": _l("Expired"),
    "voucher_cancelled": _l("Cancelled"),
    "voucher_forged": _l("Forged voucher"),
    "voucher_not_found": _l("Unknown voucher"),
    "voucher_code_malformed": _l("Not a voucher code"),
    "points_exceed_voucher": _l("More than the voucher is worth"),
    "points_not_positive": _l("Points missing"),
    "too_many_attempts": _l("Too many wrong codes"),
    "shop_inactive": _l("Shop closed for vouchers"),
    "household_frozen": _l("Household frozen"),
}


def _shop(actor: User) -> Shop:
    """The cashier's shop; its community's time zone formats the times on the pages."""
    shop = shops.cashier_shop(actor)
    g.timezone = community_services.get_community(actor, shop.community_id).timezone
    return shop


# --- step 1: scan ----------------------------------------------------------------------------

@bp.get("")
@policy.allow("cashier")
def scan() -> str:
    actor = current_user()
    shop = _shop(actor)
    return _render_scan(actor, shop, ScanForm())


def _render_scan(actor: User, shop: Shop, form: FlaskForm, refusal: dict[str, Any] | None = None,
                 status: int = 200) -> Any:
    recent = redemptions.list_shop_redemptions(actor, shop.id, limit=5)["items"]
    return render_template("cashier/scan.html", active="scan", shop=shop, form=form, refusal=refusal,
                           recent=recent), status


def _refusal(error: DomainError, code: str = "") -> dict[str, Any]:
    title = REFUSAL_TITLES.get(error.code)
    details = dict(error.details)
    for moment in ("redeemed_at", "expired_at"):  # ISO strings in the API's details
        if isinstance(details.get(moment), str):
            details[moment] = datetime.fromisoformat(details[moment])
    return {"code": error.code, "title": str(title) if title else _("Refused"), "message": error.render_message(),
            "details": details, "status": error.status,
            # the page ignores this code if the camera sees it again (no scan-refuse loop)
            "scanned": code.strip()}


def _keep_typed_code(form: FlaskForm) -> None:
    """After a refusal, keep a typed short code (to fix a typo) but not a scanned token."""
    if tokens.looks_like_token((form.code.data or "").strip()):
        form.code.data = ""


# --- step 2: confirm -------------------------------------------------------------------------

@bp.post("/check")
@policy.allow("cashier")
def check() -> Any:
    actor = current_user()
    shop = _shop(actor)
    form = ScanForm()
    if not form.validate():
        return _render_scan(actor, shop, form, status=400)
    code = form.code.data.strip()
    if card_tokens.looks_like_card(code):  # a household card: the PIN pad (web.cashier_cards)
        from pointsbank.web.cashier_cards import pin_pad

        return pin_pad(actor, shop, code)
    try:
        voucher = unit_of_work(redemptions.inspect_voucher)(actor, code=code)
    except DomainError as error:
        _keep_typed_code(form)
        return _render_scan(actor, shop, form, _refusal(error, code), error.status)
    confirm = RedeemForm(formdata=None, code=code, points=form.points.data or voucher["points"])
    return render_template("cashier/confirm.html", active="scan", shop=shop, form=confirm, voucher=voucher,
                           refusal=None)


# --- step 3: redeem --------------------------------------------------------------------------

@bp.post("/redeem")
@policy.allow("cashier")
def redeem() -> Any:
    actor = current_user()
    shop = _shop(actor)
    form = RedeemForm()
    if not form.validate():
        if form.code.errors:
            return _render_scan(actor, shop, ScanForm(formdata=None), status=400)
        return _render_confirm_again(actor, shop, form, None, 400)
    code = form.code.data.strip()
    try:
        receipt = unit_of_work(redemptions.redeem)(actor, code=code, points=form.points.data)
    except DomainError as error:
        if error.code in ("points_exceed_voucher", "points_not_positive"):
            return _render_confirm_again(actor, shop, form, _refusal(error), error.status)
        scan_form = ScanForm(formdata=None, code=code, points=form.points.data)
        _keep_typed_code(scan_form)
        return _render_scan(actor, shop, scan_form, _refusal(error, code), error.status)
    flash(_("Redeemed: %(points)s points.", points=receipt["points"]), "success")
    return redirect(url_for(".receipt", redemption_id=receipt["id"]))


def _render_confirm_again(actor: User, shop: Shop, form: RedeemForm, refusal: dict[str, Any] | None,
                          status: int) -> Any:
    """The confirmation once more (wrong points): the face value looked up again."""
    try:
        voucher = unit_of_work(redemptions.inspect_voucher)(actor, code=form.code.data.strip())
    except DomainError as error:
        return _render_scan(actor, shop, ScanForm(formdata=None), _refusal(error, form.code.data), error.status)
    return render_template("cashier/confirm.html", active="scan", shop=shop, form=form, voucher=voucher,
                           refusal=refusal), status


# --- receipts --------------------------------------------------------------------------------

@bp.get("/receipts/<int:redemption_id>")
@policy.allow("cashier")
def receipt(redemption_id: int) -> str:
    actor = current_user()
    shop = _shop(actor)
    shown = redemptions.get_receipt(actor, redemption_id)
    return render_template("cashier/receipt.html", active="receipts", shop=shop, receipt=shown,
                           cashier_name=queries.user_names({shown["cashier_id"]}).get(shown["cashier_id"], ""))


@bp.get("/receipts")
@policy.allow("cashier")
def receipts() -> str:
    actor = current_user()
    shop = _shop(actor)
    page = redemptions.list_shop_redemptions(actor, shop.id, limit=30, cursor=request.args.get("cursor") or None)
    return render_template("cashier/receipts.html", active="receipts", shop=shop, page=page,
                           names=queries.user_names({r["cashier_id"] for r in page["items"]}))
