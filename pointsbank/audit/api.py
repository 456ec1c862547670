from flask.views import MethodView

from pointsbank.apispec import Blueprint
from pointsbank.audit import services
from pointsbank.audit.schemas import AuditPageSchema, AuditQueryArgsSchema
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.pagination import page_of

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="The audit trail")


@blp.route("/audit")
class Audit(MethodView):
    @policy.allow("admin")
    @blp.arguments(AuditQueryArgsSchema, location="query")
    @blp.response(200, AuditPageSchema)
    def get(self, args):
        """Privileged actions, newest first, filterable by actor, action, community and time."""
        limit, cursor = args.pop("limit"), args.pop("cursor")
        events = services.list_events(current_user(), after_id=int(cursor) if cursor else None, limit=limit + 1, **args)
        return page_of(events, limit, lambda e: e.id)
