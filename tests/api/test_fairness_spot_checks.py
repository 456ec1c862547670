"""Fair scoring (人情分) through the API: per-recorder statistics, households with unusually many
records, and spot checks whose disputes go through the objection path."""

from __future__ import annotations

import pytest

from pointsbank.regions.spotchecks import draw
from tests.fixtures.regions import give, publish_points_book
from tests.integration.helpers_round import relogin

WORKING = "2026-08-20T02:00:00+00:00"   # 10:00 in Shanghai
EVENING = "2026-08-20T13:30:00+00:00"   # 21:30 in Shanghai: outside working hours


def _get(client, world, who, path):
    return client.get(f"/api/v1{path}", headers=world.headers(who))


def _post(client, world, who, path, body):
    return client.post(f"/api/v1{path}", json=body, headers=world.headers(who))


@pytest.fixture
def scored(app, client, world):
    """Q3 2026 in alpha: grid_a (grid 一组) scores its own grid; staff_a (living in 二组) scores
    households of 一组; staff_a2 (no grid) one record, in the evening."""
    relogin(app, world, WORKING)
    publish_points_book(client, world)
    for n in range(4, 10):  # ten households in all, so one busy household stands out
        response = _post(client, world, "staff_a2", f"/communities/{world['alpha']}/households",
                         {"number": f"A-{n:03d}", "head_name": f"户主{n}"})
        assert response.status_code == 201
    records = {"grid_a": [give(client, world, "grid_a", world["a1"], p, "2026-08-03") for p in (10, 10, 10)]
               + [give(client, world, "grid_a", world["a2"], 5, "2026-08-04")],
               "staff_a": [give(client, world, "staff_a", world["a1"], p, "2026-08-05") for p in (20, 20, 20)]
               + [give(client, world, "staff_a", world["a2"], -4, "2026-08-06")]}
    relogin(app, world, EVENING)
    records["staff_a2"] = [give(client, world, "staff_a2", world["a3"], 8, "2026-08-07")]
    return records


def test_fairness_gives_each_recorder_their_records_points_concentration_grid_and_hours(client, world, scored):
    response = _get(client, world, "staff_a3", f"/communities/{world['alpha']}/fairness?period=2026Q3")

    assert response.status_code == 200, response.get_json()
    by_name = {r["username"]: r for r in response.get_json()["recorders"]}
    assert by_name["grid_a"] | {"user_id": 0} == {
        "user_id": 0, "username": "grid_a", "records": 4, "points": 35, "households": 2,
        "top_households_share": 1.0, "own_grid_share": 1.0, "outside_hours": 0, "outside_hours_share": 0.0}
    assert (by_name["staff_a"]["records"], by_name["staff_a"]["points"]) == (4, 56)
    assert by_name["staff_a"]["own_grid_share"] == 0.0  # its own household lives in 二组, it scored 一组
    assert by_name["staff_a2"]["own_grid_share"] is None
    assert (by_name["staff_a2"]["outside_hours"], by_name["staff_a2"]["outside_hours_share"]) == (1, 1.0)


def test_a_household_with_unusually_many_records_is_listed(client, world, scored):
    body = _get(client, world, "staff_a3", f"/communities/{world['alpha']}/fairness?period=2026Q3").get_json()

    assert [(h["number"], h["records"], h["recorders"]) for h in body["households"]] == [("A-001", 6, 2)]


def test_a_reversed_record_counts_no_points_for_its_recorder(client, world, scored):
    doubtful = scored["staff_a"][0]
    objection = _post(client, world, "resident_a2", f"/records/{doubtful['id']}/objections", {"reason": "没有"})
    _post(client, world, "staff_a3", f"/objections/{objection.get_json()['id']}/resolve", {"outcome": "reversed"})

    body = _get(client, world, "staff_a3", f"/communities/{world['alpha']}/fairness?period=2026Q3").get_json()
    staff_a = next(r for r in body["recorders"] if r["username"] == "staff_a")
    assert (staff_a["records"], staff_a["points"]) == (4, 36)


def test_fairness_of_another_community_is_not_found_and_residents_are_refused(client, world, scored):
    other = _get(client, world, "staff_b", f"/communities/{world['alpha']}/fairness?period=2026Q3")
    resident = _get(client, world, "resident_a1", f"/communities/{world['alpha']}/fairness?period=2026Q3")

    assert other.status_code == 404 and resident.status_code == 403


def _draw(client, world, who="staff_a3", **body):
    return _post(client, world, who, f"/communities/{world['alpha']}/spot-checks",
                 {"period": "2026Q3", "size": 3, **body})


def test_the_same_seed_draws_the_same_sample(client, world, scored):
    first, second = _draw(client, world, seed=4242), _draw(client, world, seed=4242)
    unseeded = _draw(client, world)

    assert first.status_code == 201, first.get_json()
    sample = [i["record_id"] for i in first.get_json()["items"]]
    assert len(sample) == 3 and sample == [i["record_id"] for i in second.get_json()["items"]]
    stored = unseeded.get_json()
    again = _draw(client, world, seed=stored["seed"]).get_json()
    assert [i["record_id"] for i in again["items"]] == [i["record_id"] for i in stored["items"]]
    shown = _get(client, world, "staff_a2", f"/spot-checks/{first.get_json()['id']}").get_json()
    assert shown["seed"] == 4242 and [i["status"] for i in shown["items"]] == ["pending"] * 3


def test_the_sample_is_a_function_of_the_seed_alone():
    records = list(range(100, 160))

    assert draw(records, seed=7, size=5) == draw(list(reversed(records)), seed=7, size=5)
    assert len(draw(records, seed=7, size=5)) == 5 and draw(records[:2], seed=7, size=5) == records[:2]
    assert {tuple(draw(records, seed=s, size=5)) for s in range(20)} != {tuple(draw(records, seed=7, size=5))}


def _check_of(client, world, recorder, who="staff_a3"):
    """A spot check of every record of ``recorder`` (size large enough to take them all)."""
    check = _draw(client, world, who, size=50).get_json()
    return check, [i for i in check["items"] if i["recorded_by_id"] == world.users[recorder]]


def test_a_disputed_record_is_reversed_through_the_objection_path_with_audit_rows(client, world, scored):
    check, items = _check_of(client, world, "grid_a")
    item = items[0]
    before = _get(client, world, "staff_a3", f"/households/{item['household_id']}").get_json()["balance"]

    disputed = _post(client, world, "staff_a3", f"/spot-checks/{check['id']}/items/{item['record_id']}/dispute",
                     {"reason": "现场没有看到"})
    assert disputed.status_code == 200, disputed.get_json()
    body = disputed.get_json()
    assert (body["status"], body["record_status"], body["objection_status"]) == ("disputed", "objected", "open")
    refused = _post(client, world, "staff_a3", f"/objections/{body['objection_id']}/resolve", {"outcome": "reversed"})
    resolved = _post(client, world, "staff_a2", f"/objections/{body['objection_id']}/resolve", {"outcome": "reversed"})

    assert refused.status_code in (403, 422) and refused.get_json()["error"]["code"] == "objector_cannot_resolve"
    assert resolved.status_code == 200, resolved.get_json()
    after = _get(client, world, "staff_a3", f"/households/{item['household_id']}").get_json()["balance"]
    assert after == before - item["points"]
    shown = _get(client, world, "staff_a3", f"/spot-checks/{check['id']}").get_json()
    again = next(i for i in shown["items"] if i["record_id"] == item["record_id"])
    assert (again["record_status"], again["objection_status"]) == ("reversed", "reversed")
    actions = [row["action"] for row in _get(client, world, "admin", "/audit?limit=200").get_json()["items"]]
    assert {"spot_check.draw", "spot_check.dispute", "record.object", "objection.resolve"} <= set(actions)


def test_a_disputed_record_may_be_upheld(client, world, scored):
    check, items = _check_of(client, world, "grid_a")
    item = items[0]
    body = _post(client, world, "staff_a3", f"/spot-checks/{check['id']}/items/{item['record_id']}/dispute",
                 {"reason": "再核实"}).get_json()

    resolved = _post(client, world, "staff_a2", f"/objections/{body['objection_id']}/resolve", {"outcome": "upheld"})

    assert resolved.status_code == 200
    shown = _get(client, world, "staff_a3", f"/spot-checks/{check['id']}").get_json()
    assert next(i for i in shown["items"] if i["record_id"] == item["record_id"])["record_status"] == "upheld"


def test_the_recorder_cannot_check_their_own_record_and_an_item_is_checked_once(client, world, scored):
    check, items = _check_of(client, world, "grid_a")
    own = _draw(client, world, "staff_a2", size=50).get_json()
    mine = next(i for i in own["items"] if i["recorded_by_id"] == world.users["staff_a2"])

    refused = _post(client, world, "staff_a2", f"/spot-checks/{own['id']}/items/{mine['record_id']}/confirm", {})
    confirmed = _post(client, world, "staff_a3", f"/spot-checks/{check['id']}/items/{items[0]['record_id']}/confirm",
                      {"note": "属实"})
    twice = _post(client, world, "staff_a2", f"/spot-checks/{check['id']}/items/{items[0]['record_id']}/dispute",
                  {"reason": "再看看"})

    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "recorder_cannot_check"
    assert confirmed.status_code == 200 and confirmed.get_json()["status"] == "confirmed"
    assert confirmed.get_json()["checked_by_id"] == world.users["staff_a3"]
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "spot_check_item_checked"


def test_a_period_without_posted_records_has_nothing_to_check(client, world, scored):
    response = _post(client, world, "staff_a3", f"/communities/{world['alpha']}/spot-checks",
                     {"period": "2026Q1", "size": 3})

    assert response.status_code == 422 and response.get_json()["error"]["code"] == "nothing_to_check"


def test_another_communitys_staff_cannot_see_or_check_a_spot_check(client, world, scored):
    check = _draw(client, world).get_json()
    record_id = check["items"][0]["record_id"]

    assert _get(client, world, "staff_b", f"/spot-checks/{check['id']}").status_code == 404
    assert _post(client, world, "staff_b", f"/spot-checks/{check['id']}/items/{record_id}/confirm", {}).status_code == 404
    assert _post(client, world, "staff_b", f"/communities/{world['alpha']}/spot-checks",
                 {"period": "2026Q3", "size": 1}).status_code == 404
