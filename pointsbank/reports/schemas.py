import marshmallow as ma
from marshmallow import validate

from pointsbank.pagination import CursorArgsSchema, page_schema

PERIOD = [validate.Length(max=6), validate.Regexp(r"^\d{4}(Q[1-4])?$", error="a quarter like 2026Q3 or a year like 2026")]
QUARTER = [validate.Length(max=6), validate.Regexp(r"^\d{4}Q[1-4]$", error="a quarter like 2026Q3")]


class PeriodArgsSchema(ma.Schema):
    period = ma.fields.String(validate=PERIOD, metadata={"description": "2026Q3 or 2026; default: the running quarter"})


class ExportArgsSchema(PeriodArgsSchema):
    format = ma.fields.String(load_default="csv", validate=validate.OneOf(["csv", "xlsx"]),
                              metadata={"description": "csv (UTF-8 with BOM) or xlsx"})


class StatementExportArgsSchema(ma.Schema):
    format = ma.fields.String(load_default="csv", validate=validate.OneOf(["csv", "xlsx"]),
                              metadata={"description": "csv (UTF-8 with BOM) or xlsx"})


class RegionRankingArgsSchema(ma.Schema):
    period = ma.fields.String(required=True, validate=PERIOD)


class SettlementRunSchema(ma.Schema):
    period = ma.fields.String(required=True, validate=QUARTER, metadata={"description": "a closed quarter"})
    community_id = ma.fields.Integer(metadata={"description": "one community; default: every community in scope"})


class SettlementRunEntrySchema(ma.Schema):
    community_id = ma.fields.Integer()
    outcome = ma.fields.String(metadata={"description": "completed (done now), already_completed (nothing "
                                                        "changed) or busy (another process is running it)"})
    attempt = ma.fields.Integer()
    statements = ma.fields.Integer()
    redemptions = ma.fields.Integer()
    adjustments = ma.fields.Integer()
    points = ma.fields.Integer()
    amount_fen = ma.fields.Integer()


class SettlementRunResultSchema(ma.Schema):
    period = ma.fields.String()
    runs = ma.fields.List(ma.fields.Nested(SettlementRunEntrySchema))


class StatementQueryArgsSchema(CursorArgsSchema):
    period = ma.fields.String(validate=QUARTER)
    community_id = ma.fields.Integer()
    shop_id = ma.fields.Integer()
    status = ma.fields.String(validate=validate.OneOf(["draft", "confirmed", "paid"]))


class ShopStatementQueryArgsSchema(CursorArgsSchema):
    period = ma.fields.String(validate=QUARTER)


class StatementLineSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"description": "redemption, or adjustment: a redemption paid by an earlier "
                                                     "statement and reversed since, with the opposite sign, or "
                                                     "double_spend: a voucher used offline after it was closed, "
                                                     "paid by the household (id: the offline redemption's)"})
    redemption_id = ma.fields.Integer(allow_none=True, metadata={"description": "none for a double spend"})
    occurred_at = ma.fields.AwareDateTime()
    points = ma.fields.Integer()
    point_value_fen = ma.fields.Integer(metadata={"description": "the point value in force at that moment"})
    value_fen = ma.fields.Integer()
    origin_statement_id = ma.fields.Integer(allow_none=True)


class StatementSchema(ma.Schema):
    id = ma.fields.Integer()
    community_id = ma.fields.Integer()
    shop_id = ma.fields.Integer()
    shop_name = ma.fields.String()
    period = ma.fields.String()
    count = ma.fields.Integer(metadata={"description": "redemptions of the period"})
    points = ma.fields.Integer(metadata={"description": "net points, adjustments included"})
    amount_fen = ma.fields.Integer(metadata={"description": "net fen owed to the shop, adjustments included"})
    status = ma.fields.String(metadata={"description": "draft → confirmed → paid"})
    adjustment_count = ma.fields.Integer()
    adjustment_points = ma.fields.Integer()
    adjustment_fen = ma.fields.Integer()
    created_at = ma.fields.AwareDateTime()
    built_at = ma.fields.AwareDateTime()
    confirmed_at = ma.fields.AwareDateTime(allow_none=True)
    confirmed_by_id = ma.fields.Integer(allow_none=True)
    paid_at = ma.fields.AwareDateTime(allow_none=True)
    paid_by_id = ma.fields.Integer(allow_none=True)
    transaction_id = ma.fields.Integer(allow_none=True, metadata={"description": "the ledger transaction shop → settled"})
    lines = ma.fields.List(ma.fields.Nested(StatementLineSchema))


StatementPageSchema = page_schema(StatementSchema, "StatementPage")


class RankingEntrySchema(ma.Schema):
    rank = ma.fields.Integer(metadata={"description": "ties share a rank: 1, 1, 3"})
    household_id = ma.fields.Integer()
    number = ma.fields.String()
    head_name = ma.fields.String()
    grid = ma.fields.String(allow_none=True)
    points = ma.fields.Integer()
    stars = ma.fields.Integer(metadata={"description": "on a notice board of a community with star levels: "
                                                       "the household's stars of the board's year"})


class RankingSchema(ma.Schema):
    period = ma.fields.String()
    community_id = ma.fields.Integer()
    champion = ma.fields.List(ma.fields.Nested(RankingEntrySchema), metadata={
        "description": "every household ranked 1 with points above 0 (several when tied; empty when nobody earned)"})
    ranking = ma.fields.List(ma.fields.Nested(RankingEntrySchema))


class CategoryTotalSchema(ma.Schema):
    category = ma.fields.String()
    name = ma.fields.String()
    name_en = ma.fields.String()
    points = ma.fields.Integer()
    records = ma.fields.Integer()


class GridTotalSchema(ma.Schema):
    grid = ma.fields.String(allow_none=True)
    households = ma.fields.Integer()
    points = ma.fields.Integer()


class OpenRecordSchema(ma.Schema):
    record_id = ma.fields.Integer()
    household_id = ma.fields.Integer()
    number = ma.fields.String()
    head_name = ma.fields.String()
    rule_code = ma.fields.String()
    category = ma.fields.String()
    points = ma.fields.Integer()
    occurred_on = ma.fields.String()
    posted_at = ma.fields.String()
    status = ma.fields.String()
    objection_until = ma.fields.String()


class CommunityRefSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()


class NoticeSchema(ma.Schema):
    period = ma.fields.String()
    kind = ma.fields.String(metadata={"description": "quarter or year"})
    community = ma.fields.Nested(CommunityRefSchema)
    first_day = ma.fields.String()
    last_day = ma.fields.String()
    champion = ma.fields.List(ma.fields.Nested(RankingEntrySchema))
    ranking = ma.fields.List(ma.fields.Nested(RankingEntrySchema))
    categories = ma.fields.List(ma.fields.Nested(CategoryTotalSchema))
    grids = ma.fields.List(ma.fields.Nested(GridTotalSchema))
    total_points = ma.fields.Integer()
    households = ma.fields.Integer()
    open_records = ma.fields.List(ma.fields.Nested(OpenRecordSchema),
                                  metadata={"description": "quarter: records still open to objection when published"})
    best_families = ma.fields.List(ma.fields.Nested(RankingEntrySchema),
                                   metadata={"description": "year: the households honoured as best families"})
    is_published = ma.fields.Boolean(metadata={"description": "false: computed live, not (yet) published"})
    published_at = ma.fields.AwareDateTime(allow_none=True)


class RegionRankingEntrySchema(ma.Schema):
    rank = ma.fields.Integer()
    community_id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    region = ma.fields.String()
    households = ma.fields.Integer()
    points = ma.fields.Integer()
    average_points = ma.fields.String(metadata={"description": "points per household, exact to two decimals"})


class RegionRankingSchema(ma.Schema):
    period = ma.fields.String()
    region_id = ma.fields.Integer()
    region = ma.fields.String()
    ranking = ma.fields.List(ma.fields.Nested(RegionRankingEntrySchema))


# --- the passbook (households) ----------------------------------------------------------------

class PassbookArgsSchema(ma.Schema):
    period = ma.fields.String(validate=PERIOD, metadata={"description": "2026Q3 or 2026; default: the running quarter"})


class PassbookLineSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"description": "the posting"})
    transaction_id = ma.fields.Integer()
    at = ma.fields.AwareDateTime()
    date = ma.fields.Date(metadata={"description": "the day in the community's time zone"})
    kind = ma.fields.String()
    title = ma.fields.String(metadata={"description": "what kind of movement, in words"})
    description = ma.fields.String(metadata={"description": "the rule, the shop, the reason … in words"})
    points = ma.fields.Integer()
    balance = ma.fields.Integer(metadata={"description": "the running balance after this line"})
    balance_after = ma.fields.Integer(metadata={"description": "the ledger's balance after this posting (equal)"})


class PassbookFrozenSchema(ma.Schema):
    reason = ma.fields.String()
    label = ma.fields.String()
    note = ma.fields.String(allow_none=True)
    frozen_at = ma.fields.AwareDateTime()


class PassbookHouseholdSchema(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    head_name = ma.fields.String()
    address = ma.fields.String(allow_none=True)
    grid = ma.fields.String(allow_none=True)
    residents = ma.fields.List(ma.fields.String())
    frozen = ma.fields.Nested(PassbookFrozenSchema, allow_none=True)


class PassbookCommunitySchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    code = ma.fields.String()


class PassbookSchema(ma.Schema):
    period = ma.fields.String()
    first_day = ma.fields.Date()
    last_day = ma.fields.Date()
    is_closed = ma.fields.Boolean(metadata={"description": "false while the period runs: the closing balance is so far"})
    household = ma.fields.Nested(PassbookHouseholdSchema)
    community = ma.fields.Nested(PassbookCommunitySchema)
    base_points = ma.fields.Integer()
    opening_balance = ma.fields.Integer()
    closing_balance = ma.fields.Integer()
    points_in = ma.fields.Integer()
    points_out = ma.fields.Integer()
    redeemable_at_close = ma.fields.Integer()
    lines = ma.fields.List(ma.fields.Nested(PassbookLineSchema))
    printed_at = ma.fields.AwareDateTime()
