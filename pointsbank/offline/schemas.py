import marshmallow as ma
from marshmallow import validate

from pointsbank.pagination import CursorArgsSchema, page_schema
from pointsbank.redeem.schemas import POINTS, ReceiptSchema

UUID = validate.Regexp(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$",
                       error="a UUID, e.g. 0b5e8f0a-3c1d-4b7e-9a55-2f1c0d9e8a71")


class OfflineSettingsSchema(ma.Schema):
    enabled = ma.fields.Boolean(metadata={"description": "cashiers' registered phones may redeem without signal"})
    max_points_per_device = ma.fields.Integer(validate=validate.Range(min=1, max=1_000_000), metadata={
        "description": "points a device may hold redeemed offline and not yet synced"})
    max_hours = ma.fields.Integer(validate=validate.Range(min=1, max=24 * 14), metadata={
        "description": "an offline redemption must be synced within this many hours"})


class DeviceCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100),
                            metadata={"description": "what the cashier calls the phone, e.g. 收银台手机"})


class DeviceSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    shop_id = ma.fields.Integer()
    community_id = ma.fields.Integer(metadata={"description": "the shop's home community"})
    created_at = ma.fields.AwareDateTime()
    created_by_id = ma.fields.Integer(allow_none=True)
    revoked_at = ma.fields.AwareDateTime(allow_none=True)
    revoked_by_id = ma.fields.Integer(allow_none=True)


class SyncItemSchema(ma.Schema):
    client_id = ma.fields.String(required=True, validate=UUID, metadata={"description": "the phone's UUID for it"})
    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=512),
                            metadata={"description": "the scanned voucher token (short codes are refused offline)"})
    points = ma.fields.Integer(required=True, validate=POINTS)
    redeemed_at = ma.fields.AwareDateTime(required=True, metadata={"description": "the moment on the phone"})


class SyncSchema(ma.Schema):
    device_id = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    redemptions = ma.fields.List(ma.fields.Nested(SyncItemSchema), required=True,
                                 validate=validate.Length(max=200))


class SyncResultSchema(ma.Schema):
    client_id = ma.fields.String()
    status = ma.fields.String(metadata={"description": "accepted, duplicate, double_spend or refused"})
    reason = ma.fields.String(allow_none=True, metadata={"description": "why refused, or what the voucher was"})
    message = ma.fields.String(metadata={"description": "the reason in the caller's language"})
    original_status = ma.fields.String(allow_none=True, metadata={"description": "duplicate: what it was"})
    points = ma.fields.Integer()
    voucher_id = ma.fields.String(allow_none=True)
    offline_redemption_id = ma.fields.Integer(allow_none=True)
    redemption_id = ma.fields.Integer(allow_none=True)


class SyncCountsSchema(ma.Schema):
    accepted = ma.fields.Integer()
    duplicate = ma.fields.Integer()
    double_spend = ma.fields.Integer()
    refused = ma.fields.Integer()


class SyncResponseSchema(ma.Schema):
    device_id = ma.fields.Integer()
    synced_at = ma.fields.AwareDateTime()
    counts = ma.fields.Nested(SyncCountsSchema)
    results = ma.fields.List(ma.fields.Nested(SyncResultSchema), metadata={"description": "in the order sent"})


class FirstReceiptSchema(ReceiptSchema):
    offline = ma.fields.Boolean(metadata={"description": "it came from an offline sync too"})
    device_id = ma.fields.Integer(allow_none=True)


class OfflineReceiptSchema(ma.Schema):
    id = ma.fields.Integer()
    client_id = ma.fields.String()
    device_id = ma.fields.Integer()
    device_name = ma.fields.String(allow_none=True)
    shop_id = ma.fields.Integer()
    shop_name = ma.fields.String(allow_none=True)
    voucher_id = ma.fields.String(allow_none=True)
    household_id = ma.fields.Integer(allow_none=True)
    points = ma.fields.Integer()
    value_fen = ma.fields.Integer(allow_none=True)
    redeemed_at = ma.fields.AwareDateTime()
    synced_at = ma.fields.AwareDateTime()
    status = ma.fields.String()
    reason = ma.fields.String(allow_none=True)
    redemption_id = ma.fields.Integer(allow_none=True)
    transaction_id = ma.fields.Integer(allow_none=True)


class DoubleSpendSchema(ma.Schema):
    id = ma.fields.Integer()
    community_id = ma.fields.Integer()
    voucher_id = ma.fields.String()
    household_id = ma.fields.Integer()
    points = ma.fields.Integer(metadata={"description": "what the household paid with its offline_overdraft"})
    reason = ma.fields.String(metadata={"description": "voucher_already_redeemed, voucher_cancelled or points_returned"})
    first = ma.fields.Nested(FirstReceiptSchema, allow_none=True,
                             metadata={"description": "the receipt that closed the voucher first (none if it went home)"})
    second = ma.fields.Nested(OfflineReceiptSchema, metadata={"description": "the offline receipt synced after it"})
    settled_at = ma.fields.AwareDateTime(allow_none=True)
    settled_by_id = ma.fields.Integer(allow_none=True)
    settle_note = ma.fields.String(allow_none=True)


DoubleSpendPageSchema = page_schema(DoubleSpendSchema, "DoubleSpendPage")


class DoubleSpendQueryArgsSchema(CursorArgsSchema):
    status = ma.fields.String(load_default="open", validate=validate.OneOf(["open", "settled", "all"]))


class SettleSchema(ma.Schema):
    note = ma.fields.String(required=True, validate=validate.Length(min=1, max=500),
                            metadata={"description": "how it was followed up"})
