"""Schemas of the shelf's API: items, stock movements, baskets, reservations, the stock statement."""

import marshmallow as ma
from marshmallow import validate

from pointsbank.pagination import CursorArgsSchema, page_schema
from pointsbank.shelf.models import LIMIT_PERIODS, MANUAL_REASONS, RESERVATION_STATUSES

POINTS = validate.Range(min=1, max=1_000_000)
QUANTITY = validate.Range(min=1, max=1000)


class ItemNameSchema(ma.Schema):
    zh = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    en = ma.fields.String(validate=validate.Length(max=100), metadata={"description": "defaults to the Chinese name"})


class ItemLimitSchema(ma.Schema):
    period = ma.fields.String(required=True, validate=validate.OneOf(LIMIT_PERIODS))
    count = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10_000))


class ItemCreateSchema(ma.Schema):
    name = ma.fields.Nested(ItemNameSchema, required=True)
    points = ma.fields.Integer(required=True, strict=True, validate=POINTS)
    stock = ma.fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0, max=10_000_000),
                              metadata={"description": "opening stock (a delivery); null or absent: unlimited"})
    barcode = ma.fields.String(allow_none=True, validate=validate.Length(max=64),
                               metadata={"description": "unique within the shop (EAN-13 and the like)"})
    photo_evidence_id = ma.fields.Integer(strict=True, allow_none=True,
                                          metadata={"description": "a JPEG or PNG uploaded with `POST /evidence`"})
    limit = ma.fields.Nested(ItemLimitSchema, allow_none=True,
                             metadata={"description": "per household: at most `count` per month, quarter or year"})
    min_stars = ma.fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0, max=5),
                                  metadata={"description": "star level a household needs (star levels come with "
                                                           "issue 17; until then every household has 0)"})
    available_from = ma.fields.AwareDateTime(allow_none=True)
    available_until = ma.fields.AwareDateTime(allow_none=True)


class ItemUpdateSchema(ItemCreateSchema):
    class Meta:
        exclude = ("stock",)

    name = ma.fields.Nested(ItemNameSchema)
    points = ma.fields.Integer(strict=True, validate=POINTS)
    is_active = ma.fields.Boolean(metadata={"description": "false takes the item off the shelf"})


class ItemSchema(ma.Schema):
    id = ma.fields.Integer()
    community_id = ma.fields.Integer(metadata={"description": "the shop's home community"})
    shop_id = ma.fields.Integer()
    name = ma.fields.Nested(ItemNameSchema)
    points = ma.fields.Integer()
    stock = ma.fields.Integer(allow_none=True, metadata={"description": "null: unlimited"})
    is_unlimited = ma.fields.Boolean()
    barcode = ma.fields.String(allow_none=True)
    photo_evidence_id = ma.fields.Integer(allow_none=True)
    photo_url = ma.fields.String(allow_none=True)
    limit = ma.fields.Nested(ItemLimitSchema, allow_none=True)
    min_stars = ma.fields.Integer(allow_none=True)
    available_from = ma.fields.AwareDateTime(allow_none=True)
    available_until = ma.fields.AwareDateTime(allow_none=True)
    is_active = ma.fields.Boolean()
    is_available = ma.fields.Boolean(metadata={"description": "active and within its availability window now"})
    created_at = ma.fields.AwareDateTime()
    updated_at = ma.fields.AwareDateTime()
    eligible = ma.fields.Boolean(metadata={"description": "with a household: whether it may take one now"})
    reasons = ma.fields.List(ma.fields.String(), metadata={
        "description": "with a household: why not — cannot_afford, household_limit_reached, stars_required, "
                       "item_unavailable, out_of_stock"})


class ItemQueryArgsSchema(ma.Schema):
    household_id = ma.fields.Integer(metadata={"description": "say for this household whether it may take each "
                                                              "item (residents: always their own)"})
    q = ma.fields.String(validate=validate.Length(max=100), metadata={"description": "part of a name, or a barcode"})


class StockChangeSchema(ma.Schema):
    change = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=-10_000_000, max=10_000_000),
                               metadata={"description": "delivery/donation: units added; loss: units lost; "
                                                        "count: the quantity counted (the difference is recorded)"})
    reason = ma.fields.String(required=True, validate=validate.OneOf(MANUAL_REASONS))
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=255))


class MovementSchema(ma.Schema):
    id = ma.fields.Integer()
    item_id = ma.fields.Integer()
    change = ma.fields.Integer()
    reason = ma.fields.String(metadata={"description": "delivery, donation, loss, count, redemption, reservation, "
                                                       "release"})
    stock_after = ma.fields.Integer(allow_none=True)
    note = ma.fields.String(allow_none=True)
    actor_id = ma.fields.Integer(allow_none=True)
    redemption_id = ma.fields.Integer(allow_none=True)
    reservation_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.AwareDateTime()


class MovementResultSchema(MovementSchema):
    stock = ma.fields.Integer(metadata={"description": "the item's stock after the movement"})


MovementPageSchema = page_schema(MovementSchema, "StockMovementPage")


class MovementQueryArgsSchema(CursorArgsSchema):
    pass


class BasketLineSchema(ma.Schema):
    item_id = ma.fields.Integer(required=True, strict=True)
    quantity = ma.fields.Integer(strict=True, load_default=1, validate=QUANTITY)


def basket_field(description: str, **kwargs) -> ma.fields.List:
    """A basket: one to a hundred ``{item_id, quantity}`` lines."""
    return ma.fields.List(ma.fields.Nested(BasketLineSchema), validate=validate.Length(min=1, max=100),
                          metadata={"description": description}, **kwargs)


class BasketLineViewSchema(ma.Schema):
    item_id = ma.fields.Integer()
    name = ma.fields.Nested(ItemNameSchema)
    quantity = ma.fields.Integer()
    points_each = ma.fields.Integer()
    points = ma.fields.Integer()


class ReservationCreateSchema(ma.Schema):
    shop_id = ma.fields.Integer(required=True, strict=True)
    items = basket_field("the items to put aside", required=True)
    household_id = ma.fields.Integer(strict=True, metadata={"description": "required for staff; a resident's own "
                                                                           "household by default"})


class ReservationSchema(ma.Schema):
    id = ma.fields.Integer()
    community_id = ma.fields.Integer()
    shop_id = ma.fields.Integer()
    shop_name = ma.fields.String(allow_none=True)
    household_id = ma.fields.Integer()
    pickup_code = ma.fields.String(allow_none=True, metadata={
        "description": "16 digits in groups of four, typed or scanned at the counter (the household and staff only)"})
    points = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": ", ".join(RESERVATION_STATUSES) + " (a held reservation "
                                                                                        "past its time reads expired)"})
    expires_at = ma.fields.AwareDateTime()
    created_at = ma.fields.AwareDateTime()
    closed_at = ma.fields.AwareDateTime(allow_none=True)
    redemption_id = ma.fields.Integer(allow_none=True, metadata={"description": "once collected"})
    lines = ma.fields.List(ma.fields.Nested(BasketLineViewSchema))


class ReservationQueryArgsSchema(ma.Schema):
    household_id = ma.fields.Integer()
    shop_id = ma.fields.Integer()
    status = ma.fields.String(validate=validate.OneOf(RESERVATION_STATUSES))


class CollectSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=64),
                            metadata={"description": "the pickup code (spaces and dashes ignored)"})


class StockQueryArgsSchema(ma.Schema):
    period = ma.fields.String(required=True, metadata={"description": "a quarter like 2026Q3 or a year like 2026"})
    format = ma.fields.String(validate=validate.OneOf(["json", "csv", "xlsx"]), load_default="json")


class StockStatementLineSchema(ma.Schema):
    item_id = ma.fields.Integer()
    name = ma.fields.Nested(ItemNameSchema)
    points_each = ma.fields.Integer(metadata={"description": "the item's price now"})
    is_unlimited = ma.fields.Boolean()
    opening = ma.fields.Integer(allow_none=True, metadata={"description": "stock at the start of the period"})
    stock_in = ma.fields.Integer(data_key="in", metadata={"description": "deliveries, donations, counts that found more"})
    out = ma.fields.Integer(metadata={"description": "redemptions and reservations, net of released reservations and reversed baskets"})
    loss = ma.fields.Integer(metadata={"description": "losses and counts that found less"})
    left = ma.fields.Integer(allow_none=True, metadata={"description": "stock at the end of the period"})
    quantity = ma.fields.Integer(metadata={"description": "units redeemed (redemptions not reversed)"})
    points = ma.fields.Integer(metadata={"description": "points taken for them"})


class StockStatementTotalsSchema(ma.Schema):
    stock_in = ma.fields.Integer(data_key="in")
    out = ma.fields.Integer()
    loss = ma.fields.Integer()
    quantity = ma.fields.Integer()
    points = ma.fields.Integer()


class StockStatementSchema(ma.Schema):
    shop_id = ma.fields.Integer()
    shop_name = ma.fields.String()
    period = ma.fields.String()
    starts_at = ma.fields.AwareDateTime()
    ends_at = ma.fields.AwareDateTime()
    items = ma.fields.List(ma.fields.Nested(StockStatementLineSchema))
    totals = ma.fields.Nested(StockStatementTotalsSchema)


class MostRedeemedArgsSchema(ma.Schema):
    period = ma.fields.String(metadata={"description": "2026Q3 or 2026; default: the running quarter"})
    limit = ma.fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))


class MostRedeemedItemSchema(ma.Schema):
    rank = ma.fields.Integer()
    item_id = ma.fields.Integer()
    name = ma.fields.Nested(ItemNameSchema)
    shop_id = ma.fields.Integer()
    shop_name = ma.fields.String()
    quantity = ma.fields.Integer(metadata={"description": "units taken in the period"})
    points = ma.fields.Integer()


class MostRedeemedSchema(ma.Schema):
    community_id = ma.fields.Integer()
    period = ma.fields.String()
    items = ma.fields.List(ma.fields.Nested(MostRedeemedItemSchema))


class ShelfSettingsSchema(ma.Schema):
    board_most_redeemed = ma.fields.Boolean(metadata={
        "description": "the notice board (page and export) shows the goods the households took most in its period"})
