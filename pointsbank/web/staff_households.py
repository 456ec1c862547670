"""Staff pages for a household's freeze, its proxies, its SMS contact and its passbook (routes on the staff
blueprint, beside ``staff_views.household``): thin views over ``community.freeze``,
``community.proxies`` and ``reports.passbook``, with the API's refusals as flash messages."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.community import freeze, proxies, services as community_services
from pointsbank.community.models import FREEZE_REASONS
from pointsbank.reports import passbook as passbooks
from pointsbank.web.forms import ActionForm
from pointsbank.web.pages import attempt, current_community
from pointsbank.web.staff_blueprint import bp


class FreezeForm(FlaskForm):
    reason = SelectField(_l("Reason for freezing"), choices=[SelectChoice(r, freeze.REASON_LABELS[r]) for r in FREEZE_REASONS],
                         validators=[DataRequired()])
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=255)])


class ProxyForm(FlaskForm):
    username = StringField(_l("Username of the proxy's login"), validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"})


class ContactForm(FlaskForm):
    """The household's phone for SMS notifications (never shown in full: the field starts empty and
    an empty field keeps the number on file) and its opt-out."""

    phone = StringField(_l("New phone number"), validators=[Optional(), Length(max=30)],
                        render_kw={"inputmode": "tel", "autocomplete": "off"})
    remove_phone = BooleanField(_l("Remove the phone number"))
    sms_opt_out = BooleanField(_l("No SMS for this household"))


def household_forms(household: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the staff household page needs for the freeze, proxy and contact sections."""
    contact = ContactForm(formdata=None)
    contact.sms_opt_out.data = bool(household and household.get("sms_opt_out"))
    return {"freeze_form": FreezeForm(formdata=None), "proxy_form": ProxyForm(formdata=None),
            "contact_form": contact, "action_form": ActionForm()}


@bp.post("/households/<int:household_id>/contact")
@policy.allow("admin", "staff")
def household_contact(household_id: int) -> Any:
    from pointsbank.notify import phones

    form = ContactForm()
    if form.validate():
        changes: dict[str, Any] = {"sms_opt_out": bool(form.sms_opt_out.data)}
        if form.remove_phone.data:
            changes["phone"] = None
        elif (form.phone.data or "").strip():
            try:
                changes["phone"] = phones.normalised(form.phone.data)
            except phones.BadPhone:
                flash(_("The phone number must be 5 to 15 digits."), "error")
                return _back(household_id)
        attempt(community_services.update_household, current_user(), household_id, **changes,
                success=_l("The contact for notifications is saved."))
    return _back(household_id)


def _back(household_id: int) -> Any:
    return redirect(url_for("staff.household", household_id=household_id))


@bp.post("/households/<int:household_id>/freeze")
@policy.allow("staff")
def freeze_household(household_id: int) -> Any:
    form = FreezeForm()
    if form.validate():
        attempt(freeze.freeze_household, current_user(), household_id, reason=form.reason.data,
                note=form.note.data or None, success=_l("The household is frozen: no points move for it now."))
    return _back(household_id)


@bp.post("/households/<int:household_id>/unfreeze")
@policy.allow("staff")
def unfreeze_household(household_id: int) -> Any:
    if ActionForm().validate():
        attempt(freeze.unfreeze_household, current_user(), household_id,
                success=_l("The household is unfrozen: everything works again."))
    return _back(household_id)


@bp.post("/households/<int:household_id>/proxies")
@policy.allow("staff")
def add_proxy(household_id: int) -> Any:
    form = ProxyForm()
    if form.validate():
        attempt(proxies.grant_proxy_by_username, current_user(), household_id, username=form.username.data,
                success=_l("The proxy may now see and spend for this household."))
    return _back(household_id)


@bp.post("/households/<int:household_id>/proxies/<int:user_id>/end")
@policy.allow("staff")
def end_proxy(household_id: int, user_id: int) -> Any:
    if ActionForm().validate():
        attempt(proxies.revoke_proxy, current_user(), household_id, user_id, success=_l("The proxy grant is ended."))
    return _back(household_id)


@bp.get("/households/<int:household_id>/passbook")
@policy.allow("admin", "staff", "grid_worker")
def passbook(household_id: int) -> str:
    actor = current_user()
    current_community(actor)
    book = passbooks.passbook(actor, household_id, period=request.args.get("period") or None)
    return render_template("passbook.html", layout="staff/layout.html", active="households", book=book,
                           size=request.args.get("size") if request.args.get("size") in ("a4", "a5") else "a4",
                           back=url_for("staff.household", household_id=household_id))
