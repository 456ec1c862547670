from flask.views import MethodView

from pointsbank.apispec import Blueprint
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.database import unit_of_work
from pointsbank.ledger import adjustments, history
from pointsbank.ledger.idempotency import idempotent
from pointsbank.ledger.schemas import (AdjustmentCreateSchema, AdjustmentPageSchema, AdjustmentQueryArgsSchema,
                                      AdjustmentRejectSchema, AdjustmentSchema, PostingPageSchema,
                                      PostingQueryArgsSchema)
from pointsbank.replicas import replica_read

blp = Blueprint("ledger", __name__, url_prefix="/api/v1", description="Household history and manual adjustments")

IDEMPOTENCY = {"parameters": [{"in": "header", "name": "Idempotency-Key", "required": False,
                               "schema": {"type": "string", "maxLength": 255},
                               "description": "the same key with the same body replays the first response"}]}


@blp.route("/households/<int:household_id>/postings")
class HouseholdPostings(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident")
    @replica_read
    @blp.arguments(PostingQueryArgsSchema, location="query")
    @blp.response(200, PostingPageSchema)
    def get(self, args, household_id):
        """A household's history, newest first, with the balance after each posting."""
        return history.household_history(current_user(), household_id, **args)


@blp.route("/households/<int:household_id>/adjustments")
class HouseholdAdjustments(MethodView):
    @policy.allow("staff")
    @unit_of_work
    @idempotent
    @blp.arguments(AdjustmentCreateSchema)
    @blp.response(201, AdjustmentSchema)
    @blp.doc(**IDEMPOTENCY)
    def post(self, data, household_id):
        """A manual correction; above the community's threshold it waits for a second staff member."""
        return adjustments.request_adjustment(current_user(), household_id, **data)


@blp.route("/adjustments/<int:adjustment_id>/approve")
class AdjustmentApproval(MethodView):
    @policy.allow("staff")
    @unit_of_work
    @idempotent
    @blp.response(200, AdjustmentSchema)
    @blp.doc(**IDEMPOTENCY)
    def post(self, adjustment_id):
        """Approve a pending adjustment (a staff member other than the requester)."""
        return adjustments.approve_adjustment(current_user(), adjustment_id)


@blp.route("/adjustments/<int:adjustment_id>/reject")
class AdjustmentRejection(MethodView):
    @policy.allow("staff")
    @unit_of_work
    @blp.arguments(AdjustmentRejectSchema)
    @blp.response(200, AdjustmentSchema)
    def post(self, data, adjustment_id):
        """Turn down (or withdraw) a pending adjustment; nothing moves."""
        return adjustments.reject_adjustment(current_user(), adjustment_id, **data)


@blp.route("/communities/<int:community_id>/adjustments")
class CommunityAdjustments(MethodView):
    @policy.allow("admin", "staff")
    @blp.arguments(AdjustmentQueryArgsSchema, location="query")
    @blp.response(200, AdjustmentPageSchema)
    def get(self, args, community_id):
        """Adjustments of a community, newest first (``status=pending`` is the approval queue)."""
        return adjustments.list_adjustments(current_user(), community_id, **args)
