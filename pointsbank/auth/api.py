from flask import request
from flask.views import MethodView

from pointsbank.apispec import PUBLIC, Blueprint
from pointsbank.auth import policy, services
from pointsbank.auth.current import current_user
from pointsbank.auth.schemas import MeSchema, TokenRequestSchema, TokenSchema, UserCreateSchema, UserSchema
from pointsbank.community import services as community_services
from pointsbank.database import unit_of_work

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Logins and tokens")


@blp.route("/auth/tokens")
class Tokens(MethodView):
    @policy.public
    @unit_of_work
    @blp.arguments(TokenRequestSchema)
    @blp.response(201, TokenSchema)
    @blp.doc(**PUBLIC)
    def post(self, data):
        """Log in: exchange a username and password for an API token.

        Failed logins are throttled per username and per client address (429 with Retry-After)."""
        return services.issue_token(data["username"], data["password"], request.remote_addr)


@blp.route("/auth/tokens/current")
class CurrentToken(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident", "cashier")
    @unit_of_work
    @blp.response(204)
    def delete(self):
        """Log out: revoke the token in use."""
        services.revoke_token(current_user())


@blp.route("/me")
class Me(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident", "cashier")
    @blp.response(200, MeSchema)
    def get(self):
        """The caller, and for a resident the household with its balance."""
        user = current_user()
        household = community_services.household_view(user, user.household_id) if user.role == "resident" else None
        return {"user": user, "household": household}


@blp.route("/users")
class Users(MethodView):
    @policy.allow("admin", "staff")
    @unit_of_work
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, data):
        """Create a login (staff: within their community, never an admin)."""
        return services.create_user(current_user(), role=data["role"], username=data["username"],
                                    password=data["password"], community_id=data.get("community_id"),
                                    household_id=data.get("household_id"), shop_id=data.get("shop_id"),
                                    grid_names=data.get("grids"), display_name=data.get("display_name"))
