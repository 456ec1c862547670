import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from pointsbank.pagination import CursorArgsSchema, page_schema
from pointsbank.rules import reasons
from pointsbank.rules.models import RECORD_STATUSES

ID = ma.fields.Integer(validate=validate.Range(min=1))
PERIOD = validate.Regexp(r"^\d{4}(Q[1-4]|-(0[1-9]|1[0-2]))?$", error="a year (2026), quarter (2026Q2) or month (2026-05)")


# --- rule books ----------------------------------------------------------------------------

class NameSchema(ma.Schema):
    zh = ma.fields.String()
    en = ma.fields.String()


class CapSchema(ma.Schema):
    period = ma.fields.String(metadata={"description": "month, quarter or year"})
    points = ma.fields.Integer(metadata={"description": "at most this many points (absolute) per household"})
    count = ma.fields.Integer(metadata={"description": "at most this many scoring records per household"})


class CategorySchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.Nested(NameSchema)


class RuleSchema(ma.Schema):
    code = ma.fields.String()
    category = ma.fields.String()
    name = ma.fields.Nested(NameSchema)
    points = ma.fields.Integer(metadata={"description": "per unit; negative for a deduction"})
    unit = ma.fields.String(metadata={"description": "occurrence or hour"})
    max_quantity = ma.fields.Integer(allow_none=True)
    caps = ma.fields.List(ma.fields.Nested(CapSchema))
    approval = ma.fields.String(metadata={"description": "auto, staff or two_person"})
    two_person_above = ma.fields.Integer(allow_none=True)
    evidence = ma.fields.String(metadata={"description": "optional or required"})
    effective_from = ma.fields.Date(allow_none=True)
    effective_until = ma.fields.Date(allow_none=True)
    public = ma.fields.Boolean(metadata={"description": "its records appear by name on public boards "
                                                        "(default: additions yes, deductions no)"})


class RuleBookVersionSchema(ma.Schema):
    id = ma.fields.Integer()
    community_id = ma.fields.Integer()
    version = ma.fields.String()
    effective_from = ma.fields.Date()
    published_at = ma.fields.AwareDateTime()
    published_by_id = ma.fields.Integer(allow_none=True, metadata={"description": "null: the shipped default, "
                                                                                 "published automatically"})
    in_force = ma.fields.Boolean(metadata={"description": "the version in force today"})


class RuleBookSchema(RuleBookVersionSchema):
    categories = ma.fields.List(ma.fields.Nested(CategorySchema))
    rules = ma.fields.List(ma.fields.Nested(RuleSchema))


YAML_BODY = {"requestBody": {"required": True, "description": "the rule book, as YAML (DESIGN.md, “Rules”)",
                             "content": {"application/yaml": {"schema": {"type": "string"}}}}}


# --- records -------------------------------------------------------------------------------

class ReasonSchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "e.g. points_cap_reached, approval_required"})
    params = ma.fields.Dict()
    message = ma.fields.String()


class RecordCreateSchema(ma.Schema):
    household_id = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    rule_code = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    occurred_on = ma.fields.Date(required=True)
    quantity = ma.fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1, max=1_000_000),
                                 metadata={"description": "hours for an hourly rule; defaults to 1"})
    resident_id = ma.fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=1))
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=500))
    evidence = ma.fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=1),
                                 metadata={"description": "id of an uploaded evidence file (POST /evidence)"})


class GroupCreateSchema(ma.Schema):
    rule_code = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    occurred_on = ma.fields.Date(required=True)
    quantity = ma.fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1, max=1_000_000))
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=500))
    evidence = ma.fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=1))
    household_ids = ma.fields.List(ma.fields.Integer(strict=True, validate=validate.Range(min=1)),
                                   load_default=list, validate=validate.Length(max=500))
    resident_ids = ma.fields.List(ma.fields.Integer(strict=True, validate=validate.Range(min=1)),
                                  load_default=list, validate=validate.Length(max=500),
                                  metadata={"description": "each resident's record goes to its household"})

    @ma.validates_schema
    def _at_most_500(self, data, **kwargs):
        if len(data.get("household_ids", [])) + len(data.get("resident_ids", [])) > 500:
            raise ma.ValidationError("at most 500 households and residents together", "household_ids")


class DecisionSchema(ma.Schema):
    household_id = ma.fields.Integer()
    rule_code = ma.fields.String()
    category = ma.fields.String()
    rule_name = ma.fields.Nested(NameSchema)
    rulebook_version_id = ma.fields.Integer()
    rulebook_version = ma.fields.String()
    occurred_on = ma.fields.Date()
    quantity = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": "posted or pending: what the record would get"})
    points = ma.fields.Integer()
    requested_points = ma.fields.Integer(metadata={"description": "points × quantity before caps"})
    approvals_required = ma.fields.Integer()
    capped = ma.fields.Boolean()
    reasons = ma.fields.List(ma.fields.Nested(ReasonSchema))


class RecordSchema(ma.Schema):
    id = ma.fields.Integer()
    community_id = ma.fields.Integer()
    household_id = ma.fields.Integer()
    resident_id = ma.fields.Integer(allow_none=True)
    rulebook_version_id = ma.fields.Integer()
    rule_code = ma.fields.String()
    category = ma.fields.String()
    occurred_on = ma.fields.Date()
    quantity = ma.fields.Integer()
    note = ma.fields.String(allow_none=True)
    evidence = ma.fields.Integer(attribute="evidence_id", allow_none=True)
    status = ma.fields.String(metadata={"description": ", ".join(RECORD_STATUSES)})
    points = ma.fields.Integer(metadata={"description": "what the record scores after caps (0 once rejected)"})
    requested_points = ma.fields.Integer()
    approvals_required = ma.fields.Integer()
    approved_by = ma.fields.List(ma.fields.Integer(), metadata={"description": "ids of the staff who approved"})
    reasons = ma.fields.Method("_reasons", metadata={"description": "why: caps, approvals, rejection …"})
    is_claim = ma.fields.Boolean(metadata={"description": "a resident's claim (申领)"})
    group_key = ma.fields.String(allow_none=True)
    recorded_by_id = ma.fields.Integer()
    created_at = ma.fields.AwareDateTime()
    posted_at = ma.fields.AwareDateTime(allow_none=True)
    decided_at = ma.fields.AwareDateTime(allow_none=True)
    notice_until = ma.fields.AwareDateTime(allow_none=True, metadata={"description": "objections close then"})
    transaction_id = ma.fields.Integer(allow_none=True)
    reversal_transaction_id = ma.fields.Integer(allow_none=True)

    def _reasons(self, record):
        return reasons.rendered(record.reasons)


RecordPageSchema = page_schema(RecordSchema, "RecordPage")


class RecordQueryArgsSchema(CursorArgsSchema):
    community_id = ma.fields.Integer(validate=validate.Range(min=1))
    status = ma.fields.String(validate=validate.OneOf(RECORD_STATUSES))
    household_id = ma.fields.Integer(validate=validate.Range(min=1))
    grid = ma.fields.String(validate=validate.Length(max=100), metadata={"description": "grid name"})
    rule_code = ma.fields.String(validate=validate.Length(max=64))
    period = ma.fields.String(validate=PERIOD)
    open_to_objection = ma.fields.Boolean(metadata={"description": "posted and still within the notice period"})


class RecordRejectSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=500))


# --- objections ----------------------------------------------------------------------------

class ObjectionCreateSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ObjectionResolveSchema(ma.Schema):
    outcome = ma.fields.String(required=True, validate=validate.OneOf(["upheld", "reversed"]),
                               metadata={"description": "upheld: the record stands; reversed: its points go back"})
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=1000))


class ObjectionSchema(ma.Schema):
    id = ma.fields.Integer()
    community_id = ma.fields.Integer()
    record_id = ma.fields.Integer()
    raised_by_id = ma.fields.Integer()
    reason = ma.fields.String()
    status = ma.fields.String(metadata={"description": "open, upheld or reversed"})
    resolved_by_id = ma.fields.Integer(allow_none=True)
    resolution_note = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    resolved_at = ma.fields.AwareDateTime(allow_none=True)


ObjectionPageSchema = page_schema(ObjectionSchema, "ObjectionPage")


class ObjectionQueryArgsSchema(CursorArgsSchema):
    community_id = ma.fields.Integer(validate=validate.Range(min=1))
    status = ma.fields.String(validate=validate.OneOf(["open", "upheld", "reversed"]))
    record_id = ma.fields.Integer(validate=validate.Range(min=1))


# --- evidence and imports ------------------------------------------------------------------

class EvidenceUploadSchema(ma.Schema):
    file = Upload(required=True, metadata={"description": "a JPEG or PNG photo or a PDF, at most 5 MB"})
    household_id = ma.fields.Integer(validate=validate.Range(min=1),
                                     metadata={"description": "the household it is for (a resident's: its own)"})


class EvidenceSchema(ma.Schema):
    id = ma.fields.Integer()
    community_id = ma.fields.Integer()
    household_id = ma.fields.Integer(allow_none=True)
    filename = ma.fields.String()
    content_type = ma.fields.String()
    size = ma.fields.Integer()
    sha256 = ma.fields.String()
    created_at = ma.fields.AwareDateTime()


class ImportUploadSchema(ma.Schema):
    file = Upload(required=True, metadata={"description": "CSV (UTF-8 or GB18030) or XLSX"})
    post = ma.fields.Boolean(load_default=False, metadata={"description": "post the valid rows (default: check only)"})


class HouseholdImportUploadSchema(ma.Schema):
    file = Upload(required=True, metadata={"description": "CSV (UTF-8 or GB18030) or XLSX"})
    dry_run = ma.fields.Boolean(load_default=False, metadata={"description": "check only, create nothing"})


class RowErrorSchema(ma.Schema):
    line = ma.fields.Integer(metadata={"description": "line in the file; the header is line 1"})
    code = ma.fields.String()
    reason = ma.fields.String()


class RecordImportReportSchema(ma.Schema):
    rows = ma.fields.Integer()
    valid = ma.fields.Integer()
    invalid = ma.fields.Integer()
    posted = ma.fields.Integer()
    pending = ma.fields.Integer(metadata={"description": "records created waiting for approval"})
    skipped = ma.fields.Integer(metadata={"description": "rows imported before (already_imported)"})
    points = ma.fields.Integer(metadata={"description": "points of the valid rows that post (or would)"})
    errors = ma.fields.List(ma.fields.Nested(RowErrorSchema))


class HouseholdImportReportSchema(ma.Schema):
    rows = ma.fields.Integer()
    valid = ma.fields.Integer()
    invalid = ma.fields.Integer()
    created = ma.fields.Integer()
    skipped = ma.fields.Integer(metadata={"description": "numbers already registered (already_exists)"})
    errors = ma.fields.List(ma.fields.Nested(RowErrorSchema))
