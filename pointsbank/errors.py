"""The exceptions a use case raises when it refuses.

Services raise :class:`DomainError` subclasses (named after what went wrong, each with its own
``code``, status and translated message). This module is a leaf: it imports nothing of the
package (no database, no Flask app), so any module may import it. The handlers that turn these,
HTTP errors and unexpected exceptions into the one JSON error format are in
:mod:`pointsbank.error_handlers`.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l


class DomainError(Exception):
    """A use case refused; ``code`` is stable and machine-readable, ``message`` translated."""

    status = 400
    code = "bad_request"
    message: Any = _l("The request is not valid.")
    #: commit what the use case flushed before refusing (e.g. a recorded failed attempt)
    keeps_changes = False

    def __init__(self, message: Any = None, *, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None, **params: Any) -> None:
        if message is not None:
            self.message = message
        self.details = details or {}
        self.headers = headers or {}
        self.params = params
        super().__init__(str(self.code))

    def render_message(self) -> str:
        text = str(self.message)
        if self.params:
            try:
                text = text % self.params
            except (KeyError, TypeError, ValueError):
                pass
        return text


class BadRequest(DomainError):
    status, code, message = 400, "bad_request", _l("The request is not valid.")


class Unauthorized(DomainError):
    status, code, message = 401, "unauthorized", _l("Please log in: the token is missing, expired or revoked.")


class Forbidden(DomainError):
    status, code, message = 403, "forbidden", _l("Your role may not do this.")


class NotFound(DomainError):
    status, code, message = 404, "not_found", _l("Not found.")


class Conflict(DomainError):
    status, code, message = 409, "conflict", _l("This conflicts with the current state.")


class Unprocessable(DomainError):
    status, code, message = 422, "not_allowed", _l("The request is well-formed but not allowed.")


class TooManyAttempts(DomainError):
    status, code, message = 429, "too_many_attempts", _l("Too many attempts; please wait and try again.")
    keeps_changes = True

    def __init__(self, retry_after: int, **kwargs: Any) -> None:
        super().__init__(headers={"Retry-After": str(max(1, int(retry_after)))},
                         details={"retry_after": max(1, int(retry_after))}, **kwargs)


class ServiceBusy(DomainError):
    status, code, message = 503, "service_busy", _l("The service is busy; please try again in a moment.")

    def __init__(self, retry_after: int = 1, **kwargs: Any) -> None:
        super().__init__(headers={"Retry-After": str(retry_after)}, **kwargs)
