import marshmallow as ma
from marshmallow import validate

from pointsbank.pagination import CursorArgsSchema, page_schema
from pointsbank.shelf import schemas as shelf_schemas

POINTS = validate.Range(min=1, max=1_000_000)


# --- shops ---------------------------------------------------------------------------------

class ShopCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    address = ma.fields.String(validate=validate.Length(max=255))


class ShopSchema(ma.Schema):
    id = ma.fields.Integer()
    community_id = ma.fields.Integer(metadata={"description": "the community that registered the shop"})
    name = ma.fields.String()
    address = ma.fields.String(allow_none=True)
    is_active = ma.fields.Boolean()
    created_at = ma.fields.AwareDateTime()
    partner_community_ids = ma.fields.List(ma.fields.Integer(),
                                           metadata={"description": "communities whose vouchers it redeems"})


class CashierSchema(ma.Schema):
    id = ma.fields.Integer()
    username = ma.fields.String()
    display_name = ma.fields.String(allow_none=True)
    is_active = ma.fields.Boolean()


class ShopDetailSchema(ShopSchema):
    cashiers = ma.fields.List(ma.fields.Nested(CashierSchema), metadata={"description": "its cashier logins"})


class PartnerCreateSchema(ma.Schema):
    community_id = ma.fields.Integer(required=True, strict=True)


class PartnershipSchema(ma.Schema):
    shop_id = ma.fields.Integer()
    community_id = ma.fields.Integer()
    account_id = ma.fields.Integer(metadata={"description": "the shop's ledger account in that community"})
    created_at = ma.fields.AwareDateTime()


# --- signing keys --------------------------------------------------------------------------

class SigningKeySchema(ma.Schema):
    kty = ma.fields.String(metadata={"description": "`OKP`"})
    crv = ma.fields.String(metadata={"description": "`Ed25519`"})
    x = ma.fields.String(metadata={"description": "the raw public key, base64url without padding (RFC 8037)"})
    kid = ma.fields.String(metadata={"description": "the key id that tokens name: `PB1.<kid>.<payload>.<sig>`"})
    use = ma.fields.String()
    alg = ma.fields.String(metadata={"description": "`EdDSA`"})
    community_id = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": "`active` signs new vouchers; `retired` still verifies the "
                                                       "tokens it signed until they expire"})
    created_at = ma.fields.AwareDateTime()
    retired_at = ma.fields.AwareDateTime(allow_none=True)


class KeySetSchema(ma.Schema):
    keys = ma.fields.List(ma.fields.Nested(SigningKeySchema), required=True)


class KeySetQueryArgsSchema(ma.Schema):
    community_id = ma.fields.Integer(metadata={"description": "only this community's keys"})


# --- vouchers and redemptions --------------------------------------------------------------

class VoucherCreateSchema(ma.Schema):
    points = ma.fields.Integer(required=True, strict=True, validate=POINTS,
                               metadata={"description": "face value; at most the household's redeemable points"})
    household_id = ma.fields.Integer(strict=True, metadata={"description": "required for staff; a resident's own "
                                                                           "household by default"})


class ReceiptSchema(ma.Schema):
    id = ma.fields.Integer()
    voucher_id = ma.fields.String()
    community_id = ma.fields.Integer()
    points = ma.fields.Integer(metadata={"description": "points rung up"})
    returned_points = ma.fields.Integer(metadata={"description": "the rest of the face value, back to the household"})
    value_fen = ma.fields.Integer(metadata={"description": "points × point_value_fen, what the community owes the shop"})
    point_value_fen = ma.fields.Integer(metadata={"description": "the community's point value at that moment"})
    shop_id = ma.fields.Integer()
    shop_name = ma.fields.String(allow_none=True)
    cashier_id = ma.fields.Integer()
    created_at = ma.fields.AwareDateTime()
    reversed_at = ma.fields.AwareDateTime(allow_none=True, metadata={"description": "set when staff reversed it"})
    lines = ma.fields.List(ma.fields.Nested(shelf_schemas.BasketLineViewSchema),
                           metadata={"description": "a basket's items (absent for typed points)"})
    reservation_id = ma.fields.Integer(metadata={"description": "the shelf reservation this receipt collected"})
    card_id = ma.fields.Integer(metadata={"description": "the household card that paid (card payments only)"})


STATUS_DOC = "issued, redeemed, cancelled or expired (an issued voucher past its expiry reads expired)"


class VoucherSummarySchema(ma.Schema):
    id = ma.fields.String(metadata={"description": "128 random bits, hex"})
    community_id = ma.fields.Integer()
    household_id = ma.fields.Integer()
    points = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": STATUS_DOC})
    expires_at = ma.fields.AwareDateTime()
    short_code = ma.fields.String(metadata={"description": "16 digits in groups of four, for typing at the till; "
                                                           "unique within the voucher's community"})
    qr_png_url = ma.fields.String()
    qr_svg_url = ma.fields.String()
    created_at = ma.fields.AwareDateTime()
    closed_at = ma.fields.AwareDateTime(allow_none=True)


class VoucherSchema(VoucherSummarySchema):
    token = ma.fields.String(allow_none=True, metadata={"description": "what the QR carries: "
                                                                       "`PB1.<kid>.<payload>.<sig>` (Ed25519)"})
    receipt = ma.fields.Nested(ReceiptSchema, allow_none=True, metadata={"description": "once redeemed"})


VoucherPageSchema = page_schema(VoucherSummarySchema, "VoucherPage")


class VoucherQueryArgsSchema(CursorArgsSchema):
    status = ma.fields.String(validate=validate.OneOf(["issued", "redeemed", "cancelled", "expired"]))


class RedemptionCreateSchema(ma.Schema):
    code = ma.fields.String(validate=validate.Length(min=1, max=600),
                            metadata={"description": "exactly what the voucher's QR carries, or the short code "
                                                     "(spaces and dashes ignored); or give `card` and `pin`"})
    card = ma.fields.String(validate=validate.Length(min=1, max=600),
                            metadata={"description": "what a household card's QR carries (`PBC1.…`), with `pin`: "
                                                     "spends straight from the household's redeemable points"})
    pin = ma.fields.String(validate=validate.Length(min=1, max=32),
                           metadata={"description": "the card's 6-digit PIN, typed by the resident (wrong_pin 401 "
                                                    "with attempts_left; the fifth wrong in a row: card_blocked 423)"})
    points = ma.fields.Integer(strict=True, validate=POINTS,
                               metadata={"description": "points rung up; at most the voucher's face value "
                                                        "(or give `items`)"})
    items = shelf_schemas.basket_field("a basket from the shop's shelf instead of `points`: its points are the sum "
                                       "(out_of_stock 409; household_limit_reached, stars_required, "
                                       "item_unavailable 422)")


ReceiptPageSchema = page_schema(ReceiptSchema, "ReceiptPage")


class ReceiptQueryArgsSchema(CursorArgsSchema):
    pass


class ReversalSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=500))
