"""The field schemes, set up only through the rule book (published as YAML) and the API."""

from __future__ import annotations

from pointsbank.ledger.verify import verify
from tests.fixtures.rules import audit_actions, error_code, household, publish, record


def test_a_household_with_base_100_that_earns_35_and_loses_20_has_115_and_15_redeemable(client, world):
    assert publish(client, world).status_code == 201
    earned = record(client, world, "staff_a2", "a1", "good_deed")
    lost = record(client, world, "grid_a", "a1", "litter")
    assert (earned.status_code, earned.get_json()["status"], earned.get_json()["points"]) == (201, "posted", 35)
    assert (lost.status_code, lost.get_json()["status"], lost.get_json()["points"]) == (201, "posted", -20)
    view = household(client, world, "a1")
    assert (view["balance"], view["base_points"], view["redeemable"]) == (115, 100, 15)
    postings = client.get(f"/api/v1/households/{world['a1']}/postings", headers=world.headers("resident_a1"))
    assert [(p["kind"], p["points"], p["memo"]) for p in postings.get_json()["items"][:2]] == [
        ("deduction", -20, "乱扔垃圾"), ("award", 35, "好人好事")]
    assert verify().ok


def test_volunteer_hours_at_2_an_hour_capped_at_40_a_month_stop_at_40_and_say_why(client, world):
    publish(client, world)
    results = [record(client, world, "staff_a2", "a1", "volunteer_hour", f"2026-05-0{day}", quantity=8).get_json()
               for day in (1, 2, 3)]
    assert [r["points"] for r in results] == [16, 16, 8]
    capped = results[2]
    assert capped["requested_points"] == 16
    reason = next(r for r in capped["reasons"] if r["code"] == "points_cap_reached")
    assert reason["params"] == {"period": "month", "period_key": "2026-05", "cap": 40, "remaining": 8}
    assert "40" in reason["message"]
    fourth = record(client, world, "staff_a2", "a1", "volunteer_hour", "2026-05-04", quantity=2).get_json()
    assert (fourth["status"], fourth["points"]) == ("posted", 0)
    assert fourth["reasons"][0]["code"] == "points_cap_reached" and fourth["transaction_id"] is None
    april = record(client, world, "staff_a2", "a1", "volunteer_hour", "2026-04-30", quantity=3).get_json()
    assert april["points"] == 6  # another month, another cap
    assert household(client, world, "a1")["balance"] == 100 + 40 + 6
    assert verify().ok


def test_a_deduction_above_the_two_person_threshold_waits_for_a_second_staff_member(client, world):
    publish(client, world)
    pending = record(client, world, "staff_a2", "a1", "damage_public_facility", quantity=2).get_json()
    assert (pending["status"], pending["points"], pending["approvals_required"]) == ("pending", -40, 2)
    assert {r["code"] for r in pending["reasons"]} == {"two_person_above", "approval_required"}
    url = f"/api/v1/records/{pending['id']}/approve"

    by_recorder = client.post(url, headers=world.headers("staff_a2"))
    assert by_recorder.status_code == 422 and error_code(by_recorder) == "second_person_required"
    first = client.post(url, headers=world.headers("staff_a3"))
    assert first.status_code == 200 and first.get_json()["status"] == "pending"
    twice = client.post(url, headers=world.headers("staff_a3"))
    assert twice.status_code == 409 and error_code(twice) == "already_approved"
    assert household(client, world, "a1")["balance"] == 100
    second = client.post(url, headers=world.headers("staff_a"))  # staff_a belongs to a3, not a1
    assert second.status_code == 200
    posted = second.get_json()
    assert posted["status"] == "posted" and posted["transaction_id"] is not None
    assert posted["approved_by"] == [world.users["staff_a3"], world.users["staff_a"]]
    assert household(client, world, "a1")["balance"] == 60
    again = client.post(url, headers=world.headers("staff_a2"))
    assert again.status_code == 409 and error_code(again) == "record_not_pending"
    assert verify().ok


def test_a_single_approval_rule_posts_on_the_first_approval_by_another_staff_member(client, world, db):
    publish(client, world)
    pending = record(client, world, "grid_a", "a2", "model_family").get_json()
    assert (pending["status"], pending["approvals_required"]) == ("pending", 1)
    approved = client.post(f"/api/v1/records/{pending['id']}/approve", headers=world.headers("staff_a2")).get_json()
    assert (approved["status"], approved["points"]) == ("posted", 50)
    assert household(client, world, "a2")["balance"] == 150
    second = record(client, world, "grid_a", "a2", "model_family").get_json()
    assert (second["points"], second["reasons"][0]["code"]) == (0, "count_cap_reached")
    assert "record.approve" in audit_actions(db, world["alpha"])


def test_a_rejected_record_moves_nothing_and_gives_its_cap_back(client, world, db):
    publish(client, world)
    pending = record(client, world, "grid_a", "a2", "model_family").get_json()
    response = client.post(f"/api/v1/records/{pending['id']}/reject", headers=world.headers("staff_a3"),
                           json={"reason": "材料不全"})
    assert response.status_code == 200
    rejected = response.get_json()
    assert (rejected["status"], rejected["points"]) == ("rejected", 0)
    assert rejected["reasons"][-1]["code"] == "rejected" and "材料不全" in rejected["reasons"][-1]["message"]
    assert household(client, world, "a2")["balance"] == 100
    again = record(client, world, "grid_a", "a2", "model_family").get_json()
    assert again["points"] == 50 and again["status"] == "pending"
    by_recorder = client.post(f"/api/v1/records/{again['id']}/reject", headers=world.headers("grid_a"),
                              json={"reason": "x"})
    assert by_recorder.status_code == 403
    assert "record.reject" in audit_actions(db, world["alpha"])
