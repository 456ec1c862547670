"""The town-and-county JSON API: region dashboards, fair scoring and spot checks."""

from flask.views import MethodView

from pointsbank.apispec import Blueprint
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.database import unit_of_work
from pointsbank.regions import dashboard, fairness, spotchecks
from pointsbank.regions.schemas import (DashboardArgsSchema, DashboardExportArgsSchema, DashboardSchema,
                                        FairnessArgsSchema, FairnessSchema, SpotCheckConfirmSchema,
                                        SpotCheckCreateSchema, SpotCheckDisputeSchema, SpotCheckItemSchema,
                                        SpotCheckQueryArgsSchema, SpotCheckSchema)
from pointsbank.replicas import replica_read
from pointsbank.reports import exports

blp = Blueprint("regions", __name__, url_prefix="/api/v1",
                description="The town and the county: region dashboards, fair scoring and spot checks")


errors = blp.errors  # the refusals an operation may answer (apispec.Blueprint.errors)


OUT_OF_SCOPE = (404, "not_found: no such region, or not under the caller's region")
BAD_PERIOD = (400, "invalid_period, or a field that fails validation")


@blp.route("/regions/<int:region_id>/dashboard")
class RegionDashboard(MethodView):
    @policy.allow("admin")
    @replica_read
    @blp.arguments(DashboardArgsSchema, location="query")
    @blp.response(200, DashboardSchema)
    @errors(BAD_PERIOD, OUT_OF_SCOPE)
    def get(self, args, region_id):
        """Per community under a town or county: households, participation, points, redemptions, liability; the trend by quarter."""
        return dashboard.dashboard(current_user(), region_id, args["period"])


@blp.route("/regions/<int:region_id>/dashboard/export")
class RegionDashboardExport(MethodView):
    @policy.allow("admin")
    @replica_read
    @blp.arguments(DashboardExportArgsSchema, location="query")
    @blp.response(200, exports.BINARY, content_type="text/csv")
    @blp.doc(**exports.FILE_DOC)
    @errors(BAD_PERIOD, OUT_OF_SCOPE)
    def get(self, args, region_id):
        """The region dashboard as CSV (UTF-8 with BOM) or XLSX (communities, then the trend)."""
        return exports.attachment(dashboard.export_dashboard(current_user(), region_id, args["period"], args["format"]))


COMMUNITY_SCOPE = (404, "not_found: no such community in the caller's scope")


@blp.route("/communities/<int:community_id>/fairness")
class CommunityFairness(MethodView):
    @policy.allow("admin", "staff")
    @blp.arguments(FairnessArgsSchema, location="query")
    @blp.response(200, FairnessSchema)
    @errors(BAD_PERIOD, COMMUNITY_SCOPE)
    def get(self, args, community_id):
        """Fair scoring: per recorder (records, points, concentration, own grid, outside hours) and busy households."""
        return fairness.fairness(current_user(), community_id, args["period"])


@blp.route("/communities/<int:community_id>/spot-checks")
class CommunitySpotChecks(MethodView):
    @policy.allow("admin", "staff")
    @unit_of_work
    @blp.arguments(SpotCheckCreateSchema)
    @blp.response(201, SpotCheckSchema)
    @errors(BAD_PERIOD, COMMUNITY_SCOPE, (422, "nothing_to_check: no posted record in the period"))
    def post(self, data, community_id):
        """Draw a random sample of the period's posted records (the seed is stored: the same seed, the same sample)."""
        check = spotchecks.draw_spot_check(current_user(), community_id, **data)
        return spotchecks.spot_check_view(check)

    @policy.allow("admin", "staff")
    @blp.arguments(SpotCheckQueryArgsSchema, location="query")
    @blp.response(200, SpotCheckSchema(many=True))
    @errors(BAD_PERIOD, COMMUNITY_SCOPE)
    def get(self, args, community_id):
        """The community's spot checks, newest first (at most 50)."""
        return spotchecks.list_spot_checks(current_user(), community_id, args.get("period"))


@blp.route("/spot-checks/<int:spot_check_id>")
class SpotCheckById(MethodView):
    @policy.allow("admin", "staff")
    @blp.response(200, SpotCheckSchema)
    @errors((404, "not_found: no such spot check in the caller's scope"))
    def get(self, spot_check_id):
        """One spot check with its records and how each was checked."""
        return spotchecks.get_spot_check(current_user(), spot_check_id)


ITEM_ERRORS = ((403, "recorder_cannot_check, or conflict_of_interest (the checker's own household)"),
               (404, "not_found: no such spot check, or the record is not in it"),
               (409, "spot_check_item_checked, or record_not_open_to_objection (a dispute of a record no longer posted)"))


@blp.route("/spot-checks/<int:spot_check_id>/items/<int:record_id>/confirm")
class SpotCheckConfirm(MethodView):
    @policy.allow("staff")
    @unit_of_work
    @blp.arguments(SpotCheckConfirmSchema)
    @blp.response(200, SpotCheckItemSchema)
    @errors(*ITEM_ERRORS)
    def post(self, data, spot_check_id, record_id):
        """Confirm a sampled record (staff other than its recorder)."""
        spotchecks.check_item(current_user(), spot_check_id, record_id, outcome="confirmed", note=data.get("note"))
        return spotchecks.item_view(current_user(), spot_check_id, record_id)


@blp.route("/spot-checks/<int:spot_check_id>/items/<int:record_id>/dispute")
class SpotCheckDispute(MethodView):
    @policy.allow("staff")
    @unit_of_work
    @blp.arguments(SpotCheckDisputeSchema)
    @blp.response(200, SpotCheckItemSchema)
    @errors(*ITEM_ERRORS)
    def post(self, data, spot_check_id, record_id):
        """Dispute a sampled record: an objection opens on it, resolved by other staff (``POST /objections/{id}/resolve``)."""
        spotchecks.check_item(current_user(), spot_check_id, record_id, outcome="disputed", note=data["reason"])
        return spotchecks.item_view(current_user(), spot_check_id, record_id)
