"""Household cards at the counter: the right PIN moves exactly the points, five wrong PINs block
the card, a revoked card is refused as revoked, a card is refused where its community is not a
partner, a frozen household neither gets a card nor pays with one."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from pointsbank.audit.models import AuditEvent
from pointsbank.cards.models import HouseholdCard
from pointsbank.ledger.models import LedgerTransaction
from pointsbank.ledger.verify import verify
from pointsbank.redeem.models import Redemption
from pointsbank.reports import settlement
from tests.integration.helpers_cards import PIN, issue_card, issued_card, pay
from tests.integration.helpers_redeem import escrow_balance, give, household_balance, issued, new_shop, shop_balance
from pointsbank.database import row_by_id


def _code(response):
    return response.get_json()["error"]["code"]


def _attempts(db, outcome=None):
    stmt = sa.select(AuditEvent).where(AuditEvent.action == "card.pin")
    return [e for e in db.session.scalars(stmt) if outcome is None or e.data["outcome"] == outcome]


def test_staff_issue_a_card_and_the_answer_carries_the_credential_and_the_print_page(client, world, db):
    body = issued_card(client, world)
    assert body["token"].startswith("PBC1.") and body["status"] == "live" and body["attempts_left"] == 5
    assert body["print_url"] == f"/staff/cards/print?household_id={world['a1']}"
    card = row_by_id(HouseholdCard, body["card_id"])
    assert card.pin_hash != PIN and PIN not in card.pin_hash and card.household_id == world["a1"]
    shown = client.get(f"/api/v1/households/{world['a1']}/card", headers=world.headers("staff_a2")).get_json()
    assert shown["card_id"] == body["card_id"] and shown["token"] is None


def test_a_pin_that_is_not_six_digits_is_refused_and_no_card_is_written(client, world, db):
    for pin in ("12345", "1234567", "12345a"):
        response = issue_card(client, world, pin=pin)
        assert response.status_code == 400, pin
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HouseholdCard)) == 0


def test_a_resident_or_cashier_cannot_issue_a_card_and_staff_of_another_community_get_404(client, world):
    assert issue_card(client, world, who="resident_a1").status_code == 403
    assert issue_card(client, world, who="cashier_a").status_code == 403
    assert issue_card(client, world, who="staff_b").status_code == 404


def test_the_right_pin_moves_exactly_the_points_from_the_household_to_the_shop(client, world, db):
    give(world, "a1", 50)  # 150 on the account, 50 redeemable above the base of 100
    card = issued_card(client, world)
    before_shop = shop_balance(world["alpha"], world["shop_a"])
    response = pay(client, world.headers("cashier_a"), card["token"], PIN, 30)
    assert response.status_code == 201, response.get_json()
    receipt = response.get_json()
    assert receipt["points"] == 30 and receipt["returned_points"] == 0 and receipt["card_id"] == card["card_id"]
    assert receipt["value_fen"] == 3000 and receipt["shop_id"] == world["shop_a"]
    assert household_balance(world, "a1") == 120
    assert shop_balance(world["alpha"], world["shop_a"]) == before_shop + 30
    assert escrow_balance(world["alpha"]) == 0
    tx = db.session.scalar(sa.select(LedgerTransaction).where(LedgerTransaction.kind == "card_payment"))
    assert tx is not None and row_by_id(Redemption, receipt["id"]).transaction_id == tx.id
    assert verify().ok
    assert [e.data["outcome"] for e in _attempts(db)] == ["ok"]


def test_a_card_payment_beyond_the_redeemable_points_is_refused_and_nothing_moves(client, world):
    give(world, "a1", 20)
    card = issued_card(client, world)
    response = pay(client, world.headers("cashier_a"), card["token"], PIN, 21)
    assert response.status_code == 422 and _code(response) == "insufficient_points"
    assert household_balance(world, "a1") == 120 and verify().ok


def test_a_card_payment_is_a_redemption_the_quarter_settlement_pays_like_a_voucher(client, world, db):
    give(world, "a1", 100)
    card = issued_card(client, world)
    voucher = issued(client, world, "resident_a1", 10)
    assert pay(client, world.headers("cashier_a"), card["token"], PIN, 25).status_code == 201
    assert client.post("/api/v1/redemptions", json={"code": voucher["token"], "points": 10},
                       headers=world.headers("cashier_a")).status_code == 201
    rows = db.session.execute(sa.select(Redemption.points, Redemption.value_fen).where(
        Redemption.shop_id == world["shop_a"]).order_by(Redemption.id)).all()
    assert [tuple(r) for r in rows] == [(25, 2500), (10, 1000)]
    # the quarter's settlement counts both, as it sums redemptions
    from pointsbank.reports import periods
    from pointsbank import clock

    period = periods.parse(f"{clock.now().year}Q{(clock.now().month - 1) // 3 + 1}")
    result = settlement.settle(world["alpha"], period, now=clock.now() + timedelta(days=200))
    assert (result["redemptions"], result["points"], result["amount_fen"]) == (2, 35, 3500)
    vouchers = client.get(f"/api/v1/households/{world['a1']}/vouchers", headers=world.headers("resident_a1"))
    assert [v["id"] for v in vouchers.get_json()["items"]] == [voucher["id"]]  # the card's receipt is no voucher


def test_five_wrong_pins_block_the_card_and_the_sixth_attempt_with_the_right_pin_is_refused(client, world, db):
    give(world, "a1", 50)
    card = issued_card(client, world)
    headers = world.headers("cashier_a")
    for left in (4, 3, 2, 1):
        response = pay(client, headers, card["token"], "000000", 10)
        assert response.status_code == 401 and _code(response) == "wrong_pin"
        assert response.get_json()["error"]["details"]["attempts_left"] == left
    fifth = pay(client, headers, card["token"], "000000", 10)
    assert fifth.status_code == 423 and _code(fifth) == "card_blocked"
    sixth = pay(client, headers, card["token"], PIN, 10)
    assert sixth.status_code == 423 and _code(sixth) == "card_blocked"
    assert household_balance(world, "a1") == 150
    row = row_by_id(HouseholdCard, card["card_id"])
    db.session.refresh(row)
    assert row.wrong_pins == 5 and row.blocked_at is not None
    assert [e.data["outcome"] for e in _attempts(db)] == ["wrong_pin"] * 5 + ["blocked"]
    shown = client.get(f"/api/v1/households/{world['a1']}/card", headers=world.headers("staff_a2")).get_json()
    assert shown["status"] == "blocked" and shown["attempts_left"] == 0
    # the household is told once, in its inbox, in the block's transaction (kept though the answer is 423)
    told = client.get("/api/v1/me/notifications", headers=world.headers("resident_a1")).get_json()["items"]
    assert [item["template"] for item in told].count("card_blocked") == 1


def test_staff_unblock_a_blocked_card_and_the_right_pin_pays_again(client, world, db):
    give(world, "a1", 50)
    card = issued_card(client, world)
    for _ in range(5):
        pay(client, world.headers("cashier_a"), card["token"], "999999", 10)
    unblock = client.post(f"/api/v1/households/{world['a1']}/card/unblock", headers=world.headers("staff_a2"))
    assert unblock.status_code == 200 and unblock.get_json()["status"] == "live"
    again = client.post(f"/api/v1/households/{world['a1']}/card/unblock", headers=world.headers("staff_a2"))
    assert again.status_code == 409 and _code(again) == "card_not_blocked"
    assert pay(client, world.headers("cashier_a"), card["token"], PIN, 10).status_code == 201
    assert household_balance(world, "a1") == 140


def test_a_right_pin_resets_the_count_of_wrong_pins_in_a_row(client, world, db):
    give(world, "a1", 50)
    card = issued_card(client, world)
    headers = world.headers("cashier_a")
    for _ in range(4):
        assert pay(client, headers, card["token"], "111111", 1).status_code == 401
    assert pay(client, headers, card["token"], PIN, 1).status_code == 201
    response = pay(client, headers, card["token"], "111111", 1)
    assert response.status_code == 401 and response.get_json()["error"]["details"]["attempts_left"] == 4


def test_a_revoked_card_is_refused_as_revoked_and_its_replacement_pays(client, world, db):
    give(world, "a1", 50)
    old = issued_card(client, world)
    new = issued_card(client, world, pin="135790")  # a new card revokes the old one
    response = pay(client, world.headers("cashier_a"), old["token"], PIN, 10)
    assert response.status_code == 410 and _code(response) == "card_revoked"
    assert pay(client, world.headers("cashier_a"), new["token"], "135790", 10).status_code == 201
    revoke = client.delete(f"/api/v1/households/{world['a1']}/card", headers=world.headers("staff_a2"))
    assert revoke.status_code == 200 and revoke.get_json()["status"] == "revoked"
    response = pay(client, world.headers("cashier_a"), new["token"], "135790", 10)
    assert response.status_code == 410 and _code(response) == "card_revoked"
    assert household_balance(world, "a1") == 140 and verify().ok
    gone = client.delete(f"/api/v1/households/{world['a1']}/card", headers=world.headers("staff_a2"))
    assert gone.status_code == 404 and _code(gone) == "no_card"


def test_a_card_of_another_community_is_refused_at_a_shop_that_does_not_partner_with_it(client, world):
    give(world, "b1", 50)
    card = issued_card(client, world, household="b1", who="staff_b")
    response = pay(client, world.headers("cashier_a"), card["token"], PIN, 10)
    assert response.status_code == 404 and _code(response) == "card_not_found"
    assert household_balance(world, "b1") == 150
    assert pay(client, world.headers("cashier_b"), card["token"], PIN, 10).status_code == 201


def test_a_voucher_token_is_not_a_card_and_a_card_is_not_a_voucher(client, world):
    give(world, "a1", 50)
    card = issued_card(client, world)
    voucher = issued(client, world, "resident_a1", 10)
    as_card = pay(client, world.headers("cashier_a"), voucher["token"], PIN, 10)
    assert as_card.status_code == 400 and _code(as_card) == "card_malformed"
    as_voucher = client.post("/api/v1/redemptions", json={"code": card["token"], "points": 10},
                             headers=world.headers("cashier_a"))
    assert as_voucher.status_code == 400 and _code(as_voucher) == "voucher_code_malformed"
    parts = card["token"].split(".")
    tampered = ".".join([parts[0], parts[1], parts[2], parts[3][:-2] + ("AA" if parts[3][-2:] != "AA" else "BA")])
    forged = pay(client, world.headers("cashier_a"), tampered, PIN, 10)
    assert forged.status_code in (400, 422) and _code(forged) in ("card_forged", "card_malformed")
    both = client.post("/api/v1/redemptions", json={"code": voucher["token"], "card": card["token"], "pin": PIN,
                                                    "points": 1}, headers=world.headers("cashier_a"))
    assert both.status_code == 400 and _code(both) == "card_or_code"
    assert household_balance(world, "a1") == 140


def test_a_frozen_household_gets_no_card_and_cannot_pay_with_one_then_unfreeze_and_it_pays(client, world, db):
    give(world, "a1", 50)
    card = issued_card(client, world)
    frozen = client.post(f"/api/v1/households/{world['a1']}/freeze", json={"reason": "under_review"},
                         headers=world.headers("staff_a2"))
    assert frozen.status_code == 200
    response = pay(client, world.headers("cashier_a"), card["token"], PIN, 10)
    assert response.status_code == 422 and _code(response) == "household_frozen"
    again = issue_card(client, world, pin="222222")
    assert again.status_code == 422 and _code(again) == "household_frozen"
    assert household_balance(world, "a1") == 150
    assert client.post(f"/api/v1/households/{world['a1']}/unfreeze",
                       headers=world.headers("staff_a2")).status_code == 200
    assert pay(client, world.headers("cashier_a"), card["token"], PIN, 10).status_code == 201
    assert household_balance(world, "a1") == 140 and verify().ok


def test_the_shop_pin_throttle_refuses_card_payments_after_too_many_wrong_pins(app, client, world):
    app.config["CARD_PIN_FAILURES_PER_SHOP"] = 3
    give(world, "a1", 50)
    give(world, "a2", 50)
    cards = [issued_card(client, world, household=h) for h in ("a1", "a2")]
    headers = world.headers("cashier_a")
    for token in (cards[0]["token"], cards[0]["token"], cards[1]["token"]):
        assert pay(client, headers, token, "000000", 5).status_code == 401
    response = pay(client, headers, cards[1]["token"], PIN, 5)
    assert response.status_code == 429 and _code(response) == "too_many_attempts"


def test_reversing_a_card_payment_gives_the_household_its_points_back_and_the_ledger_stays_clean(client, world):
    give(world, "a1", 50)
    card = issued_card(client, world)
    receipt = pay(client, world.headers("cashier_a"), card["token"], PIN, 30).get_json()
    response = client.post(f"/api/v1/redemptions/{receipt['id']}/reverse", json={"reason": "退货"},
                           headers=world.headers("staff_a2"))
    assert response.status_code == 200, response.get_json()
    assert household_balance(world, "a1") == 150 and escrow_balance(world["alpha"]) == 0 and verify().ok


def test_every_attempt_is_audited_even_a_forged_card_or_a_payment_refused_after_the_right_pin(client, world, db):
    give(world, "a1", 20)
    card = issued_card(client, world)
    headers = world.headers("cashier_a")
    pay(client, headers, "PBC1.nokey.eyJrIjoxLCJjIjoxLCJoIjoxfQ." + "A" * 86, PIN, 5)
    assert pay(client, headers, card["token"], "000000", 5).status_code == 401
    refused = pay(client, headers, card["token"], PIN, 50)  # the right PIN, more than is redeemable
    assert refused.status_code == 422 and _code(refused) == "insufficient_points"
    db.session.expire_all()
    assert [e.data["outcome"] for e in _attempts(db)] == ["card_forged", "wrong_pin", "ok"]
    assert row_by_id(HouseholdCard, card["card_id"]).wrong_pins == 0  # the right PIN set it back
    assert household_balance(world, "a1") == 120 and verify().ok
