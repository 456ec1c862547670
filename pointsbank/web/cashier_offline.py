"""The shop without signal in the cashier's browser (``/shop`` offline, issue 16).

* ``GET /shop/sw.js`` — the service worker (``templates/cashier/offline_sw.js``), served from
  under ``/shop`` with ``Service-Worker-Allowed: /shop`` so its scope covers ``/shop`` itself
  (not only ``/shop/…``). It precaches the scan page and every asset it loads (the list is
  rendered into the script, so a new asset is a new worker) and answers from the cache when
  the network fails. Nothing comes from another host. A logout from the scan page drops the kept
  page (``offline.js``: it does not open again without a login); the queue stays for the next login.
* ``GET /shop/offline.json`` — what the phone keeps for the hours without signal: the public
  keys of the communities the shop partners with (``keys.key_set``, as ``/api/v1/keys`` gives
  them), each community's point value and ``offline`` caps, the device (``?device_id=``; its
  ``revoked_at``), the server's time and a fresh CSRF token for the sync.
* ``POST /shop/offline/device`` ``{name}`` — the cashier names the phone once: a device of the
  shop (``offline.services.register_device``); the page keeps its id in ``localStorage``.
* ``POST /shop/offline/sync`` — the phone's queue, exactly ``POST /api/v1/redemptions/sync``
  (``offline.sync.sync``, same body, same answer) with the page's session and CSRF token: the
  bearer-token API is not for a browser.

``static/js/offline.js`` does the rest in the browser: the Ed25519 signature (WebCrypto), the
expiry, the community and the device's caps checked, the redemption queued in IndexedDB with a
client id, and synced by itself when the connection returns. Short codes cannot be checked
offline (no signature) and baskets of shelf items are online only: points only offline.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, jsonify, render_template, request, url_for
from flask_babel import gettext
from flask_wtf.csrf import generate_csrf

from pointsbank import clock
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.community.models import Community
from pointsbank.database import unit_of_work, row_by_id
from pointsbank.error_handlers import error_response
from pointsbank.extensions import db
from pointsbank.offline import services as offline_services, sync as offline_sync
from pointsbank.offline.models import Device
from pointsbank.offline.schemas import DeviceCreateSchema, SyncResponseSchema, SyncSchema
from pointsbank.redeem import keys
from pointsbank.redeem.models import ShopPartnership
from pointsbank.web.cashier_views import _shop, bp

#: bump when the worker's caching changes (the asset list is part of the script too)
SW_VERSION = "1"

#: what the scan page loads besides itself (``url_for('web.static', filename=…)``)
PAGE_ASSETS = ("css/app.css", "img/favicon.svg", "vendor/jsQR.js", "js/scan.js", "js/offline.js")


def _validation_error(errors: dict[str, Any]) -> Response:
    """400 ``validation_error`` naming the bad fields, in the page's language (as the API answers)."""
    return error_response(400, "validation_error",
                          gettext("Some fields are not valid: %(fields)s", fields=", ".join(sorted(errors))),
                          {"fields": errors})


@bp.get("/sw.js")
@policy.public
def service_worker() -> Response:
    assets = [url_for("web.static", filename=name) for name in PAGE_ASSETS]
    body = render_template("cashier/offline_sw.js", version=SW_VERSION, page=url_for("cashier.scan"),
                           assets=assets, config=url_for("cashier.offline_config"),
                           static=url_for("web.static", filename=""))
    response = Response(body, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = url_for("cashier.scan")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/offline.json")
@policy.allow("cashier")
def offline_config() -> Response:
    actor = current_user()
    shop = _shop(actor)
    partners = list(db.session.scalars(sa.select(ShopPartnership.community_id).where(
        ShopPartnership.shop_id == shop.id).order_by(ShopPartnership.community_id)))
    communities = []
    for row in db.session.execute(sa.select(Community.id, Community.name, Community.point_value_fen).where(
            Community.id.in_(partners)).order_by(Community.id)) if partners else ():
        communities.append({"id": row.id, "name": row.name, "point_value_fen": row.point_value_fen,
                            "offline": offline_services.settings_of(row.id)})
    found = [key for community_id in partners for key in keys.key_set(community_id)["keys"]]
    device = None
    device_id = request.args.get("device_id", type=int)
    if device_id:
        row = row_by_id(Device, device_id, shop.community_id)
        if row is not None and row.shop_id == shop.id:
            device = {"id": row.id, "name": row.name, "revoked": row.revoked_at is not None}
    response = jsonify({
        "shop": {"id": shop.id, "name": shop.name}, "device": device, "communities": communities,
        "keys": [{"kid": k["kid"], "x": k["x"], "crv": k["crv"], "kty": k["kty"], "community_id": k["community_id"]}
                 for k in found],
        "server_time": clock.now().isoformat(), "csrf_token": generate_csrf()})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/offline/device")
@policy.allow("cashier")
def offline_register_device() -> Any:
    actor = current_user()
    shop = _shop(actor)
    data = request.get_json(silent=True) or {}
    errors = DeviceCreateSchema().validate(data)
    if errors:
        return _validation_error(errors)
    device = unit_of_work(offline_services.register_device)(actor, shop.id, name=data["name"])
    return jsonify({"id": device["id"], "name": device["name"], "shop_id": device["shop_id"]}), 201


@bp.post("/offline/sync")
@policy.allow("cashier")
def offline_sync_queue() -> Any:
    actor = current_user()
    _shop(actor)
    schema = SyncSchema()
    errors = schema.validate(request.get_json(silent=True) or {})
    if errors:
        return _validation_error(errors)
    data = schema.load(request.get_json())
    answer = unit_of_work(offline_sync.sync)(actor, **data)  # 404 device_not_found: another shop's
    return jsonify(SyncResponseSchema().dump(answer))
