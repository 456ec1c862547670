import marshmallow as ma
from marshmallow import validate

from pointsbank.offline.schemas import OfflineSettingsSchema
from pointsbank.shelf.schemas import ShelfSettingsSchema
from pointsbank.notify import phones
from pointsbank.pagination import CursorArgsSchema, page_schema

CODE = [validate.Length(min=1, max=32),
        validate.Regexp(r"^[A-Za-z0-9_-]+$", error="letters, digits, '-' and '_' only")]


def _timezone(value: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ma.ValidationError("not a known time zone, e.g. Asia/Shanghai")
    return True


class RegionSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    code = ma.fields.String(required=True, validate=CODE)
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    kind = ma.fields.String(required=True, validate=validate.OneOf(["province", "city", "county", "town"]))
    parent_id = ma.fields.Integer(allow_none=True)


class StarLevelSchema(ma.Schema):
    stars = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=10))
    min_points = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=1_000_000),
                                   metadata={"description": "points earned in the year needed for these stars"})


def _increasing_levels(levels: list[dict]) -> bool:
    for before, after in zip(levels, levels[1:]):
        if after["stars"] <= before["stars"] or after["min_points"] <= before["min_points"]:
            raise ma.ValidationError("star levels must increase in both stars and min_points")
    return True


class CommunitySettingsSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(min=1, max=100))
    base_points = ma.fields.Integer(validate=validate.Range(min=0, max=1_000_000),
                                    metadata={"description": "points every household starts with; only points above it are redeemable"})
    point_value_fen = ma.fields.Integer(validate=validate.Range(min=0, max=1_000_000),
                                        metadata={"description": "value of one point at partner shops, in fen"})
    voucher_ttl_hours = ma.fields.Integer(validate=validate.Range(min=1, max=24 * 90))
    timezone = ma.fields.String(validate=[validate.Length(max=64), _timezone])
    notice_days = ma.fields.Integer(validate=validate.Range(min=0, max=90),
                                    metadata={"description": "days a posted record stays open to objection"})
    adjustment_two_person_above = ma.fields.Integer(
        validate=validate.Range(min=0, max=1_000_000),
        metadata={"description": "a manual adjustment whose |points| exceed this needs a second staff member"})
    is_notice_public = ma.fields.Boolean(metadata={"description": "the notice board is readable without a login"})
    points_reset = ma.fields.String(
        validate=validate.OneOf(["none", "quarter", "year", "expire"]),
        metadata={"description": "none; quarter or year: every balance back to the base at each period end; "
                                 "expire: points older than points_expire_years lapse at each year end (oldest first)"})
    points_expire_years = ma.fields.Integer(allow_none=True, validate=validate.Range(min=1, max=50),
                                            metadata={"description": "with points_reset=expire: years points are kept"})
    offline = ma.fields.Nested(OfflineSettingsSchema, metadata={
        "description": "offline redemption at the counter (the shop without signal)"})
    shelf = ma.fields.Nested(ShelfSettingsSchema, metadata={
        "description": "the shelf's wishes: the items most redeemed on the notice board"})
    best_families_count = ma.fields.Integer(validate=validate.Range(min=1, max=1000),
                                            metadata={"description": "households honoured as best families each year"})
    star_levels = ma.fields.List(
        ma.fields.Nested(StarLevelSchema), validate=[validate.Length(max=10), _increasing_levels], allow_none=True,
        metadata={"description": "star-rated households (星级文明户): [{stars, min_points}], increasing; "
                                 "[] or null: no stars"})

    @ma.validates_schema
    def _expiry_needs_years(self, data, **kwargs):
        if data.get("points_reset") == "expire" and not data.get("points_expire_years"):
            raise ma.ValidationError("points_reset=expire needs points_expire_years", "points_expire_years")


class CommunityCreateSchema(CommunitySettingsSchema):
    class Meta:
        exclude = ("offline", "shelf")  # set with PATCH once the community exists

    code = ma.fields.String(required=True, validate=CODE)
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    base_points = ma.fields.Integer(load_default=100, validate=validate.Range(min=0, max=1_000_000))
    point_value_fen = ma.fields.Integer(load_default=100, validate=validate.Range(min=0, max=1_000_000))
    voucher_ttl_hours = ma.fields.Integer(load_default=24, validate=validate.Range(min=1, max=24 * 90))
    timezone = ma.fields.String(load_default="Asia/Shanghai", validate=[validate.Length(max=64), _timezone])
    parent_region_id = ma.fields.Integer(allow_none=True)


def _offline_settings(community):
    from pointsbank.offline.services import settings_of

    return settings_of(community.id)


def _shelf_settings(community):
    from pointsbank.shelf.services.settings import settings_of

    return settings_of(community.id)


class CommunitySchema(CommunitySettingsSchema):
    offline = ma.fields.Function(_offline_settings, metadata={"description": "offline redemption at the counter"})
    shelf = ma.fields.Function(_shelf_settings, metadata={"description": "the shelf's notice-board setting"})
    id = ma.fields.Integer(dump_only=True)
    code = ma.fields.String()
    region_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.AwareDateTime()


def _phone(value: str | None) -> bool:
    try:
        phones.normalised(value)
    except phones.BadPhone:
        raise ma.ValidationError("5 to 15 digits (spaces and dashes are ignored)")
    return True


PHONE = ma.fields.String(allow_none=True, validate=[validate.Length(max=30), _phone], metadata={
    "description": "for SMS notifications; digits (spaces and dashes ignored); shown masked (138****5678) "
                   "everywhere; null or empty: no phone"})


class HouseholdCreateSchema(ma.Schema):
    number = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))
    head_name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    address = ma.fields.String(validate=validate.Length(max=255))
    grid = ma.fields.String(validate=validate.Length(min=1, max=100), metadata={"description": "grid name; created if new"})
    members = ma.fields.List(ma.fields.String(validate=validate.Length(min=1, max=100)), validate=validate.Length(max=50),
                             metadata={"description": "names of the residents"})
    phone = PHONE
    sms_opt_out = ma.fields.Boolean(load_default=False, metadata={"description": "no SMS for this household"})


class HouseholdUpdateSchema(ma.Schema):
    head_name = ma.fields.String(validate=validate.Length(min=1, max=100))
    address = ma.fields.String(allow_none=True, validate=validate.Length(max=255))
    phone = PHONE
    sms_opt_out = ma.fields.Boolean(metadata={"description": "no SMS for this household (its inbox still fills)"})


class ResidentSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()


class FrozenSchema(ma.Schema):
    reason = ma.fields.String(metadata={"description": "moved_away, deceased or under_review"})
    label = ma.fields.String(metadata={"description": "the reason in words, in the caller's language"})
    note = ma.fields.String(allow_none=True)
    frozen_at = ma.fields.AwareDateTime()


class FreezeSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.OneOf(["moved_away", "deceased", "under_review"]))
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=255))


class ProxyCreateSchema(ma.Schema):
    user_id = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**31 - 1),
                                metadata={"description": "a resident login of another household, or a grid worker, "
                                                         "of the household's community"})


class ProxySchema(ma.Schema):
    id = ma.fields.Integer()
    household_id = ma.fields.Integer()
    household = ma.fields.String(metadata={"description": "number and head's name"})
    user_id = ma.fields.Integer()
    username = ma.fields.String()
    display_name = ma.fields.String(allow_none=True)
    role = ma.fields.String()
    granted_at = ma.fields.AwareDateTime()
    granted_by_id = ma.fields.Integer(allow_none=True)


class HouseholdSchema(ma.Schema):
    id = ma.fields.Integer()
    community_id = ma.fields.Integer()
    number = ma.fields.String()
    head_name = ma.fields.String()
    address = ma.fields.String(allow_none=True)
    grid = ma.fields.String(allow_none=True)
    residents = ma.fields.List(ma.fields.Nested(ResidentSchema))
    balance = ma.fields.Integer(metadata={"description": "points on the account, base included"})
    base_points = ma.fields.Integer()
    redeemable = ma.fields.Integer(metadata={"description": "max(0, balance - base_points): what vouchers may draw"})
    frozen = ma.fields.Nested(FrozenSchema, allow_none=True,
                              metadata={"description": "null, or why the household is frozen (nothing moves)"})
    phone = ma.fields.String(allow_none=True, metadata={"description": "masked, e.g. 138****5678; never in full"})
    sms_opt_out = ma.fields.Boolean()


class HouseholdQueryArgsSchema(CursorArgsSchema):
    q = ma.fields.String(validate=validate.Length(min=1, max=100), metadata={"description": "household number or head's name"})
    grid = ma.fields.String(validate=validate.Length(min=1, max=100))


class GridSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()


HouseholdPageSchema = page_schema(HouseholdSchema, "HouseholdPage")
