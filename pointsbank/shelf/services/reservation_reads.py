"""Reading reservations: who sees which, their effective status, lines and pickup code.

A held reservation whose time has passed reads ``expired`` for everyone before the sweep has
given its points and goods back. The pickup code is shown to the household and staff, never to
the shop's cashiers (they pack the goods; the household shows the code at the counter).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community.models import Community
from pointsbank.database import row_by_id
from pointsbank.extensions import db
from pointsbank.redeem import shortcode
from pointsbank.redeem.models import Shop
from pointsbank.shelf.models import Reservation, ReservationLine, ShelfItem
from pointsbank.shelf.refusals import ReservationClosed, ReservationExpired, ReservationNotFound


def effective_status(reservation: Any, now: datetime | None = None) -> str:
    """A held reservation past its time is expired for everyone who asks, before the job has run."""
    if reservation.status == "held" and reservation.expires_at <= (now or clock.now()):
        return "expired"
    return reservation.status


def reservation_lines(reservation_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    ids = sorted(set(reservation_ids))
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return found
    lines, items = ReservationLine.__table__, ShelfItem.__table__
    for row in db.session.execute(
            sa.select(lines.c.reservation_id, lines.c.item_id, lines.c.quantity, lines.c.points_each, lines.c.points,
                      items.c.name_zh, items.c.name_en).join(items, items.c.id == lines.c.item_id)
            .where(lines.c.reservation_id.in_(ids)).order_by(lines.c.reservation_id, lines.c.item_id)):
        found[row.reservation_id].append({"item_id": row.item_id, "name": {"zh": row.name_zh, "en": row.name_en},
                                          "quantity": row.quantity, "points_each": row.points_each,
                                          "points": row.points})
    return found


def reservation_view(reservation: Reservation, lines: list[dict[str, Any]], *, show_code: bool,
                     shop_name: str | None = None) -> dict[str, Any]:
    """The reservation; its pickup code only for its household and staff (a cashier packs the
    goods but must be shown the code by the household)."""
    if shop_name is None:
        shop = db.session.get(Shop, reservation.shop_id)
        shop_name = shop.name if shop else None
    return {"id": reservation.id, "community_id": reservation.community_id, "shop_id": reservation.shop_id,
            "shop_name": shop_name, "household_id": reservation.household_id,
            "pickup_code": shortcode.format(reservation.pickup_code) if show_code else None,
            "points": reservation.points, "status": effective_status(reservation),
            "expires_at": reservation.expires_at, "created_at": reservation.created_at,
            "closed_at": reservation.closed_at, "redemption_id": reservation.redemption_id, "lines": lines}


def ensure_held(reservation: Reservation, now: datetime) -> None:
    """Refuse a reservation that is no longer held: 410 once past its time, 409 once closed."""
    status = effective_status(reservation, now)
    if status == "expired":
        raise ReservationExpired(details={"expired_at": reservation.expires_at.isoformat()})
    if status != "held":
        raise ReservationClosed(status=status, details={"status": status})


def reservation_for(actor: User, reservation_id: int) -> Reservation:
    """The reservation if ``actor`` may see it: its household, staff of its community, admins
    over it, the cashiers of its shop; 404 ``reservation_not_found`` otherwise."""
    policy.require_role(actor, "admin", "staff", "resident", "cashier")
    reservation = row_by_id(Reservation, reservation_id)
    if reservation is None or not _visible(actor, reservation):
        raise ReservationNotFound()
    return reservation


def _visible(actor: User, reservation: Reservation) -> bool:
    if actor.role == "cashier":
        return actor.shop_id == reservation.shop_id
    if actor.role == "resident":
        return actor.household_id == reservation.household_id
    if actor.role == "staff":
        return actor.community_id == reservation.community_id
    community = db.session.get(Community, reservation.community_id)
    return community is not None and policy.community_visible(actor, community)


def get_reservation(actor: User, reservation_id: int) -> dict[str, Any]:
    """One reservation with its lines, for its household, staff of its community and the shop's cashiers."""
    reservation = reservation_for(actor, reservation_id)
    return reservation_view(reservation, reservation_lines([reservation.id])[reservation.id],
                            show_code=actor.role != "cashier")


def list_reservations(actor: User, *, household_id: int | None = None, shop_id: int | None = None,
                      status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Reservations, newest first (at most ``limit``): a resident's own; staff those of their
    community, admins those of their communities (optionally one household or shop); a cashier
    those of its shop (to pack them, without their pickup codes). ``status`` filters by the
    effective status (a held reservation past its time is ``expired``)."""
    policy.require_role(actor, "admin", "staff", "resident", "cashier")
    stmt = sa.select(Reservation)
    if actor.role == "resident":
        stmt = stmt.where(Reservation.household_id == actor.household_id)
    elif actor.role == "cashier":
        stmt = stmt.where(Reservation.shop_id == actor.shop_id)
    elif actor.role == "staff":
        stmt = stmt.where(Reservation.community_id == actor.community_id)
    else:
        scope = policy.admin_community_ids(actor)
        if scope is not None:
            stmt = stmt.where(Reservation.community_id.in_(scope or {-1}))
    if household_id is not None:
        stmt = stmt.where(Reservation.household_id == household_id)
    if shop_id is not None:
        stmt = stmt.where(Reservation.shop_id == shop_id)
    now = clock.now()
    if status == "held":
        stmt = stmt.where(Reservation.status == "held", Reservation.expires_at > now)
    elif status == "expired":
        stmt = stmt.where(sa.or_(Reservation.status == "expired",
                                 sa.and_(Reservation.status == "held", Reservation.expires_at <= now)))
    elif status is not None:
        stmt = stmt.where(Reservation.status == status)
    found = list(db.session.scalars(stmt.order_by(Reservation.id.desc()).limit(limit)))
    lines = reservation_lines(r.id for r in found)
    names = dict(db.session.execute(sa.select(Shop.id, Shop.name).where(
        Shop.id.in_({r.shop_id for r in found}))).tuples().all()) if found else {}
    return [reservation_view(r, lines[r.id], show_code=actor.role != "cashier", shop_name=names.get(r.shop_id))
            for r in found]


def pickup_qr(actor: User, reservation_id: int) -> bytes:
    """The QR code (SVG) of a held reservation's pickup code, for its household and staff, to
    show at the counter instead of reading the digits out; the cashier's scanner reads it like a
    typed code. ``reservation_closed`` 409 / ``reservation_expired`` 410 once it is not held."""
    from pointsbank.redeem import qr

    policy.require_role(actor, "admin", "staff", "resident")
    reservation = reservation_for(actor, reservation_id)
    ensure_held(reservation, clock.now())
    return qr.render_svg(reservation.pickup_code)
