"""Proxies (代办人): a login that staff allow to see and spend for a household it does not belong to.

``grant_proxy(staff, household_id, user_id=…)`` lets a relative's resident login (of another
household of the same community) or a grid worker of the community see that household's
balance, history and passbook and issue, show and cancel its vouchers and reservations —
nothing else (no records, no objections, no staff work). ``revoke_proxy`` ends the grant (the
row keeps ``revoked_at``); from then on the login gets the same 404 as any stranger.

The grant is checked in one place, :func:`pointsbank.auth.policy.is_proxy_for`, asked only by
the see-and-spend paths and only after the usual scope said no. Every request that reached a
household through a grant is audited as ``proxy.use`` with both names — the proxy's and the
household's — by :func:`audit_uses` after the request (in the request's own transaction when it
wrote, in a short one of its own after a read or a refusal)::

    {"action": "proxy.use", "actor_id": 17, "target_id": "4",
     "data": {"proxy": "李小明 (li)", "household": "A-004 王奶奶", "request": "POST /api/v1/vouchers", "status": 201}}
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, request
from flask_babel import lazy_gettext as _l

from pointsbank import clock, replicas
from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community.models import Household, HouseholdProxy
from pointsbank.database import insert_or_conflict
from pointsbank.errors import Conflict, NotFound, Unprocessable
from pointsbank.extensions import db


class ProxyNotAllowed(Unprocessable):
    code = "proxy_not_allowed"
    message = _l("Only a resident of another household or a grid worker of this community can be a proxy.")


class ProxyExists(Conflict):
    code = "proxy_exists"
    message = _l("This login is already a proxy for the household.")


class LoginNotFound(NotFound):
    code = "login_not_found"
    message = _l("There is no login %(username)s in this community.")


class ProxyNotFound(NotFound):
    code = "proxy_not_found"
    message = _l("This login is not a proxy for the household.")


def user_label(user: User) -> str:
    return f"{user.display_name} ({user.username})" if user.display_name else user.username


def household_label(household: Household) -> str:
    return f"{household.number} {household.head_name}"


def proxy_view(grant: HouseholdProxy, user: User, household: Household) -> dict[str, Any]:
    return {"id": grant.id, "household_id": grant.household_id, "household": household_label(household),
            "user_id": user.id, "username": user.username, "display_name": user.display_name, "role": user.role,
            "granted_at": grant.granted_at, "granted_by_id": grant.granted_by_id}


def _open_grant(household: Household, user_id: int) -> HouseholdProxy | None:
    return db.session.scalar(sa.select(HouseholdProxy).where(
        HouseholdProxy.community_id == household.community_id, HouseholdProxy.household_id == household.id,
        HouseholdProxy.user_id == user_id, HouseholdProxy.revoked_at.is_(None)))


def grant_proxy(actor: User, household_id: int, *, user_id: int) -> dict[str, Any]:
    """Staff of the household's community grant ``user_id`` (a resident of another household of
    the community, or one of its grid workers) the right to see and spend for it."""
    household = policy.household_for(actor, household_id, "staff")
    user = db.session.get(User, user_id)
    if user is None or user.community_id != household.community_id:
        raise NotFound()  # another community's login: as if it did not exist
    if user.role not in policy.PROXY_ROLES or not user.is_active or user.household_id == household.id:
        raise ProxyNotAllowed()
    if _open_grant(household, user.id) is not None:
        raise ProxyExists()
    grant = HouseholdProxy(community_id=household.community_id, household_id=household.id, user_id=user.id,
                           granted_by_id=actor.id, granted_at=clock.now())
    insert_or_conflict(grant, ProxyExists())
    audit.record(actor, "proxy.grant", community_id=household.community_id, target=household,
                 data={"proxy_user_id": user.id, "proxy": user_label(user), "household": household_label(household)})
    return proxy_view(grant, user, household)


def grant_proxy_by_username(actor: User, household_id: int, *, username: str) -> dict[str, Any]:
    """:func:`grant_proxy` for the login staff type on the household page (its username)."""
    household = policy.household_for(actor, household_id, "staff")
    user_id = db.session.scalar(sa.select(User.id).where(User.username == username.strip(),
                                                         User.community_id == household.community_id))
    if user_id is None:
        raise LoginNotFound(username=username.strip()[:64])
    return grant_proxy(actor, household_id, user_id=user_id)


def revoke_proxy(actor: User, household_id: int, user_id: int) -> None:
    household = policy.household_for(actor, household_id, "staff")
    grant = _open_grant(household, user_id)
    if grant is None:
        raise ProxyNotFound()
    grant.revoked_at, grant.revoked_by_id = clock.now(), actor.id
    user = db.session.get(User, user_id)
    audit.record(actor, "proxy.revoke", community_id=household.community_id, target=household,
                 data={"proxy_user_id": user_id, "proxy": user_label(user) if user else str(user_id),
                       "household": household_label(household)})
    db.session.flush()


def list_proxies(actor: User, household_id: int) -> list[dict[str, Any]]:
    """The open grants of a household (staff of its community)."""
    household = policy.household_for(actor, household_id, "admin", "staff")
    rows = db.session.execute(sa.select(HouseholdProxy, User).join(User, User.id == HouseholdProxy.user_id).where(
        HouseholdProxy.community_id == household.community_id, HouseholdProxy.household_id == household.id,
        HouseholdProxy.revoked_at.is_(None)).order_by(HouseholdProxy.id)).all()
    return [proxy_view(grant, user, household) for grant, user in rows]


def helped_households(actor: User) -> list[Household]:
    """The households ``actor`` is an open proxy for (its ``/home`` switcher), by number."""
    if actor.role not in policy.PROXY_ROLES or actor.community_id is None:
        return []
    return list(db.session.scalars(
        sa.select(Household).join(HouseholdProxy, sa.and_(HouseholdProxy.community_id == Household.community_id,
                                                          HouseholdProxy.household_id == Household.id)).where(
            HouseholdProxy.community_id == actor.community_id, HouseholdProxy.user_id == actor.id,
            HouseholdProxy.revoked_at.is_(None)).order_by(Household.number)))


# --- every use, audited ----------------------------------------------------------------------

def audit_uses(response: Response) -> Response:
    """After a request that reached a household through a grant: one ``proxy.use`` row per
    household, naming the proxy and the household, committed on its own (the request's unit of
    work has committed or rolled back by now; a read had none)."""
    uses = policy.proxy_uses()
    if not uses:
        return response
    replicas.leave()  # the audit row is written on the primary
    try:
        for user_id, household_id, community_id in uses:
            user, household = db.session.get(User, user_id), db.session.get(Household, (household_id, community_id))
            audit.record(user, "proxy.use", community_id=community_id, target_type="household",
                         target_id=household_id,
                         data={"proxy": user_label(user), "household": household_label(household),
                               "request": f"{request.method} {request.path}", "status": response.status_code})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return response


def init_app(app: Flask) -> None:
    app.after_request(audit_uses)
