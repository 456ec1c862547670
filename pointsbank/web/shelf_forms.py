"""The shelf's page forms (Flask-WTF): shape only; whether a value is allowed is the shelf
services' decision, so a page refuses what the API refuses, with the same messages."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

LIMIT_CHOICES = [SelectChoice("", _l("No limit")), SelectChoice("month", _l("per month")),
                 SelectChoice("quarter", _l("per quarter")), SelectChoice("year", _l("per year"))]
REASON_CHOICES = [SelectChoice("delivery", _l("Delivery")), SelectChoice("donation", _l("Donation")),
                  SelectChoice("loss", _l("Loss")), SelectChoice("count", _l("Count"))]
_NUMBER = {"inputmode": "numeric", "autocomplete": "off"}


class ItemForm(FlaskForm):
    """Add or change an item; ``stock`` is read only when the item is added (it then moves
    through stock movements)."""
    name_zh = StringField(_l("Name (Chinese)"), validators=[DataRequired(_l("Give the item a name.")), Length(max=100)])
    name_en = StringField(_l("Name (English, optional)"), validators=[Optional(), Length(max=100)])
    points = IntegerField(_l("Points"), validators=[InputRequired(_l("Give the price in points.")),
                                                    NumberRange(min=1, max=1_000_000,
                                                                message=_l("Points must be 1 or more."))],
                          render_kw={**_NUMBER, "min": 1})
    unlimited = BooleanField(_l("Unlimited (no stock is counted)"))
    stock = IntegerField(_l("Opening stock"), validators=[Optional(), NumberRange(min=0, max=1_000_000)],
                         render_kw={**_NUMBER, "min": 0})
    barcode = StringField(_l("Barcode (optional)"), validators=[Optional(), Length(max=64)],
                          render_kw={**_NUMBER, "spellcheck": "false"})
    photo = FileField(_l("Photo (optional, JPEG or PNG)"),
                      validators=[FileAllowed(["jpg", "jpeg", "png"], _l("Only JPEG or PNG photos."))],
                      render_kw={"accept": "image/jpeg,image/png"})
    limit_count = IntegerField(_l("Limit per household (optional)"), validators=[Optional(), NumberRange(min=1)],
                               render_kw={**_NUMBER, "min": 1})
    limit_period = SelectField(_l("Limit period"), choices=LIMIT_CHOICES, validators=[Optional()])
    min_stars = IntegerField(_l("Stars required (optional)"), validators=[Optional(), NumberRange(min=0, max=10)],
                             render_kw={**_NUMBER, "min": 0})
    available_from = DateField(_l("Available from (optional)"), validators=[Optional()])
    available_until = DateField(_l("Available until, inclusive (optional)"), validators=[Optional()])
    is_active = BooleanField(_l("On the shelf"), default=True)


class StockForm(FlaskForm):
    reason = SelectField(_l("What happened"), choices=REASON_CHOICES, validators=[DataRequired()])
    change = IntegerField(_l("Quantity (for a count: what is on the shelf now)"),
                          validators=[InputRequired(_l("Give the quantity.")), NumberRange(min=0, max=1_000_000)],
                          render_kw={**_NUMBER, "min": 0})
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=255)])


class BoardForm(FlaskForm):
    most_redeemed = BooleanField(_l("Show the items most redeemed on the notice board"))


#: a basket line typed on a page: ``qty-7=2``
QUANTITY_PREFIX = "qty-"


def basket_lines(form: Any) -> list[dict[str, int]]:
    """``[{item_id, quantity}]`` from the ``qty-<id>`` fields with a positive whole number (the
    rest — empty, 0, not a number — is not in the basket)."""
    lines = []
    for key, value in form.items():
        if not key.startswith(QUANTITY_PREFIX):
            continue
        try:
            item_id, quantity = int(key[len(QUANTITY_PREFIX):]), int((value or "0").strip() or 0)
        except ValueError:
            continue
        if quantity > 0:
            lines.append({"item_id": item_id, "quantity": min(quantity, 1000)})
    return sorted(lines, key=lambda line: line["item_id"])
