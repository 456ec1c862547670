"""Partner shops and the quarterly settlement with them.

Settlement statements are an administrator's business (as in the API): run the round for a
closed quarter, confirm each shop's draft, pay it; each statement exports as CSV or XLSX
(``/staff/settlements/{id}/export.csv`` — the API's export, with the session) and prints on A4
from its page.
"""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from pointsbank import clock
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.redeem import shops as shop_services
from pointsbank.reports import exports, periods, statements
from pointsbank.web.forms import ShopForm
from pointsbank.web.pages import attempt, current_community, download
from pointsbank.web.staff_blueprint import bp


@bp.get("/shops")
@policy.allow("admin", "staff")
def shops() -> str:
    return _shops_page(ShopForm(formdata=None))


def _shops_page(form: ShopForm, status: int = 200) -> Any:
    actor = current_user()
    community = current_community(actor)
    return render_template("staff/shops.html", active="shops", shops=shop_services.list_shops(actor, community.id),
                           form=form), status


@bp.post("/shops")
@policy.allow("admin", "staff")
def create_shop() -> Any:
    actor = current_user()
    community = current_community(actor)
    form = ShopForm()
    if not form.validate():
        return _shops_page(form, 400)
    created = attempt(shop_services.create_shop, actor, community.id, name=form.name.data,
                      address=(form.address.data or "").strip() or None,
                      success=_("Shop %(name)s added.", name=form.name.data.strip()))
    if created is None:
        return _shops_page(form, 409)
    return redirect(url_for(".shops"))


# --- settlements --------------------------------------------------------------------------

def _period_arg(community_tz: str) -> str:
    """``?period=2026Q1``, else the last closed quarter (the one a round settles)."""
    wanted = (request.args.get("period") or request.form.get("period") or "").strip()
    if wanted:
        return periods.parse(wanted).key
    return periods.last_closed("quarter", community_tz, clock.now()).key


@bp.get("/settlements")
@policy.allow("admin")
def settlements() -> str:
    actor = current_user()
    community = current_community(actor)
    period = _period_arg(community.timezone)
    page = statements.list_statements(actor, period=period, community_id=community.id, limit=100,
                                      cursor=request.args.get("cursor") or None)
    current = periods.current("quarter", community.timezone, clock.now())
    recent = [p.key for p in _previous(current, 8)]
    return render_template("staff/settlements.html", active="settlements", page=page, period=period,
                           recent=recent, totals=_sum(page["items"]))


def _previous(period: periods.Period, count: int) -> list[periods.Period]:
    found = []
    for _step in range(count):
        period = period.previous()
        found.append(period)
    return found


def _sum(items: list[dict[str, Any]]) -> dict[str, int]:
    return {key: sum(int(item[key]) for item in items) for key in ("count", "points", "amount_fen")}


@bp.post("/settlements/run")
@policy.allow("admin")
def run_settlement() -> Response:
    actor = current_user()
    community = current_community(actor)
    period = _period_arg(community.timezone)
    attempt(statements.run_settlement, actor, period, community.id,
            success=_("Settlement for %(period)s has run.", period=period))
    return redirect(url_for(".settlements", period=period))


@bp.post("/settlements/<int:statement_id>/confirm")
@policy.allow("admin")
def confirm_statement(statement_id: int) -> Response:
    done = attempt(statements.confirm_statement, current_user(), statement_id,
                   success=_("Statement confirmed."))
    return redirect(url_for(".settlements", period=done["period"] if done else request.form.get("period")))


@bp.post("/settlements/<int:statement_id>/pay")
@policy.allow("admin")
def pay_statement(statement_id: int) -> Response:
    done = attempt(statements.pay_statement, current_user(), statement_id, success=_("Statement marked as paid."))
    return redirect(url_for(".settlements", period=done["period"] if done else request.form.get("period")))


@bp.get("/settlements/<int:statement_id>")
@policy.allow("admin")
def statement(statement_id: int) -> str:
    actor = current_user()
    current_community(actor)
    return render_template("staff/statement.html", active="settlements",
                           statement=statements.get_statement(actor, statement_id))


@bp.get("/settlements/<int:statement_id>/export.<any(csv, xlsx):format>")
@policy.allow("admin")
def export_statement(statement_id: int, format: str) -> Response:  # noqa: A002 - the URL's word
    """A statement and its lines as CSV (UTF-8 with BOM) or XLSX, as the API exports it."""
    return download(exports.export_statement(current_user(), statement_id, format))
