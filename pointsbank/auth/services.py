"""Logins, tokens and users.

Tokens are 32 random bytes (URL-safe text); only their SHA-256 is stored, so a leaked
database does not leak working tokens. Passwords are hashed with werkzeug's scrypt scheme.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import make_transient_to_detached
from werkzeug.security import check_password_hash, generate_password_hash

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy, throttle
from pointsbank.auth.models import ROLES, ApiToken, User, UserGrid
from pointsbank.community.models import Community, Grid, Household, Region
from pointsbank.errors import BadRequest, Conflict, NotFound, Unauthorized
from pointsbank.database import execute, row_by_id
from pointsbank.extensions import db


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    message = _l("Wrong username or password.")
    keeps_changes = True  # the failed attempt is recorded for the throttle


class InvalidScope(BadRequest):
    code = "invalid_scope"


@dataclass
class IssuedToken:
    token: str
    user: User
    expires_at: object


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def verify_password(username: str, password: str, address: str | None) -> User:
    """The active user with these credentials, or a refusal; failures are throttled per
    username and per client address."""
    cfg = current_app.config
    window = int(cfg["LOGIN_WINDOW_MINUTES"]) * 60
    username = username.strip()
    throttle.check("login:user", username.lower(), int(cfg["LOGIN_MAX_FAILURES"]), window)
    if address:
        throttle.check("login:addr", address, int(cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"]), window)
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None or not user.is_active or not check_password_hash(user.password_hash, password):
        throttle.hit("login:user", username.lower())
        if address:
            throttle.hit("login:addr", address)
        raise InvalidCredentials()
    return user


def issue_token(username: str, password: str, address: str | None = None) -> IssuedToken:
    user = verify_password(username, password, address)
    raw = secrets.token_urlsafe(32)
    expires_at = clock.now() + timedelta(hours=int(current_app.config["TOKEN_TTL_HOURS"]))
    db.session.add(ApiToken(user_id=user.id, token_hash=hash_token(raw), expires_at=expires_at))
    db.session.flush()
    return IssuedToken(token=raw, user=user, expires_at=expires_at)


@functools.lru_cache(maxsize=1)
def _token_statement() -> sa.Select:
    """Built once: constructing the statement cost as much CPU as running it, on every API call.
    A Core statement (the user's columns and the token's id): loading an ORM entity through the
    session cost a sixth of a balance read's CPU."""
    users, tokens = User.__table__, ApiToken.__table__
    return sa.select(*users.c, tokens.c.id.label("pb_token_id")).select_from(
        users.join(tokens, tokens.c.user_id == users.c.id)).where(
        tokens.c.token_hash == sa.bindparam("token_hash"),
        tokens.c.revoked_at.is_(None),
        tokens.c.expires_at > sa.bindparam("now", type_=tokens.c.expires_at.type),
        users.c.is_active.is_(True),
    )


def user_for_token(raw: str) -> User:
    """The active user of an unexpired, unrevoked token. The user is built from the row and
    marked as a detached instance of its database row (``make_transient_to_detached``): it is
    not in the session's identity map, and if something ever added it to a session it would be
    the existing row, never a new one."""
    row = execute(_token_statement(), {"token_hash": hash_token(raw), "now": clock.now()}).first()
    if row is None:
        raise Unauthorized()
    values = row._asdict()
    token_id = values.pop("pb_token_id")
    user = User(**values)
    make_transient_to_detached(user)
    user.current_token_id = token_id  # type: ignore[attr-defined]
    return user


def revoke_token(actor: User) -> None:
    token_id = getattr(actor, "current_token_id", None)
    if token_id is None:
        raise Unauthorized()
    db.session.execute(sa.update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=clock.now()))


def create_user(actor: User | None, *, role: str, username: str, password: str,
                community_code: str | None = None, community_id: int | None = None,
                household_id: int | None = None, shop_id: int | None = None,
                region_code: str | None = None, grid_names: list[str] | None = None,
                display_name: str | None = None) -> User:
    """Create a login. ``actor`` is ``None`` for the command line (the machine's operator)."""
    if role not in ROLES:
        raise InvalidScope(_l("Unknown role %(role)s."), role=role)
    if len(password) < 8:
        raise BadRequest(_l("A password needs at least 8 characters."), details={"fields": {"password": ["too short"]}})
    if db.session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise Conflict(_l("The username %(username)s is taken."), username=username)
    community = None
    if community_code:
        community = db.session.scalar(sa.select(Community).where(Community.code == community_code))
        if community is None:
            raise NotFound(_l("No community with code %(code)s."), code=community_code)
    elif community_id is not None:
        community = db.session.get(Community, community_id)
        if community is None:
            raise NotFound()
    household = (row_by_id(Household, household_id, community.id if community is not None else None)
                 if household_id is not None else None)
    if household_id is not None and household is None:
        raise NotFound(_l("No household with id %(id)s."), id=household_id)
    if household is not None:
        if community is None:
            community = household.community
        elif community.id != household.community_id:
            raise InvalidScope(_l("The household is not in that community."))
    region = None
    if region_code:
        region = db.session.scalar(sa.select(Region).where(Region.code == region_code))
        if region is None:
            raise NotFound(_l("No region with code %(code)s."), code=region_code)
    if shop_id is not None:
        from pointsbank.redeem.models import Shop

        if db.session.get(Shop, shop_id) is None:
            raise NotFound(_l("No shop with id %(id)s."), id=shop_id)

    if role in ("staff", "grid_worker", "resident") and community is None:
        raise InvalidScope(_l("A %(role)s login needs a community."), role=role)
    if role == "resident" and household is None:
        raise InvalidScope(_l("A resident login needs a household."))
    if role == "cashier" and shop_id is None:
        raise InvalidScope(_l("A cashier login needs a shop."))
    if actor is not None:
        _check_may_create(actor, role, community, shop_id)

    user = User(username=username, password_hash=generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"]), role=role,
                display_name=display_name, region_id=region.id if region else None,
                community_id=community.id if community is not None and role != "admin" else None,
                household_id=household.id if household is not None else None,
                shop_id=shop_id if role == "cashier" else None)
    db.session.add(user)
    db.session.flush()
    for name in grid_names or []:
        if community is None:
            raise InvalidScope(_l("Grids need a community."))
        grid = db.session.scalar(sa.select(Grid).where(Grid.community_id == community.id, Grid.name == name))
        if grid is None:
            grid = Grid(community_id=community.id, name=name)
            db.session.add(grid)
            db.session.flush()
        db.session.add(UserGrid(user_id=user.id, grid_id=grid.id, community_id=community.id))
    audit.record(actor, "user.create", community_id=user.community_id, target=user,
                 data={"username": username, "role": role})
    db.session.flush()
    return user


def _check_may_create(actor: User, role: str, community: Community | None, shop_id: int | None) -> None:
    """Admins create logins within their regions; staff only non-admin logins of their own community
    (a cashier: for a shop partnered with it)."""
    policy.require_role(actor, "admin", "staff")
    if actor.role == "staff" and role == "admin":
        raise InvalidScope(_l("Staff cannot create administrators."))
    if community is not None:
        policy.community_for(actor, community.id, "admin", "staff")
    if role == "cashier" and shop_id is not None:
        from pointsbank.redeem.models import ShopPartnership

        partners = db.session.scalars(sa.select(ShopPartnership.community_id).where(ShopPartnership.shop_id == shop_id))
        if not any(policy.community_visible(actor, db.session.get(Community, cid)) for cid in partners):
            raise NotFound()
    elif role == "admin" and actor.region_id is not None:
        raise InvalidScope(_l("Only a top-level administrator may create administrators."))
