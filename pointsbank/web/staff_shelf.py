"""The shelf in the back office (``/staff/shelf…``): a shop's catalogue, its stock movements,
the reservations to pack and the quarter's stock statement.

Thin views over :mod:`pointsbank.shelf.services` (the API's use cases, the same checks and
refusals): ``list_items`` / ``create_item`` / ``update_item``, ``move_stock`` /
``list_movements``, ``list_reservations``, ``stock_statement`` / ``export_stock_statement``.
A photo goes through the evidence uploads (``rules.evidence.upload``, for no household), then
its id is the item's ``photo_evidence_id``. Dates of the availability window are days of the
community's calendar: from the start of the first day to the end of the last.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from pointsbank import clock
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.auth.models import User
from pointsbank.community.models import Community
from pointsbank.database import unit_of_work
from pointsbank.errors import DomainError
from pointsbank.redeem import shops as shop_services
from pointsbank.reports import periods
from pointsbank.rules import evidence
from pointsbank.shelf import services
from pointsbank.shelf.services import settings as shelf_settings
from pointsbank.web.pages import attempt, current_community, download
from pointsbank.web.shelf_forms import BoardForm, ItemForm, StockForm
from pointsbank.web.staff_blueprint import bp

MANAGERS = ("admin", "staff")


def _day_start(day: date | None, tz: str) -> datetime | None:
    return None if day is None else datetime.combine(day, time(0), tzinfo=ZoneInfo(tz))


def _local_day(moment: datetime | None, tz: str, *, inclusive_end: bool = False) -> date | None:
    if moment is None:
        return None
    day = moment.astimezone(ZoneInfo(tz)).date()
    return day - timedelta(days=1) if inclusive_end else day


# --- the shops with a shelf -----------------------------------------------------------------

@bp.get("/shelf")
@policy.allow(*MANAGERS)
def shelf() -> Any:
    actor = current_user()
    community = current_community(actor)
    found = shop_services.list_shops(actor, community.id)
    board = BoardForm(formdata=None, most_redeemed=shelf_settings.settings_of(community.id)["board_most_redeemed"])
    return render_template("shelf/staff_shops.html", active="shelf", shops=found, board_form=board)


@bp.post("/shelf/board")
@policy.allow("admin")
def shelf_board() -> Response:
    """The community setting ``shelf.board_most_redeemed`` (an admin's, like every community setting)."""
    actor = current_user()
    community = current_community(actor)
    form = BoardForm()
    if form.validate():
        from pointsbank.community import services as community_services

        attempt(community_services.update_community, actor, community.id,
                shelf={"board_most_redeemed": bool(form.most_redeemed.data)}, success=_("Saved."))
    return redirect(url_for(".shelf"))


# --- a shop's catalogue ---------------------------------------------------------------------

@bp.get("/shelf/<int:shop_id>")
@policy.allow(*MANAGERS)
def shelf_items(shop_id: int) -> str:
    actor = current_user()
    current_community(actor)
    shop = services.catalogue.managed_shop(actor, shop_id)
    q = (request.args.get("q") or "").strip()
    items = services.list_items(actor, shop.id, query=q or None)
    return render_template("shelf/staff_items.html", active="shelf", shop=shop, items=items, q=q)


def _item_args(form: ItemForm, community: Community) -> dict[str, Any]:
    tz = community.timezone
    until = _day_start(form.available_until.data + timedelta(days=1), tz) if form.available_until.data else None
    limit = None
    if form.limit_period.data and form.limit_count.data:
        limit = {"period": form.limit_period.data, "count": form.limit_count.data}
    return {"name": {"zh": form.name_zh.data.strip(), "en": (form.name_en.data or "").strip()},
            "points": form.points.data, "barcode": (form.barcode.data or "").strip() or None, "limit": limit,
            "min_stars": form.min_stars.data or None, "available_from": _day_start(form.available_from.data, tz),
            "available_until": until}


def _half_limit(form: ItemForm) -> bool:
    """A limit needs both its count and its period."""
    if bool(form.limit_period.data) != bool(form.limit_count.data):
        form.limit_count.errors = list(form.limit_count.errors) + [
            _("A limit needs both a number and a period (e.g. 1 per month).")]
        return True
    return False


def _upload_photo(actor: User, form: ItemForm) -> int | None:
    """The uploaded photo as evidence (for no household), or ``None`` when none was chosen."""
    upload = form.photo.data
    if not upload or not getattr(upload, "filename", ""):
        return None
    return evidence.upload(actor, stream=upload.stream, filename=upload.filename).id


@bp.route("/shelf/<int:shop_id>/items/new", methods=["GET", "POST"])
@policy.allow(*MANAGERS)
def new_shelf_item(shop_id: int) -> Any:
    actor = current_user()
    community = current_community(actor)
    shop = services.catalogue.managed_shop(actor, shop_id)
    form = ItemForm()
    if request.method == "POST":
        if form.validate() and not _half_limit(form):
            if not form.unlimited.data and form.stock.data is None:
                form.stock.errors = [_("Give the opening stock, or tick “unlimited”.")]
            else:
                def create() -> dict[str, Any]:
                    photo = _upload_photo(actor, form)
                    return services.create_item(actor, shop.id, **_item_args(form, community),
                                                stock=None if form.unlimited.data else form.stock.data,
                                                photo_evidence_id=photo)
                made = attempt(create)
                if made is not None:
                    flash(_("%(name)s is on the shelf.", name=made["name"]["zh"]), "success")
                    return redirect(url_for(".shelf_items", shop_id=shop.id))
        status = 400 if form.errors else 422
        return render_template("shelf/staff_item_form.html", active="shelf", shop=shop, form=form, item=None), status
    return render_template("shelf/staff_item_form.html", active="shelf", shop=shop, form=form, item=None)


def _item_page(actor: User, community: Community, item: dict[str, Any], form: ItemForm | None = None,
               stock_form: StockForm | None = None, status: int = 200) -> Any:
    shop = services.catalogue.managed_shop(actor, item["shop_id"])
    if form is None:
        tz = community.timezone
        form = ItemForm(formdata=None, name_zh=item["name"]["zh"], name_en=item["name"]["en"], points=item["points"],
                        barcode=item["barcode"], limit_period=(item["limit"] or {}).get("period") or "",
                        limit_count=(item["limit"] or {}).get("count"), min_stars=item["min_stars"],
                        available_from=_local_day(item["available_from"], tz),
                        available_until=_local_day(item["available_until"], tz, inclusive_end=True),
                        is_active=item["is_active"], unlimited=item["is_unlimited"])
    movements = services.list_movements(actor, item["id"], limit=30, cursor=request.args.get("cursor") or None)
    return render_template("shelf/staff_item.html", active="shelf", shop=shop, item=item, form=form,
                           stock_form=stock_form or StockForm(formdata=None), movements=movements), status


@bp.get("/shelf/items/<int:item_id>")
@policy.allow(*MANAGERS)
def shelf_item(item_id: int) -> Any:
    actor = current_user()
    community = current_community(actor)
    services.catalogue.item_for(actor, item_id, manage=True)
    return _item_page(actor, community, services.get_item(actor, item_id))


@bp.post("/shelf/items/<int:item_id>")
@policy.allow(*MANAGERS)
def update_shelf_item(item_id: int) -> Any:
    actor = current_user()
    community = current_community(actor)
    services.catalogue.item_for(actor, item_id, manage=True)
    form = ItemForm()
    if form.validate() and not _half_limit(form):
        def update() -> dict[str, Any]:
            changes = {**_item_args(form, community), "is_active": bool(form.is_active.data)}
            photo = _upload_photo(actor, form)
            if photo is not None:
                changes["photo_evidence_id"] = photo
            return services.update_item(actor, item_id, **changes)
        changed = attempt(update, success=_("Saved."))
        if changed is not None:
            return redirect(url_for(".shelf_item", item_id=item_id))
    status = 400 if form.errors else 422
    return _item_page(actor, community, services.get_item(actor, item_id), form=form, status=status)


@bp.post("/shelf/items/<int:item_id>/stock")
@policy.allow(*MANAGERS)
def move_shelf_stock(item_id: int) -> Any:
    actor = current_user()
    community = current_community(actor)
    services.catalogue.item_for(actor, item_id, manage=True)
    form = StockForm()
    if not form.validate():
        return _item_page(actor, community, services.get_item(actor, item_id), stock_form=form, status=400)
    moved = attempt(services.move_stock, actor, item_id, change=form.change.data, reason=form.reason.data,
                    note=(form.note.data or "").strip() or None)
    if moved is not None:
        if form.reason.data == "count":
            flash(_("Counted %(counted)s: the difference from the books is %(difference)s; the stock is now %(stock)s.",
                    counted=form.change.data, difference=f"{moved['change']:+d}", stock=moved["stock"]), "success")
        else:
            flash(_("Recorded %(change)s; the stock is now %(stock)s.", change=f"{moved['change']:+d}",
                    stock=moved["stock"]), "success")
    return redirect(url_for(".shelf_item", item_id=item_id))


# --- reservations to pack -------------------------------------------------------------------

@bp.get("/shelf/<int:shop_id>/reservations")
@policy.allow(*MANAGERS)
def shelf_reservations(shop_id: int) -> str:
    actor = current_user()
    current_community(actor)
    shop = services.catalogue.managed_shop(actor, shop_id)
    wanted = request.args.get("status") or "held"
    if wanted not in ("held", "collected", "cancelled", "expired"):
        wanted = "held"
    found = services.list_reservations(actor, shop_id=shop.id, status=wanted)
    totals: dict[int, dict[str, Any]] = {}
    for reservation in found:
        for line in reservation["lines"]:
            entry = totals.setdefault(line["item_id"], {"name": line["name"], "quantity": 0})
            entry["quantity"] += line["quantity"]
    return render_template("shelf/staff_reservations.html", active="shelf", shop=shop, reservations=found,
                           wanted=wanted, totals=sorted(totals.values(), key=lambda t: -t["quantity"]),
                           households=_household_numbers(actor, {r["household_id"] for r in found}))


def _household_numbers(actor: User, ids: set[int]) -> dict[int, str]:
    from pointsbank.web import queries

    return {hid: h.number for hid, h in queries.households_by_id(actor, ids).items()}


# --- the stock statement --------------------------------------------------------------------

def _statement_period(community: Community) -> str:
    wanted = (request.args.get("period") or "").strip().upper()
    if wanted:
        return wanted
    return periods.current("quarter", community.timezone, clock.now()).key


@bp.get("/shelf/<int:shop_id>/stock")
@policy.allow(*MANAGERS)
def shelf_statement(shop_id: int) -> Any:
    actor = current_user()
    community = current_community(actor)
    shop = services.catalogue.managed_shop(actor, shop_id)
    period = _statement_period(community)
    try:
        statement = services.stock_statement(actor, shop.id, period)
    except DomainError as error:
        flash(error.render_message(), "error")
        return redirect(url_for(".shelf_statement", shop_id=shop.id))
    current = periods.current("quarter", community.timezone, clock.now())
    recent = [current.key] + [p.key for p in _previous(current, 4)]
    return render_template("shelf/staff_statement.html", active="shelf", shop=shop, statement=statement,
                           recent=recent)


def _previous(period: periods.Period, count: int) -> list[periods.Period]:
    found, key = [], period
    for _ in range(count):
        year, quarter = (key.year, key.quarter - 1) if key.quarter > 1 else (key.year - 1, 4)
        key = periods.parse(f"{year}Q{quarter}")
        found.append(key)
    return found


@bp.get("/shelf/<int:shop_id>/stock.<any(csv, xlsx):fmt>")
@policy.allow(*MANAGERS)
def export_shelf_statement(shop_id: int, fmt: str) -> Response:
    actor = current_user()
    community = current_community(actor)
    return download(unit_of_work(services.export_stock_statement)(actor, shop_id, _statement_period(community), fmt))
