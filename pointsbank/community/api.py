from flask.views import MethodView

from pointsbank.apispec import Blueprint
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.community import services
from pointsbank.community.schemas import (CommunityCreateSchema, CommunitySchema, CommunitySettingsSchema,
                                          GridSchema, HouseholdCreateSchema, HouseholdPageSchema,
                                          HouseholdQueryArgsSchema, HouseholdSchema, RegionSchema)
from pointsbank.database import read_only, unit_of_work

blp = Blueprint("community", __name__, url_prefix="/api/v1", description="Regions, communities and households")


@blp.route("/regions")
class Regions(MethodView):
    @policy.allow("admin")
    @blp.response(200, RegionSchema(many=True))
    def get(self):
        """The regions (county, town …) under the caller's region."""
        return services.list_regions(current_user())

    @policy.allow("admin")
    @unit_of_work
    @blp.arguments(RegionSchema)
    @blp.response(201, RegionSchema)
    def post(self, data):
        """Add a region under a parent region."""
        return services.create_region(current_user(), **data)


@blp.route("/communities")
class Communities(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident", "cashier")
    @blp.response(200, CommunitySchema(many=True))
    def get(self):
        """The communities the caller may see."""
        return services.list_communities(current_user())

    @policy.allow("admin")
    @unit_of_work
    @blp.arguments(CommunityCreateSchema)
    @blp.response(201, CommunitySchema)
    def post(self, data):
        """Create a community (the tenant) with its scheme settings and system accounts."""
        return services.create_community(current_user(), **data)


@blp.route("/communities/<int:community_id>")
class CommunityById(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident", "cashier")
    @blp.response(200, CommunitySchema)
    def get(self, community_id):
        """One community and its scheme settings."""
        return services.get_community(current_user(), community_id)

    @policy.allow("admin")
    @unit_of_work
    @blp.arguments(CommunitySettingsSchema)
    @blp.response(200, CommunitySchema)
    def patch(self, data, community_id):
        """Change scheme settings from now on (a new point value applies to later redemptions)."""
        return services.update_community(current_user(), community_id, **data)


@blp.route("/communities/<int:community_id>/grids")
class Grids(MethodView):
    @policy.allow("admin", "staff", "grid_worker")
    @blp.response(200, GridSchema(many=True))
    def get(self, community_id):
        """The grids of a community."""
        return services.list_grids(current_user(), community_id)


@blp.route("/communities/<int:community_id>/households")
class Households(MethodView):
    @policy.allow("admin", "staff", "grid_worker")
    @blp.arguments(HouseholdQueryArgsSchema, location="query")
    @blp.response(200, HouseholdPageSchema)
    def get(self, args, community_id):
        """Households, newest first; a grid worker sees only its grids."""
        return services.list_households(current_user(), community_id, **args)

    @policy.allow("admin", "staff")
    @unit_of_work
    @blp.arguments(HouseholdCreateSchema)
    @blp.response(201, HouseholdSchema)
    def post(self, data, community_id):
        """Register a household; its account opens with the community's base points."""
        return services.create_household(current_user(), community_id, **data)


@blp.route("/households/<int:household_id>")
class HouseholdById(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident")
    @read_only
    @blp.response(200, HouseholdSchema)
    def get(self, household_id):
        """A household with balance, base and redeemable points."""
        return services.household_view(current_user(), household_id)
