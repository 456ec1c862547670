"""The public region board: ``/notice/region/{region_code}/{period}``.

The villages of a town or county that publish their notice board, ranked per household for a
closed quarter (or year): points per household, then participation. It names villages, never a
household, and shows no raw total of points, so a non-public record is never shown by name and
a big village does not win by its size (:func:`pointsbank.regions.dashboard.region_board`). A
running period, an unknown region or a bad period is the board's friendly 404.
"""

from __future__ import annotations

from typing import Any

from flask import render_template

from pointsbank.auth import policy
from pointsbank.errors import DomainError
from pointsbank.regions import dashboard
from pointsbank.web.notice_views import bp, period_label


@bp.get("/region/<region_code>/<period>")
@policy.public
def region_board(region_code: str, period: str) -> Any:
    """Villages ranked per household: points per household, then the share of households taking part."""
    try:
        board = dashboard.region_board(region_code, period)
    except DomainError:
        try:
            shown = period_label(period)
        except DomainError:
            shown = period[:16]
        return render_template("regions/board_missing.html", period=shown), 404
    return render_template("regions/board.html", board=board)
