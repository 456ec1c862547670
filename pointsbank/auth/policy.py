"""The one place that decides who may see and do what.

Two layers, both here:

* **roles per route** — ``@allow("admin", "staff")`` on an API method declares which roles may
  call it; the request hook refuses every other role with 403 before the body is parsed, and
  an anonymous caller with 401 (``@public`` opts a route out);
* **scope per object** — ``community_for(actor, id)``, ``household_in_scope(actor, id)`` (the one
  reader of a household, and its named variants ``household_for``, ``household_ref``) … load an
  object only if it lies in the caller's scope and answer 404 otherwise, so nobody learns
  whether another community's household exists.

Scope: an ``admin`` sees the communities under its region (all when it has none); ``staff``
its community; a ``grid_worker`` its community, and households only in its grids; a
``resident`` its own household; a ``cashier`` its shop and the communities it partners with.

A **proxy** (代办人, :func:`is_proxy_for`): a resident or grid worker login that staff granted
the right to see and spend for one more household. Only the routes that see and spend (the
household, its history and passbook, its vouchers and reservations) pass ``proxy=True`` to the
scope checks; recording points, objections and every staff action ignore the grant. Each use
is noted (:func:`proxy_uses`) and audited with both names by :mod:`pointsbank.community.proxies`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, TypeVar

import sqlalchemy as sa

from flask import g, has_request_context

from pointsbank.auth.models import ROLES, User, UserGrid
from pointsbank.community.models import Community, Household, HouseholdProxy, Region
from pointsbank.errors import Forbidden, NotFound
from pointsbank.database import execute, row_by_id
from pointsbank.extensions import db

F = TypeVar("F", bound=Callable[..., Any])


def allow(*roles: str) -> Callable[[F], F]:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def mark(fn: F) -> F:
        fn._pb_roles = tuple(roles)  # type: ignore[attr-defined]
        doc = (fn.__doc__ or "").rstrip()
        fn.__doc__ = f"{doc}\n\nRoles: {', '.join(roles)}." if doc else f"Roles: {', '.join(roles)}."
        return fn

    return mark


def public(fn: F) -> F:
    fn._pb_public = True  # type: ignore[attr-defined]
    return fn


def require_role(actor: User | None, *roles: str) -> User:
    if actor is None:
        from pointsbank.errors import Unauthorized

        raise Unauthorized()
    if actor.role not in roles:
        raise Forbidden()
    return actor


# --- communities ---------------------------------------------------------------------------

def admin_community_ids(actor: User) -> set[int] | None:
    """The communities an admin governs; ``None`` means every community."""
    if actor.region_id is None:
        return None
    region = db.session.get(Region, actor.region_id)
    if region is None:
        return set()
    stmt = (sa.select(Community.id).join(Region, Community.region_id == Region.id)
            .where(Region.path.startswith(region.path)))
    return set(db.session.scalars(stmt))


def community_visible(actor: User, community: Community) -> bool:
    if actor.role == "admin":
        if actor.region_id is None:
            return True
        if community.region_id is None:
            return False
        region = db.session.get(Region, actor.region_id)
        own = db.session.get(Region, community.region_id)
        return bool(region and own and own.path.startswith(region.path))
    if actor.role == "cashier":
        from pointsbank.redeem.models import ShopPartnership

        return db.session.get(ShopPartnership, (community.id, actor.shop_id)) is not None
    return actor.community_id == community.id


def community_for(actor: User, community_id: int, *roles: str) -> Community:
    """The community, if ``actor`` has one of ``roles`` (default: any) and it is in scope; else 403/404."""
    require_role(actor, *(roles or ROLES))
    community = db.session.get(Community, community_id)
    if community is None or not community_visible(actor, community):
        raise NotFound()
    return community


def visible_communities(actor: User) -> sa.Select:
    stmt = sa.select(Community).order_by(Community.id)
    if actor.role == "admin":
        ids = admin_community_ids(actor)
        return stmt if ids is None else stmt.where(Community.id.in_(ids or {-1}))
    if actor.role == "cashier":
        from pointsbank.redeem.models import ShopPartnership

        return stmt.join(ShopPartnership, ShopPartnership.community_id == Community.id).where(
            ShopPartnership.shop_id == actor.shop_id)
    return stmt.where(Community.id == actor.community_id)


# --- households ----------------------------------------------------------------------------

def grid_ids(actor: User) -> list[int]:
    return list(db.session.scalars(sa.select(UserGrid.grid_id).where(UserGrid.user_id == actor.id)))


def household_visible(actor: User, household: Household) -> bool:
    return _household_visible(actor, household.id, household.community_id, household.grid_id)


def _household_visible(actor: User, household_id: int, community_id: int, grid_id: int | None) -> bool:
    """The one rule, for a household as an object or as a row."""
    if actor.role == "resident":
        return actor.household_id == household_id
    if actor.role == "grid_worker":
        return actor.community_id == community_id and grid_id in grid_ids(actor)
    if actor.role == "staff":
        return actor.community_id == community_id
    if actor.role == "admin":
        community = db.session.get(Community, community_id)  # the identity map's when already loaded
        return community is not None and community_visible(actor, community)
    return False  # cashiers never see households


#: the roles a proxy grant may be given to
PROXY_ROLES = ("resident", "grid_worker")


@functools.lru_cache(maxsize=1)
def _proxy_statement() -> sa.Select:
    proxies = HouseholdProxy.__table__
    return sa.select(proxies.c.id).where(proxies.c.community_id == sa.bindparam("community_id"),
                                         proxies.c.user_id == sa.bindparam("user_id"),
                                         proxies.c.household_id == sa.bindparam("household_id"),
                                         proxies.c.revoked_at.is_(None))


def is_proxy_for(actor: User, household_id: int, community_id: int) -> bool:
    """The named predicate: ``actor`` holds an open proxy grant for this household (a resident
    or grid worker login of the same community). One indexed read, asked only when the usual
    scope has already said no."""
    if actor.role not in PROXY_ROLES or actor.community_id != community_id:
        return False
    known = g.setdefault("pb_proxy_grants", {}) if has_request_context() else {}
    if (actor.id, household_id) not in known:
        known[(actor.id, household_id)] = execute(_proxy_statement(), {
            "community_id": community_id, "user_id": actor.id, "household_id": household_id}).first() is not None
    if known[(actor.id, household_id)]:
        _note_proxy_use(actor, household_id, community_id)
    return known[(actor.id, household_id)]


def ensure_may_spend(actor: User, household_id: int, community_id: int) -> None:
    """A grid worker sees the households of its grids but spends (vouchers) only for one it is a
    proxy for: 404 otherwise, like any household out of scope."""
    if actor.role == "grid_worker" and not is_proxy_for(actor, household_id, community_id):
        raise NotFound()


def _note_proxy_use(actor: User, household_id: int, community_id: int) -> None:
    if has_request_context():
        uses = g.setdefault("pb_proxy_uses", [])
        if (actor.id, household_id) not in [(u[0], u[1]) for u in uses]:
            uses.append((actor.id, household_id, community_id))


def proxy_uses() -> list[tuple[int, int, int]]:
    """(proxy user id, household id, community id) of each household this request reached through
    a grant; taken once (the list is emptied)."""
    return list(g.pop("pb_proxy_uses", [])) if has_request_context() else []


def forget_proxy_grants() -> None:
    """At the start of a request whose app context was already in use (tests, scripts:
    :func:`pointsbank.request_state.forget_on_reuse`): a grant read by one request must not
    answer the next."""
    g.pop("pb_proxy_grants", None)
    g.pop("pb_proxy_uses", None)


#: who may read a household at all (each in its scope); a reader narrows it with ``roles``
HOUSEHOLD_READERS = ("admin", "staff", "grid_worker", "resident")


def household_in_scope(actor: User, household_id: int, *roles: str,
                       read: Callable[[int], Any] | None = None, proxy: bool = False) -> Any:
    """The one reader of a household in the caller's scope: ``actor`` must have one of ``roles``
    (default :data:`HOUSEHOLD_READERS`; 403 otherwise), and the household must exist and be in
    its scope (404 otherwise, whichever it is). ``read(household_id, community_id)`` reads it — an ORM
    ``Household`` or any row with ``id``, ``community_id`` and ``grid_id`` — or None; it is
    returned as read. Named variants: :func:`household_for` (the ORM object),
    :func:`household_ref` (one Core statement, for the hot paths), and
    :func:`pointsbank.community.services.household_view` (with its balance, for the pages).
    With ``proxy`` (the see-and-spend paths only), an open proxy grant (:func:`is_proxy_for`)
    also lets ``actor`` in."""
    require_role(actor, *(roles or HOUSEHOLD_READERS))
    # a community login reads within its community (one shard on Citus); an admin's has none
    found = (read or _read_ref)(household_id, actor.community_id)
    if found is None or not (_household_visible(actor, found.id, found.community_id, found.grid_id) or (
            proxy and is_proxy_for(actor, found.id, found.community_id))):
        raise NotFound()
    return found


def household_for(actor: User, household_id: int, *roles: str, proxy: bool = False) -> Household:
    """:func:`household_in_scope`, read as the ORM object."""
    return household_in_scope(actor, household_id, *roles, read=_read_object, proxy=proxy)


def _read_object(household_id: int, community_id: int | None) -> Household | None:
    return row_by_id(Household, household_id, community_id)


@dataclass(frozen=True)
class HouseholdRef:
    """A household in the caller's scope, as the hot paths need it: read with its community in
    one Core statement, no ORM objects (a ``session.get(Household)`` loads the community, its
    region, the grid and the residents: four times the CPU of the whole check)."""

    id: int
    community_id: int
    grid_id: int | None
    timezone: str
    notice_days: int
    base_points: int
    voucher_ttl_hours: int
    number: str
    frozen_reason: str | None
    frozen_note: str | None
    frozen_at: Any
    #: what the notifications of an award need (``notify.enqueue``'s ``known``): no second read
    phone: str | None = None
    sms_opt_out: bool = False


@functools.lru_cache(maxsize=2)
def _household_ref_statement(in_community: bool) -> sa.Select:
    households, communities = Household.__table__, Community.__table__
    stmt = (sa.select(households.c.id, households.c.community_id, households.c.grid_id, communities.c.timezone,
                      communities.c.notice_days, communities.c.base_points, communities.c.voucher_ttl_hours,
                      households.c.number, households.c.frozen_reason, households.c.frozen_note,
                      households.c.frozen_at, households.c.phone, households.c.sms_opt_out)
            .join(communities, communities.c.id == households.c.community_id)
            .where(households.c.id == sa.bindparam("household_id")))
    return stmt.where(households.c.community_id == sa.bindparam("community_id")) if in_community else stmt


def _read_ref(household_id: int, community_id: int | None) -> Any:
    return execute(_household_ref_statement(community_id is not None),
                   {"household_id": household_id, "community_id": community_id}).first()


def household_ref(actor: User, household_id: int, *roles: str, proxy: bool = False) -> HouseholdRef:
    """:func:`household_in_scope` without loading the ORM objects (:class:`HouseholdRef`): the
    same roles, the same scope (404 outside it), the same answers."""
    return HouseholdRef(*household_in_scope(actor, household_id, *roles, read=_read_ref, proxy=proxy))


def ensure_household_visible(actor: User, household_id: int, community_id: int, grid_id: int | None, *,
                             proxy: bool = False) -> None:
    """:func:`household_visible` for a household read as a row (404 when it is out of scope);
    with ``proxy``, an open proxy grant also lets ``actor`` in."""
    if not _household_visible(actor, household_id, community_id, grid_id) and not (
            proxy and is_proxy_for(actor, household_id, community_id)):
        raise NotFound()


def households_in_scope(actor: User, stmt: sa.Select) -> sa.Select:
    """Narrow a select over ``Household`` to what ``actor`` may see."""
    if actor.role == "resident":
        return stmt.where(Household.id == actor.household_id)
    if actor.role == "grid_worker":
        return stmt.where(Household.community_id == actor.community_id, Household.grid_id.in_(
            sa.select(UserGrid.grid_id).where(UserGrid.community_id == actor.community_id,
                                              UserGrid.user_id == actor.id)))
    return stmt


class ConflictOfInterest(Forbidden):
    code = "conflict_of_interest"

    def __init__(self) -> None:
        from flask_babel import lazy_gettext as _l

        super().__init__(_l("You may not award, adjust or approve points for your own household."))


def ensure_not_own_household(actor: User, household_id: int) -> None:
    """Staff cannot award, adjust or approve points for a household they belong to."""
    if _own_household(actor, household_id):
        raise ConflictOfInterest()


# --- four eyes: who may decide ------------------------------------------------------------
# The services refuse with these reasons, and the pages ask the same functions (template
# globals) to say why a button is disabled: no template re-implements a four-eyes rule.

def record_decision_refusal(actor: User, record: Any, approvers: Iterable[int] | None = None) -> str | None:
    """Why ``actor`` may not decide (approve or reject) this pending behaviour record, or None:
    ``staff_only``; ``second_person_required`` (they recorded it); ``conflict_of_interest``
    (their own household); with ``approvers`` (who approved it so far) also ``already_approved``."""
    if actor.role != "staff":
        return "staff_only"
    if record.recorded_by_id == actor.id:
        return "second_person_required"
    if _own_household(actor, record.household_id):
        return "conflict_of_interest"
    if approvers is not None and actor.id in approvers:
        return "already_approved"
    return None


def objection_decision_refusal(actor: User, objection: Any, record: Any | None) -> str | None:
    """Why ``actor`` may not resolve this open objection (against ``record``), or None:
    ``staff_only``; ``objector_cannot_resolve`` (they raised it); ``conflict_of_interest``."""
    if actor.role != "staff":
        return "staff_only"
    if objection.raised_by_id == actor.id:
        return "objector_cannot_resolve"
    if record is not None and _own_household(actor, record.household_id):
        return "conflict_of_interest"
    return None


def adjustment_decision_refusal(actor: User, adjustment: Any) -> str | None:
    """Why ``actor`` may not approve this pending adjustment, or None: ``staff_only``;
    ``second_person_required`` (they requested it); ``conflict_of_interest``."""
    if actor.role != "staff":
        return "staff_only"
    if adjustment.requested_by_id == actor.id:
        return "second_person_required"
    if _own_household(actor, adjustment.household_id):
        return "conflict_of_interest"
    return None


def spot_check_refusal(actor: User, record: Any) -> str | None:
    """Why ``actor`` may not check (confirm or dispute) this sampled record of a spot check, or
    None: ``staff_only``; ``recorder_cannot_check`` (they recorded it); ``conflict_of_interest``
    (their own household). ``record``: a record, or a spot check's item as the API shows it (a
    mapping with ``recorded_by_id`` and ``household_id``)."""
    if actor.role != "staff":
        return "staff_only"
    recorded_by_id, household_id = ((record["recorded_by_id"], record["household_id"]) if isinstance(record, Mapping)
                                    else (record.recorded_by_id, record.household_id))
    if recorded_by_id == actor.id:
        return "recorder_cannot_check"
    if _own_household(actor, household_id):
        return "conflict_of_interest"
    return None


#: the predicates the pages call, registered as template globals by the web package
DECISION_PREDICATES = (record_decision_refusal, objection_decision_refusal, adjustment_decision_refusal,
                       spot_check_refusal)


def _own_household(actor: User, household_id: int | None) -> bool:
    return actor.household_id is not None and actor.household_id == household_id


def view_method(view: Any, method: str) -> Any:
    """The function that answers ``method`` for a view (a MethodView's method, or the view)."""
    return getattr(getattr(view, "view_class", None), method.lower(), None) or view


def roles_of(view: Any, method: str) -> tuple[Iterable[str] | None, bool]:
    """The roles a view method allows and whether it is public (read by the request hook)."""
    fn = view_method(view, method)
    return getattr(fn, "_pb_roles", None), bool(getattr(fn, "_pb_public", False))
