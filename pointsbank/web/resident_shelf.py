"""The shelf on a resident's pages (``/home/shelf``): browse the partner shops' goods, see what
the household may take and why not, reserve a basket for the redemption day, show the pickup
code (text and QR) at the counter, cancel.

Thin views over :mod:`pointsbank.shelf.services`: ``shops_with_shelf``, ``list_items`` (a
resident's list always carries its own household's ``eligible`` and ``reasons``),
``create_reservation`` / ``list_reservations`` / ``get_reservation`` / ``cancel_reservation`` /
``pickup_qr`` — another household's reservation is a 404, as in the API. The quantities come
as ``qty-<item id>`` fields (``static/js/basket.js`` adds a tap-to-add and a running total).
"""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.auth.models import User
from pointsbank.database import unit_of_work
from pointsbank.errors import DomainError, NotFound
from pointsbank.shelf import services
from pointsbank.web.forms import ActionForm
from pointsbank.web.pages import current_community
from pointsbank.web.resident_views import _household, bp
from pointsbank.web.shelf_forms import basket_lines

def _render_shelf(actor: User, *, shop_id: int | None = None, quantities: dict[int, int] | None = None,
                  status: int = 200) -> Any:
    community, household = _household(actor)
    shops = services.shops_with_shelf(actor)
    shop = next((s for s in shops if s.id == shop_id), shops[0] if shops else None)
    items = services.list_items(actor, shop.id) if shop else []
    held = services.list_reservations(actor, status="held", limit=20)
    quantities = quantities or {}
    total = sum(item["points"] * quantities.get(item["id"], 0) for item in items)
    return render_template("shelf/resident_shelf.html", active="shelf", household=household, shops=shops, shop=shop,
                           items=items, held=held, quantities=quantities, total=total, form=ActionForm()), status


@bp.get("/shelf")
@policy.allow("resident")
def shelf() -> Any:
    return _render_shelf(current_user(), shop_id=request.args.get("shop_id", type=int))


@bp.post("/shelf/reserve")
@policy.allow("resident")
def reserve() -> Any:
    actor = current_user()
    form = ActionForm()
    shop_id = request.form.get("shop_id", type=int)
    lines = basket_lines(request.form)
    if not form.validate() or shop_id is None:
        return _render_shelf(actor, shop_id=shop_id, status=400)
    quantities = {line["item_id"]: line["quantity"] for line in lines}
    try:
        made = unit_of_work(services.create_reservation)(actor, shop_id=shop_id, items=lines)
    except DomainError as error:
        flash(error.render_message(), "error")
        return _render_shelf(actor, shop_id=shop_id, quantities=quantities, status=error.status)
    flash(_("Reserved: %(points)s points are set aside until you collect the goods.", points=made["points"]),
          "success")
    return redirect(url_for(".reservation", reservation_id=made["id"]))


@bp.get("/reservations/<int:reservation_id>")
@policy.allow("resident")
def reservation(reservation_id: int) -> str:
    actor = current_user()
    current_community(actor)
    shown = services.get_reservation(actor, reservation_id)
    return render_template("shelf/resident_reservation.html", active="shelf", reservation=shown,
                           cancel_form=ActionForm())


@bp.get("/reservations/<int:reservation_id>/qr.svg")
@policy.allow("resident")
def reservation_qr(reservation_id: int) -> Response:
    """The pickup code's QR (the API's image, behind the page session), while held."""
    response = Response(services.pickup_qr(current_user(), reservation_id), mimetype="image/svg+xml")
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response


@bp.post("/reservations/<int:reservation_id>/cancel")
@policy.allow("resident")
def cancel_reservation(reservation_id: int) -> Response:
    form = ActionForm()
    if form.validate():
        try:
            unit_of_work(services.cancel_reservation)(current_user(), reservation_id)
        except NotFound:
            raise
        except DomainError as error:
            flash(error.render_message(), "error")
        else:
            flash(_("The reservation is cancelled; its points are back in your account."), "success")
    return redirect(url_for(".reservation", reservation_id=reservation_id))
