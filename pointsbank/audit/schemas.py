import marshmallow as ma
from marshmallow import validate

from pointsbank.pagination import CursorArgsSchema, page_schema


class AuditQueryArgsSchema(CursorArgsSchema):
    actor_id = ma.fields.Integer()
    action = ma.fields.String(validate=validate.Length(min=1, max=64),
                              metadata={"description": "exact action, or a prefix ending in `*` (e.g. `adjustment.*`)"})
    community_id = ma.fields.Integer()
    since = ma.fields.AwareDateTime()
    until = ma.fields.AwareDateTime()


class AuditEventSchema(ma.Schema):
    id = ma.fields.Integer()
    actor_id = ma.fields.Integer(allow_none=True)
    action = ma.fields.String()
    community_id = ma.fields.Integer(allow_none=True)
    target_type = ma.fields.String(allow_none=True)
    target_id = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    data = ma.fields.Dict()
    created_at = ma.fields.AwareDateTime()


AuditPageSchema = page_schema(AuditEventSchema, "AuditPage")
