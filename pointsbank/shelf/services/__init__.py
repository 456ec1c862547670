"""The shelf's use cases, one module per room; everything a caller needs is re-exported here."""

from pointsbank.shelf.services.baskets import Basket, lines_of, price, record
from pointsbank.shelf.services.catalogue import (create_item, eligibility, find_by_barcode, get_item, item_view,
                                                 list_items, photo_of, shops_with_shelf, update_item)
from pointsbank.shelf.services.reports import export_stock_statement, most_redeemed, stock_statement
from pointsbank.shelf.services.reservation_reads import get_reservation, list_reservations, pickup_qr
from pointsbank.shelf.services.reservations import (cancel_reservation, collect_reservation, create_reservation,
                                                    expire_reservations)
from pointsbank.shelf.services.stock import list_movements, move_stock, verify_stock

__all__ = ["Basket", "cancel_reservation", "collect_reservation", "create_item", "create_reservation", "eligibility",
           "expire_reservations", "export_stock_statement", "find_by_barcode", "get_item", "get_reservation",
           "item_view", "lines_of", "list_items", "list_movements", "list_reservations", "most_redeemed", "move_stock", "photo_of", "pickup_qr",
           "price", "record", "shops_with_shelf", "stock_statement", "update_item", "verify_stock"]
