"""One error format for the whole API: the error handlers.

Every error answers ``{"error": {"code": "...", "message": "...", "details": {...}}}`` with
the right status. The :class:`~pointsbank.errors.DomainError` a service raises, HTTP errors
from Flask, webargs validation and unexpected exceptions are turned into the same shape here,
so a client never parses two formats.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from flask import Flask, Response, current_app, jsonify, request
from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from pointsbank.errors import DomainError

log = logging.getLogger(__name__)


HTTP_CODES = {
    400: ("bad_request", _l("The request is not valid.")),
    401: ("unauthorized", _l("Please log in: the token is missing, expired or revoked.")),
    403: ("forbidden", _l("Your role may not do this.")),
    404: ("not_found", _l("Not found.")),
    405: ("method_not_allowed", _l("This method is not allowed here.")),
    413: ("payload_too_large", _l("The request body is too large.")),
    415: ("unsupported_media_type", _l("This content type is not supported here.")),
    422: ("validation_error", _l("Some fields are not valid.")),
    429: ("too_many_attempts", _l("Too many attempts; please wait and try again.")),
    500: ("internal_error", _l("Something went wrong on our side; nothing was changed.")),
    503: ("service_unavailable", _l("The service is unavailable; please try again in a moment.")),
}

#: Pages (not the API) may install a renderer for HTML error pages: (status, code, message, details) -> Response
HtmlRenderer = Callable[[int, str, str, dict[str, Any]], Response]


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    renderer: HtmlRenderer | None = current_app.extensions.get("pointsbank.html_errors")
    if renderer is not None and not wants_json():
        response = renderer(status, code, message, details or {})
    else:
        response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz" or (
        request.accept_mimetypes.best == "application/json")


def handle_domain_error(error: DomainError) -> Response:
    return error_response(error.status, error.code, error.render_message(), error.details, error.headers)


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    code, message = HTTP_CODES.get(status, ("http_error", error.description or error.name))
    details: dict[str, Any] = {}
    headers: dict[str, str] = {}
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") or data.get("errors")
    if messages:
        fields = _flatten_locations(messages)
        details["fields"] = fields
        code = "validation_error"
        if status == 400 and "json" in messages and "_schema" in fields and len(fields) == 1:
            code = "malformed_body"
        message = gettext("Some fields are not valid: %(fields)s", fields=", ".join(sorted(fields)))
    if data.get("headers"):
        headers.update(data["headers"])
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return error_response(status, code, str(message), details, headers)


def _flatten_locations(messages: dict[str, Any]) -> dict[str, Any]:
    """webargs nests errors under the location (json, query, files); clients want field names."""
    fields: dict[str, Any] = {}
    for location, value in messages.items():
        if isinstance(value, dict) and location in {"json", "query", "querystring", "form", "files", "headers", "view_args", "path"}:
            fields.update(value)
        else:
            fields[location] = value
    return fields


def handle_database_unavailable(error: Exception) -> Response:
    log.warning("database unavailable: %s", error)
    code, message = HTTP_CODES[503]
    return error_response(503, "database_unavailable", str(message), {}, {"Retry-After": "2"})


def handle_unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    log.exception("unhandled error on %s %s", request.method, request.path)
    code, message = HTTP_CODES[500]
    return error_response(500, code, str(message))


#: the largest value of PostgreSQL's ``integer``: most ids are ``integer`` columns
INT4_MAX = 2**31 - 1


def handle_data_error(error: sa_exc.DataError) -> Response:
    """A value the database cannot take: an id beyond its column's range, a NUL character, a
    string too long, a date out of range. That is bad input, never a 500: an id in the path
    that cannot exist is simply not found (404), anything else is a 400 that names no column."""
    log.info("value refused by the database on %s %s: %s", request.method, request.path,
             str(getattr(error, "orig", error)).splitlines()[0][:200])
    from pointsbank.extensions import db

    db.session.rollback()  # the database aborted the transaction; the session must not carry it on
    path_ids = [v for v in (request.view_args or {}).values() if isinstance(v, int)]
    if any(v > INT4_MAX or v < -INT4_MAX - 1 for v in path_ids):
        code, message = HTTP_CODES[404]
        return error_response(404, code, str(message))
    return error_response(400, "invalid_value", str(_l("A value in the request is out of range or not allowed "
                                                       "(too large a number, a NUL character, too long a text).")))


def register_errorhandlers(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(sa_exc.DataError, handle_data_error)
    app.register_error_handler(sa_exc.OperationalError, _operational_or_500)
    app.register_error_handler(sa_exc.InterfaceError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected)


def _operational_or_500(error: sa_exc.OperationalError) -> Response:
    from pointsbank.database import is_connection_error

    if is_connection_error(error):
        return handle_database_unavailable(error)
    return handle_unexpected(error)
