"""Wires the pages into the app: ``create_app`` calls :func:`init_app` (``PAGE_MODULES``).

Blueprints by audience, each in its own module (``BLUEPRINT_MODULES``): the login, the staff
back office, and — once their modules exist — the resident's, the cashier's and the public
notice board. A missing module is skipped, so each audience can land on its own.
"""

from __future__ import annotations

import importlib

from flask import Blueprint, Flask, current_app, g

from pointsbank.auth import policy
from pointsbank.auth.current import optional_user
from pointsbank.errors import Unauthorized
from pointsbank.request_state import forget_on_reuse
from pointsbank.web import i18n, pages, security

#: the package's static files (``url_for("web.static", filename=…)`` → ``/assets/…``) and templates
web = Blueprint("web", "pointsbank.web", static_folder="static", static_url_path="/assets",
                template_folder="templates")

#: modules exposing ``bp`` (a Flask Blueprint), registered in this order
BLUEPRINT_MODULES = (
    "pointsbank.web.auth_views",
    "pointsbank.web.staff_blueprint",  # the routes of ROUTE_MODULES below: one blueprint
    "pointsbank.web.resident_views",
    "pointsbank.web.cashier_views",
    "pointsbank.web.notice_views",
    "pointsbank.web.shelf_views",
)

#: the modules that attach their routes to a blueprint module's ``bp``, imported before it is registered
ROUTE_MODULES = {
    "pointsbank.web.staff_blueprint": ("pointsbank.web.staff_views", "pointsbank.web.staff_records",
                                       "pointsbank.web.staff_queues", "pointsbank.web.staff_admin",
                                       "pointsbank.web.staff_regions", "pointsbank.web.staff_shelf",
                                       "pointsbank.web.staff_households", "pointsbank.web.staff_cards",
                                       "pointsbank.web.staff_offline"),
    "pointsbank.web.notice_views": ("pointsbank.web.region_board",),
    "pointsbank.web.resident_views": ("pointsbank.web.resident_shelf", "pointsbank.web.resident_inbox"),
    "pointsbank.web.cashier_views": ("pointsbank.web.cashier_shelf", "pointsbank.web.cashier_cards",
                                     "pointsbank.web.cashier_offline"),
}


#: what the pages keep in ``g`` during one request
REQUEST_STATE = ("community", "communities", "timezone", "csrf_token")


def _fresh_request_state() -> None:
    """Per-request state starts empty. In production ``g`` is new for each request anyway; when
    an app context was already pushed (tests, scripts) it would carry the previous request's
    community and CSRF token over (run then only: :func:`pointsbank.request_state.forget_on_reuse`)."""
    for name in REQUEST_STATE:
        g.pop(name, None)


def init_app(app: Flask) -> None:
    forget_on_reuse(app, _fresh_request_state)
    security.init_app(app)
    i18n.init_app(app)
    app.extensions["pointsbank.html_errors"] = pages.render_error
    app.register_error_handler(Unauthorized, pages.handle_unauthorized)
    app.context_processor(_template_context)
    for predicate in policy.DECISION_PREDICATES:  # the pages ask the services' four-eyes rules
        app.add_template_global(predicate)
    app.register_blueprint(web)
    for name in BLUEPRINT_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        for routes in ROUTE_MODULES.get(name, ()):
            importlib.import_module(routes)
        app.register_blueprint(module.bp)


def _template_context() -> dict:
    return {"user": optional_user(), "community": g.get("community"), "communities": g.get("communities"),
            "has_endpoint": _has_endpoint}


def _has_endpoint(endpoint: str) -> bool:
    """Whether a page exists (a nav entry shows only once its module has landed)."""
    return endpoint in current_app.view_functions
