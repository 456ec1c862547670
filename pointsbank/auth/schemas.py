import marshmallow as ma
from marshmallow import validate

from pointsbank.community.schemas import HouseholdSchema


class TokenRequestSchema(ma.Schema):
    username = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = ma.fields.String(required=True, validate=validate.Length(min=1, max=256))


class UserSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    username = ma.fields.String()
    display_name = ma.fields.String(allow_none=True)
    role = ma.fields.String(metadata={"description": "admin, staff, grid_worker, resident or cashier"})
    region_id = ma.fields.Integer(allow_none=True)
    community_id = ma.fields.Integer(allow_none=True)
    household_id = ma.fields.Integer(allow_none=True)
    shop_id = ma.fields.Integer(allow_none=True)


class TokenSchema(ma.Schema):
    token = ma.fields.String(required=True, metadata={"description": "send as `Authorization: Bearer TOKEN`"})
    expires_at = ma.fields.AwareDateTime(required=True)
    user = ma.fields.Nested(UserSchema, required=True)


class MeSchema(ma.Schema):
    user = ma.fields.Nested(UserSchema, required=True)
    household = ma.fields.Nested(HouseholdSchema, allow_none=True,
                                 metadata={"description": "for a resident, the household with its balance"})


class UserCreateSchema(ma.Schema):
    username = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = ma.fields.String(required=True, validate=validate.Length(min=8, max=256))
    role = ma.fields.String(required=True, validate=validate.OneOf(["admin", "staff", "grid_worker", "resident", "cashier"]))
    display_name = ma.fields.String(validate=validate.Length(max=100))
    community_id = ma.fields.Integer()
    household_id = ma.fields.Integer()
    shop_id = ma.fields.Integer()
    grids = ma.fields.List(ma.fields.String(validate=validate.Length(min=1, max=100)), validate=validate.Length(max=50))
