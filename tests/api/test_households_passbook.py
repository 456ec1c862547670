"""The passbook (存折): every movement of a period in plain words, the running balance equal to
the ledger's at each line, opening + movements = closing = the balance."""

from __future__ import annotations

from datetime import datetime, timezone

from pointsbank.extensions import db as _db
from pointsbank.reports import periods, resets
from tests.factories import token_for
from tests.fixtures.rules import publish, record
from tests.integration.helpers_redeem import household_balance, issued, redeem

Q3 = datetime(2026, 7, 10, 2, 0, tzinfo=timezone.utc)


def book(client, world, period, who="staff_a2", household="a1", **headers):
    response = client.get(f"/api/v1/households/{world[household]}/passbook", query_string={"period": period},
                          headers=world.headers(who, **headers))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _a_quarter_of_movements(client, world):
    """a1: opened with 100; +35 good deed; +20 correction; a voucher of 50 with 30 spent at 爱心超市;
    a voucher of 10 cancelled; the redemption reversed by staff. Balance 155."""
    publish(client, world)
    assert record(client, world, "staff_a2", "a1", "good_deed").status_code == 201
    adjusted = client.post(f"/api/v1/households/{world['a1']}/adjustments", json={"points": 20, "reason": "补录上月积分"},
                           headers=world.headers("staff_a2"))
    assert adjusted.get_json()["status"] == "posted"
    spent = issued(client, world, "resident_a1", 50)
    receipt = redeem(client, world.headers("cashier_a"), spent["token"], 30).get_json()
    cancelled = issued(client, world, "resident_a1", 10)
    assert client.delete(f"/api/v1/vouchers/{cancelled['id']}", headers=world.headers("resident_a1")).status_code == 200
    reversal = client.post(f"/api/v1/redemptions/{receipt['id']}/reverse", json={"reason": "收银错误"},
                           headers=world.headers("staff_a2"))
    assert reversal.status_code == 200
    assert household_balance(world, "a1") == 155


def _running_balance_holds(passbook):
    balance = passbook["opening_balance"]
    for line in passbook["lines"]:
        balance += line["points"]
        assert line["balance"] == balance == line["balance_after"], line
    assert passbook["closing_balance"] == balance
    return True


def test_the_quarters_passbook_has_every_movement_with_the_ledgers_balance_at_each_line(client, world):
    _a_quarter_of_movements(client, world)
    passbook = book(client, world, "2026Q2")
    assert (passbook["period"], passbook["first_day"], passbook["last_day"]) == ("2026Q2", "2026-04-01", "2026-06-30")
    assert (passbook["opening_balance"], passbook["closing_balance"], passbook["base_points"]) == (0, 155, 100)
    assert passbook["closing_balance"] == household_balance(world, "a1")
    assert _running_balance_holds(passbook)
    assert [line["kind"] for line in passbook["lines"]] == [
        "opening", "award", "adjustment", "voucher_issue", "redemption", "voucher_issue", "voucher_return",
        "reversal", "voucher_return"]
    assert (passbook["points_in"], passbook["points_out"]) == (100 + 35 + 20 + 20 + 10 + 50, 50 + 10 + 20)
    words = [line["description"] for line in passbook["lines"]]
    assert words[0] == "开户，基础分 100 分。"
    assert words[1] == "好人好事"
    assert words[2] == "工作人员更正：补录上月积分"
    assert "爱心超市" in words[4] and "30" in words[4]
    assert "收银错误" in words[7]
    assert passbook["household"]["number"] == "A-001" and passbook["community"]["name"] == "清风村"


def test_the_passbook_speaks_english_on_request(client, world):
    _a_quarter_of_movements(client, world)
    passbook = book(client, world, "2026Q2", **{"Accept-Language": "en"})
    words = [(line["title"], line["description"]) for line in passbook["lines"]]
    assert words[1] == ("Points awarded", "A good deed")
    assert words[4][0] == "Voucher used at a shop" and "30 points spent at 爱心超市" in words[4][1]
    assert words[2][1] == "Correction by staff: 补录上月积分"


def test_the_next_quarter_opens_with_the_last_closing_and_a_reset_is_a_line_in_words(client, world, app):
    _a_quarter_of_movements(client, world)
    client.patch(f"/api/v1/communities/{world['alpha']}", json={"points_reset": "quarter"},
                 headers=world.headers("admin"))
    app.config["CLOCK"] = Q3
    resets.reset_balances(world["alpha"], periods.parse("2026Q2"))
    world.tokens["staff_a2"] = token_for(world.users["staff_a2"])  # the test tokens live a day
    _db.session.commit()
    q3 = book(client, world, "2026Q3")
    assert (q3["opening_balance"], q3["closing_balance"]) == (155, 100) == (
        book(client, world, "2026Q2")["closing_balance"], household_balance(world, "a1"))
    assert [(line["kind"], line["points"]) for line in q3["lines"]] == [("reset", -55)]
    assert "2026Q2" in q3["lines"][0]["description"] and "100" in q3["lines"][0]["description"]
    assert _running_balance_holds(q3)
    year = book(client, world, "2026")
    assert (year["opening_balance"], year["closing_balance"], len(year["lines"])) == (0, 100, 10)
    assert _running_balance_holds(year)
    assert book(client, world, "2026Q1")["lines"] == [] and book(client, world, "2026Q1")["closing_balance"] == 0


def test_the_household_itself_reads_its_passbook_others_get_404_and_a_bad_period_400(client, world):
    assert book(client, world, "2026Q2", who="resident_a1")["closing_balance"] == 100
    assert book(client, world, "2026Q2", who="grid_a")["closing_balance"] == 100  # a1 is in its grid
    for who in ("resident_a2", "staff_b"):
        assert client.get(f"/api/v1/households/{world['a1']}/passbook", headers=world.headers(who)).status_code == 404
    bad = client.get(f"/api/v1/households/{world['a1']}/passbook?period=2026Q5", headers=world.headers("staff_a2"))
    assert bad.status_code == 400
    running = book(client, world, None)
    assert running["period"] == "2026Q2" and running["is_closed"] is False
