"""The shelf's JSON API: catalogue, stock, reservations and the stock statement.

Basket redemption itself is ``POST /redemptions`` with ``items`` (the redeem blueprint).
Every refusal answers the one error shape; each operation lists the ones it may give.
"""

from flask import make_response, send_file
from flask.views import MethodView

from pointsbank.apispec import Blueprint
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.database import unit_of_work
from pointsbank.ledger.api import IDEMPOTENCY
from pointsbank.ledger.idempotency import idempotent
from pointsbank.redeem.schemas import ReceiptSchema
from pointsbank.reports import exports
from pointsbank.shelf import services
from pointsbank.shelf.schemas import (CollectSchema, ItemCreateSchema, ItemQueryArgsSchema, ItemSchema,
                                      MostRedeemedArgsSchema, MostRedeemedSchema,
                                      ItemUpdateSchema, MovementPageSchema, MovementQueryArgsSchema,
                                      MovementResultSchema, ReservationCreateSchema, ReservationQueryArgsSchema,
                                      ReservationSchema, StockChangeSchema, StockQueryArgsSchema, StockStatementSchema)

#: not "shelf": that is the name of the shelf's pages (``pointsbank.web``); Flask names must differ
blp = Blueprint("shelf_api", __name__, url_prefix="/api/v1",
                description="The points supermarket's shelf: items, stock, reservations, the stock statement")

BINARY = {"type": "string", "format": "binary"}


errors = blp.errors  # the refusals an operation may answer (apispec.Blueprint.errors)


NOT_FOUND_SHOP = (404, "`not_found`: no such shop, or not one of the caller's")
NOT_FOUND_ITEM = (404, "`item_not_found`: no such item, or not on a shelf the caller may see")
ITEM_REFUSALS = ((409, "`barcode_taken`: another item of the shop has this barcode"),
                 (422, "`invalid_item`: the fields do not make an item (e.g. available_until before available_from)"))
BASKET_REFUSALS = (
    (409, "`out_of_stock`: `details.items` names every item short of stock with `requested` and `left`; "
          "nothing is taken"),
    (422, "`household_limit_reached`, `stars_required`, `item_unavailable` (each naming its items in "
          "`details.items`), `insufficient_points`"))


# --- catalogue -----------------------------------------------------------------------------

@blp.route("/shops/<int:shop_id>/items")
class ShopItems(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident", "cashier")
    @blp.arguments(ItemQueryArgsSchema, location="query")
    @blp.response(200, ItemSchema(many=True))
    @errors(NOT_FOUND_SHOP, (403, "`forbidden`: a cashier asked about a household"))
    def get(self, args, shop_id):
        """The shop's shelf, by name; with a household (residents: their own) each item says whether
        the household may take it now and why not."""
        return services.list_items(current_user(), shop_id, household_id=args.get("household_id"),
                                   query=args.get("q"))

    @policy.allow("admin", "staff")
    @unit_of_work
    @blp.arguments(ItemCreateSchema)
    @blp.response(201, ItemSchema)
    @errors(NOT_FOUND_SHOP, (404, "`evidence_not_found`: no such photo"), *ITEM_REFUSALS)
    def post(self, data, shop_id):
        """Put an item on the shop's shelf (staff of a partner community); `stock` is the opening stock, null unlimited."""
        return services.create_item(current_user(), shop_id, **data)


@blp.route("/shops/<int:shop_id>/items/barcode/<barcode>")
class ItemByBarcode(MethodView):
    @policy.allow("admin", "staff", "cashier")
    @blp.response(200, ItemSchema)
    @errors(NOT_FOUND_ITEM)
    def get(self, shop_id, barcode):
        """The shop's active item with this barcode (what the cashier's camera scanned)."""
        return services.find_by_barcode(current_user(), shop_id, barcode)


@blp.route("/items/<int:item_id>")
class ItemById(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident", "cashier")
    @blp.response(200, ItemSchema)
    @errors(NOT_FOUND_ITEM)
    def get(self, item_id):
        """One item of a shelf."""
        return services.get_item(current_user(), item_id)

    @policy.allow("admin", "staff")
    @unit_of_work
    @blp.arguments(ItemUpdateSchema)
    @blp.response(200, ItemSchema)
    @errors(NOT_FOUND_ITEM, (404, "`evidence_not_found`: no such photo"), *ITEM_REFUSALS)
    def patch(self, data, item_id):
        """Change an item from now on (not its stock: that moves through `POST /items/{id}/stock`)."""
        return services.update_item(current_user(), item_id, **data)


@blp.route("/items/<int:item_id>/photo")
class ItemPhoto(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident", "cashier")
    @blp.response(200, BINARY, content_type="image/jpeg", description="the photo (JPEG or PNG)")
    @errors(NOT_FOUND_ITEM, (404, "`evidence_not_found`: the item has no photo"))
    def get(self, item_id):
        """The item's photo, for whoever may see the item."""
        found, path = services.photo_of(current_user(), item_id)
        response = send_file(path, mimetype=found.content_type, etag=found.sha256, max_age=0, conditional=True)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "private, no-cache"
        return response


# --- stock ---------------------------------------------------------------------------------

@blp.route("/items/<int:item_id>/stock")
class ItemStock(MethodView):
    @policy.allow("admin", "staff", "cashier")
    @blp.arguments(MovementQueryArgsSchema, location="query")
    @blp.response(200, MovementPageSchema)
    @errors(NOT_FOUND_ITEM)
    def get(self, args, item_id):
        """The item's stock movements, newest first."""
        return services.list_movements(current_user(), item_id, **args)

    @policy.allow("admin", "staff")
    @unit_of_work
    @idempotent
    @blp.arguments(StockChangeSchema)
    @blp.response(201, MovementResultSchema)
    @blp.doc(**IDEMPOTENCY)
    @errors(NOT_FOUND_ITEM, (422, "`stock_not_tracked` (an unlimited item), `stock_negative` (below zero), "
                                  "`invalid_item` (e.g. a delivery of 0)"))
    def post(self, data, item_id):
        """Record a delivery, donation, loss or count (`count`: the quantity counted; the difference is recorded)."""
        return services.move_stock(current_user(), item_id, **data)


@blp.route("/shops/<int:shop_id>/stock")
class ShopStock(MethodView):
    @policy.allow("admin", "staff", "cashier")
    @blp.arguments(StockQueryArgsSchema, location="query")
    @blp.response(200, StockStatementSchema)
    @blp.doc(responses={"200": {"description": "the statement as JSON, or with `format=csv|xlsx` as a file",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StockStatement"}},
                                            "text/csv": {"schema": BINARY}, exports.XLSX_MIME: {"schema": BINARY}}}})
    @errors(NOT_FOUND_SHOP, (400, "`invalid_period`: not a quarter like 2026Q3 or a year like 2026"))
    def get(self, args, shop_id):
        """The shop's stock statement for a quarter or a year: per item opening, in, out, loss, left, points taken."""
        fmt = args.get("format", "json")
        if fmt == "json":
            return services.stock_statement(current_user(), shop_id, args["period"])
        return exports.attachment(services.export_stock_statement(current_user(), shop_id, args["period"], fmt))


@blp.route("/communities/<int:community_id>/shelf/most-redeemed")
class MostRedeemed(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident", "cashier")
    @blp.arguments(MostRedeemedArgsSchema, location="query")
    @blp.response(200, MostRedeemedSchema)
    @errors((404, "`not_found`: not a community of the caller's"), (400, "`invalid_period`"))
    def get(self, args, community_id):
        """The goods the community's households took most in a quarter or a year, by units (totals per good only)."""
        return services.most_redeemed(current_user(), community_id, args.get("period"), limit=args["limit"])


# --- reservations --------------------------------------------------------------------------

@blp.route("/reservations")
class Reservations(MethodView):
    @policy.allow("admin", "staff", "resident", "cashier")
    @blp.arguments(ReservationQueryArgsSchema, location="query")
    @blp.response(200, ReservationSchema(many=True))
    def get(self, args):
        """Reservations in the caller's scope, newest first (a cashier: its shop's, without pickup codes)."""
        return services.list_reservations(current_user(), **args)

    @policy.allow("resident", "staff")
    @unit_of_work
    @idempotent
    @blp.arguments(ReservationCreateSchema)
    @blp.response(201, ReservationSchema)
    @blp.doc(**IDEMPOTENCY)
    @errors((400, "`household_required` (staff), `basket_empty`"),
            (404, "`not_found`: the household or the shop (not a partner of the household's community); "
                  "`item_not_found`"),
            (403, "`shop_inactive`, `conflict_of_interest`"), *BASKET_REFUSALS)
    def post(self, data):
        """Reserve items for the redemption day: the points go into escrow and the stock is held until
        collected, cancelled or expired."""
        return services.create_reservation(current_user(), **data)


@blp.route("/reservations/<int:reservation_id>")
class ReservationById(MethodView):
    @policy.allow("admin", "staff", "resident", "cashier")
    @blp.response(200, ReservationSchema)
    @errors((404, "`reservation_not_found`"))
    def get(self, reservation_id):
        """One reservation and its lines."""
        return services.get_reservation(current_user(), reservation_id)

    @policy.allow("resident", "staff")
    @unit_of_work
    @idempotent
    @blp.response(200, ReservationSchema)
    @blp.doc(**IDEMPOTENCY)
    @errors((404, "`reservation_not_found`"), (409, "`reservation_closed`: already collected or cancelled"),
            (410, "`reservation_expired`: its points and goods are going back already"))
    def delete(self, reservation_id):
        """Cancel a held reservation: its points go back to the household and its goods to the shelf."""
        return services.cancel_reservation(current_user(), reservation_id)


@blp.route("/reservations/<int:reservation_id>/qr.svg")
class ReservationQr(MethodView):
    @policy.allow("admin", "staff", "resident")
    @blp.response(200, BINARY, content_type="image/svg+xml", description="the pickup code as a QR code")
    @errors((404, "`reservation_not_found`"), (409, "`reservation_closed`"), (410, "`reservation_expired`"))
    def get(self, reservation_id):
        """The QR code of a held reservation's pickup code, to show at the counter."""
        response = make_response(services.pickup_qr(current_user(), reservation_id))
        response.mimetype = "image/svg+xml"
        response.cache_control.private = True
        response.cache_control.no_cache = True
        return response


@blp.route("/reservations/collect")
class ReservationCollect(MethodView):
    @policy.allow("cashier")
    @unit_of_work
    @idempotent
    @blp.arguments(CollectSchema)
    @blp.response(201, ReceiptSchema)
    @blp.doc(**IDEMPOTENCY)
    @errors((400, "`pickup_code_malformed` (counts as a guess)"),
            (404, "`reservation_not_found`: no reservation of this shop has the code (counts as a guess)"),
            (409, "`reservation_closed`: already collected or cancelled"), (410, "`reservation_expired`"),
            (429, "`too_many_attempts`: too many wrong codes; `Retry-After` says when to try again"))
    def post(self, data):
        """Hand a reservation over at the counter: its points go to the shop; the receipt lists the goods."""
        return services.collect_reservation(current_user(), **data)
