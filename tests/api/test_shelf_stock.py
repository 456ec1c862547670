"""The stock ledger (deliveries, donations, losses, counts), its statement and its verification."""

import io
from datetime import datetime, timezone

import sqlalchemy as sa
from openpyxl import load_workbook

from pointsbank import clock
from pointsbank.extensions import db
from pointsbank.shelf.models import ShelfItem, StockMovement
from pointsbank.shelf.services.stock import verify_stock
from tests.integration.helpers_redeem import give, issued
from tests.integration.helpers_shelf import new_item, ring_up, stock_clean, stock_of


def _move(client, world, item_id, change, reason, user="staff_a", **body):
    return client.post(f"/api/v1/items/{item_id}/stock", json={"change": change, "reason": reason, **body},
                       headers=world.headers(user))


def test_deliveries_donations_losses_and_counts_each_leave_a_movement_and_the_right_stock(client, world, db):
    item = new_item(client, world, stock=10)
    assert _move(client, world, item["id"], 5, "delivery").get_json()["stock"] == 15
    assert _move(client, world, item["id"], 2, "donation", note="村委会捐赠").get_json()["stock"] == 17
    loss = _move(client, world, item["id"], 1, "loss", note="破损").get_json()
    assert (loss["change"], loss["stock"]) == (-1, 16)
    count = _move(client, world, item["id"], 14, "count").get_json()
    assert (count["change"], count["stock_after"], count["stock"]) == (-2, 14, 14)
    right = _move(client, world, item["id"], 14, "count")
    assert right.status_code == 201 and right.get_json()["change"] == 0
    history = client.get(f"/api/v1/items/{item['id']}/stock", headers=world.headers("cashier_a")).get_json()["items"]
    assert [(m["reason"], m["change"]) for m in history] == [
        ("count", 0), ("count", -2), ("loss", -1), ("donation", 2), ("delivery", 5), ("delivery", 10)]
    assert stock_of(item["id"]) == 14 and stock_clean()


def test_the_stock_never_goes_below_zero(client, world, db):
    item = new_item(client, world, stock=2)
    response = _move(client, world, item["id"], 3, "loss")
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "stock_negative"
    assert response.get_json()["error"]["details"]["stock"] == 2
    assert _move(client, world, item["id"], -1, "count").status_code == 422
    assert stock_of(item["id"]) == 2


def test_a_delivery_must_add_and_an_unlimited_item_has_no_stock_to_move(client, world, db):
    item = new_item(client, world, stock=2)
    for change in (0, -3):
        response = _move(client, world, item["id"], change, "delivery")
        assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_item"
    unlimited = new_item(client, world, name="茶叶")
    response = _move(client, world, unlimited["id"], 5, "delivery")
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "stock_not_tracked"
    assert _move(client, world, item["id"], 1, "redemption").status_code == 400  # not a manual reason


def test_only_staff_of_a_partner_community_move_stock(client, world, db):
    item = new_item(client, world, stock=2)
    assert _move(client, world, item["id"], 1, "delivery", user="cashier_a").status_code == 403
    assert _move(client, world, item["id"], 1, "delivery", user="resident_a1").status_code == 403
    assert _move(client, world, item["id"], 1, "delivery", user="staff_b").status_code == 404
    assert stock_of(item["id"]) == 2


def test_stock_verify_finds_a_cached_stock_that_differs_from_its_movements(client, world, db, runner):
    item = new_item(client, world, stock=5)
    ok = runner.invoke(args=["stock", "verify"])
    assert ok.exit_code == 0 and "checked 1 items, 1 movements: OK" in ok.output
    db.session.execute(sa.update(ShelfItem).where(ShelfItem.id == item["id"]).values(stock=7))
    db.session.commit()
    report = verify_stock()
    assert not report.ok and "cached stock 7, sum of movements 5" in report.differences[0]
    broken = runner.invoke(args=["stock", "verify"])
    assert broken.exit_code == 1 and "DIFFERENCE item" in broken.output


def _at(app, world, *moment):
    """Freeze the clock at ``moment`` (UTC) with fresh tokens that are valid then."""
    from tests.factories import token_for

    app.config["CLOCK"] = datetime(*moment, tzinfo=timezone.utc)
    for user, user_id in world.users.items():
        world.tokens[user] = token_for(user_id)
    db.session.commit()


def _statement(client, world, period, user="staff_a", **args):
    query = "&".join(f"{k}={v}" for k, v in {"period": period, **args}.items())
    return client.get(f"/api/v1/shops/{world['shop_a']}/stock?{query}", headers=world.headers(user))


def test_the_stock_statement_of_a_quarter_gives_per_item_opening_in_out_loss_left_and_points(client, world, app):
    _at(app, world, 2026, 6, 20, 2, 0)
    give(world, "a1", 200)
    rice = new_item(client, world, name="大米", points=20, stock=10)  # Q2: opening 10 → at Q3 start 10
    _at(app, world, 2026, 7, 10, 2, 0)
    _move(client, world, rice["id"], 5, "delivery")
    _move(client, world, rice["id"], 1, "loss")
    voucher = issued(client, world, "resident_a1", 60)
    assert ring_up(client, world.headers("cashier_a"), voucher["token"], [(rice["id"], 3)]).status_code == 201
    _move(client, world, rice["id"], 10, "count")  # 11 on the books, 10 counted: one more lost
    _at(app, world, 2026, 10, 2, 2, 0)
    _move(client, world, rice["id"], 4, "delivery")  # Q4: outside the statement
    response = _statement(client, world, "2026Q3")
    assert response.status_code == 200, response.get_json()
    statement = response.get_json()
    (line,) = statement["items"]
    assert {k: line[k] for k in ("opening", "in", "out", "loss", "left", "quantity", "points")} == {
        "opening": 10, "in": 5, "out": 3, "loss": 2, "left": 10, "quantity": 3, "points": 60}
    assert statement["totals"] == {"in": 5, "out": 3, "loss": 2, "quantity": 3, "points": 60}
    assert statement["period"] == "2026Q3" and statement["shop_name"] == "爱心超市"
    assert _statement(client, world, "2026Q2").get_json()["items"][0]["left"] == 10
    assert _statement(client, world, "2026Q4").get_json()["items"][0]["left"] == 14


def test_the_stock_statement_exports_as_csv_and_xlsx_with_formulas_neutralised(client, world, db):
    new_item(client, world, name="=HYPERLINK(\"http://x\")", en="+cmd", points=5, stock=3)
    period = f"{clock.now().year}Q{(clock.now().month - 1) // 3 + 1}"
    csv_response = _statement(client, world, period, format="csv")
    assert csv_response.status_code == 200 and csv_response.mimetype == "text/csv"
    text = csv_response.data.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'+cmd" in text and "\n=HYPERLINK" not in text
    assert "期初" in text.splitlines()[0]
    xlsx = _statement(client, world, period, format="xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet["A2"].value.startswith("'=") and sheet["B2"].value == "'+cmd" and sheet["E2"].value == 3


def test_the_stock_statement_is_for_staff_admins_and_the_shops_cashiers(client, world, db):
    assert _statement(client, world, "2026Q3", user="cashier_a").status_code == 200
    assert _statement(client, world, "2026Q3", user="admin").status_code == 200
    assert _statement(client, world, "2026Q3", user="resident_a1").status_code == 403
    assert _statement(client, world, "2026Q3", user="staff_b").status_code == 404
    bad = _statement(client, world, "2026Q5")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_period"


def test_movements_are_append_only_rows_with_the_stock_they_left(client, world, db):
    item = new_item(client, world, stock=3)
    _move(client, world, item["id"], 2, "loss")
    rows = db.session.scalars(sa.select(StockMovement).where(StockMovement.item_id == item["id"])
                              .order_by(StockMovement.id)).all()
    assert [(m.change, m.stock_after) for m in rows] == [(3, 3), (-2, 1)]
    assert all(m.created_at.tzinfo is timezone.utc or m.created_at.utcoffset().total_seconds() == 0 for m in rows)
    assert isinstance(rows[0].created_at, datetime)


def test_the_goods_taken_most_in_a_quarter_are_ranked_by_units_without_any_household(client, world, db):
    give(world, "a1", 200)
    soap = new_item(client, world, name="肥皂", points=5, stock=50)
    rice = new_item(client, world, name="大米", points=20, stock=50)
    for basket in ([(soap["id"], 3), (rice["id"], 1)], [(soap["id"], 1)], [(rice["id"], 1)]):
        voucher = issued(client, world, "resident_a1", 40)
        assert ring_up(client, world.headers("cashier_a"), voucher["token"], basket).status_code == 201
    response = client.get(f"/api/v1/communities/{world['alpha']}/shelf/most-redeemed",
                          headers=world.headers("resident_a2"))
    assert response.status_code == 200
    board = response.get_json()
    assert [(i["rank"], i["name"]["zh"], i["quantity"], i["points"]) for i in board["items"]] == [
        (1, "肥皂", 4, 20), (2, "大米", 2, 40)]
    assert "household_id" not in str(board)
    empty = client.get(f"/api/v1/communities/{world['beta']}/shelf/most-redeemed", headers=world.headers("staff_b"))
    assert empty.get_json()["items"] == []
