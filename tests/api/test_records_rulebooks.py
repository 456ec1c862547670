"""Rule books through the API: publish YAML, every problem with its line, immutable versions,
the version in force, the shipped default, and records keeping the version that scored them."""

from __future__ import annotations

from tests.fixtures.rules import RULEBOOK, audit_actions, error_code, publish, record


def test_a_published_rule_book_is_the_one_in_force_with_its_rules(client, world, db):
    response = publish(client, world)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["version"], body["effective_from"]) == ("2026.2", "2026-04-01")
    current = client.get(f"/api/v1/communities/{world['alpha']}/rulebooks/current",
                         headers=world.headers("resident_a1"))
    assert current.status_code == 200
    book = current.get_json()
    assert book["id"] == body["id"] and book["published_by_id"] == world.users["staff_a2"]
    rule = next(r for r in book["rules"] if r["code"] == "volunteer_hour")
    assert (rule["points"], rule["unit"], rule["caps"]) == (2, "hour", [{"period": "month", "points": 40}])
    assert {c["code"] for c in book["categories"]} == {"volunteer", "public_morality", "family"}
    assert "rulebook.publish" in audit_actions(db, world["alpha"])


def test_a_rule_book_with_mistakes_is_refused_with_every_problem_and_its_line(client, world):
    text = RULEBOOK.replace("points: 35", "points: many").replace("approval: auto", "approval: sometimes")
    response = publish(client, world, text)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "rulebook_invalid"
    problems = {(p["line"], p["field"]) for p in error["details"]["problems"]}
    lines = text.splitlines()
    approval_line = next(i for i, line in enumerate(lines, 1) if "sometimes" in line)
    points_line = next(i for i, line in enumerate(lines, 1) if "many" in line)
    assert problems == {(approval_line, "rules[0].approval"), (points_line, "rules[1].points")}
    assert all(p["message"] for p in error["details"]["problems"])
    current = client.get(f"/api/v1/communities/{world['alpha']}/rulebooks/current", headers=world.headers("staff_a"))
    assert current.get_json()["version"] != "2026.2"


def test_a_rule_book_sent_as_anything_but_yaml_is_refused_with_415(client, world):
    response = client.post(f"/api/v1/communities/{world['alpha']}/rulebooks", json={"version": "1"},
                           headers=world.headers("staff_a"))
    assert response.status_code == 415 and error_code(response) == "unsupported_media_type"


def test_a_published_version_never_changes_the_same_version_again_is_a_conflict(client, world):
    assert publish(client, world).status_code == 201
    again = publish(client, world, RULEBOOK.replace("points: 35", "points: 36"))
    assert again.status_code == 409 and error_code(again) == "rulebook_version_exists"
    current = client.get(f"/api/v1/communities/{world['alpha']}/rulebooks/current", headers=world.headers("staff_a"))
    assert next(r for r in current.get_json()["rules"] if r["code"] == "good_deed")["points"] == 35


def test_a_community_without_a_book_uses_the_shipped_default_published_once(client, world, db):
    first = client.get(f"/api/v1/communities/{world['beta']}/rulebooks/current", headers=world.headers("staff_b"))
    assert first.status_code == 200
    book = first.get_json()
    assert book["version"] == "default-2026.1" and book["published_by_id"] is None
    assert len(book["categories"]) == 8
    versions = client.get(f"/api/v1/communities/{world['beta']}/rulebooks", headers=world.headers("staff_b"))
    assert [v["version"] for v in versions.get_json()] == ["default-2026.1"]
    assert versions.get_json()[0]["in_force"] is True
    assert audit_actions(db, world["beta"]).count("rulebook.publish") == 1


def test_a_book_taking_effect_later_is_not_yet_in_force_and_records_keep_their_version(client, world):
    april = publish(client, world).get_json()
    june = publish(client, world, RULEBOOK.replace('"2026.2"', '"2026.3"').replace("2026-04-01", "2026-05-12")
                   .replace("points: 35", "points: 40")).get_json()
    before = record(client, world, "staff_a2", "a1", "good_deed", "2026-05-11").get_json()
    after = record(client, world, "staff_a2", "a1", "good_deed", "2026-05-12").get_json()
    assert (before["rulebook_version_id"], before["points"]) == (april["id"], 35)
    assert (after["rulebook_version_id"], after["points"]) == (june["id"], 40)
    current = client.get(f"/api/v1/communities/{world['alpha']}/rulebooks/current", headers=world.headers("staff_a"))
    assert current.get_json()["version"] == "2026.3"
    future = publish(client, world, RULEBOOK.replace('"2026.2"', '"2027.1"').replace("2026-04-01", "2027-01-01"))
    assert future.status_code == 201
    current = client.get(f"/api/v1/communities/{world['alpha']}/rulebooks/current", headers=world.headers("staff_a"))
    assert current.get_json()["version"] == "2026.3"


def test_a_record_dated_before_the_first_book_took_effect_is_refused(client, world):
    publish(client, world)
    response = record(client, world, "staff_a2", "a1", "good_deed", "2026-03-31")
    assert response.status_code == 422 and error_code(response) == "before_rulebook"
    assert response.get_json()["error"]["details"]["effective_from"] == "2026-04-01"


def test_only_admin_and_staff_publish_and_other_communities_do_not_exist(client, world):
    assert publish(client, world, who="grid_a").status_code == 403
    assert publish(client, world, who="resident_a1").status_code == 403
    assert publish(client, world, who="staff_b").status_code == 404
    assert publish(client, world, who="admin").status_code == 201
    response = client.get(f"/api/v1/communities/{world['alpha']}/rulebooks/current",
                          headers=world.headers("resident_b1"))
    assert response.status_code == 404
