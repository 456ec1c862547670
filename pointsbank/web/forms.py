"""The page forms (Flask-WTF: every form carries a CSRF token).

Forms check shape only (required, integer, length); whether a value is *allowed* is the
services' decision, so a page and the API refuse the same things with the same messages.
Labels are lazy translations, rendered with the macros in ``templates/macros.html``.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import DateField, HiddenField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class ActionForm(FlaskForm):
    """A button that changes something (approve, confirm, logout…): only the CSRF token."""


class RejectForm(FlaskForm):
    reason = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=500)])


class RecordForm(FlaskForm):
    household_id = IntegerField(_l("Household"), validators=[InputRequired(_l("Pick a household first."))],
                                render_kw={"inputmode": "numeric"})
    rule_code = SelectField(_l("Rule"), validators=[DataRequired(_l("Pick a rule."))], validate_choice=False)
    quantity = IntegerField(_l("Quantity (times or hours)"), default=1,
                            validators=[InputRequired(), NumberRange(min=1, max=10000)],
                            render_kw={"inputmode": "numeric", "min": 1})
    occurred_on = DateField(_l("Date"), validators=[InputRequired()])
    resident_id = SelectField(_l("Resident (optional)"), validators=[Optional()], validate_choice=False,
                              coerce=lambda value: int(value) if value not in (None, "", "None") else None)
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=500)], render_kw={"rows": 2})


class ImportForm(FlaskForm):
    file = FileField(_l("CSV or XLSX file"), validators=[
        FileRequired(_l("Choose a file.")),
        FileAllowed(["csv", "xlsx", "txt"], _l("Only CSV or XLSX files."))])


class ResolveForm(FlaskForm):
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=1000)])


class ShopForm(FlaskForm):
    name = StringField(_l("Shop name"), validators=[DataRequired(), Length(max=100)])
    address = StringField(_l("Address (optional)"), validators=[Optional(), Length(max=255)])
