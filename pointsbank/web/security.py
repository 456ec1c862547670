"""Security of the pages: headers on every response, CSRF on every form.

* Every response (pages, API, static files) carries a Content-Security-Policy that allows
  nothing but the app's own origin — no inline scripts, no inline ``style=""`` attributes,
  no CDN — plus ``X-Content-Type-Options``, ``Referrer-Policy``, ``X-Frame-Options: DENY``
  and a ``Permissions-Policy`` that lets only our own pages use the camera (the cashier's
  scanner), ``Cross-Origin-Opener-Policy`` and ``Cross-Origin-Resource-Policy`` (no other
  site may embed our files), and on HTTPS ``Strict-Transport-Security``. So: JavaScript
  lives in ``static/js/*.js``, styles in ``static/css/app.css``.
* CSRF: every non-GET request to a page must carry the form's ``csrf_token`` (or the
  ``X-CSRFToken`` header for ``fetch``). The JSON API under ``/api/`` is exempt: it
  authenticates with bearer tokens, which a browser never sends on its own.
* Pages for a logged-in user are ``Cache-Control: no-store``: a shared phone's back button
  must not show the previous user's balance after logout.
"""

from __future__ import annotations

from typing import Any, Callable

from flask import Flask, Response, current_app, g, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError

from pointsbank.error_handlers import error_response
from pointsbank.extensions import csrf

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

#: sent only over HTTPS (a browser ignores it on plain HTTP, and a village office's test server may have no TLS)
STRICT_TRANSPORT_SECURITY = "max-age=31536000"

CSRF_FAILED = _l("This form has expired or was not sent by this site. Please go back, reload the page and try again.")


#: the headers as they are added when a response lacks them (compared by lower-case name)
_MISSING = tuple((name.lower(), name, value) for name, value in HEADERS.items())


class SecurityHeaders:
    """WSGI middleware adding :data:`HEADERS` (and HSTS on HTTPS) to every response that lacks
    them, in one pass over the plain list handed to ``start_response``: in an ``after_request``
    hook werkzeug's ``Headers`` validated each constant value again on every response. It wraps
    Flask's own ``wsgi_app`` (inside ``ProxyFix``, so the scheme is the client's)."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        secure = environ.get("wsgi.url_scheme") in ("https", "wss")

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            headers.extend([(name, value) for key, name, value in _MISSING if key not in present])
            if secure and "strict-transport-security" not in present:
                headers.append(("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY))
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


def no_store_for_logged_in_pages(response: Response) -> Response:
    if not request.path.startswith("/api/") and g.get("user") is not None and response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


def protect_pages() -> None:
    """CSRF for everything but the bearer-token API (Flask-WTF's own default check is off)."""
    if not request.path.startswith("/api/") and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


def csrf_failed(error: CSRFError) -> Response:
    return error_response(400, "csrf_failed", str(CSRF_FAILED), {"reason": error.description})


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # set by csrf.init_app; we check in protect_pages
    app.before_request(protect_pages)
    app.after_request(no_store_for_logged_in_pages)
    app.wsgi_app = SecurityHeaders(app.wsgi_app)  # type: ignore[method-assign]
    app.register_error_handler(CSRFError, csrf_failed)
