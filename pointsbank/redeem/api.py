from flask import make_response, request
from flask.views import MethodView

from pointsbank.apispec import PUBLIC, Blueprint, ErrorSchema
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.cards import payments as card_payments
from pointsbank.database import unit_of_work
from pointsbank.ledger.api import IDEMPOTENCY
from pointsbank.ledger.idempotency import idempotent
from pointsbank.redeem import keys, redemptions, shops, vouchers
from pointsbank.redeem.schemas import (KeySetQueryArgsSchema, KeySetSchema, PartnerCreateSchema, PartnershipSchema,
                                       ReceiptPageSchema, ReceiptQueryArgsSchema, ReceiptSchema, RedemptionCreateSchema,
                                       ReversalSchema, ShopCreateSchema, ShopDetailSchema, ShopSchema,
                                       SigningKeySchema, VoucherCreateSchema, VoucherPageSchema,
                                       VoucherQueryArgsSchema, VoucherSchema)

blp = Blueprint("redeem", __name__, url_prefix="/api/v1",
                description="Partner shops, signed QR vouchers and their redemption at the till")

#: how long clients and proxies may keep the key set (a new kid makes a verifier fetch it again)
KEYS_MAX_AGE = 300


# --- shops ---------------------------------------------------------------------------------

@blp.route("/communities/<int:community_id>/shops")
class CommunityShops(MethodView):
    @policy.allow("admin", "staff")
    @blp.response(200, ShopSchema(many=True))
    def get(self, community_id):
        """The shops that partner with a community."""
        return shops.list_shops(current_user(), community_id)

    @policy.allow("admin", "staff")
    @unit_of_work
    @blp.arguments(ShopCreateSchema)
    @blp.response(201, ShopSchema)
    def post(self, data, community_id):
        """Register a partner shop of the community (with its ledger account there)."""
        return shops.create_shop(current_user(), community_id, **data)


@blp.route("/shops/<int:shop_id>")
class ShopById(MethodView):
    @policy.allow("admin", "staff", "cashier")
    @blp.response(200, ShopDetailSchema)
    def get(self, shop_id):
        """A shop, its partner communities and its cashier logins."""
        return shops.get_shop(current_user(), shop_id)


@blp.route("/shops/<int:shop_id>/partners")
class ShopPartners(MethodView):
    @policy.allow("admin")
    @unit_of_work
    @blp.arguments(PartnerCreateSchema)
    @blp.response(201, PartnershipSchema)
    def post(self, data, shop_id):
        """Partner a shop with another community (an admin over both)."""
        return shops.add_partner(current_user(), shop_id, **data)


@blp.route("/shops/<int:shop_id>/redemptions")
class ShopRedemptions(MethodView):
    @policy.allow("admin", "staff", "cashier")
    @blp.arguments(ReceiptQueryArgsSchema, location="query")
    @blp.response(200, ReceiptPageSchema)
    def get(self, args, shop_id):
        """A shop's redemptions, newest first (staff and admins: those of their communities)."""
        return redemptions.list_shop_redemptions(current_user(), shop_id, **args)


# --- signing keys --------------------------------------------------------------------------

@blp.route("/keys")
class Keys(MethodView):
    @policy.public
    @blp.arguments(KeySetQueryArgsSchema, location="query")
    @blp.response(200, KeySetSchema)
    @blp.doc(**PUBLIC)
    def get(self, args):
        """The public keys that verify voucher tokens (JWKS-like; cacheable for five minutes)."""
        return keys.key_set(args.get("community_id")), 200, {"Cache-Control": f"public, max-age={KEYS_MAX_AGE}"}


@blp.route("/communities/<int:community_id>/keys/rotate")
class KeyRotation(MethodView):
    @policy.allow("admin")
    @unit_of_work
    @blp.response(201, SigningKeySchema)
    def post(self, community_id):
        """Make a new signing key for the community; the old one retires but still verifies its tokens."""
        return keys.rotate(current_user(), community_id)


# --- vouchers ------------------------------------------------------------------------------

@blp.route("/vouchers")
class Vouchers(MethodView):
    @policy.allow("resident", "staff", "grid_worker")
    @unit_of_work
    @idempotent
    @blp.arguments(VoucherCreateSchema)
    @blp.response(201, VoucherSchema)
    @blp.doc(**IDEMPOTENCY)
    def post(self, data):
        """Create a voucher from the household's redeemable points (422 insufficient_points beyond them)."""
        return vouchers.issue_voucher(current_user(), **data)


@blp.route("/vouchers/<voucher_id>")
class VoucherById(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident")
    @blp.response(200, VoucherSchema)
    def get(self, voucher_id):
        """A voucher, its status and, once redeemed, its receipt."""
        return vouchers.get_voucher(current_user(), voucher_id)

    @policy.allow("staff", "grid_worker", "resident")
    @unit_of_work
    @idempotent
    @blp.response(200, VoucherSchema)
    @blp.doc(**IDEMPOTENCY)
    def delete(self, voucher_id):
        """Cancel an open voucher: its points go back to the household (409 once redeemed or cancelled)."""
        return vouchers.cancel_voucher(current_user(), voucher_id)


def _image(voucher_id: str, kind: str):
    image = vouchers.voucher_qr(current_user(), voucher_id, kind)
    response = make_response(image.body)
    response.mimetype = image.mimetype
    response.set_etag(image.etag)
    response.cache_control.private = True
    response.cache_control.max_age = image.max_age
    return response.make_conditional(request)


BINARY = {"type": "string", "format": "binary"}
IMAGE_DOC = "the QR code of the voucher's token; `Cache-Control: private` until the voucher expires, with an ETag"


@blp.route("/vouchers/<voucher_id>/qr.png")
class VoucherQrPng(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident")
    @blp.response(200, BINARY, content_type="image/png", description=IMAGE_DOC)
    def get(self, voucher_id):
        """The voucher's QR code as a PNG (10 pixels per module)."""
        return _image(voucher_id, "png")


@blp.route("/vouchers/<voucher_id>/qr.svg")
class VoucherQrSvg(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident")
    @blp.response(200, BINARY, content_type="image/svg+xml", description=IMAGE_DOC)
    def get(self, voucher_id):
        """The voucher's QR code as SVG, scaled to fit its container."""
        return _image(voucher_id, "svg")


@blp.route("/households/<int:household_id>/vouchers")
class HouseholdVouchers(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident")
    @blp.arguments(VoucherQueryArgsSchema, location="query")
    @blp.response(200, VoucherPageSchema)
    def get(self, args, household_id):
        """A household's vouchers, newest first."""
        return vouchers.list_household_vouchers(current_user(), household_id, **args)


# --- redemptions ---------------------------------------------------------------------------

@blp.route("/redemptions")
class Redemptions(MethodView):
    @policy.allow("cashier")
    @unit_of_work
    @idempotent
    @blp.arguments(RedemptionCreateSchema)
    @blp.response(201, ReceiptSchema)
    @blp.doc(**IDEMPOTENCY)
    @blp.alt_response(401, schema=ErrorSchema, description="`wrong_pin`: a card's PIN is wrong "
                                                            "(`details.attempts_left`)")
    @blp.alt_response(410, schema=ErrorSchema, description="`voucher_expired`; `card_revoked`: the card was revoked")
    @blp.alt_response(423, schema=ErrorSchema, description="`card_blocked`: five wrong PINs in a row; staff must "
                                                            "unblock the card")
    def post(self, data):
        """Redeem a voucher at the caller's shop (the points rung up go to the shop, the rest home), or
        pay with a household card and its PIN straight from the household's redeemable points."""
        return card_payments.redeem_code_or_card(current_user(), **data)


@blp.route("/redemptions/<int:redemption_id>/reverse")
class RedemptionReversal(MethodView):
    @policy.allow("admin", "staff")
    @unit_of_work
    @idempotent
    @blp.arguments(ReversalSchema)
    @blp.response(200, ReceiptSchema)
    @blp.doc(**IDEMPOTENCY)
    def post(self, data, redemption_id):
        """Correct a redemption: the shop gives the points back to the household; the voucher stays redeemed."""
        return redemptions.reverse_redemption(current_user(), redemption_id, **data)
