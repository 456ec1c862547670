"""Redemption at the till: one transaction, every refusal with its own code and nothing moved."""

from datetime import timedelta

from pointsbank import clock
from pointsbank.audit.models import AuditEvent
from pointsbank.ledger.verify import verify
from pointsbank.redeem import shortcode
from pointsbank.database import row_by_id
from tests.integration.helpers_redeem import (escrow_balance, give, household_balance, issued, new_shop, redeem,
                                              shop_balance, voucher_ttl)


def _balances(world):
    return (household_balance(world, "a1"), escrow_balance(world["alpha"]), shop_balance(world["alpha"], world["shop_a"]))


def test_redeeming_part_of_a_voucher_pays_the_shop_and_returns_the_rest_in_one_transaction(client, world, db):
    give(world, "a1", 50)
    voucher = issued(client, world, "resident_a1", 50)
    response = redeem(client, world.headers("cashier_a"), voucher["token"], 35)
    assert response.status_code == 201
    receipt = response.get_json()
    assert {k: receipt[k] for k in ("voucher_id", "points", "returned_points", "value_fen", "point_value_fen",
                                    "shop_id", "shop_name", "cashier_id")} == {
        "voucher_id": voucher["id"], "points": 35, "returned_points": 15, "value_fen": 3500, "point_value_fen": 100,
        "shop_id": world["shop_a"], "shop_name": "爱心超市", "cashier_id": world.users["cashier_a"]}
    assert receipt["created_at"] == clock.now().isoformat() and receipt["id"] > 0
    assert _balances(world) == (115, 0, 35)
    from pointsbank.redeem.models import Redemption, Voucher
    from pointsbank.ledger.models import Posting

    redemption = row_by_id(Redemption, receipt["id"])
    postings = db.session.query(Posting).filter_by(transaction_id=redemption.transaction_id).count()
    assert postings == 3 and row_by_id(Voucher, voucher["id"]).status == "redeemed"
    assert verify().ok


def test_the_short_code_redeems_with_spaces_dashes_or_nothing_between_groups(client, world, db):
    give(world, "a1", 80)
    for spelling in (lambda c: c, lambda c: c.replace(" ", "-"), lambda c: c.replace(" ", ""),
                     lambda c: f"  {c.replace(' ', ' - ')} "):
        voucher = issued(client, world, "resident_a1", 20)
        response = redeem(client, world.headers("cashier_a"), spelling(voucher["short_code"]), 20)
        assert response.status_code == 201, response.get_json()
    assert _balances(world) == (100, 0, 80)


def test_the_value_in_fen_uses_the_point_value_at_the_moment_of_redemption(client, world, db):
    give(world, "a1", 20)
    voucher = issued(client, world, "resident_a1", 20)
    client.patch(f"/api/v1/communities/{world['alpha']}", json={"point_value_fen": 150},
                 headers=world.headers("admin"))
    receipt = redeem(client, world.headers("cashier_a"), voucher["token"], 20).get_json()
    assert (receipt["point_value_fen"], receipt["value_fen"]) == (150, 3000)


def test_a_second_redemption_is_409_and_names_the_shop_only_to_that_same_shop(client, world, db):
    give(world, "a1", 20)
    voucher = issued(client, world, "resident_a1", 20)
    assert redeem(client, world.headers("cashier_a"), voucher["token"], 20).status_code == 201
    again = redeem(client, world.headers("cashier_a"), voucher["short_code"], 5)
    assert again.status_code == 409
    error = again.get_json()["error"]
    assert error["code"] == "voucher_already_redeemed"
    assert error["details"] == {"redeemed_at": clock.now().isoformat(), "shop_name": "爱心超市"}
    _, (other,) = new_shop(world["alpha"], "第二家店")
    elsewhere = redeem(client, other, voucher["token"], 5).get_json()["error"]
    assert elsewhere["code"] == "voucher_already_redeemed" and elsewhere["details"] == {
        "redeemed_at": clock.now().isoformat()}
    assert _balances(world) == (100, 0, 20)


def test_a_cancelled_voucher_is_refused_with_409(client, world, db):
    give(world, "a1", 20)
    voucher = issued(client, world, "resident_a1", 20)
    client.delete(f"/api/v1/vouchers/{voucher['id']}", headers=world.headers("resident_a1"))
    response = redeem(client, world.headers("cashier_a"), voucher["token"], 20)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "voucher_cancelled"
    assert _balances(world) == (120, 0, 0)


def test_an_expired_voucher_is_refused_with_410_even_before_the_expiry_job(app, client, world, db):
    voucher_ttl(client, world, 1)
    give(world, "a1", 20)
    voucher = issued(client, world, "resident_a1", 20)
    app.config["CLOCK"] = clock.now() + timedelta(hours=1)
    for code in (voucher["token"], voucher["short_code"]):
        response = redeem(client, world.headers("cashier_a"), code, 20)
        assert response.status_code == 410 and response.get_json()["error"]["code"] == "voucher_expired"
    assert _balances(world) == (100, 20, 0)


def test_more_points_than_the_face_value_are_refused_with_422(client, world, db):
    give(world, "a1", 20)
    voucher = issued(client, world, "resident_a1", 20)
    response = redeem(client, world.headers("cashier_a"), voucher["token"], 21)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "points_exceed_voucher"
    assert response.get_json()["error"]["details"] == {"voucher_points": 20}
    assert _balances(world) == (100, 20, 0)


def test_points_below_one_are_refused_with_400(client, world, db):
    give(world, "a1", 20)
    voucher = issued(client, world, "resident_a1", 20)
    for points in (0, -3):
        response = redeem(client, world.headers("cashier_a"), voucher["token"], points)
        assert response.status_code == 400 and "points" in response.get_json()["error"]["details"]["fields"]
    assert _balances(world) == (100, 20, 0)


def test_anything_that_is_neither_a_token_nor_digits_is_a_malformed_code(client, world, db):
    for code in ("hello", "PB2.abc.def.ghi", "PB1.not-a-token", "1234 5678 abcd 3456", "http://x/y"):
        response = redeem(client, world.headers("cashier_a"), code, 5)
        assert response.status_code == 400, code
        assert response.get_json()["error"]["code"] == "voucher_code_malformed", code


def test_a_short_code_with_a_wrong_check_digit_is_malformed(client, world, db):
    give(world, "a1", 20)
    code = issued(client, world, "resident_a1", 20)["short_code"].replace(" ", "")
    typo = code[:-1] + str((int(code[-1]) + 1) % 10)
    swapped = next(code[:i] + code[i + 1] + code[i] + code[i + 2:] for i in range(15) if code[i] != code[i + 1])
    for wrong in (typo, swapped, code[:-1]):
        response = redeem(client, world.headers("cashier_a"), wrong, 20)
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "voucher_code_malformed"
    assert _balances(world) == (100, 20, 0)


def test_a_cashier_of_a_shop_that_does_not_partner_gets_exactly_the_unknown_voucher_answer(client, world, db):
    give(world, "a1", 20)
    voucher = issued(client, world, "resident_a1", 20)
    unknown = redeem(client, world.headers("cashier_b"), shortcode.format(shortcode.generate()), 20)
    by_code = redeem(client, world.headers("cashier_b"), voucher["short_code"], 20)
    by_token = redeem(client, world.headers("cashier_b"), voucher["token"], 20)
    assert unknown.status_code == by_code.status_code == by_token.status_code == 404
    assert unknown.get_json() == by_code.get_json() == by_token.get_json()
    assert unknown.get_json()["error"]["code"] == "voucher_not_found"
    assert unknown.get_json()["error"]["details"] == {}
    assert unknown.data == by_code.data == by_token.data
    assert _balances(world) == (100, 20, 0)


def test_a_shop_partnered_with_a_second_community_redeems_its_vouchers_into_its_account_there(client, world, db):
    give(world, "b1", 30)
    voucher = issued(client, world, "resident_b1", 30)
    assert client.post(f"/api/v1/shops/{world['shop_a']}/partners", json={"community_id": world["beta"]},
                       headers=world.headers("admin")).status_code == 201
    receipt = redeem(client, world.headers("cashier_a"), voucher["short_code"], 30).get_json()
    assert (receipt["community_id"], receipt["value_fen"]) == (world["beta"], 6000)  # beta: 200 fen a point
    assert shop_balance(world["beta"], world["shop_a"]) == 30 and shop_balance(world["alpha"], world["shop_a"]) == 0


def test_only_cashiers_redeem(client, world, db):
    give(world, "a1", 20)
    voucher = issued(client, world, "resident_a1", 20)
    for user in ("staff_a", "resident_a1", "admin"):
        assert redeem(client, world.headers(user), voucher["token"], 20).status_code == 403
    assert _balances(world) == (100, 20, 0)


def test_a_redemption_leaves_an_audit_row(client, world, db):
    give(world, "a1", 20)
    voucher = issued(client, world, "resident_a1", 20)
    receipt = redeem(client, world.headers("cashier_a"), voucher["token"], 12).get_json()
    event = db.session.query(AuditEvent).filter_by(action="voucher.redeem").one()
    assert (event.actor_id, event.target_id, event.data["points"]) == (world.users["cashier_a"], str(receipt["id"]), 12)


def test_the_same_idempotency_key_replays_the_receipt(client, world, db):
    give(world, "a1", 20)
    voucher = issued(client, world, "resident_a1", 20)
    headers = world.headers("cashier_a", **{"Idempotency-Key": "till-7"})
    first, second = (redeem(client, headers, voucher["token"], 20) for _ in range(2))
    assert first.status_code == second.status_code == 201 and first.get_json() == second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert _balances(world) == (100, 0, 20)
