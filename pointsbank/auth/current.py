"""Who is calling: resolved once per request, before the view runs.

API calls authenticate with ``Authorization: Bearer TOKEN``; pages with the session cookie
(``web``). The hook also enforces the roles a route declares with ``policy.allow`` — before
the body is parsed, so a caller without the role learns nothing from validation errors.
"""

from __future__ import annotations

from typing import Any, Iterable, NamedTuple

from flask import Flask, current_app, g, request, session

from pointsbank.auth import policy, services
from pointsbank.auth.models import User
from pointsbank import replicas
from pointsbank.database import start_read_only
from pointsbank.errors import Forbidden, Unauthorized
from pointsbank.request_state import forget_on_reuse
from pointsbank.extensions import db


def current_user() -> User:
    user = g.get("user")
    if user is None:
        raise Unauthorized()
    return user


def optional_user() -> User | None:
    return g.get("user")


def _load_user() -> None:
    g.user = None
    route = _route(request.endpoint, request.method)
    if route is not None and route.read_only:
        start_read_only()  # before the token check: its statement is the request's first
    api = request.path.startswith("/api/")
    if api:
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer " and header[7:].strip():
            try:
                g.user = services.user_for_token(header[7:].strip())
            except Unauthorized:
                g.user = None
                g.auth_failed = True
    else:
        user_id = session.get("user_id")
        if user_id is not None:
            user = db.session.get(User, user_id)
            if user is not None and user.is_active and session.get("auth_epoch") == _epoch(user):
                g.user = user

    if route is None or request.method == "OPTIONS":
        return
    if not (route.public or route.roles is None):
        if g.user is None:
            raise Unauthorized()
        if g.user.role not in route.roles:
            raise Forbidden()
    if api:  # pages keep their ORM login attached to the primary's session
        replicas.route(route.method, g.user)


class _Route(NamedTuple):
    """What the hook needs of a view method, read once per (endpoint, method) and app."""

    method: Any
    roles: Iterable[str] | None
    public: bool
    read_only: bool


def _route(endpoint: str | None, method: str) -> _Route | None:
    routes = current_app.extensions["pointsbank.routes"]
    try:
        return routes[endpoint, method]
    except KeyError:
        view = current_app.view_functions.get(endpoint or "")
        found = None
        if view is not None:
            fn = policy.view_method(view, method)
            roles, public = policy.roles_of(view, method)
            found = _Route(fn, roles, public, bool(getattr(fn, "_pb_read_only", False)))
        routes[endpoint, method] = found
        return found


def _forget_failed_login() -> None:
    g.pop("auth_failed", None)


def _epoch(user: User) -> str:
    """Changes when the password changes, so old sessions die with it."""
    return user.password_hash[-16:]


def login_session(user: User) -> None:
    session.clear()
    session["user_id"] = user.id
    session["auth_epoch"] = _epoch(user)
    session.permanent = True


def init_app(app: Flask) -> None:
    app.extensions["pointsbank.routes"] = {}
    forget_on_reuse(app, _forget_failed_login)
    app.before_request(_load_user)
    replicas.init_app(app)
