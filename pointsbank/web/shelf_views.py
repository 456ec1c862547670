"""The pages' own copy of the shelf's item photos (``/shelf/items/<id>/photo``): the API's
``GET /items/{id}/photo`` behind the page session, for every login that may read the item
(staff, residents of a partner community, the shop's cashiers). The routes of the shelf's
pages themselves attach to their audience's blueprint: ``staff_shelf`` (``/staff/shelf…``),
``resident_shelf`` (``/home/shelf…``) and ``cashier_shelf`` (``/shop/basket``, ``/shop/collect``).
"""

from __future__ import annotations

from flask import Blueprint, Response, send_file

from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.shelf import services

bp = Blueprint("shelf", __name__, url_prefix="/shelf")


@bp.get("/items/<int:item_id>/photo")
@policy.allow("admin", "staff", "grid_worker", "resident", "cashier")
def item_photo(item_id: int) -> Response:
    found, path = services.photo_of(current_user(), item_id)
    response = send_file(path, mimetype=found.content_type, etag=found.sha256, max_age=0, conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    return response
