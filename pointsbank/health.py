"""``GET /healthz``: 200 when the app and its database answer, 503 otherwise."""

import sqlalchemy as sa
from flask import Blueprint, jsonify

from pointsbank.database import dialect_name, start_read_only
from pointsbank.extensions import db

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    start_read_only()
    db.session.execute(sa.text("SELECT 1"))
    return jsonify({"status": "ok", "database": dialect_name()})
