from flask.views import MethodView

from pointsbank.apispec import Blueprint
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.cards import services
from pointsbank.cards.schemas import CardCreateSchema, CardSchema
from pointsbank.database import unit_of_work

blp = Blueprint("cards", __name__, url_prefix="/api/v1",
                description="Household cards: a printed QR with a signed credential and a PIN, for the counter")


errors = blp.errors  # the refusals an operation may answer (apispec.Blueprint.errors)


NOT_FOUND_HOUSEHOLD = (404, "`not_found`: no such household, or not one the caller may see; "
                            "`no_card`: the household has no live card")
CONFLICT_OF_INTEREST = (403, "`conflict_of_interest`: staff acting on their own household")


@blp.route("/households/<int:household_id>/card")
class HouseholdCard(MethodView):
    @policy.allow("staff")
    @blp.response(200, CardSchema)
    @errors(NOT_FOUND_HOUSEHOLD)
    def get(self, household_id):
        """The household's live card: live or blocked, wrong PINs so far (never its credential)."""
        return services.get_card(current_user(), household_id)

    @policy.allow("staff")
    @unit_of_work
    @blp.arguments(CardCreateSchema)
    @blp.response(201, CardSchema)
    @errors(NOT_FOUND_HOUSEHOLD, CONFLICT_OF_INTEREST,
            (409, "`card_being_issued`: another card for the household is being issued at this moment"),
            (422, "`household_frozen`: a frozen household gets no card"))
    def post(self, data, household_id):
        """Issue the household's card with the PIN chosen at the office; its old card is revoked."""
        return services.issue_card(current_user(), household_id, **data)

    @policy.allow("staff")
    @unit_of_work
    @blp.response(200, CardSchema)
    @errors(NOT_FOUND_HOUSEHOLD, CONFLICT_OF_INTEREST)
    def delete(self, household_id):
        """Revoke the household's card (lost or stolen): it is refused as revoked from now on."""
        return services.revoke_card(current_user(), household_id)


@blp.route("/households/<int:household_id>/card/unblock")
class HouseholdCardUnblock(MethodView):
    @policy.allow("staff")
    @unit_of_work
    @blp.response(200, CardSchema)
    @errors(NOT_FOUND_HOUSEHOLD, CONFLICT_OF_INTEREST, (409, "`card_not_blocked`: the card is not blocked"))
    def post(self, household_id):
        """Unblock the household's card after five wrong PINs: the counter starts again at zero."""
        return services.unblock_card(current_user(), household_id)
