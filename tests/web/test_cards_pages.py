"""Card pages: staff issue a card with the PIN typed twice, see its status, print the A4 sheet,
unblock and revoke it from the household page; the cashier's scan of a card leads to the PIN pad,
a wrong PIN comes back with the attempts left, the right one to the points and then the receipt."""

from __future__ import annotations

import re

from pointsbank.cards import services as cards
from pointsbank.extensions import db
from tests.integration.helpers_cards import PIN
from tests.integration.helpers_redeem import give, household_balance
from tests.web.helpers import actor, csrf_token, login, post_form, text
from pointsbank.database import row_by_id


def _issue(world, household="a1", pin=PIN):
    made = cards.issue_card(actor(world, "staff_a2"), world[household], pin=pin)
    db.session.commit()
    return made


def test_staff_issue_a_card_from_the_household_page_with_the_pin_twice_and_print_it(client, world):
    login(client, "staff_a2")
    page = f"/staff/households/{world['a1']}"
    assert 'data-status="none"' in text(client.get(page))
    differ = post_form(client, page, f"{page}/card", {"pin": PIN, "pin_repeat": "111111"})
    assert differ.status_code == 302 and 'data-status="none"' in text(client.get(page))
    response = post_form(client, page, f"{page}/card", {"pin": PIN, "pin_repeat": PIN})
    assert response.status_code == 302
    html = text(client.get(page))
    assert 'data-status="live"' in html and "打印该卡" in html
    sheet = text(client.get(f"/staff/cards/print?household_id={world['a1']}"))
    assert sheet.count('class="household-card"') == 1 and "A-001" in sheet and "<svg" in sheet
    assert "清风村" in sheet and PIN not in sheet
    chooser = text(client.get("/staff/cards?lang=en"))
    assert f'value="{world["a1"]}"' in chooser and "Print all live cards" in chooser


def test_the_print_sheet_without_a_choice_prints_every_live_card_of_the_community(client, world):
    for household in ("a1", "a2"):
        _issue(world, household)
    cards.issue_card(actor(world, "staff_b"), world["b1"], pin=PIN)
    db.session.commit()
    login(client, "staff_a2")
    sheet = text(client.get("/staff/cards/print"))
    assert sheet.count('class="household-card"') == 2 and "B-001" not in sheet


def test_staff_unblock_and_revoke_from_the_household_page(client, world):
    made = _issue(world)
    card = row_by_id(cards.HouseholdCard, made["card_id"])
    card.wrong_pins, card.blocked_at = 5, card.created_at
    db.session.commit()
    login(client, "staff_a2")
    page = f"/staff/households/{world['a1']}"
    assert 'data-status="blocked"' in text(client.get(page))
    post_form(client, page, f"{page}/card/unblock")
    assert 'data-status="live"' in text(client.get(page))
    post_form(client, page, f"{page}/card/revoke")
    assert 'data-status="none"' in text(client.get(page))


def test_a_scanned_card_leads_to_the_pin_pad_then_the_points_then_the_receipt(client, world):
    give(world, "a1", 50)
    made = _issue(world)
    login(client, "cashier_a")
    scan = text(client.get("/shop"))
    pad = client.post("/shop/check", data={"csrf_token": csrf_token(scan), "code": made["token"]})
    assert pad.status_code == 200 and 'id="pinpad"' in text(pad) and 'data-pinpad' in text(pad)
    token = csrf_token(text(pad))
    wrong = client.post("/shop/card/pin", data={"csrf_token": token, "card": made["token"], "pin": "000000"})
    assert wrong.status_code == 401 and 'data-code="wrong_pin"' in text(wrong) and "4" in text(wrong)
    right = client.post("/shop/card/pin", data={"csrf_token": token, "card": made["token"], "pin": PIN})
    assert right.status_code == 200 and 'id="card-pay-form"' in text(right)
    paid = client.post("/shop/card/pay", data={"csrf_token": token, "card": made["token"], "pin": PIN, "points": 30})
    assert paid.status_code == 302
    receipt = text(client.get(paid.headers["Location"]))
    assert 'id="receipt-points">30<' in receipt
    assert household_balance(world, "a1") == 120


def test_a_blocked_card_goes_back_to_the_scan_page_with_the_refusal(client, world):
    made = _issue(world)
    card = row_by_id(cards.HouseholdCard, made["card_id"])
    card.wrong_pins, card.blocked_at = 5, card.created_at
    db.session.commit()
    login(client, "cashier_a")
    token = csrf_token(text(client.get("/shop")))
    response = client.post("/shop/card/pin?lang=en", data={"csrf_token": token, "card": made["token"], "pin": PIN})
    assert response.status_code == 423 and 'data-code="card_blocked"' in text(response)
    assert "Card blocked" in text(response) and 'id="scan-form"' in text(response)


def test_a_card_payment_shows_in_plain_words_in_the_passbook_and_the_resident_history(client, world):
    from pointsbank.cards import payments

    give(world, "a1", 50)
    made = _issue(world)
    payments.pay(actor(world, "cashier_a"), card=made["token"], pin=PIN, points=30)
    db.session.commit()
    login(client, "staff_a2")
    book = text(client.get(f"/staff/households/{world['a1']}/passbook"))
    assert "刷积分卡消费" in book and "用积分卡在爱心超市消费 30 分。" in book
    client.post("/logout", data={"csrf_token": csrf_token(book)})
    login(client, "resident_a1")
    history = text(client.get("/home/history?lang=en"))
    assert "30 points spent at 爱心超市 with the household card." in history


def test_after_the_pin_the_cashier_takes_a_basket_from_the_shelf_and_the_card_pays_it(client, world):
    from tests.integration.helpers_shelf import new_item, stock_of

    give(world, "a1", 50)
    soap = new_item(client, world, points=10, stock=5)
    made = _issue(world)
    login(client, "cashier_a")
    token = csrf_token(text(client.get("/shop")))
    basket = client.post("/shop/card/basket", data={"csrf_token": token, "card": made["token"], "pin": PIN})
    html = text(basket)
    assert basket.status_code == 200 and 'id="basket-card"' in html and 'name="pin"' in html
    assert 'id="item-search"' not in html
    paid = client.post("/shop/basket", data={"csrf_token": token, "code": made["token"], "pin": PIN,
                                             f"qty-{soap['id']}": "2"})
    assert paid.status_code == 302, text(paid)
    receipt = text(client.get(paid.headers["Location"]))
    assert 'id="receipt-points">20<' in receipt
    assert household_balance(world, "a1") == 130 and stock_of(soap["id"]) == 3


def test_a_card_basket_with_a_wrong_pin_takes_nothing_and_shows_the_refusal(client, world):
    from tests.integration.helpers_shelf import new_item, stock_of

    give(world, "a1", 50)
    soap = new_item(client, world, points=10, stock=5)
    made = _issue(world)
    login(client, "cashier_a")
    token = csrf_token(text(client.get("/shop")))
    refused = client.post("/shop/basket", data={"csrf_token": token, "code": made["token"], "pin": "000000",
                                                f"qty-{soap['id']}": "2"})
    assert refused.status_code == 401 and 'data-code="wrong_pin"' in text(refused)
    assert household_balance(world, "a1") == 150 and stock_of(soap["id"]) == 5


def test_the_printed_card_shows_the_households_stars(client, world):
    from pointsbank.regions.models import HouseholdStars

    _issue(world)
    db.session.add(HouseholdStars(community_id=world["alpha"], household_id=world["a1"], year="2026", points=300,
                                  stars=3))
    db.session.commit()
    login(client, "staff_a2")
    sheet = text(client.get(f"/staff/cards/print?household_id={world['a1']}"))
    assert '<span aria-hidden="true">★★★</span>' in sheet


def test_a_revoked_card_scanned_is_refused_on_the_scan_page_before_any_pin_and_not_resubmitted(client, world):
    made = _issue(world)
    cards.revoke_card(actor(world, "staff_a2"), world["a1"])
    db.session.commit()
    login(client, "cashier_a")
    token = csrf_token(text(client.get("/shop")))
    response = client.post("/shop/check", data={"csrf_token": token, "code": made["token"]})
    html = text(response)
    assert response.status_code == 410 and 'data-code="card_revoked"' in html and 'id="pinpad"' not in html
    assert f'data-refused="{made["token"]}"' in html  # the camera seeing it again does not send it again
