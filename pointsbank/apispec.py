"""flask-smorest adapted to the house conventions.

* validation errors answer **400** (DESIGN.md: 400 bad input), not webargs' default 422;
* every operation documents the one error shape (:class:`ErrorSchema`) as its default response;
* the bearer-token scheme is declared once and applies to every route that does not opt out;
* the ``414`` that the HTTP server answers for an over-long request line is documented on every
  operation (schemathesis' negative inputs reach it; it is the server's page, not the app's).
"""

from __future__ import annotations

import marshmallow as ma
import flask_smorest
from apispec import BasePlugin
from webargs.flaskparser import FlaskParser


class ErrorBodySchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "stable machine-readable error code, e.g. `voucher_already_redeemed`"})
    message = ma.fields.String(required=True, metadata={"description": "human-readable message in the caller's language"})
    details = ma.fields.Dict(required=True, metadata={"description": "structured details, e.g. `fields` for validation errors"})


class ErrorSchema(ma.Schema):
    error = ma.fields.Nested(ErrorBodySchema, required=True)


class Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def errors(self, *pairs: tuple[int, str]):
        """Document the refusals an operation may answer: ``@blp.errors((404, "`not_found`: …"), …)``,
        each with the error body (:class:`ErrorSchema`)."""
        def decorate(fn):
            for status, description in reversed(pairs):
                fn = self.alt_response(status, schema=ErrorSchema, description=description)(fn)
            return fn
        return decorate


PUBLIC = {"security": []}  # @blp.doc(**PUBLIC) for routes that need no token


#: gunicorn's ``limit_request_line`` (its default): a longer request line never reaches the app
REQUEST_LINE_LIMIT = 4094
URI_TOO_LONG = {
    "description": f"The request line (method, path and query) is longer than the HTTP server takes "
                   f"({REQUEST_LINE_LIMIT} bytes under gunicorn); the server refuses it before the app sees it, "
                   "with its own plain HTML page rather than the JSON error shape.",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


class ServerLimitsPlugin(BasePlugin):
    """Documents, on every operation, the answers of the HTTP server itself (``414``)."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            operation.setdefault("responses", {}).setdefault("414", "URI_TOO_LONG")


class PointsbankApi(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def init_app(self, app, *, spec_kwargs=None):
        spec_kwargs = dict(spec_kwargs or {})
        spec_kwargs["extra_plugins"] = [*spec_kwargs.get("extra_plugins", ()), ServerLimitsPlugin()]
        super().init_app(app, spec_kwargs=spec_kwargs)
        self.spec.components.response("URI_TOO_LONG", URI_TOO_LONG)
        self.spec.components.security_scheme(
            "bearerAuth", {"type": "http", "scheme": "bearer", "description": "a token from `POST /api/v1/auth/tokens`"}
        )
        self.spec.options["security"] = [{"bearerAuth": []}]
