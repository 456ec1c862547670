"""``GET /healthz``: 200 when the app and its database answer, 503 otherwise."""

from flask import Blueprint, jsonify

from pointsbank.database import dialect_name, ping

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    ping()
    return jsonify({"status": "ok", "database": dialect_name()})
