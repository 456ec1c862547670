"""Helpers every page view uses: the acting user's community, actions with flash messages,
the role's home page, and the HTML error pages.

A page view is as thin as an API view::

    @bp.post("/records/<int:record_id>/approve")
    @policy.allow("staff")                      # the request hook answers 401 → /login, 403 → error page
    def approve(record_id: int):
        if attempt(records.approve_record, current_user(), record_id, success=_("Approved.")):
            ...
        return redirect(url_for(".approvals"))

``attempt`` runs the service call as one unit of work (commit once, roll back on error); a
:class:`~pointsbank.errors.DomainError` becomes a flash message with its translated text,
so the permission checks and refusals are exactly the API's.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

from flask import Response, current_app, flash, g, make_response, redirect, render_template, request, session, url_for
from markupsafe import escape

from pointsbank.auth.models import User
from pointsbank.community import services as community_services
from pointsbank.community.models import Community
from pointsbank.database import unit_of_work
from pointsbank.errors import DomainError, NotFound, Unauthorized
from pointsbank.reports.exports import attachment

log = logging.getLogger(__name__)
T = TypeVar("T")

#: where each role lands after logging in
HOME = {"admin": "staff.dashboard", "staff": "staff.dashboard", "grid_worker": "staff.dashboard",
        "resident": "resident.home", "cashier": "cashier.scan"}
#: the paths the same roles land on, for when the page module is not installed yet
HOME_PATHS = {"staff.dashboard": "/staff", "resident.home": "/home", "cashier.scan": "/shop"}


def home_url(user: User) -> str:
    endpoint = HOME.get(user.role, "account.login")
    if endpoint in current_app.view_functions:
        return url_for(endpoint)
    return HOME_PATHS.get(endpoint, "/")


def safe_next(target: str | None) -> str | None:
    """Only a path on this site (``/staff?x=1``), never ``//evil`` or ``https://…``."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def attempt(action: Callable[..., T], *args: Any, success: Any = None, **kwargs: Any) -> T | None:
    """Run ``action`` as one unit of work; a refusal becomes an error flash and ``None``."""
    try:
        result = unit_of_work(action)(*args, **kwargs)
    except DomainError as error:
        flash(error.render_message(), "error")
        return None
    if success is not None:
        flash(str(success), "success")
    return result


# --- the community a staff page works on --------------------------------------------------

def current_community(actor: User) -> Community:
    """Staff and grid workers: their own. Administrators: the one they picked (``session``),
    else the first they govern. Sets ``g.community`` and ``g.timezone`` for the templates."""
    if actor.community_id is not None:
        chosen = community_services.get_community(actor, actor.community_id)
    else:
        visible = community_services.list_communities(actor)
        if not visible:
            raise NotFound()
        wanted = session.get("community_id")
        chosen = next((c for c in visible if c.id == wanted), visible[0])
        g.communities = visible
    g.community = chosen
    g.timezone = chosen.timezone
    return chosen


# --- the rule book, for pickers and labels ----------------------------------------------------

def rule_book(actor: User, community: Community) -> dict[str, Any] | None:
    """The rule book in force today (``rules.services.current``), or ``None`` when there is none."""
    from pointsbank.rules import services as books

    try:
        return books.current(actor, community.id)
    except DomainError:
        return None


def rule_names(book: dict[str, Any] | None) -> dict[str, dict[str, str]]:
    """rule code → ``{"zh": …, "en": …}``; templates show ``rule_names.get(code)|localized or code``."""
    return {rule["code"]: rule["name"] for rule in (book or {}).get("rules", [])}


# --- files to download ----------------------------------------------------------------------

def download(exported: Any) -> Response:
    """A :class:`pointsbank.reports.exports.ExportFile` (CSV or XLSX) as an attachment: the
    reports' one export responder, :func:`pointsbank.reports.exports.attachment`."""
    return attachment(exported)


# --- HTML error pages ---------------------------------------------------------------------

def render_error(status: int, code: str, message: str, details: dict[str, Any]) -> Response:
    """Installed as ``app.extensions["pointsbank.html_errors"]``: a friendly, translated page."""
    try:
        return make_response(render_template("error.html", status=status, code=code, message=message,
                                             details=details))
    except Exception:  # the error page itself must never fail: fall back to plain HTML
        log.exception("error page failed to render")
        return make_response(f"<!doctype html><title>{status}</title><h1>{status}</h1><p>{escape(message)}</p>")


def login_redirect() -> Response:
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("account.login", next=target))


def handle_unauthorized(error: Unauthorized) -> Response:
    """A page without a session goes to the login form and comes back; the API keeps its JSON 401."""
    from pointsbank.error_handlers import handle_domain_error, wants_json

    if wants_json():
        return handle_domain_error(error)
    return login_redirect()
