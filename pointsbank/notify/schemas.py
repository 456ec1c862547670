import marshmallow as ma

from pointsbank.pagination import CursorArgsSchema


class NotificationSchema(ma.Schema):
    id = ma.fields.Integer()
    template = ma.fields.String(metadata={"description": "points_awarded, points_deducted, points_adjusted, "
                                                         "points_reversed, voucher_expiring, reservation_expiring "
                                                         "or card_blocked"})
    text = ma.fields.String(metadata={"description": "the message in the caller's language (zh_CN or en)"})
    params = ma.fields.Dict(metadata={"description": "the template's values (points, rule, deadline, …)"})
    is_read = ma.fields.Boolean()
    created_at = ma.fields.AwareDateTime()
    read_at = ma.fields.AwareDateTime(allow_none=True)


class NotificationQueryArgsSchema(CursorArgsSchema):
    pass


NotificationPageSchema = ma.Schema.from_dict(
    {"items": ma.fields.List(ma.fields.Nested(NotificationSchema), required=True),
     "next_cursor": ma.fields.String(allow_none=True, required=True),
     "unread": ma.fields.Integer(required=True, metadata={"description": "unread messages in the inbox"})},
    name="NotificationPage",
)
