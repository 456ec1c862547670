"""The town and the county in the back office: the region dashboard (``/staff/region``, for
town and county administrators) and fair scoring with its spot checks (``/staff/fairness``).

The pages call the same services as the API (:mod:`pointsbank.regions`); the dashboard exports
as CSV or XLSX (``/staff/region/export.csv``, the API's export with the session).
"""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from pointsbank import clock
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.errors import NotFound
from pointsbank.regions import dashboard, fairness, spotchecks
from pointsbank.reports import periods
from pointsbank.web.pages import attempt, current_community, download
from pointsbank.web.staff_blueprint import bp
from pointsbank.web.svgchart import Bar, bar_chart

ZONE = "Asia/Shanghai"


def _period(default_tz: str) -> str:
    """``?period=`` (a quarter or a year), else the running quarter."""
    wanted = (request.args.get("period") or request.form.get("period") or "").strip().upper()
    if wanted:
        return periods.parse(wanted).key
    return periods.current("quarter", default_tz, clock.now()).key


def _recent(default_tz: str) -> list[str]:
    period = periods.current("quarter", default_tz, clock.now())
    found = [period.key]
    for _step in range(7):
        period = period.previous()
        found.append(period.key)
    return found


def _region_id(regions: list[Any]) -> int:
    wanted = request.args.get("region_id", type=int)
    if wanted is not None:
        return wanted
    if not regions:
        raise NotFound()
    return regions[0].id


@bp.get("/region")
@policy.allow("admin")
def region_dashboard() -> str:
    actor = current_user()
    regions = dashboard.regions_in_scope(actor)
    period = _period(ZONE)
    view = dashboard.dashboard(actor, _region_id(regions), period)
    bars = [Bar(t["period"], max(0, int(round(t["points_per_household"] * 100))), f"{t['points_per_household']:.2f}")
            for t in view["trend"]]
    chart = bar_chart(bars, chart_id="trend-chart", title=_("Points per household by quarter"),
                      desc=_("; ").join(f"{b.label}: {b.text}" for b in bars),
                      empty_text=_("No points were earned in this period."))
    return render_template("regions/dashboard.html", active="region", view=view, regions=regions, period=period,
                           recent=_recent(ZONE), chart=chart)


@bp.get("/region/export.<any(csv, xlsx):fmt>")
@policy.allow("admin")
def region_export(fmt: str) -> Response:
    actor = current_user()
    regions = dashboard.regions_in_scope(actor)
    return download(dashboard.export_dashboard(actor, _region_id(regions), _period(ZONE), fmt))


@bp.get("/fairness")
@policy.allow("admin", "staff")
def fairness_page() -> str:
    actor = current_user()
    community = current_community(actor)
    period = _period(community.timezone)
    return render_template("regions/fairness.html", active="fairness", period=period,
                           recent=_recent(community.timezone),
                           figures=fairness.fairness(actor, community.id, period),
                           checks=spotchecks.list_spot_checks(actor, community.id, period))


@bp.post("/fairness/spot-checks")
@policy.allow("admin", "staff")
def draw_spot_check() -> Response:
    actor = current_user()
    community = current_community(actor)
    period = _period(community.timezone)
    size = max(1, min(request.form.get("size", type=int) or 5, 500))
    attempt(spotchecks.draw_spot_check, actor, community.id, period=period, size=size,
            success=_("A spot check of %(size)s records was drawn.", size=size))
    return redirect(url_for(".fairness_page", period=period))


@bp.post("/fairness/spot-checks/<int:spot_check_id>/<int:record_id>/<any(confirmed, disputed):outcome>")
@policy.allow("staff")
def check_spot_check_item(spot_check_id: int, record_id: int, outcome: str) -> Response:
    actor = current_user()
    note = (request.form.get("note") or "").strip()[:1000] or None
    if outcome == "disputed" and not note:
        note = _("Doubted in a spot check")
    attempt(spotchecks.check_item, actor, spot_check_id, record_id, outcome=outcome, note=note,
            success=_("Record confirmed.") if outcome == "confirmed" else
            _("Record disputed: an objection is open for another staff member to resolve."))
    return redirect(url_for(".fairness_page", period=request.form.get("period") or None))
