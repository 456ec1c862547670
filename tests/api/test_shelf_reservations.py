"""Reservations: points in escrow and stock held, then exactly one of collected, cancelled or expired."""

from datetime import timedelta

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.ledger.verify import verify
from pointsbank.redeem.models import Redemption
from pointsbank.shelf.jobs import expire_reservations
from pointsbank.shelf.models import Reservation, StockMovement
from tests.integration.helpers_redeem import escrow_balance, give, household_balance, shop_balance
from tests.integration.helpers_shelf import new_item, reserve, stock_clean, stock_of
from pointsbank.database import row_by_id


def _balances(world):
    return (household_balance(world, "a1"), escrow_balance(world["alpha"]), shop_balance(world["alpha"], world["shop_a"]))


def _shelf(client, world):
    give(world, "a1", 100)
    soap = new_item(client, world, name="肥皂", points=10, stock=5)
    rice = new_item(client, world, name="大米", points=60, stock=2, limit={"period": "month", "count": 1})
    return soap, rice


def test_a_resident_reserves_two_items_holding_their_points_in_escrow_and_their_stock(client, world, db, app):
    soap, rice = _shelf(client, world)
    response = reserve(client, world, "resident_a1", "shop_a", [(soap["id"], 2), (rice["id"], 1)])
    assert response.status_code == 201, response.get_json()
    reservation = response.get_json()
    assert (reservation["points"], reservation["status"], reservation["household_id"]) == (80, "held", world["a1"])
    assert len(reservation["pickup_code"].replace(" ", "")) == 16
    assert reservation["expires_at"] == (clock.now() + timedelta(hours=app.config["RESERVATION_TTL_HOURS"])).replace(
        microsecond=0).isoformat()
    assert [(line["item_id"], line["quantity"], line["points"]) for line in reservation["lines"]] == [
        (soap["id"], 2, 20), (rice["id"], 1, 60)]
    assert (stock_of(soap["id"]), stock_of(rice["id"])) == (3, 1)
    assert _balances(world) == (120, 80, 0)
    assert verify().ok and stock_clean()


def test_the_cashier_collects_a_reservation_by_its_pickup_code_and_the_shop_is_paid(client, world, db):
    soap, rice = _shelf(client, world)
    reservation = reserve(client, world, "resident_a1", "shop_a", [(soap["id"], 2), (rice["id"], 1)]).get_json()
    response = client.post("/api/v1/reservations/collect", json={"code": reservation["pickup_code"]},
                           headers=world.headers("cashier_a"))
    assert response.status_code == 201, response.get_json()
    receipt = response.get_json()
    assert (receipt["points"], receipt["returned_points"], receipt["reservation_id"]) == (80, 0, reservation["id"])
    assert receipt["value_fen"] == 8000 and len(receipt["lines"]) == 2
    assert _balances(world) == (120, 0, 80)
    assert (stock_of(soap["id"]), stock_of(rice["id"])) == (3, 1)  # taken off the shelf when reserved
    again = client.post("/api/v1/reservations/collect", json={"code": reservation["pickup_code"]},
                        headers=world.headers("cashier_a"))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "reservation_closed"
    assert client.get(f"/api/v1/reservations/{reservation['id']}",
                      headers=world.headers("resident_a1")).get_json()["status"] == "collected"
    redemption = row_by_id(Redemption, receipt["id"])
    assert redemption.voucher_id == receipt["voucher_id"] and redemption.shop_id == world["shop_a"]
    voucher = client.get(f"/api/v1/vouchers/{receipt['voucher_id']}", headers=world.headers("resident_a1")).get_json()
    assert (voucher["status"], voucher["points"], voucher["receipt"]["id"]) == ("redeemed", 80, receipt["id"])
    listed = client.get(f"/api/v1/shops/{world['shop_a']}/redemptions", headers=world.headers("cashier_a")).get_json()
    assert [r["id"] for r in listed["items"]] == [receipt["id"]]
    assert verify().ok and stock_clean()


def test_a_collected_reservation_counts_against_the_household_limit(client, world, db):
    soap, rice = _shelf(client, world)
    reservation = reserve(client, world, "resident_a1", "shop_a", [(rice["id"], 1)]).get_json()
    second = reserve(client, world, "resident_a1", "shop_a", [(rice["id"], 1)])
    assert second.status_code == 422 and second.get_json()["error"]["code"] == "household_limit_reached"
    client.post("/api/v1/reservations/collect", json={"code": reservation["pickup_code"]},
                headers=world.headers("cashier_a"))
    third = reserve(client, world, "resident_a1", "shop_a", [(rice["id"], 1)])
    assert third.status_code == 422 and third.get_json()["error"]["code"] == "household_limit_reached"


def test_cancelling_gives_back_the_points_and_the_goods_once(client, world, db):
    soap, rice = _shelf(client, world)
    reservation = reserve(client, world, "resident_a1", "shop_a", [(soap["id"], 2), (rice["id"], 1)]).get_json()
    response = client.delete(f"/api/v1/reservations/{reservation['id']}", headers=world.headers("resident_a1"))
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    assert _balances(world) == (200, 0, 0)
    assert (stock_of(soap["id"]), stock_of(rice["id"])) == (5, 2)
    again = client.delete(f"/api/v1/reservations/{reservation['id']}", headers=world.headers("resident_a1"))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "reservation_closed"
    collect = client.post("/api/v1/reservations/collect", json={"code": reservation["pickup_code"]},
                          headers=world.headers("cashier_a"))
    assert collect.status_code == 409
    releases = db.session.scalars(sa.select(StockMovement).where(StockMovement.reason == "release")).all()
    assert sorted((m.item_id, m.change) for m in releases) == sorted([(soap["id"], 2), (rice["id"], 1)])
    assert _balances(world) == (200, 0, 0) and verify().ok and stock_clean()


def test_expiry_gives_back_the_points_and_goods_of_a_held_reservation_once_and_leaves_a_collected_one(client, world, db, app):
    app.config["RESERVATION_TTL_HOURS"] = 2  # the test tokens live a day
    soap, rice = _shelf(client, world)
    reservation = reserve(client, world, "resident_a1", "shop_a", [(soap["id"], 1), (rice["id"], 1)]).get_json()
    other = reserve(client, world, "resident_a1", "shop_a", [(soap["id"], 1)]).get_json()
    late = clock.now() + timedelta(hours=app.config["RESERVATION_TTL_HOURS"], minutes=1)
    collect = client.post("/api/v1/reservations/collect", json={"code": reservation["pickup_code"]},
                          headers=world.headers("cashier_a"))
    assert collect.status_code == 201
    app.config["CLOCK"] = late
    expired = client.get(f"/api/v1/reservations/{other['id']}", headers=world.headers("staff_a")).get_json()
    assert expired["status"] == "expired"  # already, before the job ran
    assert expire_reservations(late) == 1 and expire_reservations(late) == 0
    db.session.expire_all()
    assert row_by_id(Reservation, other["id"]).status == "expired"
    assert row_by_id(Reservation, reservation["id"]).status == "collected"
    assert stock_of(soap["id"]) == 4 and stock_of(rice["id"]) == 1
    assert household_balance(world, "a1") == 130 and escrow_balance(world["alpha"]) == 0
    assert verify().ok and stock_clean()


def test_an_overdue_reservation_is_refused_at_the_counter_with_410_before_the_job_runs(client, world, db, app):
    app.config["RESERVATION_TTL_HOURS"] = 2
    soap, _ = _shelf(client, world)
    reservation = reserve(client, world, "resident_a1", "shop_a", [(soap["id"], 1)]).get_json()
    app.config["CLOCK"] = clock.now() + timedelta(hours=app.config["RESERVATION_TTL_HOURS"], minutes=1)
    response = client.post("/api/v1/reservations/collect", json={"code": reservation["pickup_code"]},
                           headers=world.headers("cashier_a"))
    assert response.status_code == 410 and response.get_json()["error"]["code"] == "reservation_expired"
    assert client.delete(f"/api/v1/reservations/{reservation['id']}",
                         headers=world.headers("resident_a1")).status_code == 410


def test_a_reservation_refuses_what_the_counter_would_refuse(client, world, db):
    soap, rice = _shelf(client, world)
    short = reserve(client, world, "resident_a1", "shop_a", [(rice["id"], 1), (soap["id"], 6)])
    assert short.status_code == 409 and short.get_json()["error"]["details"]["items"][0]["left"] == 5
    assert (stock_of(soap["id"]), stock_of(rice["id"]), _balances(world)) == (5, 2, (200, 0, 0))
    over = reserve(client, world, "resident_a1", "shop_a", [(rice["id"], 2)])
    assert over.status_code == 422 and over.get_json()["error"]["code"] == "household_limit_reached"
    give(world, "a2", 10)
    poor = reserve(client, world, "resident_a2", "shop_a", [(soap["id"], 2)])
    assert poor.status_code == 422 and poor.get_json()["error"]["code"] == "insufficient_points"
    assert stock_of(soap["id"]) == 5


def test_staff_reserve_for_a_household_of_their_community_but_not_their_own(client, world, db):
    soap, _ = _shelf(client, world)
    response = reserve(client, world, "staff_a", "shop_a", [(soap["id"], 1)], household_id=world["a1"])
    assert response.status_code == 201
    assert reserve(client, world, "staff_a", "shop_a", [(soap["id"], 1)]).status_code == 400
    own = reserve(client, world, "staff_a", "shop_a", [(soap["id"], 1)], household_id=world["a3"])
    assert own.status_code == 403 and own.get_json()["error"]["code"] == "conflict_of_interest"
    assert reserve(client, world, "staff_b", "shop_a", [(soap["id"], 1)],
                   household_id=world["a1"]).status_code == 404
    assert reserve(client, world, "resident_b1", "shop_a", [(soap["id"], 1)]).status_code == 404


def test_who_sees_which_reservations_and_their_pickup_codes(client, world, db):
    soap, _ = _shelf(client, world)
    give(world, "a2", 50)
    mine = reserve(client, world, "resident_a1", "shop_a", [(soap["id"], 1)]).get_json()
    theirs = reserve(client, world, "resident_a2", "shop_a", [(soap["id"], 1)]).get_json()
    own = client.get("/api/v1/reservations", headers=world.headers("resident_a1")).get_json()
    assert [r["id"] for r in own] == [mine["id"]]
    assert client.get(f"/api/v1/reservations/{theirs['id']}", headers=world.headers("resident_a1")).status_code == 404
    packing = client.get("/api/v1/reservations?status=held", headers=world.headers("cashier_a")).get_json()
    assert [r["id"] for r in packing] == [theirs["id"], mine["id"]]
    assert {r["pickup_code"] for r in packing} == {None}
    staff = client.get(f"/api/v1/reservations?household_id={world['a2']}", headers=world.headers("staff_a")).get_json()
    assert [r["id"] for r in staff] == [theirs["id"]] and staff[0]["pickup_code"] == theirs["pickup_code"]
    assert client.get("/api/v1/reservations", headers=world.headers("staff_b")).get_json() == []
    assert client.get("/api/v1/reservations", headers=world.headers("cashier_b")).get_json() == []


def test_a_pickup_code_of_another_shop_or_a_wrong_one_is_not_found_and_counts_as_a_guess(client, world, db, app):
    soap, _ = _shelf(client, world)
    reservation = reserve(client, world, "resident_a1", "shop_a", [(soap["id"], 1)]).get_json()
    elsewhere = client.post("/api/v1/reservations/collect", json={"code": reservation["pickup_code"]},
                            headers=world.headers("cashier_b"))
    assert elsewhere.status_code == 404 and elsewhere.get_json()["error"]["code"] == "reservation_not_found"
    malformed = client.post("/api/v1/reservations/collect", json={"code": "12"}, headers=world.headers("cashier_a"))
    assert malformed.status_code == 400 and malformed.get_json()["error"]["code"] == "pickup_code_malformed"
    app.config["REDEEM_GUESSES_PER_CASHIER"] = 2  # one guess counted so far (the malformed code)
    wrong = client.post("/api/v1/reservations/collect", json={"code": "0000 0000 0000 0000"},
                        headers=world.headers("cashier_a"))
    assert wrong.status_code in (400, 404)
    blocked = client.post("/api/v1/reservations/collect", json={"code": reservation["pickup_code"]},
                          headers=world.headers("cashier_a"))
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    assert stock_of(soap["id"]) == 4 and row_by_id(Reservation, reservation["id"]).status == "held"


def test_reversing_a_collected_reservation_gives_the_household_its_points_back(client, world, db):
    soap, _ = _shelf(client, world)
    reservation = reserve(client, world, "resident_a1", "shop_a", [(soap["id"], 2)]).get_json()
    receipt = client.post("/api/v1/reservations/collect", json={"code": reservation["pickup_code"]},
                          headers=world.headers("cashier_a")).get_json()
    assert _balances(world) == (180, 0, 20)
    response = client.post(f"/api/v1/redemptions/{receipt['id']}/reverse", json={"reason": "wrong household"},
                           headers=world.headers("staff_a2"))
    assert response.status_code == 200 and response.get_json()["reversed_at"] is not None
    assert _balances(world) == (200, 0, 0)
    again = client.post(f"/api/v1/redemptions/{receipt['id']}/reverse", json={"reason": "twice"},
                        headers=world.headers("staff_a2"))
    assert again.status_code == 409
    shown = client.get(f"/api/v1/shops/{world['shop_a']}/redemptions", headers=world.headers("cashier_a")).get_json()
    assert shown["items"][0]["reservation_id"] == reservation["id"] and shown["items"][0]["lines"][0]["quantity"] == 2
    assert verify().ok


def test_the_household_shows_its_pickup_code_as_a_qr_code_while_the_reservation_is_held(client, world, db):
    soap, _ = _shelf(client, world)
    reservation = reserve(client, world, "resident_a1", "shop_a", [(soap["id"], 1)]).get_json()
    url = f"/api/v1/reservations/{reservation['id']}/qr.svg"
    image = client.get(url, headers=world.headers("resident_a1"))
    assert image.status_code == 200 and image.mimetype == "image/svg+xml" and b"<svg" in image.data
    assert client.get(url, headers=world.headers("resident_a2")).status_code == 404
    assert client.get(url, headers=world.headers("cashier_a")).status_code == 403
    client.delete(f"/api/v1/reservations/{reservation['id']}", headers=world.headers("resident_a1"))
    assert client.get(url, headers=world.headers("resident_a1")).status_code == 409


def test_the_command_line_expires_overdue_reservations_and_a_second_run_finds_none(client, world, db, app, runner):
    app.config["RESERVATION_TTL_HOURS"] = 1
    soap, _ = _shelf(client, world)
    reserve(client, world, "resident_a1", "shop_a", [(soap["id"], 2)])
    app.config["CLOCK"] = clock.now() + timedelta(hours=2)
    first = runner.invoke(args=["reservations", "expire"])
    assert first.exit_code == 0 and "expired 1 reservation(s)" in first.output
    second = runner.invoke(args=["reservations", "expire"])
    assert "expired 0 reservation(s)" in second.output
    assert stock_of(soap["id"]) == 5 and household_balance(world, "a1") == 200 and stock_clean()


def test_reversing_a_collected_reservation_puts_its_goods_back_on_the_shelf(client, world, db):
    soap, rice = _shelf(client, world)
    reservation = reserve(client, world, "resident_a1", "shop_a", [(soap["id"], 2), (rice["id"], 1)]).get_json()
    receipt = client.post("/api/v1/reservations/collect", json={"code": reservation["pickup_code"]},
                          headers=world.headers("cashier_a")).get_json()
    assert (stock_of(soap["id"]), stock_of(rice["id"])) == (3, 1)
    reversal = client.post(f"/api/v1/redemptions/{receipt['id']}/reverse", json={"reason": "not handed over"},
                           headers=world.headers("staff_a2"))
    assert reversal.status_code == 200, reversal.get_json()
    assert (stock_of(soap["id"]), stock_of(rice["id"])) == (5, 2)
    assert _balances(world) == (200, 0, 0)
    assert verify().ok and stock_clean()
