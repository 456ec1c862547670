"""The shelf's pages through the test client, as a browser would use them (CSRF on): the staff's
catalogue, stock movements, packing list and stock statement; the resident's shelf, reservation
and pickup code; the cashier's basket and collection; the items most redeemed on the notice board."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from pointsbank.extensions import db
from pointsbank.ledger.verify import verify
from pointsbank.redeem import vouchers
from pointsbank.shelf.models import Reservation, ShelfItem, StockMovement
from pointsbank.shelf.services import catalogue
from tests.fixtures.rules import PNG
from tests.integration.helpers_redeem import give, household_balance
from tests.integration.helpers_shelf import stock_clean, stock_of
from tests.web.helpers import actor, csrf_token, login, text
from pointsbank.database import row_by_id


def _item(world, name: str, points: int, stock: int | None, **fields: Any) -> dict[str, Any]:
    made = catalogue.create_item(actor(world, "staff_a2"), world["shop_a"], name={"zh": name, "en": fields.pop("en", name)},
                                 points=points, stock=stock, **fields)
    db.session.commit()
    return made


@pytest.fixture
def shelf(world) -> dict[str, dict[str, Any]]:
    """Soap (10 points, 5 in stock), rice (60, 2 left, one per household a month), a thermos (500)."""
    return {"soap": _item(world, "肥皂", 10, 5, en="Soap", barcode="6901234567892"),
            "rice": _item(world, "大米", 60, 2, en="Rice", limit={"period": "month", "count": 1}),
            "thermos": _item(world, "保温杯", 500, 1, en="Thermos")}


def _post(client, page: str, action: str, data: dict[str, Any], **kwargs: Any) -> Any:
    token = csrf_token(text(client.get(page)))
    return client.post(action, data={"csrf_token": token, **data}, **kwargs)


def _plain(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _refusal(html: str) -> tuple[str, str]:
    found = re.search(r'<div id="refusal"[^>]*data-code="([a-z_]+)">(.*?)</div>', html, re.S)
    assert found, "no #refusal on the page"
    return found.group(1), _plain(found.group(2))


# --- staff: the catalogue ------------------------------------------------------------------

def test_staff_reach_the_shelf_from_the_back_office_and_see_each_shops_items(client, world, shelf):
    login(client, "staff_a")
    html = text(client.get("/staff"))
    assert 'href="/staff/shelf"' in html
    shops = text(client.get("/staff/shelf"))
    assert f'href="/staff/shelf/{world["shop_a"]}"' in shops and "爱心超市" in shops
    items = text(client.get(f"/staff/shelf/{world['shop_a']}"))
    assert "肥皂" in items and "大米" in items and "每户每月限 1 件" in items
    english = text(client.get(f"/staff/shelf/{world['shop_a']}?lang=en"))
    assert "Soap" in english and "1 per household a month" in english and "Add an item" in english


def test_staff_add_an_item_with_its_photo_and_opening_stock(client, world):
    login(client, "staff_a")
    page = f"/staff/shelf/{world['shop_a']}/items/new"
    response = _post(client, page, page, {
        "name_zh": "食用油", "name_en": "Cooking oil", "points": "30", "stock": "12", "barcode": "6920000000011",
        "limit_count": "2", "limit_period": "quarter", "available_from": "2026-05-01",
        "available_until": "2026-06-30", "photo": (io.BytesIO(PNG), "oil.png")},
        content_type="multipart/form-data")
    assert response.status_code == 302, text(response)
    item = db.session.scalar(sa.select(ShelfItem).where(ShelfItem.name_zh == "食用油"))
    assert (item.name_en, item.points, item.stock, item.barcode) == ("Cooking oil", 30, 12, "6920000000011")
    assert (item.limit_period, item.limit_count) == ("quarter", 2)
    assert item.photo_evidence_id is not None
    # the window is the community's days: from the start of 1 May to the end of 30 June, Shanghai time
    assert item.available_from.isoformat() == "2026-04-30T16:00:00+00:00"
    assert item.available_until.isoformat() == "2026-06-30T16:00:00+00:00"
    with client.get(f"/shelf/items/{item.id}/photo") as photo:
        assert photo.status_code == 200 and photo.data == PNG
    assert "食用油" in text(client.get(response.headers["Location"]))
    assert stock_clean()


def test_an_item_without_stock_or_unlimited_and_a_half_limit_are_refused_with_the_reason(client, world):
    login(client, "staff_a")
    page = f"/staff/shelf/{world['shop_a']}/items/new"
    response = _post(client, page, page, {"name_zh": "毛巾", "points": "15"})
    assert response.status_code == 400 and "请填写期初库存" in text(response)
    response = _post(client, page, page, {"name_zh": "毛巾", "points": "15", "unlimited": "y", "limit_count": "1"})
    assert response.status_code == 400 and "限兑需要同时填写数量和周期" in text(response)
    response = _post(client, page + "?lang=en", page, {"name_zh": "毛巾", "points": "0", "unlimited": "y"})
    assert response.status_code == 400 and "Points must be 1 or more." in text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ShelfItem)) == 0


def test_a_barcode_taken_is_refused_in_the_pages_language(client, world, shelf):
    login(client, "staff_a")
    page = f"/staff/shelf/{world['shop_a']}/items/new?lang=en"
    response = _post(client, page, page, {"name_zh": "香皂", "points": "12", "stock": "1", "barcode": "6901234567892"})
    assert response.status_code == 422
    assert "Another item of this shop already has the barcode 6901234567892." in text(response)


def test_staff_change_an_item_and_take_it_off_the_shelf(client, world, shelf):
    login(client, "staff_a")
    page = f"/staff/shelf/items/{shelf['rice']['id']}"
    response = _post(client, page, page, {"name_zh": "大米 5kg", "name_en": "Rice 5 kg", "points": "55",
                                          "limit_count": "", "limit_period": ""})
    assert response.status_code == 302
    item = row_by_id(ShelfItem, shelf["rice"]["id"])
    db.session.refresh(item)
    assert (item.name_zh, item.points, item.limit_period, item.is_active, item.stock) == ("大米 5kg", 55, None, False, 2)
    assert "已保存" in text(client.get(page))


def test_a_count_records_the_difference_from_the_books_and_shows_it(client, world, shelf):
    login(client, "staff_a")
    page = f"/staff/shelf/items/{shelf['soap']['id']}"
    action = f"/staff/shelf/items/{shelf['soap']['id']}/stock"
    response = _post(client, page, action, {"reason": "count", "change": "3", "note": "月底盘点"})
    assert response.status_code == 302
    html = text(client.get(page))
    assert "盘点 3 件：与账面相差 -2，现有库存 3。" in html
    assert re.search(r'<tr data-reason="count">.*?-2.*?月底盘点', html, re.S)
    _post(client, page, action, {"reason": "delivery", "change": "10"})
    _post(client, page + "?lang=en", action, {"reason": "loss", "change": "1", "note": "破损"})
    english = text(client.get(page))
    assert "Recorded -1; the stock is now 12." in english
    assert stock_of(shelf["soap"]["id"]) == 12
    movements = db.session.scalars(sa.select(StockMovement.change).where(
        StockMovement.item_id == shelf["soap"]["id"]).order_by(StockMovement.id)).all()
    assert movements == [5, -2, 10, -1]
    assert stock_clean()


def test_a_loss_below_zero_is_refused_and_nothing_moves(client, world, shelf):
    login(client, "staff_a")
    page = f"/staff/shelf/items/{shelf['thermos']['id']}"
    _post(client, page, f"{page}/stock", {"reason": "loss", "change": "3"})
    assert "仅剩 1 件：库存不能小于零。" in text(client.get(page))
    assert stock_of(shelf["thermos"]["id"]) == 1


def test_the_packing_list_shows_the_held_reservations_and_what_to_take_off_the_shelf(client, world, shelf):
    from pointsbank.shelf.services import reservations

    give(world, "a1", 200)
    give(world, "a2", 200)
    reservations.create_reservation(actor(world, "resident_a1"), shop_id=world["shop_a"],
                                    items=[{"item_id": shelf["soap"]["id"], "quantity": 2},
                                           {"item_id": shelf["rice"]["id"], "quantity": 1}])
    reservations.create_reservation(actor(world, "resident_a2"), shop_id=world["shop_a"],
                                    items=[{"item_id": shelf["soap"]["id"], "quantity": 1}])
    db.session.commit()
    login(client, "staff_a")
    html = text(client.get(f"/staff/shelf/{world['shop_a']}/reservations"))
    totals = _plain(re.search(r'<ul id="pack-totals">(.*?)</ul>', html, re.S).group(1))
    assert "肥皂 × 3" in totals and "大米 × 1" in totals
    assert "A-001" in html and "A-002" in html
    assert html.count('data-reservation-id="') == 2


def test_the_stock_statement_page_shows_the_quarter_and_links_its_csv_and_xlsx(client, world, shelf):
    give(world, "a1", 100)
    voucher = vouchers.issue_voucher(actor(world, "resident_a1"), points=30)
    from pointsbank.redeem import redemptions

    redemptions.redeem(actor(world, "cashier_a"), code=voucher["short_code"],
                       items=[{"item_id": shelf["soap"]["id"], "quantity": 3}])
    db.session.commit()
    login(client, "staff_a")
    html = text(client.get(f"/staff/shelf/{world['shop_a']}/stock?period=2026Q2"))
    row = _plain(re.search(rf'<tr data-item-id="{shelf["soap"]["id"]}">(.*?)</tr>', html, re.S).group(1)).split()
    assert row == ["肥皂", "0", "5", "3", "0", "2", "3", "30"]
    assert 'data-print' in html and "/assets/js/print.js" in html
    csv = client.get(f"/staff/shelf/{world['shop_a']}/stock.csv?period=2026Q2")
    assert csv.status_code == 200 and csv.mimetype == "text/csv" and "肥皂" in csv.data.decode("utf-8-sig")
    xlsx = client.get(f"/staff/shelf/{world['shop_a']}/stock.xlsx?period=2026Q2")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    bad = client.get(f"/staff/shelf/{world['shop_a']}/stock?period=nonsense")
    assert bad.status_code == 302


def test_a_cashier_or_another_communitys_staff_never_reach_the_staff_shelf(app, client, world, shelf):
    login(client, "cashier_a")
    assert client.get(f"/staff/shelf/{world['shop_a']}").status_code == 403
    other = app.test_client()
    login(other, "staff_b")
    assert other.get(f"/staff/shelf/{world['shop_a']}").status_code == 404
    assert other.get(f"/staff/shelf/items/{shelf['soap']['id']}").status_code == 404


# --- the resident: browse, reserve, pickup code, cancel -------------------------------------

def test_a_resident_sees_what_the_household_can_take_and_why_not_in_both_languages(client, world, shelf):
    give(world, "a1", 70)
    login(client, "resident_a1")
    assert 'href="/home/shelf"' in text(client.get("/home"))
    html = text(client.get("/home/shelf"))
    soap = re.search(rf'data-item-id="{shelf["soap"]["id"]}".*?</li>\s*</ul>|data-item-id="{shelf["soap"]["id"]}".*?</li>', html, re.S).group(0)
    assert "可以兑换" in soap and f'name="qty-{shelf["soap"]["id"]}"' in soap
    thermos = re.search(rf'<li class="shelf-item is-refused" data-item-id="{shelf["thermos"]["id"]}".*?</li>\s*</ul>', html, re.S).group(0)
    assert 'data-reason="cannot_afford"' in thermos and "积分不够" in thermos
    assert f'name="qty-{shelf["thermos"]["id"]}"' not in html
    english = text(client.get("/home/shelf?lang=en"))
    assert "Not enough points" in english and "You can take this" in english


def test_a_resident_reserves_two_items_and_gets_a_pickup_code_as_text_and_qr_then_cancels(client, world, shelf):
    give(world, "a1", 100)
    login(client, "resident_a1")
    response = _post(client, "/home/shelf", "/home/shelf/reserve", {
        "shop_id": world["shop_a"], f"qty-{shelf['soap']['id']}": "2", f"qty-{shelf['rice']['id']}": "1"})
    assert response.status_code == 302, text(response)
    page = response.headers["Location"]
    html = text(client.get(page))
    code = re.search(r'id="pickup-code">([0-9 ]+)<', html).group(1)
    assert len(code.replace(" ", "")) == 16
    reservation = db.session.scalar(sa.select(Reservation))
    assert (reservation.points, reservation.status) == (80, "held")
    qr = client.get(f"/home/reservations/{reservation.id}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml" and b"<svg" in qr.data
    assert household_balance(world, "a1") == 120
    assert (stock_of(shelf["soap"]["id"]), stock_of(shelf["rice"]["id"])) == (3, 1)
    cancelled = _post(client, page, f"/home/reservations/{reservation.id}/cancel", {})
    assert cancelled.status_code == 302
    assert "预约已取消" in text(client.get(page))
    assert household_balance(world, "a1") == 200
    assert (stock_of(shelf["soap"]["id"]), stock_of(shelf["rice"]["id"])) == (5, 2)
    assert verify().ok and stock_clean()


def test_a_refused_reservation_keeps_the_basket_and_names_the_item_in_the_pages_language(client, world, shelf):
    give(world, "a1", 200)
    login(client, "resident_a1")
    client.get("/home/shelf?lang=en")
    response = _post(client, "/home/shelf", "/home/shelf/reserve", {
        "shop_id": world["shop_a"], f"qty-{shelf['soap']['id']}": "9"})
    assert response.status_code == 409
    html = text(response)
    assert "Not enough left of: Soap." in html
    assert re.search(rf'name="qty-{shelf["soap"]["id"]}"[^>]*value="9"', html)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Reservation)) == 0


def test_another_households_reservation_is_not_found(client, world, shelf):
    from pointsbank.shelf.services import reservations

    give(world, "a1", 100)
    made = reservations.create_reservation(actor(world, "resident_a1"), shop_id=world["shop_a"],
                                           items=[{"item_id": shelf["soap"]["id"], "quantity": 1}])
    db.session.commit()
    login(client, "resident_a2")
    assert client.get(f"/home/reservations/{made['id']}").status_code == 404
    assert client.get(f"/home/reservations/{made['id']}/qr.svg").status_code == 404


# --- the cashier: basket, refusals, collection ------------------------------------------------

def _voucher(world, household: str, points: int) -> dict[str, Any]:
    made = vouchers.issue_voucher(actor(world, f"resident_{household}"), points=points)
    db.session.commit()
    return made


def test_a_cashier_rings_up_a_basket_and_the_receipt_lists_its_goods(client, world, shelf):
    give(world, "a1", 100)
    voucher = _voucher(world, "a1", 100)
    login(client, "cashier_a")
    html = text(client.get("/shop"))
    assert 'href="/shop/basket"' in html and 'href="/shop/collect"' in html
    basket = text(client.get("/shop/basket"))
    assert 'data-barcode="6901234567892"' in basket and "/assets/js/basket.js" in basket
    response = _post(client, "/shop/basket", "/shop/basket", {
        "code": voucher["short_code"], f"qty-{shelf['soap']['id']}": "2", f"qty-{shelf['rice']['id']}": "1"})
    assert response.status_code == 302, _refusal(text(response))
    receipt = text(client.get(response.headers["Location"]))
    lines = _plain(re.search(r'<table class="list receipt-lines" id="receipt-lines">(.*?)</table>', receipt, re.S).group(1))
    assert "肥皂 2 20" in lines and "大米 1 60" in lines
    assert (stock_of(shelf["soap"]["id"]), stock_of(shelf["rice"]["id"])) == (3, 1)
    assert household_balance(world, "a1") == 120
    assert verify().ok and stock_clean()


@pytest.mark.parametrize("lang, message, detail", [
    ("zh_CN", "库存不足：肥皂。", "肥皂：剩 5 件，要 9 件"),
    ("en", "Not enough left of: Soap.", "Soap: 5 left, 9 asked")])
def test_an_out_of_stock_basket_is_refused_naming_the_item_and_takes_nothing(client, world, shelf, lang, message,
                                                                             detail):
    give(world, "a1", 300)
    voucher = _voucher(world, "a1", 300)
    login(client, "cashier_a")
    client.get(f"/shop/basket?lang={lang}")
    response = _post(client, "/shop/basket", "/shop/basket", {
        "code": voucher["short_code"], f"qty-{shelf['soap']['id']}": "9", f"qty-{shelf['rice']['id']}": "1"})
    assert response.status_code == 409
    html = text(response)
    code, shown = _refusal(html)
    assert code == "out_of_stock" and message in shown
    assert detail in _plain(re.search(r'<ul class="refusal-items" id="refusal-items">(.*?)</ul>', html, re.S).group(1))
    assert re.search(rf'name="qty-{shelf["soap"]["id"]}"[^>]*value="9"', html)
    assert (stock_of(shelf["soap"]["id"]), stock_of(shelf["rice"]["id"])) == (5, 2)
    assert vouchers.get_voucher(actor(world, "resident_a1"), voucher["id"])["status"] == "issued"


def test_a_household_limit_refusal_is_shown_large_and_nothing_is_taken(client, world, shelf):
    give(world, "a1", 300)
    voucher = _voucher(world, "a1", 200)
    login(client, "cashier_a")
    response = _post(client, "/shop/basket", "/shop/basket", {
        "code": voucher["short_code"], f"qty-{shelf['rice']['id']}": "2"})
    assert response.status_code == 422
    code, shown = _refusal(text(response))
    assert code == "household_limit_reached" and "本户已达到限兑数量：大米。" in shown
    assert stock_of(shelf["rice"]["id"]) == 2


def test_the_cashier_collects_a_reservation_by_its_typed_pickup_code(client, world, shelf):
    from pointsbank.shelf.services import reservations

    give(world, "a1", 100)
    made = reservations.create_reservation(actor(world, "resident_a1"), shop_id=world["shop_a"],
                                           items=[{"item_id": shelf["soap"]["id"], "quantity": 2},
                                                  {"item_id": shelf["rice"]["id"], "quantity": 1}])
    db.session.commit()
    login(client, "cashier_a")
    page = text(client.get("/shop/collect"))
    assert '<video id="camera"' in page and "/assets/js/scan.js" in page
    response = _post(client, "/shop/collect", "/shop/collect", {"code": made["pickup_code"]})
    assert response.status_code == 302, _refusal(text(response))
    receipt = text(client.get(response.headers["Location"]))
    assert "预约 " in receipt and "肥皂" in receipt
    again = _post(client, "/shop/collect?lang=en", "/shop/collect", {"code": made["pickup_code"]})
    assert again.status_code == 409 and _refusal(text(again))[0] == "reservation_closed"
    wrong = _post(client, "/shop/collect", "/shop/collect", {"code": "1234 5678 9012 3456"})
    assert wrong.status_code in (400, 404) and _refusal(text(wrong))[0] in ("pickup_code_malformed",
                                                                           "reservation_not_found")
    assert verify().ok and stock_clean()


# --- the notice board ----------------------------------------------------------------------

def test_the_board_shows_the_items_most_redeemed_only_where_the_community_wishes_it(app, client, world, shelf):
    from pointsbank.redeem import redemptions
    from pointsbank.reports import notice, periods
    from tests.integration.helpers_round import at

    at(app, "2026-03-20T02:00:00+00:00")
    give(world, "a1", 100)
    voucher = vouchers.issue_voucher(actor(world, "resident_a1"), points=40)
    redemptions.redeem(actor(world, "cashier_a"), code=voucher["short_code"],
                       items=[{"item_id": shelf["soap"]["id"], "quantity": 4}])
    db.session.commit()
    at(app, "2026-04-01T01:00:00+00:00")
    notice.publish(world["alpha"], periods.parse("2026Q1"))
    db.session.commit()
    at(app, "2026-05-15T02:00:00+00:00")
    assert 'id="most-redeemed"' not in text(client.get("/notice/alpha/2026Q1"))

    admin = app.test_client()
    login(admin, "admin")
    response = _post(admin, "/staff/shelf", "/staff/shelf/board", {"most_redeemed": "y"})
    assert response.status_code == 302
    board = text(client.get("/notice/alpha/2026Q1"))  # the public board, no login
    section = _plain(re.search(r'<section[^>]*id="most-redeemed".*?</section>', board, re.S).group(0))
    assert "兑换最多的商品" in section and "肥皂" in section and "爱心超市" in section and " 4 " in section
    assert "A-001" not in section and "户主a1" not in section
    login(client, "staff_a")
    export = client.get("/notice/alpha/2026Q1/export.csv")
    assert export.status_code == 200 and "兑换最多" in export.data.decode("utf-8-sig")


def test_a_residents_shelf_shows_the_items_photo_and_another_communitys_resident_sees_neither(app, client, world):
    from pointsbank.rules import evidence

    photo = evidence.upload(actor(world, "staff_a2"), stream=io.BytesIO(PNG), filename="soap.png")
    soap = _item(world, "肥皂", 10, 5, photo_evidence_id=photo.id)
    login(client, "resident_a1")
    assert f'src="/shelf/items/{soap["id"]}/photo"' in text(client.get("/home/shelf"))
    with client.get(f"/shelf/items/{soap['id']}/photo") as shown:
        assert shown.status_code == 200 and shown.data == PNG
    stranger = app.test_client()
    login(stranger, "resident_b1")
    assert stranger.get(f"/shelf/items/{soap['id']}/photo").status_code == 404
    assert "肥皂" not in text(stranger.get("/home/shelf"))
