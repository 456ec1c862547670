"""Freezing a household: every movement of its points refused with household_frozen, nothing
moves, balance and history kept; unfreeze and each works again."""

from __future__ import annotations

import io

import sqlalchemy as sa

from pointsbank.audit.models import AuditEvent
from pointsbank.ledger.models import Posting
from pointsbank.ledger.verify import verify
from tests.fixtures.rules import error_code, publish, record
from tests.integration.helpers_redeem import escrow_balance, give, household_balance, issue, issued, redeem, shop_balance
from tests.integration.helpers_shelf import new_item, reserve, ring_up, stock_clean, stock_of


def freeze(client, world, household="a1", reason="moved_away", who="staff_a2", **body):
    return client.post(f"/api/v1/households/{world[household]}/freeze", json={"reason": reason, **body},
                       headers=world.headers(who))


def unfreeze(client, world, household="a1", who="staff_a2"):
    return client.post(f"/api/v1/households/{world[household]}/unfreeze", headers=world.headers(who))


def _postings(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Posting))


def _balances(world):
    return (household_balance(world, "a1"), escrow_balance(world["alpha"]), shop_balance(world["alpha"], world["shop_a"]))


def _is_frozen_refusal(response, reason="moved_away"):
    body = response.get_json()
    assert response.status_code == 422, body
    assert body["error"]["code"] == "household_frozen" and body["error"]["details"]["reason"] == reason
    return True


def test_staff_freeze_a_household_with_a_reason_and_the_household_shows_it_balance_and_history_kept(client, world, db):
    give(world, "a1", 40)
    before = client.get(f"/api/v1/households/{world['a1']}/postings", headers=world.headers("staff_a2")).get_json()
    response = freeze(client, world, reason="under_review", note="核实户籍")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["frozen"]["reason"] == "under_review" and body["frozen"]["note"] == "核实户籍"
    assert body["frozen"]["label"] == "核查中" and body["balance"] == 140
    seen = client.get(f"/api/v1/households/{world['a1']}", headers=world.headers("resident_a1")).get_json()
    assert seen["frozen"]["reason"] == "under_review" and seen["balance"] == 140
    listed = client.get(f"/api/v1/communities/{world['alpha']}/households", headers=world.headers("staff_a2"))
    assert {h["id"]: h["frozen"] for h in listed.get_json()["items"]}[world["a1"]]["reason"] == "under_review"
    after = client.get(f"/api/v1/households/{world['a1']}/postings", headers=world.headers("staff_a2")).get_json()
    assert after == before
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "household.freeze")).all()
    assert [(e.actor_id, e.data["reason"], e.data["note"]) for e in events] == [
        (world.users["staff_a2"], "under_review", "核实户籍")]


def test_the_refusal_is_worded_in_english_and_chinese(client, world, db):
    give(world, "a1", 40)
    freeze(client, world, reason="deceased")
    zh = issue(client, world, "resident_a1", 10)
    en = issue(client, world, "resident_a1", 10, **{"Accept-Language": "en"})
    assert _is_frozen_refusal(zh, "deceased") and _is_frozen_refusal(en, "deceased")
    assert "已冻结" in zh.get_json()["error"]["message"] and "A-001" not in zh.get_json()["error"]["message"]
    assert "已故" in zh.get_json()["error"]["message"]
    assert "is frozen (deceased)" in en.get_json()["error"]["message"]


def test_a_frozen_household_gets_no_award_then_after_unfreeze_it_does(client, world, db):
    publish(client, world)
    freeze(client, world)
    count = _postings(db)
    response = record(client, world, "staff_a2", "a1", "good_deed")
    assert _is_frozen_refusal(response)
    assert _postings(db) == count and household_balance(world, "a1") == 100
    assert unfreeze(client, world).status_code == 200
    assert record(client, world, "staff_a2", "a1", "good_deed").status_code == 201
    assert household_balance(world, "a1") == 135


def test_a_group_record_with_a_frozen_household_is_refused_whole_and_names_it(client, world, db):
    publish(client, world)
    freeze(client, world, "a2")
    count = _postings(db)
    response = client.post("/api/v1/records/group", headers=world.headers("staff_a2"), json={
        "rule_code": "good_deed", "occurred_on": "2026-05-10", "household_ids": [world["a1"], world["a2"]]})
    assert _is_frozen_refusal(response)
    assert response.get_json()["error"]["details"]["household_ids"] == [world["a2"]]
    assert _postings(db) == count
    unfreeze(client, world, "a2")
    again = client.post("/api/v1/records/group", headers=world.headers("staff_a2"), json={
        "rule_code": "good_deed", "occurred_on": "2026-05-10", "household_ids": [world["a1"], world["a2"]]})
    assert again.status_code == 201 and household_balance(world, "a2") == 135


def test_the_approval_that_would_post_a_pending_record_is_refused_while_frozen(client, world, db):
    publish(client, world)
    pending = record(client, world, "staff_a2", "a1", "model_family").get_json()
    assert pending["status"] == "pending"
    freeze(client, world, who="staff_a3")
    response = client.post(f"/api/v1/records/{pending['id']}/approve", headers=world.headers("staff_a3"))
    assert _is_frozen_refusal(response) and household_balance(world, "a1") == 100
    unfreeze(client, world, who="staff_a3")
    approved = client.post(f"/api/v1/records/{pending['id']}/approve", headers=world.headers("staff_a3"))
    assert approved.status_code == 200 and approved.get_json()["status"] == "posted"
    assert household_balance(world, "a1") == 150


def test_a_bulk_import_reports_a_frozen_households_rows_and_posts_the_others(client, world, db):
    publish(client, world)
    freeze(client, world, "a2")
    csv = b"household_number,rule_code,occurred_on\nA-001,good_deed,2026-05-01\nA-002,good_deed,2026-05-01\n"

    def post():
        return client.post(f"/api/v1/communities/{world['alpha']}/records/import", headers=world.headers("staff_a2"),
                           data={"file": (io.BytesIO(csv), "records.csv"), "post": "true"},
                           content_type="multipart/form-data").get_json()

    report = post()
    assert report["posted"] == 1 and [(e["line"], e["code"]) for e in report["errors"]] == [(3, "household_frozen")]
    assert household_balance(world, "a2") == 100 and household_balance(world, "a1") == 135
    unfreeze(client, world, "a2")
    again = post()
    assert (again["posted"], again["skipped"]) == (1, 1) and household_balance(world, "a2") == 135


def test_a_frozen_household_gets_no_voucher_then_after_unfreeze_it_does(client, world, db):
    give(world, "a1", 50)
    freeze(client, world)
    before, count = _balances(world), _postings(db)
    assert _is_frozen_refusal(issue(client, world, "resident_a1", 20))
    assert _is_frozen_refusal(issue(client, world, "staff_a2", 20, world["a1"]))
    assert _balances(world) == before and _postings(db) == count
    unfreeze(client, world)
    assert issue(client, world, "resident_a1", 20).status_code == 201
    assert household_balance(world, "a1") == 130


def test_a_voucher_issued_before_the_freeze_is_refused_at_the_shop_then_redeems_after_unfreeze(client, world, db):
    give(world, "a1", 50)
    voucher = issued(client, world, "resident_a1", 30)
    freeze(client, world, reason="deceased")
    before, count = _balances(world), _postings(db)
    assert _is_frozen_refusal(redeem(client, world.headers("cashier_a"), voucher["token"], 20), "deceased")
    assert _is_frozen_refusal(redeem(client, world.headers("cashier_a"), voucher["short_code"], 20), "deceased")
    assert _balances(world) == before == (120, 30, 0) and _postings(db) == count
    unfreeze(client, world)
    receipt = redeem(client, world.headers("cashier_a"), voucher["token"], 20)
    assert receipt.status_code == 201 and _balances(world) == (130, 0, 20)
    assert verify().ok


def test_a_frozen_households_basket_takes_no_stock_and_moves_no_points(client, world, db):
    give(world, "a1", 50)
    soap = new_item(client, world, points=10, stock=5)
    voucher = issued(client, world, "resident_a1", 30)
    freeze(client, world)
    before = _balances(world)
    response = ring_up(client, world.headers("cashier_a"), voucher["token"], [(soap["id"], 2)])
    assert _is_frozen_refusal(response)
    assert stock_of(soap["id"]) == 5 and _balances(world) == before
    unfreeze(client, world)
    assert ring_up(client, world.headers("cashier_a"), voucher["token"], [(soap["id"], 2)]).status_code == 201
    assert stock_of(soap["id"]) == 3 and stock_clean() and verify().ok


def test_a_frozen_household_reserves_nothing_and_its_held_reservation_is_not_handed_over(client, world, db):
    give(world, "a1", 50)
    soap = new_item(client, world, points=10, stock=5)
    held = reserve(client, world, "resident_a1", "shop_a", [(soap["id"], 1)]).get_json()
    freeze(client, world)
    before = _balances(world)
    assert _is_frozen_refusal(reserve(client, world, "resident_a1", "shop_a", [(soap["id"], 1)]))
    collect = client.post("/api/v1/reservations/collect", json={"code": held["pickup_code"]},
                          headers=world.headers("cashier_a"))
    assert _is_frozen_refusal(collect)
    assert _balances(world) == before and stock_of(soap["id"]) == 4
    unfreeze(client, world)
    assert reserve(client, world, "resident_a1", "shop_a", [(soap["id"], 1)]).status_code == 201
    collected = client.post("/api/v1/reservations/collect", json={"code": held["pickup_code"]},
                            headers=world.headers("cashier_a"))
    assert collected.status_code == 201, collected.get_json()
    assert stock_clean() and verify().ok


def test_freeze_needs_staff_of_the_community_and_not_their_own_household(client, world):
    assert freeze(client, world, who="resident_a1").status_code == 403
    assert freeze(client, world, who="staff_b").status_code == 404
    own = freeze(client, world, "a3", who="staff_a")
    assert own.status_code == 403 and error_code(own) == "conflict_of_interest"
    bad = freeze(client, world, reason="bored")
    assert bad.status_code == 400


def test_unfreezing_a_household_that_is_not_frozen_is_a_conflict_and_refreezing_changes_the_reason(client, world, db):
    response = unfreeze(client, world)
    assert response.status_code == 409 and error_code(response) == "household_not_frozen"
    freeze(client, world, reason="under_review")
    changed = freeze(client, world, reason="moved_away").get_json()
    assert changed["frozen"]["reason"] == "moved_away"
    assert unfreeze(client, world).get_json()["frozen"] is None
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("household.%freeze"))
                                 .order_by(AuditEvent.id)).all()
    assert actions == ["household.freeze", "household.freeze", "household.unfreeze"]
