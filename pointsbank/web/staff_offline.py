"""The shop without signal in the back office (issue 16; routes on the staff blueprint).

* ``/staff/devices`` — the cashiers' phones of each partner shop of the community: registered
  when, by whom, revoked or not; staff register one for a shop (``POST
  /staff/shops/<id>/devices``) and revoke one (``POST /staff/devices/<id>/revoke``: every later
  sync from it is refused, ``device_revoked``). ``offline.services`` does the checks, as for the API.
* ``/staff/double-spends`` — the community's vouchers used twice (``?status=open|settled|all``),
  each with both receipts: the one that closed the voucher first (online or an earlier offline
  sync) and the offline one synced after it, what the household paid (``offline_overdraft``);
  ``POST /staff/double-spends/<id>/settle`` with a note marks one followed up.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.community.models import Household
from pointsbank.extensions import db
from pointsbank.offline import services as offline_services
from pointsbank.offline.models import Device
from pointsbank.redeem import shops as shop_services
from pointsbank.web.forms import ActionForm
from pointsbank.web.pages import attempt, current_community
from pointsbank.web.staff_blueprint import bp

MANAGERS = ("admin", "staff")
STATUSES = ("open", "settled", "all")


class DeviceForm(FlaskForm):
    name = StringField(_l("Name of the phone"), validators=[DataRequired(_l("Give the phone a name.")),
                                                            Length(max=100)],
                       render_kw={"autocomplete": "off"})


class SettleForm(FlaskForm):
    note = StringField(_l("How it was followed up"), validators=[DataRequired(_l("Write how it was followed up.")),
                                                                 Length(max=500)],
                       render_kw={"autocomplete": "off"})


@bp.get("/devices")
@policy.allow(*MANAGERS)
def devices() -> str:
    actor = current_user()
    community = current_community(actor)
    shops = shop_services.list_shops(actor, community.id)
    found: dict[int, list[Any]] = {shop["id"]: [] for shop in shops}
    if found:
        for device in db.session.scalars(sa.select(Device).where(Device.shop_id.in_(found)).order_by(Device.id)):
            found[device.shop_id].append(offline_services.device_view(device))
    return render_template("staff/offline_devices.html", active="double_spends", shops=shops, devices=found,
                           settings=offline_services.settings_of(community.id), form=DeviceForm(formdata=None),
                           action_form=ActionForm())


@bp.post("/shops/<int:shop_id>/devices")
@policy.allow(*MANAGERS)
def register_device(shop_id: int) -> Any:
    form = DeviceForm()
    if form.validate():
        attempt(offline_services.register_device, current_user(), shop_id, name=form.name.data,
                success=_l("The phone is registered: it may redeem without signal."))
    else:
        flash(str(_l("Give the phone a name.")), "error")
    return redirect(url_for(".devices"))


@bp.post("/devices/<int:device_id>/revoke")
@policy.allow(*MANAGERS)
def revoke_device(device_id: int) -> Any:
    if ActionForm().validate():
        attempt(offline_services.revoke_device, current_user(), device_id,
                success=_l("The phone is revoked: its offline redemptions are refused from now on."))
    return redirect(url_for(".devices"))


@bp.get("/double-spends")
@policy.allow(*MANAGERS)
def double_spends() -> str:
    actor = current_user()
    community = current_community(actor)
    status = request.args.get("status") if request.args.get("status") in STATUSES else "open"
    page = offline_services.list_double_spends(actor, community.id, status=status, limit=50,
                                               cursor=request.args.get("cursor") or None)
    households = {row.id: row for row in db.session.execute(sa.select(
        Household.id, Household.number, Household.head_name).where(
        Household.id.in_({item["household_id"] for item in page["items"]})))} if page["items"] else {}
    return render_template("staff/offline_double_spends.html", active="double_spends", page=page, status=status,
                           statuses=STATUSES, households=households, form=SettleForm(formdata=None))


@bp.post("/double-spends/<int:double_spend_id>/settle")
@policy.allow(*MANAGERS)
def settle_double_spend(double_spend_id: int) -> Any:
    form = SettleForm()
    if form.validate():
        attempt(offline_services.settle_double_spend, current_user(), double_spend_id, note=form.note.data,
                success=_l("Marked followed up."))
    else:
        flash(str(_l("Write how it was followed up.")), "error")
    return redirect(url_for(".double_spends"))
