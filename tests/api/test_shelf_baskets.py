"""Baskets at the counter: POST /redemptions with items, one transaction, never a partial basket."""

from datetime import timedelta

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.ledger.verify import verify
from pointsbank.redeem.models import Redemption
from pointsbank.shelf.models import RedemptionLine, StockMovement
from tests.integration.helpers_redeem import escrow_balance, give, household_balance, issued, shop_balance
from tests.integration.helpers_shelf import new_item, ring_up, stock_clean, stock_of


def _balances(world):
    return (household_balance(world, "a1"), escrow_balance(world["alpha"]), shop_balance(world["alpha"], world["shop_a"]))


def test_a_basket_of_two_items_costs_their_sum_moves_the_stock_and_returns_the_rest(client, world, db):
    give(world, "a1", 100)
    soap = new_item(client, world, name="肥皂", points=10, stock=5)
    rice = new_item(client, world, name="大米", points=60, stock=2, barcode="6901234567892")
    voucher = issued(client, world, "resident_a1", 100)
    response = ring_up(client, world.headers("cashier_a"), voucher["token"], [(soap["id"], 2), (rice["id"], 1)])
    assert response.status_code == 201, response.get_json()
    receipt = response.get_json()
    assert (receipt["points"], receipt["returned_points"], receipt["value_fen"]) == (80, 20, 8000)
    assert [(line["item_id"], line["quantity"], line["points_each"], line["points"]) for line in receipt["lines"]] == [
        (soap["id"], 2, 10, 20), (rice["id"], 1, 60, 60)]
    assert receipt["lines"][1]["name"] == {"zh": "大米", "en": "大米 (en)"}
    assert (stock_of(soap["id"]), stock_of(rice["id"])) == (3, 1)
    assert _balances(world) == (120, 0, 80)
    lines = db.session.scalars(sa.select(RedemptionLine).where(RedemptionLine.redemption_id == receipt["id"])).all()
    assert {(line.item_id, line.quantity, line.household_id) for line in lines} == {
        (soap["id"], 2, world["a1"]), (rice["id"], 1, world["a1"])}
    movements = db.session.scalars(sa.select(StockMovement).where(StockMovement.redemption_id == receipt["id"])).all()
    assert sorted((m.item_id, m.change, m.reason) for m in movements) == sorted(
        [(soap["id"], -2, "redemption"), (rice["id"], -1, "redemption")])
    assert verify().ok and stock_clean()


def test_the_same_item_given_twice_in_a_basket_is_one_line_of_both_quantities(client, world, db):
    give(world, "a1", 50)
    soap = new_item(client, world, points=10, stock=5)
    voucher = issued(client, world, "resident_a1", 50)
    receipt = ring_up(client, world.headers("cashier_a"), voucher["short_code"], [(soap["id"], 1), (soap["id"], 2)])
    assert receipt.status_code == 201
    assert [(line["quantity"], line["points"]) for line in receipt.get_json()["lines"]] == [(3, 30)]
    assert stock_of(soap["id"]) == 2


def test_a_basket_whose_second_item_is_out_of_stock_takes_nothing_and_names_it(client, world, db):
    give(world, "a1", 100)
    soap = new_item(client, world, name="肥皂", points=10, stock=5)
    oil = new_item(client, world, name="食用油", points=30, stock=1)
    voucher = issued(client, world, "resident_a1", 100)
    before = _balances(world)
    response = ring_up(client, world.headers("cashier_a", **{"Accept-Language": "zh-CN"}), voucher["token"],
                       [(soap["id"], 1), (oil["id"], 2)])
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "out_of_stock" and "食用油" in error["message"] and "肥皂" not in error["message"]
    assert error["details"]["items"] == [{"item_id": oil["id"], "name": "食用油", "requested": 2, "left": 1}]
    assert (stock_of(soap["id"]), stock_of(oil["id"])) == (5, 1)
    assert _balances(world) == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Redemption)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RedemptionLine)) == 0
    again = ring_up(client, world.headers("cashier_a"), voucher["token"], [(soap["id"], 1), (oil["id"], 1)])
    assert again.status_code == 201  # the voucher is still open: nothing was taken
    assert verify().ok and stock_clean()


def test_an_out_of_stock_refusal_names_the_item_in_english_when_asked(client, world, db):
    give(world, "a1", 50)
    oil = new_item(client, world, name="食用油", en="Cooking oil", points=30, stock=0)
    voucher = issued(client, world, "resident_a1", 50)
    response = client.post("/api/v1/redemptions?lang=en", headers=world.headers("cashier_a"),
                           json={"code": voucher["token"], "items": [{"item_id": oil["id"]}]})
    assert response.status_code == 409
    assert "Cooking oil" in response.get_json()["error"]["message"]


def test_a_basket_dearer_than_the_voucher_is_refused_with_points_exceed_voucher(client, world, db):
    give(world, "a1", 100)
    rice = new_item(client, world, points=60, stock=5)
    voucher = issued(client, world, "resident_a1", 100)
    response = ring_up(client, world.headers("cashier_a"), voucher["token"], [(rice["id"], 2)])
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "points_exceed_voucher"
    assert stock_of(rice["id"]) == 5


def test_an_unlimited_item_is_rung_up_without_a_stock_and_its_movement_has_none(client, world, db):
    give(world, "a1", 30)
    tea = new_item(client, world, points=15)
    assert tea["stock"] is None and tea["is_unlimited"]
    voucher = issued(client, world, "resident_a1", 30)
    assert ring_up(client, world.headers("cashier_a"), voucher["token"], [(tea["id"], 2)]).status_code == 201
    movement = db.session.scalar(sa.select(StockMovement).where(StockMovement.item_id == tea["id"]))
    assert (movement.change, movement.stock_after, stock_of(tea["id"])) == (-2, None, None)
    assert stock_clean()


def test_a_household_limit_of_one_a_month_refuses_the_second_basket_of_the_month(client, world, db):
    give(world, "a1", 200)
    rice = new_item(client, world, points=60, stock=10, limit={"period": "month", "count": 1})
    first = issued(client, world, "resident_a1", 60)
    assert ring_up(client, world.headers("cashier_a"), first["token"], [(rice["id"], 1)]).status_code == 201
    second = issued(client, world, "resident_a1", 60)
    response = ring_up(client, world.headers("cashier_a"), second["token"], [(rice["id"], 1)])
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "household_limit_reached"
    assert error["details"]["items"][0]["taken"] == 1
    assert error["details"]["items"][0]["limit"] == {"period": "month", "count": 1}
    assert stock_of(rice["id"]) == 9


def test_a_basket_of_two_units_breaks_a_limit_of_one_at_once(client, world, db):
    give(world, "a1", 200)
    rice = new_item(client, world, points=60, stock=10, limit={"period": "quarter", "count": 1})
    voucher = issued(client, world, "resident_a1", 120)
    response = ring_up(client, world.headers("cashier_a"), voucher["token"], [(rice["id"], 2)])
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "household_limit_reached"


def test_a_reversed_redemption_no_longer_counts_against_the_limit(client, world, db):
    give(world, "a1", 200)
    rice = new_item(client, world, points=60, stock=10, limit={"period": "year", "count": 1})
    first = issued(client, world, "resident_a1", 60)
    receipt = ring_up(client, world.headers("cashier_a"), first["token"], [(rice["id"], 1)]).get_json()
    reversal = client.post(f"/api/v1/redemptions/{receipt['id']}/reverse", json={"reason": "wrong household"},
                           headers=world.headers("staff_a2"))
    assert reversal.status_code == 200
    second = issued(client, world, "resident_a1", 60)
    assert ring_up(client, world.headers("cashier_a"), second["token"], [(rice["id"], 1)]).status_code == 201


def test_an_item_asking_for_stars_is_refused_while_no_household_has_any(client, world, db):
    give(world, "a1", 50)
    thermos = new_item(client, world, points=40, stock=3, min_stars=3)
    voucher = issued(client, world, "resident_a1", 50)
    response = ring_up(client, world.headers("cashier_a"), voucher["token"], [(thermos["id"], 1)])
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "stars_required" and error["details"]["items"][0]["min_stars"] == 3
    assert stock_of(thermos["id"]) == 3


def test_an_item_off_the_shelf_or_outside_its_window_is_item_unavailable(client, world, db):
    give(world, "a1", 100)
    now = clock.now()
    later = new_item(client, world, name="月饼", points=20, stock=5,
                     available_from=(now + timedelta(days=3)).isoformat())
    withdrawn = new_item(client, world, name="毛巾", points=20, stock=5)
    client.patch(f"/api/v1/items/{withdrawn['id']}", json={"is_active": False}, headers=world.headers("staff_a"))
    voucher = issued(client, world, "resident_a1", 100)
    for item in (later, withdrawn):
        response = ring_up(client, world.headers("cashier_a"), voucher["token"], [(item["id"], 1)])
        assert response.status_code == 422 and response.get_json()["error"]["code"] == "item_unavailable"


def test_an_item_of_another_shop_is_item_not_found_at_this_counter(client, world, db):
    give(world, "a1", 50)
    other = new_item(client, world, user="staff_b", shop="shop_b", points=10, stock=5)
    voucher = issued(client, world, "resident_a1", 50)
    response = ring_up(client, world.headers("cashier_a"), voucher["token"], [(other["id"], 1)])
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "item_not_found"
    assert stock_of(other["id"]) == 5


def test_points_and_items_together_or_neither_are_refused_before_anything_is_read(client, world, db):
    give(world, "a1", 50)
    soap = new_item(client, world, points=10, stock=5)
    voucher = issued(client, world, "resident_a1", 50)
    for body in ({"code": voucher["token"], "points": 10, "items": [{"item_id": soap["id"]}]},
                 {"code": voucher["token"]}):
        response = client.post("/api/v1/redemptions", json=body, headers=world.headers("cashier_a"))
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "points_or_items"
    empty = client.post("/api/v1/redemptions", json={"code": voucher["token"], "items": []},
                        headers=world.headers("cashier_a"))
    assert empty.status_code == 400
    zero = ring_up(client, world.headers("cashier_a"), voucher["token"], [(soap["id"], 0)])
    assert zero.status_code == 400


def test_a_typed_points_redemption_still_works_at_a_shop_with_a_shelf(client, world, db):
    give(world, "a1", 50)
    new_item(client, world, points=10, stock=5)
    voucher = issued(client, world, "resident_a1", 50)
    response = client.post("/api/v1/redemptions", json={"code": voucher["token"], "points": 25},
                           headers=world.headers("cashier_a"))
    assert response.status_code == 201 and "lines" not in response.get_json()


def test_a_basket_receipt_read_later_still_lists_its_lines(client, world, db):
    give(world, "a1", 50)
    soap = new_item(client, world, points=10, stock=5)
    voucher = issued(client, world, "resident_a1", 50)
    receipt = ring_up(client, world.headers("cashier_a"), voucher["token"], [(soap["id"], 3)]).get_json()
    listed = client.get(f"/api/v1/shops/{world['shop_a']}/redemptions", headers=world.headers("staff_a")).get_json()
    assert [(line["item_id"], line["quantity"]) for line in listed["items"][0]["lines"]] == [(soap["id"], 3)]
    typed = issued(client, world, "resident_a1", 10)
    client.post("/api/v1/redemptions", json={"code": typed["token"], "points": 10}, headers=world.headers("cashier_a"))
    listed = client.get(f"/api/v1/shops/{world['shop_a']}/redemptions", headers=world.headers("staff_a")).get_json()
    assert "lines" not in listed["items"][0] and listed["items"][1]["id"] == receipt["id"]


def test_reversing_a_basket_puts_its_goods_back_on_the_shelf_once_through_release_movements(client, world, db):
    give(world, "a1", 100)
    soap = new_item(client, world, name="肥皂", points=10, stock=5)
    rice = new_item(client, world, name="大米", points=60, stock=2)
    hot_water = new_item(client, world, name="热水", points=1)  # unlimited: its movement has no stock
    voucher = issued(client, world, "resident_a1", 100)
    receipt = ring_up(client, world.headers("cashier_a"), voucher["token"],
                      [(soap["id"], 2), (rice["id"], 1), (hot_water["id"], 3)]).get_json()
    assert (stock_of(soap["id"]), stock_of(rice["id"])) == (3, 1)
    reversal = client.post(f"/api/v1/redemptions/{receipt['id']}/reverse", json={"reason": "wrong household"},
                           headers=world.headers("staff_a2"))
    assert reversal.status_code == 200, reversal.get_json()
    assert (stock_of(soap["id"]), stock_of(rice["id"]), stock_of(hot_water["id"])) == (5, 2, None)
    returned = db.session.scalars(sa.select(StockMovement).where(
        StockMovement.redemption_id == receipt["id"], StockMovement.reason == "release")).all()
    assert sorted((m.item_id, m.change, m.stock_after, m.actor_id) for m in returned) == sorted([
        (soap["id"], 2, 5, world.users["staff_a2"]), (rice["id"], 1, 2, world.users["staff_a2"]),
        (hot_water["id"], 3, None, world.users["staff_a2"])])
    again = client.post(f"/api/v1/redemptions/{receipt['id']}/reverse", json={"reason": "twice"},
                        headers=world.headers("staff_a2"))
    assert again.status_code == 409
    assert (stock_of(soap["id"]), stock_of(rice["id"])) == (5, 2)
    assert _balances(world) == (200, 0, 0)
    assert verify().ok and stock_clean()


def test_a_reversed_basket_leaves_the_stock_statement_with_nothing_out_and_nothing_redeemed(client, world, db):
    give(world, "a1", 100)
    soap = new_item(client, world, name="肥皂", points=10, stock=5)
    voucher = issued(client, world, "resident_a1", 30)
    receipt = ring_up(client, world.headers("cashier_a"), voucher["token"], [(soap["id"], 3)]).get_json()
    client.post(f"/api/v1/redemptions/{receipt['id']}/reverse", json={"reason": "wrong"},
                headers=world.headers("staff_a2"))
    period = clock.now().strftime("%Y") + "Q" + str((clock.now().month - 1) // 3 + 1)
    statement = client.get(f"/api/v1/shops/{world['shop_a']}/stock?period={period}",
                           headers=world.headers("staff_a")).get_json()
    row = next(r for r in statement["items"] if r["item_id"] == soap["id"])
    assert (row["in"], row["out"], row["left"], row["quantity"], row["points"]) == (5, 0, 5, 0, 0)


def test_reversing_a_typed_points_redemption_moves_no_stock(client, world, db):
    give(world, "a1", 50)
    new_item(client, world, points=10, stock=5)
    voucher = issued(client, world, "resident_a1", 20)
    receipt = client.post("/api/v1/redemptions", json={"code": voucher["token"], "points": 20},
                          headers=world.headers("cashier_a")).get_json()
    before = db.session.scalar(sa.select(sa.func.count()).select_from(StockMovement))
    assert client.post(f"/api/v1/redemptions/{receipt['id']}/reverse", json={"reason": "wrong"},
                       headers=world.headers("staff_a2")).status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StockMovement)) == before
    assert verify().ok and stock_clean()
