"""Staff pages for household cards (routes on the staff blueprint): issue a card with its PIN
typed twice, revoke it, unblock it — sections of the household page — and the A4 print sheet
(``/staff/cards``: choose households with a live card; ``/staff/cards/print``: the sheet).
Thin views over :mod:`pointsbank.cards.services`, the refusals as flash messages."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Regexp

from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.auth.models import User
from pointsbank.cards import services as cards
from pointsbank.redeem import qr
from pointsbank.web.pages import attempt, current_community
from pointsbank.web.staff_blueprint import bp

_PIN = {"inputmode": "numeric", "autocomplete": "new-password", "maxlength": 6, "pattern": "[0-9]{6}"}


class CardForm(FlaskForm):
    pin = PasswordField(_l("PIN chosen by the household (6 digits)"),
                        validators=[DataRequired(_l("Type the 6-digit PIN.")),
                                    Regexp(r"^[0-9]{6}$", message=_l("The PIN is 6 digits."))], render_kw=_PIN)
    pin_repeat = PasswordField(_l("The PIN again"),
                               validators=[DataRequired(_l("Type the PIN again.")),
                                           EqualTo("pin", message=_l("The two PINs are not the same."))],
                               render_kw=_PIN)


def card_context(actor: User, household: Any) -> dict[str, Any]:
    """What the staff household page shows of the household's card (staff only)."""
    if actor.role != "staff":
        return {"card": None, "card_form": None}
    live = cards.live_card_of(household) if hasattr(household, "community_id") else None
    return {"card": cards.card_view(live) if live is not None else None, "card_form": CardForm(formdata=None)}


def _back(household_id: int) -> Any:
    return redirect(url_for("staff.household", household_id=household_id) + "#card-section")


@bp.post("/households/<int:household_id>/card")
@policy.allow("staff")
def issue_card(household_id: int) -> Any:
    form = CardForm()
    if form.validate():
        attempt(cards.issue_card, current_user(), household_id, pin=form.pin.data, pin_repeat=form.pin_repeat.data,
                success=_l("The card is issued (any old card is revoked): print it now."))
    else:
        from flask import flash

        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
    return _back(household_id)


@bp.post("/households/<int:household_id>/card/revoke")
@policy.allow("staff")
def revoke_card(household_id: int) -> Any:
    from pointsbank.web.forms import ActionForm

    if ActionForm().validate():
        attempt(cards.revoke_card, current_user(), household_id,
                success=_l("The card is revoked: it is refused at every shop from now on."))
    return _back(household_id)


@bp.post("/households/<int:household_id>/card/unblock")
@policy.allow("staff")
def unblock_card(household_id: int) -> Any:
    from pointsbank.web.forms import ActionForm

    if ActionForm().validate():
        attempt(cards.unblock_card, current_user(), household_id,
                success=_l("The card is unblocked: the PIN works again."))
    return _back(household_id)


@bp.get("/cards")
@policy.allow("staff")
def cards_list() -> str:
    """Choose the households whose cards to print (all with a live card are listed)."""
    actor = current_user()
    current_community(actor)
    sheet = cards.print_sheet(actor)
    return render_template("cards/choose.html", active="households", sheet=sheet)


@bp.get("/cards/print")
@policy.allow("staff")
def cards_print() -> str:
    """The A4 sheet: the chosen households' cards (``household_id`` repeated), or every live card."""
    actor = current_user()
    current_community(actor)
    ids = request.args.getlist("household_id", type=int)
    sheet = cards.print_sheet(actor, ids or None)
    for card in sheet["cards"]:
        card["qr_svg"] = Markup(qr.render_svg(card["token"]).decode("utf-8").split("?>", 1)[-1])
    return render_template("cards/print.html", active="households", sheet=sheet)
