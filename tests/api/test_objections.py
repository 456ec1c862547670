"""Public notice and objections: within the notice period, resolved upheld or reversed."""

from __future__ import annotations

from datetime import timedelta

from pointsbank.config import parse_clock
from pointsbank.ledger.verify import verify
from tests.conftest import NOW
from tests.factories import token_for
from tests.fixtures.rules import audit_actions, error_code, household, publish, record


def _object(client, world, record_id, who="resident_a2", reason="他那天不在村里"):
    return client.post(f"/api/v1/records/{record_id}/objections", headers=world.headers(who), json={"reason": reason})


def _resolve(client, world, objection_id, outcome, who="staff_a3", **extra):
    return client.post(f"/api/v1/objections/{objection_id}/resolve", headers=world.headers(who),
                       json={"outcome": outcome, **extra})


def test_an_objection_within_the_notice_period_reversed_gives_the_points_back(client, world, db):
    publish(client, world)
    posted = record(client, world, "staff_a2", "a1", "good_deed").get_json()
    assert posted["notice_until"].startswith("2026-05-22")
    assert household(client, world, "a1")["balance"] == 135

    raised = _object(client, world, posted["id"])
    assert raised.status_code == 201, raised.get_json()
    objection = raised.get_json()
    assert (objection["status"], objection["raised_by_id"]) == ("open", world.users["resident_a2"])
    shown = client.get(f"/api/v1/records/{posted['id']}", headers=world.headers("staff_a2")).get_json()
    assert shown["status"] == "objected"
    queue = client.get("/api/v1/objections?status=open", headers=world.headers("staff_a2")).get_json()["items"]
    assert [o["id"] for o in queue] == [objection["id"]]
    assert _object(client, world, posted["id"], who="resident_a1").status_code == 409

    resolved = _resolve(client, world, objection["id"], "reversed", note="核实属实")
    assert resolved.status_code == 200, resolved.get_json()
    assert (resolved.get_json()["status"], resolved.get_json()["resolved_by_id"]) == ("reversed",
                                                                                       world.users["staff_a3"])
    after = client.get(f"/api/v1/records/{posted['id']}", headers=world.headers("staff_a2")).get_json()
    assert after["status"] == "reversed" and after["reversal_transaction_id"] is not None
    assert household(client, world, "a1")["balance"] == 100
    assert _resolve(client, world, objection["id"], "upheld").status_code == 409
    assert verify().ok
    actions = audit_actions(db, world["alpha"])
    assert "record.object" in actions and "objection.resolve" in actions


def test_an_upheld_objection_keeps_the_points(client, world):
    publish(client, world)
    posted = record(client, world, "staff_a2", "a1", "good_deed").get_json()
    objection = _object(client, world, posted["id"]).get_json()
    resolved = _resolve(client, world, objection["id"], "upheld")
    assert resolved.status_code == 200 and resolved.get_json()["status"] == "upheld"
    shown = client.get(f"/api/v1/records/{posted['id']}", headers=world.headers("staff_a2")).get_json()
    assert shown["status"] == "upheld"
    assert household(client, world, "a1")["balance"] == 135
    assert _object(client, world, posted["id"]).status_code == 409


def _travel(app, db, world, delta):
    """Move the clock, with fresh tokens (the world's expire after a day)."""
    app.config["CLOCK"] = parse_clock(NOW) + delta
    for user in ("resident_a2", "staff_a2"):
        world.tokens[user] = token_for(world.users[user])
    db.session.commit()


def test_after_the_notice_period_an_objection_is_refused(client, world, app, db):
    publish(client, world)
    posted = record(client, world, "staff_a2", "a1", "good_deed").get_json()
    _travel(app, db, world, timedelta(days=7))
    late = _object(client, world, posted["id"])
    assert late.status_code == 422 and error_code(late) == "notice_period_over"
    assert late.get_json()["error"]["details"]["notice_until"].startswith("2026-05-22T02:00")
    _travel(app, db, world, timedelta(days=6, hours=23))
    assert _object(client, world, posted["id"]).status_code == 201


def test_only_residents_of_the_community_object_and_only_to_what_they_may_see(client, world):
    publish(client, world)
    posted = record(client, world, "staff_a2", "a1", "good_deed").get_json()
    pending = record(client, world, "staff_a2", "a1", "model_family").get_json()
    assert _object(client, world, posted["id"], who="resident_b1").status_code == 404
    assert _object(client, world, posted["id"], who="staff_a2").status_code == 403
    assert _object(client, world, pending["id"]).status_code == 404  # another household's pending record
    not_posted = _object(client, world, pending["id"], who="resident_a1")
    assert not_posted.status_code == 409 and error_code(not_posted) == "record_not_open_to_objection"


def test_staff_of_the_household_or_of_another_community_cannot_resolve(client, world):
    publish(client, world)
    posted = record(client, world, "staff_a2", "a3", "good_deed").get_json()  # staff_a belongs to a3
    objection = _object(client, world, posted["id"]).get_json()
    conflict = _resolve(client, world, objection["id"], "reversed", who="staff_a")
    assert conflict.status_code == 403 and error_code(conflict) == "conflict_of_interest"
    assert _resolve(client, world, objection["id"], "reversed", who="staff_b").status_code == 404
    assert _resolve(client, world, objection["id"], "maybe").status_code == 400
    assert client.get("/api/v1/objections", headers=world.headers("staff_b")).get_json()["items"] == []


def test_a_zero_point_record_reversed_moves_nothing(client, world):
    publish(client, world)
    for day in ("2026-05-01", "2026-05-02", "2026-05-03"):
        record(client, world, "staff_a2", "a1", "clean_up", day)
    capped = record(client, world, "staff_a2", "a1", "clean_up", "2026-05-04").get_json()
    assert (capped["points"], capped["transaction_id"]) == (0, None)
    objection = _object(client, world, capped["id"]).get_json()
    assert _resolve(client, world, objection["id"], "reversed").status_code == 200
    assert household(client, world, "a1")["balance"] == 112
    assert verify().ok
