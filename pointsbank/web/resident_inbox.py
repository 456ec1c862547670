"""The resident's inbox and SMS choice (routes on ``resident_views.bp``): thin views over
``pointsbank.notify.services``. The inbox is the resident's own household's; the phone is shown
masked, and the resident may turn SMS off (or on again) for the household."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.notify import services as notify
from pointsbank.web.forms import ActionForm
from pointsbank.web.pages import attempt, current_community
from pointsbank.web.resident_views import _household, bp


@bp.get("/notifications")
@policy.allow("resident")
def notifications() -> str:
    actor = current_user()
    current_community(actor)
    _, household = _household(actor)
    page = notify.inbox(actor, limit=30, cursor=request.args.get("cursor") or None)
    return render_template("resident/notifications.html", active="home", household=household, inbox=page,
                           action_form=ActionForm())


def _back() -> Any:
    return redirect(request.form.get("next") if request.form.get("next") in ("/home", "/home/notifications")
                    else url_for(".home"))


@bp.post("/notifications/<int:notification_id>/read")
@policy.allow("resident")
def read_notification(notification_id: int) -> Any:
    if ActionForm().validate():
        attempt(notify.mark_read, current_user(), notification_id)
    return _back()


@bp.post("/notifications/read-all")
@policy.allow("resident")
def read_all_notifications() -> Any:
    if ActionForm().validate():
        attempt(notify.mark_all_read, current_user(), success=_l("All messages are marked read."))
    return _back()


@bp.post("/sms")
@policy.allow("resident")
def sms_choice() -> Any:
    if ActionForm().validate():
        opt_out = request.form.get("sms_opt_out") == "1"
        attempt(notify.set_own_sms_opt_out, current_user(), opt_out,
                success=_l("No more SMS for the household.") if opt_out else _l("SMS messages are on again."))
    return redirect(url_for(".home") + "#sms")
