"""The settlement API: run, list, read, confirm, pay (idempotent), export; and who may do what."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import sqlalchemy as sa
from openpyxl import load_workbook

from pointsbank.ledger import services as ledger
from pointsbank.ledger.models import LedgerTransaction
from tests.integration.helpers_round import AFTER_Q2, redeem, relogin, set_point_value


def _settled(app, client, world) -> dict:
    redeem(app, world, "2026-05-01T02:00:00+00:00", 10)
    set_point_value(app, world, "2026-05-02T00:00:00+00:00", 123)
    redeem(app, world, "2026-05-03T02:00:00+00:00", 7)
    relogin(app, world, AFTER_Q2)
    response = client.post("/api/v1/settlements/run", json={"period": "2026Q2", "community_id": world["alpha"]},
                           headers=world.headers("admin"))
    assert response.status_code == 200, response.get_json()
    listed = client.get("/api/v1/settlements?period=2026Q2", headers=world.headers("admin")).get_json()
    (statement,) = listed["items"]
    return statement


def _stored_statements(db) -> tuple[list[tuple], list[tuple], int]:
    """Every stored statement (all its columns), every stored line, and the ledger's transactions."""
    from pointsbank.reports.models import SettlementLine, SettlementStatement

    db.session.expire_all()
    statements = [tuple(row) for row in db.session.execute(
        sa.select(*SettlementStatement.__table__.c).order_by(SettlementStatement.id))]
    lines = [tuple(row) for row in db.session.execute(
        sa.select(*SettlementLine.__table__.c).order_by(SettlementLine.id))]
    return statements, lines, db.session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction))


def test_an_admin_runs_the_settlement_and_a_second_run_changes_nothing(app, client, world, db):
    redeem(app, world, "2026-05-01T02:00:00+00:00", 10)
    relogin(app, world, AFTER_Q2)
    first = client.post("/api/v1/settlements/run", json={"period": "2026Q2"}, headers=world.headers("admin"))
    stored = _stored_statements(db)
    relogin(app, world, "2026-07-02T01:00:00+00:00")  # a day later: a rebuilt statement would show it
    second = client.post("/api/v1/settlements/run", json={"period": "2026Q2"}, headers=world.headers("admin"))

    assert first.status_code == second.status_code == 200
    outcomes = {r["community_id"]: (r["outcome"], r["statements"]) for r in first.get_json()["runs"]}
    assert outcomes == {world["alpha"]: ("completed", 1), world["beta"]: ("completed", 0)}
    assert {r["outcome"] for r in second.get_json()["runs"]} == {"already_completed"}
    assert len(stored[0]) == 1  # one statement, as built the first time
    assert _stored_statements(db) == stored  # the same rows, column for column, and no new transaction


def test_running_a_quarter_that_has_not_ended_is_refused(client, world):
    response = client.post("/api/v1/settlements/run", json={"period": "2026Q2"}, headers=world.headers("admin"))
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "period_not_closed"


def test_a_period_that_is_not_a_quarter_is_bad_input(client, world):
    response = client.post("/api/v1/settlements/run", json={"period": "2026-Q2"}, headers=world.headers("admin"))
    assert response.status_code == 400
    assert "period" in response.get_json()["error"]["details"]["fields"]


def test_a_statement_is_read_with_its_lines_at_the_value_of_each_moment(app, client, world):
    statement = _settled(app, client, world)
    response = client.get(f"/api/v1/settlements/{statement['id']}", headers=world.headers("admin"))

    body = response.get_json()
    assert {k: body[k] for k in ("community_id", "shop_id", "period", "count", "points", "amount_fen", "status")} == {
        "community_id": world["alpha"], "shop_id": world["shop_a"], "period": "2026Q2", "count": 2, "points": 17,
        "amount_fen": 1000 + 7 * 123, "status": "draft"}
    assert [(l["kind"], l["points"], l["point_value_fen"], l["value_fen"]) for l in body["lines"]] == [
        ("redemption", 10, 100, 1000), ("redemption", 7, 123, 861)]


def test_confirm_then_pay_moves_the_shop_points_once_even_when_the_pay_call_is_repeated(app, client, world, db):
    statement = _settled(app, client, world)
    admin = world.headers("admin")
    early = client.post(f"/api/v1/settlements/{statement['id']}/pay", headers=admin)
    confirmed = client.post(f"/api/v1/settlements/{statement['id']}/confirm", headers=admin)
    paid = client.post(f"/api/v1/settlements/{statement['id']}/pay", headers=world.headers("admin", **{
        "Idempotency-Key": "pay-2026Q2-1"}))
    replay = client.post(f"/api/v1/settlements/{statement['id']}/pay", headers=world.headers("admin", **{
        "Idempotency-Key": "pay-2026Q2-1"}))
    again = client.post(f"/api/v1/settlements/{statement['id']}/pay", headers=admin)

    assert (early.status_code, early.get_json()["error"]["code"]) == (409, "statement_not_confirmed")
    assert confirmed.get_json()["status"] == "confirmed"
    assert paid.status_code == 200 and paid.get_json()["status"] == "paid"
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.get_json() == paid.get_json()
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "statement_already_paid")
    settlements = db.session.scalars(sa.select(LedgerTransaction).where(LedgerTransaction.kind == "settlement")).all()
    assert len(settlements) == 1
    assert ledger.account_balance(ledger.system_accounts(world["alpha"])["settled"]) == 17


def test_the_csv_export_has_a_bom_chinese_headers_exact_yuan_and_a_totals_row(app, client, world):
    statement = _settled(app, client, world)
    response = client.get(f"/api/v1/settlements/{statement['id']}/export?format=csv", headers=world.headers("admin"))

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.data.startswith(b"\xef\xbb\xbf")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[1][:3] == ["社区", "商店", "期间"]
    assert ["序号", "类型", "兑换编号", "时间", "积分", "单价（元/分）", "金额（元）"] in rows
    assert rows[-1] == ["合计", "", "", "", "17", "", "18.61"]
    assert rows[-2][-3:] == ["7", "1.23", "8.61"]


def test_the_xlsx_export_keeps_money_exact_with_number_formats(app, client, world):
    statement = _settled(app, client, world)
    response = client.get(f"/api/v1/settlements/{statement['id']}/export?format=xlsx", headers=world.headers("admin"))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(response.data))
    detail = book["明细"]
    header = [c.value for c in detail[1]]
    totals = [c.value for c in detail[detail.max_row]]
    assert header == ["序号", "类型", "兑换编号", "时间", "积分", "单价（元/分）", "金额（元）"]
    assert totals[0] == "合计" and totals[4] == 17
    assert Decimal(str(totals[6])) == Decimal("18.61")
    assert detail.cell(row=3, column=7).number_format == "#,##0.00"
    assert Decimal(str(detail.cell(row=3, column=7).value)) == Decimal("8.61")
    assert detail.cell(row=detail.max_row, column=1).font.bold


def test_a_cashier_reads_the_statements_of_its_own_shop_only(app, client, world):
    _settled(app, client, world)
    own = client.get(f"/api/v1/shops/{world['shop_a']}/statements", headers=world.headers("cashier_a"))
    other = client.get(f"/api/v1/shops/{world['shop_a']}/statements", headers=world.headers("cashier_b"))

    assert own.status_code == 200 and [s["amount_fen"] for s in own.get_json()["items"]] == [1861]
    assert other.status_code == 404


def test_settlements_are_for_admins_within_their_region(app, client, world):
    statement = _settled(app, client, world)
    staff = client.get("/api/v1/settlements", headers=world.headers("staff_a"))
    other_region = client.get(f"/api/v1/settlements/{statement['id']}", headers=world.headers("admin_t2"))
    listed = client.get("/api/v1/settlements?period=2026Q2", headers=world.headers("admin_t2"))
    confirm = client.post(f"/api/v1/settlements/{statement['id']}/confirm", headers=world.headers("admin_t2"))

    assert staff.status_code == 403
    assert other_region.status_code == 404 and confirm.status_code == 404
    assert listed.get_json()["items"] == []
