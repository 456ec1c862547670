from flask import request, send_file
from flask.views import MethodView
from werkzeug.datastructures import CombinedMultiDict

from pointsbank.apispec import Blueprint, Parser
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.community import household_import
from pointsbank.database import unit_of_work
from pointsbank.ledger.idempotency import idempotent
from pointsbank.rules import (approvals, evidence, importer, listing, objections, records,
                              services as books)
from pointsbank.rules.schemas import (YAML_BODY, DecisionSchema, EvidenceSchema, EvidenceUploadSchema,
                                      GroupCreateSchema, HouseholdImportReportSchema, HouseholdImportUploadSchema,
                                      ImportUploadSchema, ObjectionCreateSchema, ObjectionPageSchema,
                                      ObjectionQueryArgsSchema, ObjectionResolveSchema, ObjectionSchema,
                                      RecordCreateSchema, RecordImportReportSchema, RecordPageSchema,
                                      RecordQueryArgsSchema, RecordRejectSchema, RecordSchema, RuleBookSchema,
                                      RuleBookVersionSchema)


class MultipartParser(Parser):
    """``location="files"`` reads a whole multipart body: its files, its form fields (and the
    query string), so one schema — one OpenAPI ``multipart/form-data`` body — has them all."""

    def load_files(self, req, schema):
        return self._makeproxy(CombinedMultiDict([req.args, req.form, req.files]), schema)


class RulesBlueprint(Blueprint):
    ARGUMENTS_PARSER = MultipartParser()


blp = RulesBlueprint("rules", __name__, url_prefix="/api/v1",
                     description="Rule books, behaviour records, approvals, objections, evidence and imports")

IDEMPOTENCY = {"parameters": [{"in": "header", "name": "Idempotency-Key", "required": False,
                               "schema": {"type": "string", "maxLength": 255},
                               "description": "the same key with the same body replays the first response"}]}
BINARY = {"type": "string", "format": "binary"}


@blp.route("/communities/<int:community_id>/rulebooks")
class RuleBooks(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident")
    @unit_of_work
    @blp.response(200, RuleBookVersionSchema(many=True))
    def get(self, community_id):
        """Every published rule-book version, newest effective date first."""
        return books.list_versions(current_user(), community_id)

    @policy.allow("admin", "staff")
    @unit_of_work
    @blp.response(201, RuleBookSchema)
    @blp.doc(**YAML_BODY)
    def post(self, community_id):
        """Publish a rule book (YAML); 400 ``rulebook_invalid`` lists every problem with its line."""
        return books.publish(current_user(), community_id, request.get_data(cache=False), request.content_type)


@blp.route("/communities/<int:community_id>/rulebooks/current")
class CurrentRuleBook(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident")
    @unit_of_work
    @blp.response(200, RuleBookSchema)
    def get(self, community_id):
        """The rule book in force today (the shipped default until the community publishes one)."""
        return books.current(current_user(), community_id)


@blp.route("/records")
class Records(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident")
    @blp.arguments(RecordQueryArgsSchema, location="query")
    @blp.response(200, RecordPageSchema)
    def get(self, args):
        """Records, newest first, filtered by status, household, grid, rule and period (2026Q2, 2026-05)."""
        return listing.list_records(current_user(), **args)

    @policy.allow("staff", "grid_worker", "resident")
    @unit_of_work
    @idempotent
    @blp.arguments(RecordCreateSchema)
    @blp.response(201, RecordSchema)
    @blp.doc(**IDEMPOTENCY)
    def post(self, data):
        """Record a behaviour: posted at once when its rule allows, else pending; a resident's claim always waits."""
        return records.create_record(current_user(), **data)


@blp.route("/records/evaluate")
class RecordEvaluation(MethodView):
    @policy.allow("staff", "grid_worker", "resident")
    @unit_of_work
    @blp.arguments(RecordCreateSchema)
    @blp.response(200, DecisionSchema)
    def post(self, data):
        """What a record would score and why (caps, approvals); records nothing."""
        return records.evaluate_record(current_user(), **data)


@blp.route("/records/group")
class RecordGroup(MethodView):
    @policy.allow("staff", "grid_worker")
    @unit_of_work
    @idempotent
    @blp.arguments(GroupCreateSchema)
    @blp.response(201, RecordSchema(many=True))
    @blp.doc(**IDEMPOTENCY)
    def post(self, data):
        """One activity for many households or residents (≤ 500), each scored and capped on its own."""
        return records.create_group(current_user(), **data)


@blp.route("/records/<int:record_id>")
class RecordById(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident")
    @blp.response(200, RecordSchema)
    def get(self, record_id):
        """One record with its reasons, approvals and notice deadline."""
        return listing.get_record(current_user(), record_id)


@blp.route("/records/<int:record_id>/approve")
class RecordApproval(MethodView):
    @policy.allow("staff")
    @unit_of_work
    @idempotent
    @blp.response(200, RecordSchema)
    @blp.doc(**IDEMPOTENCY)
    def post(self, record_id):
        """Approve a pending record (staff other than the recorder); it posts once approvals suffice."""
        return approvals.approve(current_user(), record_id)


@blp.route("/records/<int:record_id>/reject")
class RecordRejection(MethodView):
    @policy.allow("staff")
    @unit_of_work
    @blp.arguments(RecordRejectSchema)
    @blp.response(200, RecordSchema)
    def post(self, data, record_id):
        """Reject a pending record (staff other than the recorder); nothing moves, its cap is given back."""
        return approvals.reject(current_user(), record_id, **data)


@blp.route("/records/<int:record_id>/objections")
class RecordObjections(MethodView):
    @policy.allow("resident")
    @unit_of_work
    @blp.arguments(ObjectionCreateSchema)
    @blp.response(201, ObjectionSchema)
    def post(self, data, record_id):
        """Object to a posted record during its notice period (any resident of the community)."""
        return objections.raise_objection(current_user(), record_id, **data)


@blp.route("/objections")
class Objections(MethodView):
    @policy.allow("admin", "staff")
    @blp.arguments(ObjectionQueryArgsSchema, location="query")
    @blp.response(200, ObjectionPageSchema)
    def get(self, args):
        """Objections, newest first (``status=open`` is the queue to resolve)."""
        return objections.list_objections(current_user(), **args)


@blp.route("/objections/<int:objection_id>/resolve")
class ObjectionResolution(MethodView):
    @policy.allow("staff")
    @unit_of_work
    @idempotent
    @blp.arguments(ObjectionResolveSchema)
    @blp.response(200, ObjectionSchema)
    @blp.doc(**IDEMPOTENCY)
    def post(self, data, objection_id):
        """Resolve an objection: ``upheld`` keeps the record, ``reversed`` reverses its points."""
        return objections.resolve(current_user(), objection_id, **data)


@blp.route("/evidence")
class EvidenceUpload(MethodView):
    @policy.allow("staff", "grid_worker", "resident")
    @unit_of_work
    @blp.arguments(EvidenceUploadSchema, location="files")
    @blp.response(201, EvidenceSchema)
    def post(self, data):
        """Upload a photo or document (JPEG, PNG or PDF, ≤ 5 MB) to cite as a record's evidence."""
        upload = data["file"]
        return evidence.upload(current_user(), stream=upload.stream, filename=upload.filename,
                               household_id=data.get("household_id"))


@blp.route("/evidence/<int:evidence_id>")
class EvidenceFile(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident")
    @blp.response(200, BINARY, content_type="image/jpeg")
    @blp.doc(responses={"200": {"description": "the file, with its own content type (image/jpeg, image/png or "
                                               "application/pdf)",
                                "content": {kind: {"schema": BINARY} for _, kind in evidence.SIGNATURES}}})
    def get(self, evidence_id):
        """The evidence file, for those who may see its household."""
        found, path = evidence.open_evidence(current_user(), evidence_id)
        response = send_file(path, mimetype=found.content_type, download_name=found.filename, etag=found.sha256,
                             max_age=0, conditional=True)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "private, no-cache"
        return response


@blp.route("/communities/<int:community_id>/records/import")
class RecordImport(MethodView):
    @policy.allow("staff")
    @unit_of_work
    @idempotent
    @blp.arguments(ImportUploadSchema, location="files")
    @blp.response(200, RecordImportReportSchema)
    @blp.doc(**IDEMPOTENCY)
    def post(self, data, community_id):
        """Import records from CSV or XLSX: every row checked, posted only with ``post=true`` (form or query)."""
        upload = data["file"]
        return importer.import_records(current_user(), community_id, upload.read(), upload.filename,
                                       post=data["post"])


@blp.route("/communities/<int:community_id>/households/import")
class HouseholdImport(MethodView):
    @policy.allow("admin", "staff")
    @unit_of_work
    @blp.arguments(HouseholdImportUploadSchema, location="files")
    @blp.response(200, HouseholdImportReportSchema)
    def post(self, data, community_id):
        """Import the household register from CSV or XLSX; numbers already registered are skipped."""
        upload = data["file"]
        return household_import.import_households(current_user(), community_id, upload.read(), upload.filename,
                                                  dry_run=data["dry_run"])
