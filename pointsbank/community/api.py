from flask.views import MethodView

from pointsbank.apispec import Blueprint
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.community import freeze, proxies, services
from pointsbank.community.schemas import (CommunityCreateSchema, CommunitySchema, CommunitySettingsSchema,
                                          FreezeSchema, GridSchema, HouseholdCreateSchema, HouseholdPageSchema,
                                          HouseholdQueryArgsSchema, HouseholdSchema, HouseholdUpdateSchema, ProxyCreateSchema, ProxySchema,
                                          RegionSchema)
from pointsbank.database import read_only, unit_of_work
from pointsbank.replicas import replica_read
from pointsbank.request_state import forget_on_reuse

blp = Blueprint("community", __name__, url_prefix="/api/v1", description="Regions, communities and households")
blp.record_once(lambda state: forget_on_reuse(state.app, policy.forget_proxy_grants))
blp.after_app_request(proxies.audit_uses)  # every use of a proxy grant, audited with both names


errors = blp.errors  # the refusals an operation may answer (apispec.Blueprint.errors)


NOT_FOUND_HOUSEHOLD = (404, "`not_found`: no such household, or not one the caller may see")
CONFLICT_OF_INTEREST = (403, "`conflict_of_interest`: staff acting on their own household")


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
    @replica_read
    @read_only
    @blp.response(200, HouseholdSchema)
    def get(self, household_id):
        """A household with balance, base and redeemable points."""
        return services.household_view(current_user(), household_id)

    @policy.allow("admin", "staff")
    @unit_of_work
    @blp.arguments(HouseholdUpdateSchema)
    @blp.response(200, HouseholdSchema)
    @errors(NOT_FOUND_HOUSEHOLD)
    def patch(self, data, household_id):
        """Correct the head's name or the address, set the phone for SMS notifications (shown masked
        from then on) or the household's SMS opt-out."""
        return services.update_household(current_user(), household_id, **data)


@blp.route("/households/<int:household_id>/freeze")
class HouseholdFreeze(MethodView):
    @policy.allow("staff")
    @unit_of_work
    @blp.arguments(FreezeSchema)
    @blp.response(200, HouseholdSchema)
    @errors(NOT_FOUND_HOUSEHOLD, CONFLICT_OF_INTEREST)
    def post(self, data, household_id):
        """Freeze a household (moved away, deceased, under review): awards, vouchers, cards and
        redemptions are refused with 422 `household_frozen` until it is unfrozen; balance and
        history are kept. Freezing a frozen household changes its reason."""
        freeze.freeze_household(current_user(), household_id, **data)
        return services.household_view(current_user(), household_id)


@blp.route("/households/<int:household_id>/unfreeze")
class HouseholdUnfreeze(MethodView):
    @policy.allow("staff")
    @unit_of_work
    @blp.response(200, HouseholdSchema)
    @errors(NOT_FOUND_HOUSEHOLD, CONFLICT_OF_INTEREST, (409, "`household_not_frozen`: the household is not frozen"))
    def post(self, household_id):
        """Unfreeze a household: everything works again as before."""
        freeze.unfreeze_household(current_user(), household_id)
        return services.household_view(current_user(), household_id)


@blp.route("/households/<int:household_id>/proxies")
class HouseholdProxies(MethodView):
    @policy.allow("admin", "staff")
    @blp.response(200, ProxySchema(many=True))
    @errors(NOT_FOUND_HOUSEHOLD)
    def get(self, household_id):
        """The logins that may see and spend for the household (its proxies, 代办人)."""
        return proxies.list_proxies(current_user(), household_id)

    @policy.allow("staff")
    @unit_of_work
    @blp.arguments(ProxyCreateSchema)
    @blp.response(201, ProxySchema)
    @errors((404, "`not_found`: no such household or login in the caller's community"),
            (409, "`proxy_exists`: the login is already a proxy for the household"),
            (422, "`proxy_not_allowed`: only a resident of another household or a grid worker can be a proxy"))
    def post(self, data, household_id):
        """Let a relative's resident login or a grid worker see the household's balance, history and
        passbook and issue its vouchers; every use is audited with both names."""
        return proxies.grant_proxy(current_user(), household_id, **data)


@blp.route("/households/<int:household_id>/proxies/<int:user_id>")
class HouseholdProxyById(MethodView):
    @policy.allow("staff")
    @unit_of_work
    @blp.response(204)
    @errors((404, "`not_found`: no such household in the caller's scope; `proxy_not_found`: the login is not "
                  "a proxy for the household"))
    def delete(self, household_id, user_id):
        """End a proxy grant: from now on the login is refused like any stranger."""
        proxies.revoke_proxy(current_user(), household_id, user_id)
