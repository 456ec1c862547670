"""Schemas of the town-and-county API: the region dashboard, fair scoring and spot checks."""

import marshmallow as ma
from marshmallow import validate

from pointsbank.reports.schemas import PERIOD

RATIO = {"description": "a share between 0 and 1, rounded half up to 4 decimals"}


class DashboardArgsSchema(ma.Schema):
    period = ma.fields.String(required=True, validate=PERIOD, metadata={"description": "2026Q3 or 2026"})


class DashboardExportArgsSchema(DashboardArgsSchema):
    format = ma.fields.String(load_default="csv", validate=validate.OneOf(["csv", "xlsx"]),
                              metadata={"description": "csv (UTF-8 with BOM) or xlsx"})


class CommunityFiguresSchema(ma.Schema):
    community_id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    region = ma.fields.String(metadata={"description": "the name of the community's own region (its town)"})
    households = ma.fields.Integer()
    participants = ma.fields.Integer(metadata={"description": "households with a counted record in the period"})
    participation = ma.fields.Float(metadata=RATIO)
    points_awarded = ma.fields.Integer()
    points_deducted = ma.fields.Integer(metadata={"description": "the deductions, as a positive number"})
    points_per_household = ma.fields.Float(metadata={"description": "(awarded − deducted) / households, 2 decimals"})
    redemptions = ma.fields.Integer()
    redemption_points = ma.fields.Integer()
    points_outstanding = ma.fields.Integer(metadata={"description": "the households' redeemable points now"})
    liability_fen = ma.fields.Integer(metadata={"description": "points outstanding × the point value now, in fen"})


class DashboardTotalsSchema(CommunityFiguresSchema):
    class Meta:
        exclude = ("community_id", "code", "name", "region")

    communities = ma.fields.Integer()


class TrendEntrySchema(ma.Schema):
    period = ma.fields.String()
    participants = ma.fields.Integer()
    participation = ma.fields.Float(metadata=RATIO)
    points_awarded = ma.fields.Integer()
    points_deducted = ma.fields.Integer()
    points_per_household = ma.fields.Float()
    redemptions = ma.fields.Integer()
    redemption_points = ma.fields.Integer()


class DashboardSchema(ma.Schema):
    period = ma.fields.String()
    region_id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    communities = ma.fields.List(ma.fields.Nested(CommunityFiguresSchema))
    totals = ma.fields.Nested(DashboardTotalsSchema)
    trend = ma.fields.List(ma.fields.Nested(TrendEntrySchema),
                           metadata={"description": "the region by quarter: the year's quarters, or the four "
                                                    "quarters ending with the one asked for"})


class FairnessArgsSchema(ma.Schema):
    period = ma.fields.String(required=True, validate=PERIOD, metadata={"description": "2026Q3 or 2026"})


class RecorderFairnessSchema(ma.Schema):
    user_id = ma.fields.Integer()
    username = ma.fields.String(allow_none=True)
    records = ma.fields.Integer()
    points = ma.fields.Integer()
    households = ma.fields.Integer()
    top_households_share = ma.fields.Float(metadata={"description": "share of their points (absolute) to their "
                                                                    "top 3 households"})
    own_grid_share = ma.fields.Float(allow_none=True, metadata={"description": "share of their records in their "
                                                                              "own grids; null without a grid"})
    outside_hours = ma.fields.Integer()
    outside_hours_share = ma.fields.Float(metadata=RATIO)


class FlaggedHouseholdSchema(ma.Schema):
    household_id = ma.fields.Integer()
    number = ma.fields.String()
    records = ma.fields.Integer()
    points = ma.fields.Integer()
    recorders = ma.fields.Integer()
    mean_records = ma.fields.Float()


class WorkingHoursSchema(ma.Schema):
    from_ = ma.fields.Integer(data_key="from")
    until = ma.fields.Integer()


class FairnessSchema(ma.Schema):
    period = ma.fields.String()
    community_id = ma.fields.Integer()
    top = ma.fields.Integer()
    working_hours = ma.fields.Nested(WorkingHoursSchema)
    recorders = ma.fields.List(ma.fields.Nested(RecorderFairnessSchema))
    households = ma.fields.List(ma.fields.Nested(FlaggedHouseholdSchema),
                                metadata={"description": "households with unusually many records"})


class SpotCheckCreateSchema(ma.Schema):
    period = ma.fields.String(required=True, validate=PERIOD)
    size = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=500))
    seed = ma.fields.Integer(validate=validate.Range(min=0, max=2 ** 63 - 1),
                             metadata={"description": "draw with this seed (default: a random one, stored)"})


class SpotCheckQueryArgsSchema(ma.Schema):
    period = ma.fields.String(validate=PERIOD)


class SpotCheckItemSchema(ma.Schema):
    record_id = ma.fields.Integer()
    household_id = ma.fields.Integer()
    number = ma.fields.String()
    rule_code = ma.fields.String()
    points = ma.fields.Integer()
    occurred_on = ma.fields.Date()
    recorded_by_id = ma.fields.Integer()
    record_status = ma.fields.String()
    status = ma.fields.String(metadata={"description": "pending, confirmed or disputed"})
    checked_by_id = ma.fields.Integer(allow_none=True)
    checked_at = ma.fields.DateTime(allow_none=True)
    note = ma.fields.String(allow_none=True)
    objection_id = ma.fields.Integer(allow_none=True)
    objection_status = ma.fields.String(allow_none=True)


class SpotCheckSchema(ma.Schema):
    id = ma.fields.Integer()
    community_id = ma.fields.Integer()
    period = ma.fields.String()
    size = ma.fields.Integer()
    seed = ma.fields.Integer()
    drawn_by_id = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    items = ma.fields.List(ma.fields.Nested(SpotCheckItemSchema))


class SpotCheckConfirmSchema(ma.Schema):
    note = ma.fields.String(validate=validate.Length(max=1000))


class SpotCheckDisputeSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=1000),
                              metadata={"description": "why the record is doubted: the objection's reason"})
