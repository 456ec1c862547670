"""Regions, communities, grids, households and residents.

Creating a community also creates its system ledger accounts; creating a household opens its
ledger account with the community's base points, in the same unit of work.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community.freeze import frozen_view
from pointsbank.community.models import Community, Grid, Household, Region, Resident
from pointsbank.database import dialect_name, execute, insert_or_conflict
from pointsbank.errors import Conflict, NotFound
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.notify.phones import masked, normalised
from pointsbank.pagination import keyset_page

COMMUNITY_SETTINGS = ("name", "base_points", "point_value_fen", "voucher_ttl_hours", "timezone", "notice_days",
                      "adjustment_two_person_above", "is_notice_public", "points_reset", "points_expire_years",
                      "best_families_count", "star_levels")


class CodeTaken(Conflict):
    code = "code_taken"
    message = _l("The code %(code)s is already in use.")


class HouseholdNumberTaken(Conflict):
    code = "household_number_taken"
    message = _l("Household number %(number)s already exists in this community.")


def create_region(actor: User | None, *, code: str, name: str, kind: str, parent_id: int | None = None) -> Region:
    if actor is not None:
        policy.require_role(actor, "admin")
    parent = db.session.get(Region, parent_id) if parent_id is not None else None
    if parent_id is not None and parent is None:
        raise NotFound()
    if actor is not None and actor.region_id is not None:
        own = db.session.get(Region, actor.region_id)
        if parent is None or own is None or not parent.path.startswith(own.path):
            raise NotFound()
    if db.session.scalar(sa.select(Region.id).where(Region.code == code)) is not None:
        raise CodeTaken(code=code)
    region = Region(code=code, name=name, kind=kind, parent_id=parent_id)
    insert_or_conflict(region, CodeTaken(code=code))
    region.path = f"{parent.path if parent else '/'}{region.id}/"
    audit.record(actor, "region.create", target=region, data={"code": code})
    db.session.flush()
    return region


def list_regions(actor: User) -> list[Region]:
    policy.require_role(actor, "admin")
    stmt = sa.select(Region).order_by(Region.path)
    if actor.region_id is not None:
        own = db.session.get(Region, actor.region_id)
        stmt = stmt.where(Region.path.startswith(own.path if own else "/none/"))
    return list(db.session.scalars(stmt))


def create_community(actor: User | None, *, code: str, name: str, parent_region_id: int | None = None,
                     **settings: Any) -> Community:
    if actor is not None:
        policy.require_role(actor, "admin")
        if actor.region_id is not None:
            region = db.session.get(Region, parent_region_id) if parent_region_id is not None else None
            own = db.session.get(Region, actor.region_id)
            if region is None or own is None or not region.path.startswith(own.path):
                raise NotFound()
    if parent_region_id is not None and db.session.get(Region, parent_region_id) is None:
        raise NotFound()
    if db.session.scalar(sa.select(Community.id).where(Community.code == code)) is not None:
        raise CodeTaken(code=code)
    community = Community(code=code, name=name, region_id=parent_region_id,
                          **{k: v for k, v in settings.items() if k in COMMUNITY_SETTINGS and v is not None})
    insert_or_conflict(community, CodeTaken(code=code))
    ledger.ensure_system_accounts(community.id)
    audit.record(actor, "community.create", community_id=community.id, target=community,
                 data={"code": code, **{k: v for k, v in settings.items() if k in COMMUNITY_SETTINGS}})
    return community


def list_communities(actor: User) -> list[Community]:
    return list(db.session.scalars(policy.visible_communities(actor)))


def get_community(actor: User, community_id: int) -> Community:
    return policy.community_for(actor, community_id)


def community_by_code(code: str) -> Community:
    community = db.session.scalar(sa.select(Community).where(Community.code == code))
    if community is None:
        raise NotFound(_l("No community with code %(code)s."), code=code)
    return community


def update_community(actor: User, community_id: int, **changes: Any) -> Community:
    community = policy.community_for(actor, community_id, "admin")
    if changes.get("offline") is not None:
        from pointsbank.offline.services import update_settings

        update_settings(actor, community.id, changes.pop("offline"))
    if changes.get("shelf") is not None:
        from pointsbank.shelf.services import settings as shelf_settings

        shelf_settings.update_settings(actor, community.id, changes.pop("shelf"))
    before = {k: getattr(community, k) for k in changes if k in COMMUNITY_SETTINGS}
    for key, value in changes.items():
        if key in COMMUNITY_SETTINGS and value is not None:
            setattr(community, key, value)
    audit.record(actor, "community.update", community_id=community.id, target=community,
                 data={"before": before, "after": {k: getattr(community, k) for k in before}})
    db.session.flush()
    return community


def grid_named(community_id: int, name: str) -> Grid:
    grid = db.session.scalar(sa.select(Grid).where(Grid.community_id == community_id, Grid.name == name))
    if grid is None:
        grid = Grid(community_id=community_id, name=name)
        db.session.add(grid)
        db.session.flush()
    return grid


def list_grids(actor: User, community_id: int) -> list[Grid]:
    policy.community_for(actor, community_id, "admin", "staff", "grid_worker")
    return list(db.session.scalars(sa.select(Grid).where(Grid.community_id == community_id).order_by(Grid.name)))


def create_household(actor: User | None, community_id: int, *, number: str, head_name: str,
                     address: str | None = None, grid: str | None = None, members: list[str] | None = None,
                     phone: str | None = None, sms_opt_out: bool = False) -> dict[str, Any]:
    if actor is not None:
        community = policy.community_for(actor, community_id, "admin", "staff")
    else:
        community = db.session.get(Community, community_id)
        if community is None:
            raise NotFound()
    number = number.strip()
    if db.session.scalar(sa.select(Household.id).where(Household.community_id == community_id,
                                                       Household.number == number)) is not None:
        raise HouseholdNumberTaken(number=number)
    household = Household(community_id=community_id, number=number, head_name=head_name.strip(), address=address,
                          grid_id=grid_named(community_id, grid.strip()).id if grid else None,
                          phone=normalised(phone), sms_opt_out=bool(sms_opt_out))
    insert_or_conflict(household, HouseholdNumberTaken(number=number))
    for name in members or []:
        db.session.add(Resident(community_id=community_id, household_id=household.id, name=name.strip()))
    ledger.open_household_account(household.id, community_id, community.base_points, actor.id if actor else None)
    audit.record(actor, "household.create", community_id=community_id, target=household, data={"number": number})
    db.session.flush()
    return view_of(household, community.base_points, community.base_points)


HOUSEHOLD_EDITS = ("head_name", "address", "phone", "sms_opt_out")


def update_household(actor: User, household_id: int, **changes: Any) -> dict[str, Any]:
    """Staff correct a household's head, address, phone or SMS opt-out; audited, the phone masked."""
    household = policy.household_for(actor, household_id, "admin", "staff")
    changes = {k: v for k, v in changes.items() if k in HOUSEHOLD_EDITS}
    if "phone" in changes:
        changes["phone"] = normalised(changes["phone"])
    if changes.get("head_name") is not None:
        changes["head_name"] = changes["head_name"].strip()
    elif "head_name" in changes:
        changes.pop("head_name")
    if "sms_opt_out" in changes and changes["sms_opt_out"] is None:
        changes.pop("sms_opt_out")

    def shown(key: str, value: Any) -> Any:
        return masked(value) if key == "phone" else value

    changes = {k: v for k, v in changes.items() if getattr(household, k) != v}
    if not changes:
        return household_view(actor, household.id)
    before = {k: shown(k, getattr(household, k)) for k in changes}
    for key, value in changes.items():
        setattr(household, key, value)
    db.session.flush()
    audit.record(actor, "household.update", community_id=household.community_id, target=household,
                 data={"before": before, "after": {k: shown(k, getattr(household, k)) for k in changes}})
    return household_view(actor, household.id)


def view_of(household: Household, balance: int, base_points: int) -> dict[str, Any]:
    """:func:`household_dict` of a household already read as an ORM object (a list, a creation)."""
    return household_dict(household, grid=household.grid.name if household.grid else None,
                          residents=household.residents, balance=balance, base_points=base_points)


def household_dict(household: Any, *, grid: str | None, residents: Any, balance: int,
                   base_points: int) -> dict[str, Any]:
    """The one shape of a household with its balance, as the API and the pages show it."""
    return {
        "id": household.id, "community_id": household.community_id, "number": household.number,
        "head_name": household.head_name, "address": household.address, "grid": grid,
        "residents": residents, "balance": balance, "base_points": base_points,
        "redeemable": max(0, balance - base_points),
        "frozen": frozen_view(household.frozen_reason, household.frozen_note, household.frozen_at),
        "phone": masked(household.phone), "sms_opt_out": bool(household.sms_opt_out),
    }


class ResidentRow(NamedTuple):
    """A resident as the household's views read it (``.id``, ``.name``; the pages and the schema alike)."""

    id: int
    name: str


def household_view(actor: User, household_id: int | None) -> dict[str, Any] | None:
    """A household in scope with its balance: :func:`pointsbank.auth.policy.household_in_scope`
    reading one statement for the household, its community's base, its grid, its balance, its
    freeze and its residents (a JSON array built by the database: no second statement; a proxy's
    grant is asked only when the usual scope says no). Core, no ORM objects: every resident's
    phone makes this read."""
    if household_id is None:
        return None
    row = policy.household_in_scope(actor, household_id, read=_read_view_row, proxy=True)
    residents = [ResidentRow(resident_id, name) for resident_id, name in sorted(row.residents or ())]
    return household_dict(row, grid=row.grid, residents=residents, balance=int(row.balance or 0),
                          base_points=row.base_points)


def _read_view_row(household_id: int, community_id: int | None) -> Any:
    return execute(_household_view_statement(dialect_name(), community_id is not None),
                   {"household_id": household_id, "community_id": community_id}).first()


@functools.lru_cache(maxsize=4)
def _household_view_statement(dialect: str, in_community: bool) -> sa.Select:
    from pointsbank.ledger.models import Account

    households, communities, grids, accounts, residents = (Household.__table__, Community.__table__,
                                                           Grid.__table__, Account.__table__, Resident.__table__)
    pair = (sa.func.json_build_array if dialect == "postgresql" else sa.func.json_array)(residents.c.id,
                                                                                       residents.c.name)
    listed = sa.select(sa.type_coerce(sa.func.json_agg(pair) if dialect == "postgresql"
                                      else sa.func.json_group_array(pair), sa.JSON)).where(
        residents.c.community_id == households.c.community_id,
        residents.c.household_id == households.c.id).scalar_subquery()
    stmt = (sa.select(households.c.id, households.c.community_id, households.c.grid_id, households.c.number,
                      households.c.head_name, households.c.address, communities.c.base_points,
                      grids.c.name.label("grid"), accounts.c.balance, households.c.frozen_reason,
                      households.c.frozen_note, households.c.frozen_at, households.c.phone,
                      households.c.sms_opt_out, listed.label("residents"))
            .select_from(households.join(communities, communities.c.id == households.c.community_id)
                         .outerjoin(grids, sa.and_(grids.c.id == households.c.grid_id,
                                                   grids.c.community_id == households.c.community_id))
                         .outerjoin(accounts, sa.and_(accounts.c.household_id == households.c.id,
                                                      accounts.c.community_id == households.c.community_id)))
            .where(households.c.id == sa.bindparam("household_id")))
    # a community login's household is read on its community's shard (an admin's login has none)
    return stmt.where(households.c.community_id == sa.bindparam("community_id")) if in_community else stmt


def list_households(actor: User, community_id: int, *, q: str | None = None, grid: str | None = None,
                    limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    community = policy.community_for(actor, community_id, "admin", "staff", "grid_worker")
    stmt = policy.households_in_scope(actor, sa.select(Household).where(Household.community_id == community_id))
    if q:
        stmt = stmt.where(sa.or_(Household.number == q, Household.head_name.contains(q, autoescape=True)))
    if grid:
        stmt = stmt.join(Grid, sa.and_(Grid.community_id == Household.community_id,
                                       Grid.id == Household.grid_id)).where(Grid.name == grid)
    page = keyset_page(stmt, Household.id, limit=limit, cursor=cursor)
    from pointsbank.ledger.models import Account

    ids = [h.id for h in page["items"]]
    balances = dict(db.session.execute(sa.select(Account.household_id, Account.balance).where(
        Account.household_id.in_(ids))).tuples().all()) if ids else {}
    page["items"] = [view_of(h, int(balances.get(h.id, 0)), community.base_points) for h in page["items"]]
    return page
