"""Who may record for whom, the dry run, dates, listing and filters, group records."""

from __future__ import annotations

import sqlalchemy as sa

from pointsbank.rules.models import BehaviourRecord
from tests.fixtures.rules import error_code, household, publish, record


def _stored(db, household_id: int) -> tuple[int, int, int]:
    """(records, ledger transactions, audit rows) that name this household."""
    from pointsbank.audit.models import AuditEvent
    from pointsbank.ledger.models import Account, Posting

    db.session.expire_all()
    records = db.session.scalar(sa.select(sa.func.count()).select_from(BehaviourRecord)
                                .where(BehaviourRecord.household_id == household_id))
    postings = db.session.scalar(sa.select(sa.func.count()).select_from(Posting).join(
        Account, Account.id == Posting.account_id).where(Account.household_id == household_id))
    audits = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                               .where(AuditEvent.action.like("record.%")))
    return records, postings, audits


def test_a_grid_worker_outside_its_grid_gets_404_and_inside_it_records(client, world, db):
    publish(client, world)
    before = _stored(db, world["a3"])
    outside = record(client, world, "grid_a", "a3", "good_deed")  # a3 is in grid 二组
    assert outside.status_code == 404
    assert _stored(db, world["a3"]) == before  # no record, no posting, no audit row
    assert household(client, world, "a3")["balance"] == 100
    assert record(client, world, "grid_a", "a1", "good_deed").status_code == 201


def test_staff_of_another_community_gets_404(client, world, db):
    publish(client, world)
    before = _stored(db, world["a1"])
    assert record(client, world, "staff_b", "a1", "good_deed").status_code == 404
    assert _stored(db, world["a1"]) == before  # no record, no posting, no audit row
    assert household(client, world, "a1")["balance"] == 100
    created = record(client, world, "staff_a2", "a1", "good_deed").get_json()
    assert client.get(f"/api/v1/records/{created['id']}", headers=world.headers("staff_b")).status_code == 404
    approve = client.post(f"/api/v1/records/{created['id']}/approve", headers=world.headers("staff_b"))
    assert approve.status_code == 404


def test_staff_cannot_record_for_their_own_household(client, world):
    publish(client, world)
    response = record(client, world, "staff_a", "a3", "good_deed")
    assert response.status_code == 403 and error_code(response) == "conflict_of_interest"
    assert household(client, world, "a3")["balance"] == 100


def test_a_record_dated_in_the_future_is_refused(client, world):
    publish(client, world)
    response = record(client, world, "staff_a2", "a1", "good_deed", "2026-05-16")  # today is 2026-05-15 in Shanghai
    assert response.status_code == 422 and error_code(response) == "record_in_future"


def test_an_unknown_rule_and_a_quantity_above_the_limit_are_refused_with_their_codes(client, world, db):
    publish(client, world)
    unknown = record(client, world, "staff_a2", "a1", "no_such_rule")
    assert unknown.status_code == 422 and error_code(unknown) == "unknown_rule"
    too_many = record(client, world, "staff_a2", "a1", "volunteer_hour", quantity=9)
    assert too_many.status_code == 422 and error_code(too_many) == "quantity_above_limit"
    assert too_many.get_json()["error"]["details"]["reasons"][0]["params"]["max_quantity"] == 8
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BehaviourRecord)) == 0


def test_the_dry_run_says_what_a_record_would_score_and_records_nothing(client, world, db):
    publish(client, world)
    record(client, world, "staff_a2", "a1", "volunteer_hour", "2026-05-02", quantity=8)
    record(client, world, "staff_a2", "a1", "volunteer_hour", "2026-05-03", quantity=8)
    response = record(client, world, "staff_a2", "a1", "volunteer_hour", "2026-05-04", quantity=8,
                      path="/api/v1/records/evaluate")
    assert response.status_code == 200
    decision = response.get_json()
    assert (decision["status"], decision["points"], decision["requested_points"], decision["capped"]) == (
        "posted", 8, 16, True)
    assert decision["reasons"][0]["code"] == "points_cap_reached"
    assert decision["rule_name"]["zh"] == "志愿服务（每小时）"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BehaviourRecord)) == 2
    assert household(client, world, "a1")["balance"] == 132


def test_records_list_filters_by_status_household_grid_rule_and_period_page_by_page(client, world):
    publish(client, world)
    record(client, world, "staff_a2", "a1", "good_deed", "2026-04-20")
    record(client, world, "staff_a2", "a2", "model_family", "2026-05-02")
    record(client, world, "staff_a2", "a3", "litter", "2026-05-03")
    record(client, world, "staff_a2", "a1", "volunteer_hour", "2026-05-04", quantity=2)

    def ids(query, who="staff_a"):
        response = client.get(f"/api/v1/records?{query}", headers=world.headers(who))
        assert response.status_code == 200, response.get_json()
        return [(r["rule_code"], r["household_id"]) for r in response.get_json()["items"]]

    assert ids("status=pending") == [("model_family", world["a2"])]
    assert ids(f"household_id={world['a1']}") == [("volunteer_hour", world["a1"]), ("good_deed", world["a1"])]
    assert len(ids("grid=一组")) == 3
    assert ids("rule_code=litter") == [("litter", world["a3"])]
    assert ids("period=2026-04") == [("good_deed", world["a1"])]
    assert len(ids("period=2026Q2")) == 4
    assert ids("", who="grid_a") == ids("grid=一组")
    assert ids("", who="staff_b") == []
    first = client.get("/api/v1/records?limit=3", headers=world.headers("staff_a")).get_json()
    rest = client.get(f"/api/v1/records?limit=3&cursor={first['next_cursor']}", headers=world.headers("staff_a"))
    assert len(first["items"]) == 3 and len(rest.get_json()["items"]) == 1
    bad = client.get("/api/v1/records?period=2026Q5", headers=world.headers("staff_a"))
    assert bad.status_code == 400 and "period" in bad.get_json()["error"]["details"]["fields"]


def test_a_resident_sees_its_own_pending_records_and_the_posted_ones_of_its_community(client, world):
    publish(client, world)
    pending_a2 = record(client, world, "staff_a2", "a2", "model_family").get_json()
    posted_a2 = record(client, world, "staff_a2", "a2", "good_deed").get_json()
    seen = client.get("/api/v1/records", headers=world.headers("resident_a1")).get_json()["items"]
    assert [r["id"] for r in seen] == [posted_a2["id"]]
    hidden = client.get(f"/api/v1/records/{pending_a2['id']}", headers=world.headers("resident_a1"))
    assert hidden.status_code == 404
    assert client.get(f"/api/v1/records/{pending_a2['id']}", headers=world.headers("resident_a2")).status_code == 200


def test_a_group_record_scores_and_caps_each_household_on_its_own(client, world):
    publish(client, world)
    record(client, world, "staff_a2", "a1", "clean_up", "2026-04-10")
    record(client, world, "staff_a2", "a1", "clean_up", "2026-04-11")  # a1 has 10 of its 12 this quarter
    residents = client.get(f"/api/v1/households/{world['a2']}", headers=world.headers("staff_a2")).get_json()
    response = client.post("/api/v1/records/group", headers=world.headers("staff_a2"), json={
        "rule_code": "clean_up", "occurred_on": "2026-05-09", "note": "五月环境整治日",
        "household_ids": [world["a1"], world["a3"]], "resident_ids": [residents["residents"][1]["id"]]})
    assert response.status_code == 201, response.get_json()
    records = response.get_json()
    assert [(r["household_id"], r["points"]) for r in records] == [(world["a1"], 2), (world["a3"], 5),
                                                                   (world["a2"], 5)]
    assert records[2]["resident_id"] == residents["residents"][1]["id"]
    assert len({r["group_key"] for r in records}) == 1
    assert household(client, world, "a1")["balance"] == 112


def test_a_group_with_a_household_outside_the_grid_workers_grids_records_nothing(client, world, db):
    publish(client, world)
    response = client.post("/api/v1/records/group", headers=world.headers("grid_a"), json={
        "rule_code": "clean_up", "occurred_on": "2026-05-09", "household_ids": [world["a1"], world["a3"]]})
    assert response.status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BehaviourRecord)) == 0
    empty = client.post("/api/v1/records/group", headers=world.headers("staff_a2"), json={
        "rule_code": "clean_up", "occurred_on": "2026-05-09"})
    assert empty.status_code == 400 and error_code(empty) == "group_empty"
    too_many = client.post("/api/v1/records/group", headers=world.headers("staff_a2"), json={
        "rule_code": "clean_up", "occurred_on": "2026-05-09", "household_ids": list(range(1, 502))})
    assert too_many.status_code == 400


def test_the_same_idempotency_key_records_once(client, world, db):
    publish(client, world)
    headers = world.headers("staff_a2", **{"Idempotency-Key": "deed-1"})
    body = {"household_id": world["a1"], "rule_code": "good_deed", "occurred_on": "2026-05-10"}
    first = client.post("/api/v1/records", json=body, headers=headers)
    second = client.post("/api/v1/records", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]
    assert household(client, world, "a1")["balance"] == 135
