from flask.views import MethodView

from pointsbank.apispec import Blueprint
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.database import unit_of_work
from pointsbank.offline import services, sync
from pointsbank.offline.schemas import (DeviceCreateSchema, DeviceSchema, DoubleSpendPageSchema,
                                        DoubleSpendQueryArgsSchema, DoubleSpendSchema, SettleSchema, SyncResponseSchema,
                                        SyncSchema)

blp = Blueprint("offline", __name__, url_prefix="/api/v1",
                description="The shop without signal: cashiers' devices, offline sync and double spends")


@blp.route("/shops/<int:shop_id>/devices")
class ShopDevices(MethodView):
    @policy.allow("admin", "staff", "cashier")
    @blp.response(200, DeviceSchema(many=True))
    def get(self, shop_id):
        """A shop's devices, revoked ones too. Errors: 404 for a shop the caller cannot see."""
        return services.list_devices(current_user(), shop_id)

    @policy.allow("admin", "staff", "cashier")
    @unit_of_work
    @blp.arguments(DeviceCreateSchema)
    @blp.response(201, DeviceSchema)
    def post(self, data, shop_id):
        """Register a phone as a device of the shop (its cashier, or staff/admins of a partner community).

        Errors: 400 without a name; 404 for a shop the caller cannot see (a cashier: any shop but their own)."""
        return services.register_device(current_user(), shop_id, **data)


@blp.route("/devices/<int:device_id>")
class DeviceById(MethodView):
    @policy.allow("admin", "staff", "cashier")
    @unit_of_work
    @blp.response(200, DeviceSchema)
    def delete(self, device_id):
        """Revoke a device: every later sync from it is refused item by item (`device_revoked`).

        Errors: 404 `device_not_found`; 409 `device_already_revoked`."""
        return services.revoke_device(current_user(), device_id)


@blp.route("/redemptions/sync")
class RedemptionSync(MethodView):
    @policy.allow("cashier")
    @unit_of_work
    @blp.arguments(SyncSchema)
    @blp.response(200, SyncResponseSchema)
    def post(self, data):
        """Sync what the device redeemed offline: each item `accepted`, `duplicate` (same client id,
        taken once), `double_spend` (the shop is paid, the household pays) or `refused` with its reason.

        Sending the same batch again changes nothing (every item answers `duplicate`). Errors: 400 for a
        malformed body (a client id that is not a UUID, more than 200 items); 404 `device_not_found`
        for a device of another shop."""
        return sync.sync(current_user(), **data)


@blp.route("/communities/<int:community_id>/double-spends")
class DoubleSpends(MethodView):
    @policy.allow("admin", "staff")
    @blp.arguments(DoubleSpendQueryArgsSchema, location="query")
    @blp.response(200, DoubleSpendPageSchema)
    def get(self, args, community_id):
        """The vouchers of the community used twice (offline twice, or offline after online), each
        with both receipts, newest first (`status`: open (default), settled or all).

        Errors: 404 for a community outside the caller's scope."""
        return services.list_double_spends(current_user(), community_id, **args)


@blp.route("/double-spends/<int:double_spend_id>/settle")
class DoubleSpendSettle(MethodView):
    @policy.allow("admin", "staff")
    @unit_of_work
    @blp.arguments(SettleSchema)
    @blp.response(200, DoubleSpendSchema)
    def post(self, data, double_spend_id):
        """Mark a double spend followed up, with a note (audited).

        Errors: 400 without a note; 404 `double_spend_not_found`; 409 `double_spend_already_settled`."""
        return services.settle_double_spend(current_user(), double_spend_id, **data)
