"""Manual adjustments through the ledger, the second person above the threshold, idempotency keys."""

import sqlalchemy as sa

from pointsbank.ledger.models import Adjustment
from pointsbank.ledger.verify import verify


def _adjust(client, world, who, household, points, key=None, reason="补录志愿服务"):
    headers = world.headers(who, **({"Idempotency-Key": key} if key else {}))
    return client.post(f"/api/v1/households/{world[household]}/adjustments", headers=headers,
                       json={"points": points, "reason": reason})


def _balance(client, world, household):
    return client.get(f"/api/v1/households/{world[household]}", headers=world.headers("staff_a2")).get_json()["balance"]


def test_an_adjustment_within_the_threshold_posts_at_once(client, world):
    response = _adjust(client, world, "staff_a", "a1", 30)
    assert response.status_code == 201
    assert response.get_json()["status"] == "posted"
    assert _balance(client, world, "a1") == 130


def test_an_adjustment_above_the_threshold_waits_for_a_second_staff_member(client, world):
    body = _adjust(client, world, "staff_a", "a1", -80, reason="损坏公共设施").get_json()
    assert body["status"] == "pending"
    assert _balance(client, world, "a1") == 100
    refused = client.post(f"/api/v1/adjustments/{body['id']}/approve", headers=world.headers("staff_a"))
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "second_person_required"
    approved = client.post(f"/api/v1/adjustments/{body['id']}/approve", headers=world.headers("staff_a2"))
    assert approved.status_code == 200 and approved.get_json()["status"] == "posted"
    assert approved.get_json()["approved_by_id"] == world.users["staff_a2"]
    assert _balance(client, world, "a1") == 20
    again = client.post(f"/api/v1/adjustments/{body['id']}/approve", headers=world.headers("staff_a3"))
    assert again.status_code == 409
    assert _balance(client, world, "a1") == 20
    actions = [e["action"] for e in client.get("/api/v1/audit", headers=world.headers("admin")).get_json()["items"]]
    assert "adjustment.approve" in actions and "adjustment.request" in actions


def test_staff_cannot_adjust_or_approve_for_their_own_household(client, world):
    response = _adjust(client, world, "staff_a", "a3", 10)  # staff_a belongs to household a3
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "conflict_of_interest"
    pending = _adjust(client, world, "staff_a2", "a3", 90).get_json()
    response = client.post(f"/api/v1/adjustments/{pending['id']}/approve", headers=world.headers("staff_a"))
    assert response.status_code == 403
    assert _balance(client, world, "a3") == 100


def test_the_household_history_shows_each_posting_newest_first_with_the_balance_after(client, world):
    _adjust(client, world, "staff_a", "a1", 10, reason="第一次")
    _adjust(client, world, "staff_a", "a1", -4, reason="第二次")
    page = client.get(f"/api/v1/households/{world['a1']}/postings?limit=2",
                      headers=world.headers("resident_a1")).get_json()
    assert [(p["kind"], p["points"], p["balance_after"], p["memo"]) for p in page["items"]] == [
        ("adjustment", -4, 106, "第二次"), ("adjustment", 10, 110, "第一次")]
    rest = client.get(f"/api/v1/households/{world['a1']}/postings?limit=2&cursor={page['next_cursor']}",
                      headers=world.headers("resident_a1")).get_json()
    assert [(p["kind"], p["points"], p["balance_after"]) for p in rest["items"]] == [("opening", 100, 100)]
    assert rest["next_cursor"] is None


def test_the_same_idempotency_key_and_body_replays_the_first_response_and_moves_nothing(client, world, db):
    first = _adjust(client, world, "staff_a", "a1", 25, key="k-1")
    second = _adjust(client, world, "staff_a", "a1", 25, key="k-1")
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert _balance(client, world, "a1") == 125
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Adjustment)) == 1


def test_the_same_idempotency_key_with_another_body_is_refused_with_422(client, world):
    assert _adjust(client, world, "staff_a", "a1", 25, key="k-2").status_code == 201
    response = _adjust(client, world, "staff_a", "a1", 26, key="k-2")
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "idempotency_key_reused"
    assert _balance(client, world, "a1") == 125


def test_idempotency_keys_belong_to_their_caller(client, world):
    assert _adjust(client, world, "staff_a", "a1", 5, key="shared").status_code == 201
    assert _adjust(client, world, "staff_a2", "a1", 5, key="shared").status_code == 201
    assert _balance(client, world, "a1") == 110


def test_a_refused_request_does_not_burn_its_idempotency_key(client, world):
    assert _adjust(client, world, "staff_a", "a3", 5, key="k-3").status_code == 403
    assert _adjust(client, world, "staff_a2", "a3", 5, key="k-3").status_code == 201
    assert verify().ok


def test_the_approval_queue_lists_pending_adjustments_and_a_rejection_moves_nothing(client, world):
    pending = _adjust(client, world, "staff_a", "a1", 70).get_json()
    _adjust(client, world, "staff_a", "a2", 5)
    queue = client.get(f"/api/v1/communities/{world['alpha']}/adjustments?status=pending",
                       headers=world.headers("staff_a2")).get_json()["items"]
    assert [a["id"] for a in queue] == [pending["id"]]
    rejected = client.post(f"/api/v1/adjustments/{pending['id']}/reject", headers=world.headers("staff_a2"),
                           json={"reason": "没有依据"})
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    assert _balance(client, world, "a1") == 100
    assert client.post(f"/api/v1/adjustments/{pending['id']}/approve", headers=world.headers("staff_a3")).status_code == 409
