"""The stock statement of a shop for a quarter (or a year), and its CSV/XLSX export.

Per item, computed in the database from the stock movements and the redemption lines::

    opening  in   out  loss  left  points   (left = opening + in − out − loss)
       20    10    12    1    17    720

``in``: deliveries, donations, counts that found more; ``out``: redemptions and reservations
(net of reservations released); ``loss``: losses and counts that found less; ``points``: the
points of the redemption lines of the period (not reversed).
"""

from __future__ import annotations

from typing import Any

from pointsbank.auth.models import User


def stock_statement(actor: User, shop_id: int, period: str) -> dict[str, Any]:
    """``{shop_id, shop_name, period, items: [{item_id, name, opening, in, out, loss, left, quantity,
    points}], totals}`` for staff and admins of a partner community and the shop's cashiers."""
    raise NotImplementedError


def export_stock_statement(actor: User, shop_id: int, period: str, fmt: str) -> Any:
    """The statement as CSV or XLSX (``reports.exports``); text cells starting with = + - @ tab or
    CR get a leading ``'`` so no spreadsheet runs them as formulas."""
    raise NotImplementedError
