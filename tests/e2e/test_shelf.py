"""End to end in Debian's Chromium, at phone width: the shelf (issue 14).

1. resident_a1 browses the shelf from ``/home``, reserves two items (soap × 2, rice × 1: the
   total follows the quantities), sees the pickup code as digits and as a QR code; cashier_a
   types the pickup code on ``/shop/collect`` and hands the goods over; the receipt lists them
   and the resident's reservation reads "collected".
2. cashier_a rings up a basket on ``/shop/basket`` by tapping items (the total follows), with
   resident_a2's voucher code; the receipt lists the goods and the stock went down. Tapping
   more than is left is refused as ``out_of_stock`` naming the item, and nothing is taken.

Every page reached is checked by axe-core and photographed in Chinese and English
(``artifacts/e2e/shelf-*-<lang>.png``); no request leaves the app's host.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from pointsbank.database import row_by_id

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def goods(e2e_server: Any) -> dict[str, int]:
    """Soap (10 points, 10 in stock), rice (60, 5, one per household a month) and a thermos
    (120, 1 left) on shop_a's shelf; 200 points for A-001 and A-002."""
    from pointsbank.auth.models import User
    from pointsbank.extensions import db
    from pointsbank.shelf.services import catalogue
    from tests.integration.helpers_redeem import give

    world = e2e_server.world
    with e2e_server.app.app_context():
        staff = db.session.get(User, world.users["staff_a2"])
        made = {key: catalogue.create_item(staff, world["shop_a"], name={"zh": zh, "en": en}, points=points,
                                           stock=stock, **extra)["id"]
                for key, zh, en, points, stock, extra in (
                    ("soap", "肥皂", "Soap", 10, 10, {"barcode": "6901234567892"}),
                    ("rice", "大米", "Rice", 60, 5, {"limit": {"period": "month", "count": 1}}),
                    ("thermos", "保温杯", "Thermos", 120, 1, {}))}
        db.session.commit()
        give(world, "a1", 200)
        give(world, "a2", 200)
        db.session.remove()
    return made


def _stock(e2e_server: Any, item_id: int) -> int:
    from pointsbank.extensions import db
    from pointsbank.shelf.models import ShelfItem

    with e2e_server.app.app_context():
        try:
            return row_by_id(ShelfItem, item_id).stock
        finally:
            db.session.remove()


def test_a_resident_reserves_two_items_and_the_cashier_hands_them_over(e2e_server, chromium, phones, goods):
    visits = phones.visits
    resident = phones.log_in(chromium, "resident_a1")
    expect(resident).to_have_url(re.compile(r"/home$"))
    with resident.expect_navigation():
        resident.locator("#to-shelf").click()
    expect(resident).to_have_url(re.compile(r"/home/shelf$"))
    thermos = resident.locator(f'li[data-item-id="{goods["thermos"]}"]')
    expect(thermos).to_contain_text("保温杯")
    visits.check(resident, "shelf-resident")

    soap = resident.locator(f'li[data-item-id="{goods["soap"]}"] [data-tap]')
    soap.click()
    soap.click()  # a tap adds one
    expect(resident.locator(f"#qty-{goods['soap']}")).to_have_value("2")
    resident.fill(f"#qty-{goods['rice']}", "1")  # or the quantity typed
    expect(resident.locator("[data-basket-total]")).to_contain_text("80")
    with resident.expect_navigation():
        resident.locator("#reserve-submit").click()
    expect(resident).to_have_url(re.compile(r"/home/reservations/\d+$"))
    expect(resident.locator(".flash-success")).to_contain_text("80")
    expect(resident.locator("img.pickup-qr")).to_be_visible()
    assert resident.evaluate("() => document.querySelector('img.pickup-qr').naturalWidth") > 0
    code = resident.locator("#pickup-code").inner_text().strip()
    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", code), code
    visits.check(resident, "shelf-reservation")
    assert (_stock(e2e_server, goods["soap"]), _stock(e2e_server, goods["rice"])) == (8, 4)

    cashier = phones.log_in(chromium, "cashier_a")
    with cashier.expect_navigation():
        cashier.locator('nav.subnav a[href="/shop/collect"]').click()
    expect(cashier.locator("video#camera")).to_be_attached()
    visits.check(cashier, "shelf-collect")
    cashier.fill("#code", code)
    with cashier.expect_navigation():
        cashier.locator("#collect-submit").click()
    expect(cashier).to_have_url(re.compile(r"/shop/receipts/\d+$"))
    lines = cashier.locator("#receipt-lines")
    expect(lines).to_contain_text("肥皂")
    expect(lines).to_contain_text("大米")
    expect(cashier.locator("#receipt-points")).to_have_text("80")
    visits.check(cashier, "shelf-collect-receipt")

    resident.reload()
    expect(resident.locator("#reservation")).to_have_attribute("data-status", "collected")
    phones.assert_clean()


def test_a_cashier_rings_up_a_basket_by_tapping_items(e2e_server, chromium, phones, goods):
    from pointsbank.auth.models import User
    from pointsbank.extensions import db
    from pointsbank.redeem import vouchers

    with e2e_server.app.app_context():
        resident = db.session.get(User, e2e_server.world.users["resident_a2"])
        first = vouchers.issue_voucher(resident, points=100)["short_code"]
        second = vouchers.issue_voucher(resident, points=50)["short_code"]
        db.session.commit()
        db.session.remove()
    soap_before, thermos_before = _stock(e2e_server, goods["soap"]), _stock(e2e_server, goods["thermos"])

    visits = phones.visits
    cashier = phones.log_in(chromium, "cashier_a")
    with cashier.expect_navigation():
        cashier.locator('nav.subnav a[href="/shop/basket"]').click()
    expect(cashier.locator("#basket-camera-state")).to_be_visible()
    visits.check(cashier, "shelf-basket")

    soap = cashier.locator(f'li[data-item-id="{goods["soap"]}"] [data-tap]')
    soap.click()
    soap.click()
    cashier.locator(f'li[data-item-id="{goods["rice"]}"] [data-tap]').click()
    expect(cashier.locator(f"#qty-{goods['soap']}")).to_have_value("2")
    expect(cashier.locator("#basket-total")).to_contain_text("80")
    # the typed barcode adds the item it names
    cashier.fill("#barcode", "6901234567892")
    cashier.locator("#barcode-add").click()
    expect(cashier.locator(f"#qty-{goods['soap']}")).to_have_value("3")
    expect(cashier.locator("#basket-total")).to_contain_text("90")
    cashier.fill("#code", first)
    with cashier.expect_navigation():
        cashier.locator("#basket-submit").click()
    expect(cashier).to_have_url(re.compile(r"/shop/receipts/\d+$"))
    expect(cashier.locator("#receipt-points")).to_have_text("90")
    expect(cashier.locator("#receipt-lines")).to_contain_text("肥皂")
    visits.check(cashier, "shelf-basket-receipt")
    assert _stock(e2e_server, goods["soap"]) == soap_before - 3

    # two thermoses when one is left: refused, naming it; nothing taken
    cashier.goto("/shop/basket")
    thermos = cashier.locator(f'li[data-item-id="{goods["thermos"]}"] [data-tap]')
    thermos.click()
    thermos.click()
    cashier.fill("#code", second)
    with cashier.expect_navigation():
        cashier.locator("#basket-submit").click()
    refusal = cashier.locator("#refusal")
    expect(refusal).to_have_attribute("data-code", "out_of_stock")
    expect(refusal).to_contain_text("库存不足：保温杯。")
    expect(cashier.locator("#refusal-items")).to_contain_text("剩 1 件，要 2 件")
    expect(cashier.locator(f"#qty-{goods['thermos']}")).to_have_value("2")
    visits.check(cashier, "shelf-basket-refused", both_languages=False)
    assert _stock(e2e_server, goods["thermos"]) == thermos_before
    # the same refusal in English: the basket kept, sent again
    cashier.goto("/shop/basket?lang=en")
    cashier.locator(f'li[data-item-id="{goods["thermos"]}"] [data-tap]').click()
    cashier.locator(f'li[data-item-id="{goods["thermos"]}"] [data-tap]').click()
    cashier.fill("#code", second)
    with cashier.expect_navigation():
        cashier.locator("#basket-submit").click()
    expect(cashier.locator("#refusal")).to_contain_text("Not enough left of: Thermos.")
    visits.check(cashier, "shelf-basket-refused", both_languages=False)
    phones.assert_clean()


def test_a_store_manager_counts_an_item_and_reads_the_packing_list_and_the_stock_statement(
        e2e_server, chromium, phones, goods):
    visits = phones.visits
    staff = phones.log_in(chromium, "staff_a")
    with staff.expect_navigation():
        staff.locator('nav.subnav a[href="/staff/shelf"]').click()
    visits.check(staff, "shelf-staff-shops")
    with staff.expect_navigation():
        staff.locator("#shelf-shops a").first.click()
    expect(staff.locator("#shelf-items")).to_contain_text("肥皂")
    visits.check(staff, "shelf-staff-items")

    with staff.expect_navigation():
        staff.locator(f'#shelf-items tr[data-item-id="{goods["soap"]}"] a').click()
    visits.check(staff, "shelf-staff-item")
    on_books = _stock(e2e_server, goods["soap"])
    staff.select_option("#reason", "count")
    staff.fill("#change", str(on_books - 1))
    with staff.expect_navigation():
        staff.locator("#stock-form button[type=submit]").click()
    expect(staff.locator(".flash-success")).to_contain_text("与账面相差 -1")
    expect(staff.locator("#item-stock")).to_have_text(str(on_books - 1))

    with staff.expect_navigation():
        staff.locator("nav.filters a", has_text="待备货的预约").click()
    visits.check(staff, "shelf-staff-reservations")
    with staff.expect_navigation():
        staff.locator("nav.filters a", has_text="库存报表").click()
    expect(staff.locator("#stock-statement")).to_contain_text("肥皂")
    expect(staff.locator("#export-xlsx")).to_be_visible()
    visits.check(staff, "shelf-staff-statement")
    phones.assert_clean()
