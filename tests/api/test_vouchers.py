"""Vouchers: issued from redeemable points into the escrow, read, listed and cancelled."""

from datetime import timedelta

from pointsbank import clock
from pointsbank.ledger.verify import verify
from pointsbank.redeem import shortcode, tokens
from tests.integration.helpers_redeem import (escrow_balance, give, household_balance, issue, issued,
                                           voucher_ttl)

URL = "/api/v1/vouchers"


def assert_nothing_issued(world, db, household: str, balance: int) -> None:
    """A refused voucher moved nothing: the household keeps ``balance``, the escrow holds no
    point, and no voucher row exists."""
    import sqlalchemy as sa

    from pointsbank.redeem.models import Voucher

    db.session.expire_all()
    assert household_balance(world, household) == balance
    assert escrow_balance(world["alpha"]) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Voucher)) == 0


def test_a_resident_creates_a_voucher_for_their_household_and_the_points_move_into_the_escrow(client, world, db):
    give(world, "a1", 50)
    response = issue(client, world, "resident_a1", 30)
    assert response.status_code == 201
    body = response.get_json()
    assert (body["points"], body["household_id"], body["status"]) == (30, world["a1"], "issued")
    assert len(body["id"]) == 32 and int(body["id"], 16) >= 0
    assert body["expires_at"] == (clock.now() + timedelta(hours=24)).isoformat()
    assert body["qr_png_url"] == f"{URL}/{body['id']}/qr.png" and body["qr_svg_url"].endswith("/qr.svg")
    assert household_balance(world, "a1") == 120 and escrow_balance(world["alpha"]) == 30
    assert verify().ok


def test_the_short_code_is_sixteen_digits_grouped_in_fours_with_a_valid_check_digit(client, world, db):
    give(world, "a1", 10)
    code = issued(client, world, "resident_a1", 10)["short_code"]
    groups = code.split(" ")
    assert [len(g) for g in groups] == [4, 4, 4, 4] and all(g.isdigit() for g in groups)
    assert shortcode.is_valid(code)


def test_the_token_is_signed_by_a_key_served_at_the_public_key_endpoint(client, world, db):
    give(world, "a1", 10)
    body = issued(client, world, "resident_a1", 10)
    keys = client.get("/api/v1/keys").get_json()["keys"]
    public = {k["kid"]: tokens.unb64url(k["x"]) for k in keys}
    claims = tokens.verify(body["token"], public)
    assert (claims.voucher_id, claims.community_id, claims.points) == (body["id"], world["alpha"], 10)


def test_staff_create_a_voucher_for_a_household_of_their_community(client, world, db):
    give(world, "a1", 40)
    response = issue(client, world, "staff_a2", 40, world["a1"])
    assert response.status_code == 201 and response.get_json()["household_id"] == world["a1"]
    assert household_balance(world, "a1") == 100


def test_staff_may_not_create_a_voucher_for_their_own_household(client, world, db):
    give(world, "a3", 40)
    response = issue(client, world, "staff_a", 10, world["a3"])
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "conflict_of_interest"
    assert_nothing_issued(world, db, "a3", 140)


def test_staff_must_say_which_household(client, world):
    response = issue(client, world, "staff_a2", 10)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "household_required"


def test_a_resident_cannot_create_a_voucher_for_another_household(client, world, db):
    give(world, "a2", 40)
    response = issue(client, world, "resident_a1", 10, world["a2"])
    assert response.status_code == 404
    assert_nothing_issued(world, db, "a2", 140)


def test_staff_of_another_community_get_404_for_the_household(client, world, db):
    give(world, "a1", 40)
    assert issue(client, world, "staff_b", 10, world["a1"]).status_code == 404
    assert_nothing_issued(world, db, "a1", 140)


def test_points_below_one_are_refused_with_400(client, world, db):
    give(world, "a1", 40)
    for points in (0, -5):
        response = issue(client, world, "resident_a1", points)
        assert response.status_code == 400 and "points" in response.get_json()["error"]["details"]["fields"]
    assert_nothing_issued(world, db, "a1", 140)


def test_more_than_the_redeemable_points_is_refused_with_what_is_available(client, world, db):
    give(world, "a1", 25)
    response = issue(client, world, "resident_a1", 26)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "insufficient_points" and error["details"] == {"available": 25}
    assert_nothing_issued(world, db, "a1", 125)


def test_the_base_points_are_never_redeemable(client, world, db):
    response = issue(client, world, "resident_a1", 1)
    assert response.status_code == 422 and response.get_json()["error"]["details"] == {"available": 0}
    assert_nothing_issued(world, db, "a1", 100)


def test_the_same_idempotency_key_replays_the_voucher_without_drawing_twice(client, world, db):
    give(world, "a1", 50)
    first = issue(client, world, "resident_a1", 20, **{"Idempotency-Key": "v-1"})
    second = issue(client, world, "resident_a1", 20, **{"Idempotency-Key": "v-1"})
    assert first.status_code == second.status_code == 201
    assert second.get_json()["id"] == first.get_json()["id"] and second.headers["Idempotent-Replayed"] == "true"
    assert household_balance(world, "a1") == 130


def test_the_household_and_staff_read_a_voucher_and_others_get_404(client, world, db):
    give(world, "a1", 50)
    voucher = issued(client, world, "resident_a1", 20)
    for user in ("resident_a1", "staff_a", "admin"):
        response = client.get(f"{URL}/{voucher['id']}", headers=world.headers(user))
        assert response.status_code == 200 and response.get_json()["token"] == voucher["token"], user
        assert response.get_json()["receipt"] is None
    for user in ("resident_a2", "staff_b", "admin_t2"):
        response = client.get(f"{URL}/{voucher['id']}", headers=world.headers(user))
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "voucher_not_found", user
    assert client.get(f"{URL}/{'0' * 32}", headers=world.headers("staff_a")).status_code == 404
    assert client.get(f"{URL}/not-an-id", headers=world.headers("staff_a")).status_code == 404


def test_a_voucher_past_its_expiry_reads_expired_before_the_job_runs(app, client, world, db):
    voucher_ttl(client, world, 1)
    give(world, "a1", 50)
    voucher = issued(client, world, "resident_a1", 20)
    app.config["CLOCK"] = clock.now() + timedelta(hours=1)
    assert client.get(f"{URL}/{voucher['id']}", headers=world.headers("resident_a1")).get_json()["status"] == "expired"


def test_the_household_list_is_newest_first_and_paginated(client, world, db):
    give(world, "a1", 50)
    ids = [issued(client, world, "resident_a1", 5)["id"] for _ in range(5)]
    first = client.get(f"/api/v1/households/{world['a1']}/vouchers?limit=3", headers=world.headers("resident_a1"))
    page = first.get_json()
    assert [v["id"] for v in page["items"]] == ids[::-1][:3] and "token" not in page["items"][0]
    rest = client.get(f"/api/v1/households/{world['a1']}/vouchers?limit=3&cursor={page['next_cursor']}",
                      headers=world.headers("resident_a1")).get_json()
    assert [v["id"] for v in rest["items"]] == ids[::-1][3:] and rest["next_cursor"] is None
    assert client.get(f"/api/v1/households/{world['a1']}/vouchers", headers=world.headers("resident_a2")).status_code == 404


def test_the_household_list_filters_by_status(client, world, db):
    give(world, "a1", 50)
    kept = issued(client, world, "resident_a1", 5)["id"]
    cancelled = issued(client, world, "resident_a1", 5)["id"]
    client.delete(f"{URL}/{cancelled}", headers=world.headers("resident_a1"))
    listing = client.get(f"/api/v1/households/{world['a1']}/vouchers?status=issued",
                         headers=world.headers("resident_a1")).get_json()
    assert [v["id"] for v in listing["items"]] == [kept]


def test_cancelling_returns_the_points_and_a_second_cancel_is_409(client, world, db):
    give(world, "a1", 50)
    voucher = issued(client, world, "resident_a1", 20)
    response = client.delete(f"{URL}/{voucher['id']}", headers=world.headers("resident_a1"))
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    assert household_balance(world, "a1") == 150 and escrow_balance(world["alpha"]) == 0
    again = client.delete(f"{URL}/{voucher['id']}", headers=world.headers("resident_a1"))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "voucher_cancelled"
    assert household_balance(world, "a1") == 150
    assert verify().ok


def test_staff_may_cancel_and_strangers_get_404(client, world, db):
    give(world, "a1", 50)
    voucher = issued(client, world, "resident_a1", 20)
    assert client.delete(f"{URL}/{voucher['id']}", headers=world.headers("resident_a2")).status_code == 404
    assert client.delete(f"{URL}/{voucher['id']}", headers=world.headers("staff_b")).status_code == 404
    assert client.delete(f"{URL}/{voucher['id']}", headers=world.headers("staff_a2")).status_code == 200
    assert household_balance(world, "a1") == 150


def test_a_redeemed_voucher_cannot_be_cancelled(client, world, db):
    give(world, "a1", 50)
    voucher = issued(client, world, "resident_a1", 20)
    client.post("/api/v1/redemptions", json={"code": voucher["token"], "points": 20},
                headers=world.headers("cashier_a"))
    response = client.delete(f"{URL}/{voucher['id']}", headers=world.headers("resident_a1"))
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "voucher_already_redeemed"
    assert household_balance(world, "a1") == 130


def test_cancelling_after_the_expiry_closes_the_voucher_as_expired_with_the_points_back(app, client, world, db):
    voucher_ttl(client, world, 1)
    give(world, "a1", 50)
    voucher = issued(client, world, "resident_a1", 20)
    app.config["CLOCK"] = clock.now() + timedelta(hours=2)
    response = client.delete(f"{URL}/{voucher['id']}", headers=world.headers("resident_a1"))
    assert response.status_code == 200 and response.get_json()["status"] == "expired"
    assert household_balance(world, "a1") == 150
    again = client.delete(f"{URL}/{voucher['id']}", headers=world.headers("resident_a1"))
    assert again.status_code == 410 and again.get_json()["error"]["code"] == "voucher_expired"


def test_the_voucher_expiry_follows_the_community_setting(client, world, db):
    voucher_ttl(client, world, 2)
    give(world, "a1", 10)
    body = issued(client, world, "resident_a1", 10)
    assert body["expires_at"] == (clock.now() + timedelta(hours=2)).isoformat()
    assert tokens.peek(body["token"])[1].expires_at == int((clock.now() + timedelta(hours=2)).timestamp())
