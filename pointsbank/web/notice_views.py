"""The public notice board (公示): ``/notice/{community_code}`` and ``/notice/{community_code}/{period}``.

What a village posts on its notice board, readable without a login when the community
publishes it (``is_notice_public``), and by the community's own logins in any case: for a
closed quarter the ranking of households (ties share a rank), the champion, the points per
category (an SVG chart drawn here, :mod:`svgchart`), the totals per grid and the records
still open to objection; for a year (``/notice/alpha/2026``) the best families as well.
It prints as an A4 poster.

Only **published** boards are shown (the quarterly job stores them once; see
:mod:`pointsbank.reports.notice`): an unknown community, one that does not publish to the
public, or a period without a published board is a friendly 404 in the reader's language.

Privacy: a board shows what a paper notice board shows — the household's number, the head's
name and points — never members, addresses, ids or anything else of the household. The
view passes the template only those fields.

Logged-in users of the community also get the board as CSV or XLSX (the export of the API,
``/api/v1/communities/{id}/notice/export``, with the session cookie instead of a token).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, g, render_template
from flask_babel import gettext as _

from pointsbank.auth import policy
from pointsbank.auth.current import current_user, optional_user
from pointsbank.community.models import Community
from pointsbank.errors import DomainError, NotFound
from pointsbank.reports import exports, notice, periods
from pointsbank.shelf.services.reports import board_most_redeemed
from pointsbank.web.i18n import current_language, points
from pointsbank.web.pages import download
from pointsbank.web.svgchart import Bar, bar_chart

bp = Blueprint("notice", __name__, url_prefix="/notice")

ANY_LOGIN = ("admin", "staff", "grid_worker", "resident", "cashier")


@bp.app_template_filter("notice_period")
def period_label(key: str) -> str:
    """``2026Q1`` → "2026年第1季度" / "Q1 2026"; ``2026`` → "2026年度" / "Year 2026"."""
    period = periods.parse(key)
    if period.quarter:
        return _("Q%(quarter)s %(year)s", quarter=period.quarter, year=period.year)
    return _("Year %(year)s", year=period.year)


@bp.get("/<community_code>")
@policy.public
def boards(community_code: str) -> Any:
    """The boards a community has published, newest first."""
    try:
        community = notice.notice_community(community_code, optional_user())
    except NotFound:
        return _missing(None, None)
    _use_timezone(community)
    published = notice.published_periods(community.id)
    years = sorted({int(p["period"][:4]) for p in published}, reverse=True)
    by_year = [(year, [p for p in published if int(p["period"][:4]) == year]) for year in years]
    return render_template("notice/boards.html", board_community=_public(community), by_year=by_year)


@bp.get("/<community_code>/<period>")
@policy.public
def board(community_code: str, period: str) -> Any:
    """One published board: the quarter's (or the year's) ranking, champion, chart and records."""
    try:
        community = notice.notice_community(community_code, optional_user())
    except NotFound:
        return _missing(None, None)
    published = notice.published_periods(community.id)
    keys = [p["period"] for p in published]
    key = period.strip().upper()
    if key not in keys:
        return _missing(community, period[:16])
    _use_timezone(community)
    data = notice.board_view(community, periods.parse(key))
    position = keys.index(key)
    user = optional_user()
    return render_template(
        "notice/board.html", board_community=_public(community), board=_board(community, data),
        chart=_category_chart(data), newer=keys[position - 1] if position > 0 else None,
        older=keys[position + 1] if position + 1 < len(keys) else None,
        can_export=user is not None and policy.community_visible(user, community),
        most_redeemed=board_most_redeemed(community, key))


@bp.get("/<community_code>/<period>/export.<any(csv, xlsx):fmt>")
@policy.allow(*ANY_LOGIN)
def export(community_code: str, period: str, fmt: str) -> Response:
    """The board as CSV (UTF-8 with BOM) or XLSX: the API's export, for the community's logins."""
    actor = current_user()
    community = notice.notice_community(community_code, actor)
    return download(exports.export_notice(actor, community.id, period, fmt))  # scope checked there: 404 outside


# --- what the templates get ---------------------------------------------------------------

def _use_timezone(community: Community) -> None:
    """Times on the board in the community's zone (``datetime_local`` reads ``g.timezone``)."""
    g.timezone = community.timezone


def _public(community: Community) -> dict[str, str]:
    return {"code": community.code, "name": community.name}


def _missing(community: Community | None, period: str | None) -> tuple[str, int]:
    """The friendly 404; the period in words when it is one ("2026年第3季度"), else as typed."""
    try:
        shown = period_label(period) if period else None
    except DomainError:
        shown = period
    return render_template("notice/missing.html", board_community=_public(community) if community else None,
                           period=shown), 404


def _entry(entry: dict[str, Any], tied: bool = False) -> dict[str, Any]:
    """A household on the board: its number, its head's name, its points — nothing else."""
    return {"rank": entry["rank"], "tied": tied, "number": entry["number"], "head_name": entry["head_name"],
            "points": entry["points"], "stars": entry.get("stars", 0)}


def _ranked(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shared = {}
    for entry in entries:
        shared[entry["rank"]] = shared.get(entry["rank"], 0) + 1
    return [_entry(e, tied=shared[e["rank"]] > 1) for e in entries]


def _board(community: Community, data: dict[str, Any]) -> dict[str, Any]:
    english = current_language() == "en"
    categories = {c["category"]: (c["name_en"] if english else c["name"]) for c in data["categories"]}
    board: dict[str, Any] = {
        "period": data["period"], "kind": data["kind"],
        "first_day": date.fromisoformat(data["first_day"]), "last_day": date.fromisoformat(data["last_day"]),
        "published_at": _moment(data.get("published_at")),
        "total_points": data["total_points"], "households": data["households"],
        "champion": [_entry(e) for e in data["champion"]],
        "ranking": _ranked(data["ranking"]),
        "grids": [{"grid": row["grid"], "households": row["households"], "points": row["points"]}
                  for row in data["grids"]],
        "best_families": _ranked(data["best_families"]) if data.get("best_families") is not None else None,
        "open_records": None,
    }
    if data.get("open_records") is not None:
        names = _rule_names(community, {r["rule_code"] for r in data["open_records"]})
        board["open_records"] = [
            {"number": r["number"], "head_name": r["head_name"], "points": r["points"],
             "what": names.get(r["rule_code"], categories.get(r["category"], r["rule_code"])),
             "category": categories.get(r["category"], r["category"]),
             "occurred_on": date.fromisoformat(r["occurred_on"]),
             "objection_until": _moment(r["objection_until"])} for r in data["open_records"]]
    return board


def _moment(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _rule_names(community: Community, codes: set[str]) -> dict[str, str]:
    """Rule code → its name in the page's language, from the community's rule books (the
    newest version naming a rule wins); codes no book names are left out."""
    from pointsbank.rules import services as books

    if not codes:
        return {}
    english = current_language() == "en"
    names: dict[str, str] = {}
    for version in books.all_versions(community.id):
        for rule in version.book.rules:
            if rule.code in codes:
                names[rule.code] = rule.name_en if english else rule.name_zh
    return names


def _category_chart(data: dict[str, Any]) -> Any:
    english = current_language() == "en"
    ordered = sorted(data["categories"], key=lambda c: -c["points"])  # the biggest bar first
    bars = [Bar(c["name_en"] if english else c["name"], c["points"], points(c["points"])) for c in ordered]
    listed = _("; ").join(_("%(category)s: %(points)s points", category=b.label, points=b.text) for b in bars)
    title = _("Points per category, %(period)s", period=period_label(data["period"]))
    desc = listed or _("No points were earned in this period.")
    return bar_chart(bars, chart_id="category-chart", title=title, desc=desc,
                     empty_text=_("No points were earned in this period."))
