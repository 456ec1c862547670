import marshmallow as ma
from marshmallow import validate

PIN = [validate.Length(equal=6), validate.Regexp(r"^[0-9]{6}$", error="The PIN is 6 digits.")]


class CardCreateSchema(ma.Schema):
    pin = ma.fields.String(required=True, validate=PIN,
                           metadata={"description": "6 digits chosen at the office; stored as a slow salted hash"})


class CardSchema(ma.Schema):
    card_id = ma.fields.Integer()
    household_id = ma.fields.Integer()
    community_id = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": "`live`, `blocked` (five wrong PINs in a row) or `revoked`"})
    wrong_pins = ma.fields.Integer(metadata={"description": "wrong PINs in a row so far"})
    attempts_left = ma.fields.Integer(metadata={"description": "wrong PINs left before the card blocks"})
    blocked_at = ma.fields.AwareDateTime(allow_none=True)
    revoked_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    token = ma.fields.String(allow_none=True, metadata={
        "description": "what the card's QR carries: `PBC1.<kid>.<payload>.<sig>` (Ed25519, no expiry); "
                       "answered when the card is issued"})
    print_url = ma.fields.String(metadata={"description": "the staff page that prints the card (A4 sheet)"})
