import marshmallow as ma
from marshmallow import validate

from pointsbank.pagination import CursorArgsSchema, page_schema


class PostingSchema(ma.Schema):
    id = ma.fields.Integer()
    transaction_id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"description": "opening, award, deduction, adjustment, reversal, voucher_issue, "
                                                     "redemption, voucher_return, card_payment, reset, expiry"})
    reference_type = ma.fields.String(allow_none=True, metadata={"description": "record, voucher, adjustment, …"})
    reference_id = ma.fields.String(allow_none=True)
    memo = ma.fields.String(allow_none=True, metadata={"description": "the rule or reason, in words"})
    reversal_of_id = ma.fields.Integer(allow_none=True)
    points = ma.fields.Integer()
    balance_after = ma.fields.Integer()
    created_at = ma.fields.AwareDateTime()


PostingPageSchema = page_schema(PostingSchema, "PostingPage")


class PostingQueryArgsSchema(CursorArgsSchema):
    pass


class AdjustmentCreateSchema(ma.Schema):
    points = ma.fields.Integer(required=True, strict=True,
                               validate=[validate.Range(min=-1_000_000, max=1_000_000),
                                         validate.NoneOf([0], error="must not be 0")])
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=500))


class AdjustmentSchema(ma.Schema):
    id = ma.fields.Integer()
    community_id = ma.fields.Integer()
    household_id = ma.fields.Integer()
    points = ma.fields.Integer()
    reason = ma.fields.String()
    status = ma.fields.String(metadata={"description": "pending (waits for a second staff member), posted or rejected"})
    requested_by_id = ma.fields.Integer()
    approved_by_id = ma.fields.Integer(allow_none=True)
    transaction_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.AwareDateTime()


AdjustmentPageSchema = page_schema(AdjustmentSchema, "AdjustmentPage")


class AdjustmentQueryArgsSchema(CursorArgsSchema):
    status = ma.fields.String(validate=validate.OneOf(["pending", "posted", "rejected"]))


class AdjustmentRejectSchema(ma.Schema):
    reason = ma.fields.String(validate=validate.Length(max=500))
