"""A request's state in ``g``, and the cookie session: what every request pays, done once where it can be.

* **Forgetting the previous request's state.** In production each request pushes its own
  application context, so ``g`` starts empty. Where an app context outlives requests (tests,
  scripts) the previous request's user, community, proxy grants or chosen language would carry
  over; the packages that keep such state in ``g`` register a forgetter
  (:func:`forget_on_reuse`), and the forgetters run only when ``g`` is not empty at the start of
  a request — a production request pays one check instead of a hook per package.
* **The session.** Flask's signed cookie (:class:`CookieSessions`), with the signer built once
  per secret key (Flask builds a new one on every request), and no session at all on the
  bearer-token API under ``/api/``: no API view reads or writes the session, and an API message's
  language follows ``?lang=`` and ``Accept-Language`` (README, "Conventions").
"""

from __future__ import annotations

from typing import Any, Callable

from flask import Flask, current_app, g
from flask.sessions import SecureCookieSessionInterface

_FORGETTERS = "pointsbank.forget_on_reuse"


def forget_on_reuse(app: Flask, forget: Callable[[], None]) -> None:
    """Run ``forget()`` at the start of a request whose app context was already in use."""
    app.extensions.setdefault(_FORGETTERS, []).append(forget)


def _start_request() -> None:
    if vars(g._get_current_object()):  # a fresh context has an empty g: nothing to forget
        for forget in current_app.extensions.get(_FORGETTERS, ()):
            forget()


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, its signer kept per secret, and none on the API."""

    def __init__(self) -> None:
        self._signers: dict[tuple[Any, ...], Any] = {}

    def get_signing_serializer(self, app: Flask) -> Any:
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()),
               app.config.get("SESSION_COOKIE_NAME"))
        try:
            return self._signers[key]
        except KeyError:
            signer = self._signers[key] = super().get_signing_serializer(app)
            return signer

    def open_session(self, app: Flask, request: Any) -> Any:
        if request.path.startswith("/api/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Registered before every other request hook: the forgetters run before anyone reads ``g``."""
    app.session_interface = CookieSessions()
    app.before_request(_start_request)
