"""flask-smorest adapted to the house conventions.

* validation errors answer **400** (DESIGN.md: 400 bad input), not webargs' default 422;
* every operation documents the one error shape (:class:`ErrorSchema`) as its default response;
* the bearer-token scheme is declared once and applies to every route that does not opt out.
"""

from __future__ import annotations

import marshmallow as ma
import flask_smorest
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


PUBLIC = {"security": []}  # @blp.doc(**PUBLIC) for routes that need no token


class PointsbankApi(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def init_app(self, app, *, spec_kwargs=None):
        super().init_app(app, spec_kwargs=spec_kwargs)
        self.spec.components.security_scheme(
            "bearerAuth", {"type": "http", "scheme": "bearer", "description": "a token from `POST /api/v1/auth/tokens`"}
        )
        self.spec.options["security"] = [{"bearerAuth": []}]
