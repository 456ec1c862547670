from flask.views import MethodView

from pointsbank.apispec import Blueprint, ErrorSchema
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.database import unit_of_work
from pointsbank.notify import services
from pointsbank.notify.schemas import NotificationPageSchema, NotificationQueryArgsSchema, NotificationSchema

blp = Blueprint("notify", __name__, url_prefix="/api/v1", description="The resident's inbox of notifications")


@blp.route("/me/notifications")
class MyNotifications(MethodView):
    @policy.allow("resident")
    @blp.arguments(NotificationQueryArgsSchema, location="query")
    @blp.response(200, NotificationPageSchema)
    def get(self, args):
        """The inbox of the caller's household, newest first, with the unread count: points added or
        deducted (with the objection deadline), vouchers and reservations about to expire, a card blocked."""
        return services.inbox(current_user(), **args)


@blp.route("/me/notifications/<int:notification_id>/read")
class MyNotificationRead(MethodView):
    @policy.allow("resident")
    @unit_of_work
    @blp.response(200, NotificationSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="`not_found`: no such message in the caller's inbox")
    def post(self, notification_id):
        """Mark a message read (again: no change)."""
        return services.mark_read(current_user(), notification_id)
