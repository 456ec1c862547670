"""The shop without signal through the API: the setting, devices, sync, double spends."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from pointsbank.community.models import Community
from pointsbank.ledger.models import LedgerTransaction
from pointsbank.ledger.verify import verify
from pointsbank.redeem.models import Redemption
from tests.conftest import NOW as _NOW
from tests.integration.helpers_redeem import (escrow_balance, give, household_balance, issued, new_shop, redeem, voucher_ttl,
                                              shop_balance)


NOW = datetime.fromisoformat(_NOW)


def _enable(client, world, community="alpha", **caps):
    body = {"enabled": True, "max_points_per_device": 500, "max_hours": 24, **caps}
    response = client.patch(f"/api/v1/communities/{world[community]}", json={"offline": body},
                            headers=world.headers("admin"))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _device(client, world, cashier="cashier_a", shop="shop_a", name="收银台手机"):
    """A phone registered the day before (the frozen clock's now)."""
    client.application.config["CLOCK"] = NOW - timedelta(days=1)
    try:
        response = client.post(f"/api/v1/shops/{world[shop]}/devices", json={"name": name},
                               headers=world.headers(cashier))
    finally:
        client.application.config["CLOCK"] = NOW
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _item(code, points, at=None, client_id=None):
    at = at or NOW - timedelta(minutes=10)
    return {"client_id": client_id or str(uuid.uuid4()), "code": code, "points": points, "redeemed_at": at.isoformat()}


def _sync(client, headers, device_id, items):
    return client.post("/api/v1/redemptions/sync", json={"device_id": device_id, "redemptions": items},
                       headers=headers)


def _statuses(response):
    assert response.status_code == 200, response.get_json()
    return [(r["status"], r["reason"]) for r in response.get_json()["results"]]


def test_the_offline_setting_is_changed_with_patch_and_read_back_with_the_community(client, world):
    assert client.get(f"/api/v1/communities/{world['alpha']}", headers=world.headers("staff_a")).get_json()[
        "offline"] == {"enabled": False, "max_points_per_device": 500, "max_hours": 24}
    body = _enable(client, world, max_points_per_device=80, max_hours=6)
    assert body["offline"] == {"enabled": True, "max_points_per_device": 80, "max_hours": 6}
    bad = client.patch(f"/api/v1/communities/{world['alpha']}", json={"offline": {"max_hours": 0}},
                       headers=world.headers("admin"))
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "validation_error"
    refused = client.patch(f"/api/v1/communities/{world['alpha']}", json={"offline": {"enabled": True}},
                           headers=world.headers("staff_a"))
    assert refused.status_code == 403


def test_a_cashier_registers_a_phone_of_their_shop_and_staff_can_revoke_it_once(client, world):
    device = _device(client, world)
    assert device["shop_id"] == world["shop_a"] and device["revoked_at"] is None
    other = client.post(f"/api/v1/shops/{world['shop_b']}/devices", json={"name": "x"},
                        headers=world.headers("cashier_a"))
    assert other.status_code == 404
    listed = client.get(f"/api/v1/shops/{world['shop_a']}/devices", headers=world.headers("staff_a")).get_json()
    assert [d["id"] for d in listed] == [device["id"]]
    assert client.delete(f"/api/v1/devices/{device['id']}", headers=world.headers("staff_b")).status_code == 404
    revoked = client.delete(f"/api/v1/devices/{device['id']}", headers=world.headers("staff_a"))
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"] is not None
    again = client.delete(f"/api/v1/devices/{device['id']}", headers=world.headers("cashier_a"))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "device_already_revoked"


def test_a_synced_redemption_moves_the_points_once_dated_when_it_happened_and_a_resend_changes_nothing(
        client, world, db):
    _enable(client, world)
    give(world, "a1", 50)
    voucher = issued(client, world, "resident_a1", 50)
    device = _device(client, world)
    at = NOW.replace(microsecond=0) - timedelta(hours=2)
    batch = [_item(voucher["token"], 30, at)]
    assert _statuses(_sync(client, world.headers("cashier_a"), device["id"], batch)) == [("accepted", None)]
    assert household_balance(world, "a1") == 120 and escrow_balance(world["alpha"]) == 0
    assert shop_balance(world["alpha"], world["shop_a"]) == 30
    receipt = db.session.scalar(sa.select(Redemption).where(Redemption.voucher_id == voucher["id"]))
    assert receipt.created_at == at and receipt.points == 30
    transactions = db.session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction))
    again = _sync(client, world.headers("cashier_a"), device["id"], batch)
    assert [(r["status"], r["original_status"]) for r in again.get_json()["results"]] == [("duplicate", "accepted")]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)) == transactions
    assert household_balance(world, "a1") == 120 and shop_balance(world["alpha"], world["shop_a"]) == 30
    assert verify().ok


def test_a_voucher_redeemed_online_then_offline_pays_both_shops_and_the_household_pays_below_its_base(
        client, world, db):
    _enable(client, world)
    give(world, "a1", 20)
    voucher = issued(client, world, "resident_a1", 20)
    shop2, tills = new_shop(world["alpha"], "山口小店")
    assert redeem(client, tills[0], voucher["token"], 20).status_code == 201
    device = _device(client, world)
    answer = _sync(client, world.headers("cashier_a"), device["id"], [_item(voucher["token"], 15)])
    assert _statuses(answer) == [("double_spend", "voucher_already_redeemed")]
    assert shop_balance(world["alpha"], shop2) == 20 and shop_balance(world["alpha"], world["shop_a"]) == 15
    assert household_balance(world, "a1") == 85  # base 100, then the overdraft of 15
    kinds = db.session.scalars(sa.select(LedgerTransaction.kind).order_by(LedgerTransaction.id.desc()).limit(1))
    assert list(kinds) == ["offline_overdraft"]
    listed = client.get(f"/api/v1/communities/{world['alpha']}/double-spends", headers=world.headers("staff_a"))
    (spend,) = listed.get_json()["items"]
    assert spend["first"]["shop_id"] == shop2 and spend["first"]["offline"] is False
    assert spend["second"]["shop_id"] == world["shop_a"] and spend["second"]["points"] == 15
    assert client.get(f"/api/v1/communities/{world['alpha']}/double-spends",
                      headers=world.headers("staff_b")).status_code == 404
    settle = client.post(f"/api/v1/double-spends/{spend['id']}/settle", json={"note": "户主已补"},
                         headers=world.headers("staff_a"))
    assert settle.status_code == 200 and settle.get_json()["settled_at"] is not None
    twice = client.post(f"/api/v1/double-spends/{spend['id']}/settle", json={"note": "again"},
                        headers=world.headers("staff_a"))
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "double_spend_already_settled"
    assert client.get(f"/api/v1/communities/{world['alpha']}/double-spends",
                      headers=world.headers("staff_a")).get_json()["items"] == []
    assert client.post("/api/v1/double-spends/999999/settle", json={"note": "x"},
                       headers=world.headers("staff_a")).status_code == 404
    assert verify().ok


def _forged(token):
    kid_end = token.index(".", 4)
    i = kid_end + 5  # a character inside the payload
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


def test_forged_expired_short_code_and_disabled_community_items_are_refused_and_move_nothing(client, app, world):
    give(world, "a1", 60)
    device = _device(client, world)
    voucher = issued(client, world, "resident_a1", 20)
    headers = world.headers("cashier_a")
    assert _statuses(_sync(client, headers, device["id"], [_item(voucher["token"], 5)])) == [
        ("refused", "offline_not_enabled")]
    _enable(client, world)
    forged_sig = voucher["token"][:-2] + ("AA" if voucher["token"][-2:] != "AA" else "BA")
    answer = _sync(client, headers, device["id"], [
        _item(_forged(voucher["token"]), 5), _item(forged_sig, 5), _item(voucher["short_code"], 5),
        _item("not a code", 5)])
    assert _statuses(answer) == [("refused", "voucher_code_malformed"), ("refused", "voucher_forged"),
                                 ("refused", "short_code_offline"), ("refused", "short_code_offline")]
    voucher_ttl(client, world, 1)
    short = issued(client, world, "resident_a1", 20)
    expires = datetime.fromisoformat(short["expires_at"])
    app.config["CLOCK"] = expires + timedelta(hours=2)
    try:
        late = _sync(client, headers, device["id"], [_item(short["token"], 5, expires + timedelta(minutes=1))])
    finally:
        app.config["CLOCK"] = NOW
    assert _statuses(late) == [("refused", "voucher_expired")]
    assert late.get_json()["results"][0]["message"]
    assert household_balance(world, "a1") == 120 and shop_balance(world["alpha"], world["shop_a"]) == 0


def test_the_device_caps_are_enforced_on_the_server(client, world):
    _enable(client, world, max_points_per_device=40, max_hours=3)
    give(world, "a1", 100)
    device = _device(client, world)
    vouchers = [issued(client, world, "resident_a1", 25) for _ in range(3)]
    now = NOW
    answer = _sync(client, world.headers("cashier_a"), device["id"], [
        _item(vouchers[0]["token"], 25, now - timedelta(minutes=30)),
        _item(vouchers[1]["token"], 20, now - timedelta(minutes=20)),   # 45 held: over 40
        _item(vouchers[1]["token"], 15, now - timedelta(minutes=10)),   # 40 held: at the cap
        _item(vouchers[2]["token"], 5, now - timedelta(hours=4)),       # synced after more than 3 hours
        _item(vouchers[2]["token"], 5, now + timedelta(hours=1)),       # the phone's clock runs ahead
    ])
    assert _statuses(answer) == [("accepted", None), ("refused", "over_points_cap"), ("accepted", None),
                                 ("refused", "over_hours_cap"), ("refused", "redeemed_at_in_future")]
    # the held points are what was still unsynced when each item happened: after the sync, none
    client.application.config["CLOCK"] = now + timedelta(hours=1)
    try:
        later = _sync(client, world.headers("cashier_a"), device["id"], [
            _item(vouchers[2]["token"], 25, now + timedelta(minutes=30))])
    finally:
        client.application.config["CLOCK"] = NOW
    assert _statuses(later) == [("accepted", None)]


def test_a_revoked_device_is_refused_and_a_device_of_another_shop_is_not_found(client, world):
    _enable(client, world)
    give(world, "a1", 20)
    voucher = issued(client, world, "resident_a1", 20)
    device = _device(client, world)
    assert client.delete(f"/api/v1/devices/{device['id']}", headers=world.headers("cashier_a")).status_code == 200
    answer = _sync(client, world.headers("cashier_a"), device["id"], [_item(voucher["token"], 20)])
    assert _statuses(answer) == [("refused", "device_revoked")]
    assert answer.get_json()["counts"] == {"accepted": 0, "duplicate": 0, "double_spend": 0, "refused": 1}
    _, tills = new_shop(world["alpha"], "别家店")
    stranger = _sync(client, tills[0], device["id"], [_item(voucher["token"], 20)])
    assert stranger.status_code == 404 and stranger.get_json()["error"]["code"] == "device_not_found"
    assert household_balance(world, "a1") == 100 and escrow_balance(world["alpha"]) == 20  # the voucher still open


@pytest.mark.parametrize("body", [
    {"device_id": 1, "redemptions": [{"client_id": "not-a-uuid", "code": "PB1.x", "points": 1,
                                      "redeemed_at": "2026-01-01T00:00:00+00:00"}]},
    {"device_id": 1, "redemptions": [{"client_id": str(uuid.UUID(int=1)), "code": "PB1.x", "points": 0,
                                      "redeemed_at": "2026-01-01T00:00:00+00:00"}]},
    {"device_id": 1, "redemptions": [{"client_id": str(uuid.UUID(int=1)), "code": "PB1.x", "points": 1,
                                      "redeemed_at": "2026-01-01T00:00:00"}]},
    {"redemptions": []},
])
def test_a_malformed_sync_body_is_a_400(client, world, body):
    response = client.post("/api/v1/redemptions/sync", json=body, headers=world.headers("cashier_a"))
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error"


def test_a_redemption_synced_after_its_quarters_statement_was_built_is_counted_at_the_sync(client, world, db):
    from pointsbank.reports.models import SettlementStatement

    _enable(client, world)
    give(world, "a1", 50)
    voucher = issued(client, world, "resident_a1", 50)
    device = _device(client, world)
    db.session.add(SettlementStatement(community_id=world["alpha"], shop_id=world["shop_a"], period="2026Q2"))
    db.session.commit()
    at = NOW.replace(microsecond=0) - timedelta(hours=2)
    assert _statuses(_sync(client, world.headers("cashier_a"), device["id"], [_item(voucher["token"], 30, at)])) == [
        ("accepted", None)]
    receipt = db.session.scalar(sa.select(Redemption).where(Redemption.voucher_id == voucher["id"]))
    assert receipt.created_at == NOW and receipt.points == 30
    assert shop_balance(world["alpha"], world["shop_a"]) == 30 and verify().ok


def test_a_frozen_households_voucher_is_refused_at_the_sync_and_moves_nothing(client, world, db):
    _enable(client, world)
    give(world, "a1", 40)
    open_voucher = issued(client, world, "resident_a1", 20)
    used = issued(client, world, "resident_a1", 20)
    assert redeem(client, world.headers("cashier_a"), used["token"], 20).status_code == 201
    device = _device(client, world)
    frozen = client.post(f"/api/v1/households/{world['a1']}/freeze", json={"reason": "moved_away"},
                         headers=world.headers("staff_a2"))
    assert frozen.status_code == 200, frozen.get_json()
    before = (household_balance(world, "a1"), escrow_balance(world["alpha"]),
              shop_balance(world["alpha"], world["shop_a"]))
    transactions = db.session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction))
    answer = _sync(client, world.headers("cashier_a"), device["id"],
                   [_item(open_voucher["token"], 20), _item(used["token"], 20)])  # an open one, a double spend
    assert _statuses(answer) == [("refused", "household_frozen"), ("refused", "household_frozen")]
    assert "frozen" in answer.get_json()["results"][0]["message"] or "冻结" in answer.get_json()["results"][0]["message"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)) == transactions
    assert (household_balance(world, "a1"), escrow_balance(world["alpha"]),
            shop_balance(world["alpha"], world["shop_a"])) == before
    # unfrozen, the same voucher (a new client id) is taken; the refused item stays refused
    assert client.post(f"/api/v1/households/{world['a1']}/unfreeze",
                       headers=world.headers("staff_a2")).status_code == 200
    again = _sync(client, world.headers("cashier_a"), device["id"], [_item(open_voucher["token"], 20)])
    assert _statuses(again) == [("accepted", None)]
    assert verify().ok


def test_a_redemption_synced_after_the_quarter_ended_is_in_the_statement_of_the_quarter_it_happened_in(
        client, world, db, app):
    from pointsbank.auth.models import User
    from pointsbank.offline import sync
    from pointsbank.redeem import vouchers
    from pointsbank.reports import periods, settlement
    from pointsbank.reports.models import SettlementStatement

    _enable(client, world)
    device = _device(client, world)
    june = datetime(2026, 6, 30, 15, 50, tzinfo=timezone.utc)   # 23:50 on 30 June in the village: Q2
    july = datetime(2026, 6, 30, 16, 10, tzinfo=timezone.utc)   # 00:10 on 1 July: Q3
    app.config["CLOCK"] = june - timedelta(hours=1)
    try:
        give(world, "a1", 80)
        resident = db.session.get(User, world.users["resident_a1"])  # the test's bearer tokens live a day
        late = vouchers.issue_voucher(resident, points=50)
        early = vouchers.issue_voucher(resident, points=30)
        db.session.commit()
        app.config["CLOCK"] = datetime(2026, 7, 1, 3, 0, tzinfo=timezone.utc)  # synced the next morning
        cashier = db.session.get(User, world.users["cashier_a"])
        answer = sync.sync(cashier, device_id=device["id"], redemptions=[
            {**_item(late["token"], 40), "redeemed_at": june}, {**_item(early["token"], 30), "redeemed_at": july}])
        assert [(r["status"], r["reason"]) for r in answer["results"]] == [("accepted", None), ("accepted", None)]
        db.session.commit()
        summary = settlement.settle(world["alpha"], periods.parse("2026Q2"))
        db.session.commit()
    finally:
        app.config["CLOCK"] = NOW
    statement = db.session.scalar(sa.select(SettlementStatement).where(
        SettlementStatement.shop_id == world["shop_a"], SettlementStatement.period == "2026Q2"))
    value = db.session.scalar(sa.select(Redemption.point_value_fen).where(Redemption.voucher_id == late["id"]))
    assert (statement.count, statement.points, statement.amount_fen) == (1, 40, 40 * value)
    assert summary["points"] == 40
    lines = db.session.execute(settlement.redemption_lines(statement)).all()
    assert [(line.points, line.occurred_at) for line in lines] == [(40, june)]


def test_a_double_spend_is_paid_to_the_shop_in_its_statement_in_fen_and_confirming_it_keeps_the_totals(
        client, world, db, app):
    from pointsbank.auth.models import User
    from pointsbank.reports import exports, periods, settlement, statements
    from pointsbank.reports.models import SettlementStatement

    _enable(client, world)
    give(world, "a1", 30)
    voucher = issued(client, world, "resident_a1", 30)
    shop2, tills = new_shop(world["alpha"], "山口小店")
    assert redeem(client, tills[0], voucher["token"], 30).status_code == 201
    device = _device(client, world)
    assert _statuses(_sync(client, world.headers("cashier_a"), device["id"], [_item(voucher["token"], 20)])) == [
        ("double_spend", "voucher_already_redeemed")]
    value = db.session.scalar(sa.select(Redemption.point_value_fen).where(Redemption.voucher_id == voucher["id"]))
    app.config["CLOCK"] = datetime(2026, 7, 2, 2, 0, tzinfo=timezone.utc)
    try:
        summary = settlement.settle(world["alpha"], periods.parse("2026Q2"))
        db.session.commit()
        by_shop = {s.shop_id: s for s in db.session.scalars(sa.select(SettlementStatement).where(
            SettlementStatement.period == "2026Q2"))}
        assert (by_shop[world["shop_a"]].count, by_shop[world["shop_a"]].points,
                by_shop[world["shop_a"]].amount_fen) == (1, 20, 20 * value)
        assert (by_shop[shop2].count, by_shop[shop2].points, by_shop[shop2].amount_fen) == (1, 30, 30 * value)
        assert summary["points"] == 50 and summary["amount_fen"] == 50 * value
        lines = statements.statement_lines(by_shop[world["shop_a"]])
        assert [(line.kind, line.points, line.value_fen, line.redemption_id) for line in lines] == [
            ("double_spend", 20, 20 * value, None)]
        admin = db.session.get(User, world.users["admin"])
        shown = statements.get_statement(admin, by_shop[world["shop_a"]].id)
        assert shown["amount_fen"] == 20 * value and [line.kind for line in shown["lines"]] == ["double_spend"]
        confirmed = statements.confirm_statement(admin, by_shop[world["shop_a"]].id)  # the rebuild sums it again
        db.session.commit()
        assert confirmed["status"] == "confirmed" and confirmed["amount_fen"] == 20 * value
        community = db.session.get(Community, world["alpha"])
        assert "重复兑换（离线）" in str(exports.statement_sheets(shown, lines, community))  # the lines sheet
    finally:
        app.config["CLOCK"] = NOW
