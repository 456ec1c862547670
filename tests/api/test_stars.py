"""Star-rated households (星级文明户): levels as a community setting, computed with the boards."""

from __future__ import annotations

from pointsbank.extensions import db
from pointsbank.regions.stars import household_stars
from pointsbank.reports import notice, periods
from tests.fixtures.regions import give, publish_points_book
from tests.integration.helpers_round import relogin

LEVELS = [{"stars": 1, "min_points": 50}, {"stars": 2, "min_points": 100}, {"stars": 3, "min_points": 200}]
Q1_CLOSED = "2026-04-01T01:00:00+00:00"  # 09:00 on 1 April in Shanghai
Q2_CLOSED = "2026-07-01T01:00:00+00:00"


def _set_levels(client, world, levels, community="alpha"):
    return client.patch(f"/api/v1/communities/{world[community]}", json={"star_levels": levels},
                        headers=world.headers("admin"))


def _publish(world, period):
    notice.publish(world["alpha"], periods.parse(period))
    db.session.commit()


def test_star_levels_are_a_community_setting_that_must_increase(client, world):
    assert _set_levels(client, world, LEVELS).get_json()["star_levels"] == LEVELS

    refused = _set_levels(client, world, [{"stars": 2, "min_points": 100}, {"stars": 1, "min_points": 150}])
    not_rising = _set_levels(client, world, [{"stars": 1, "min_points": 100}, {"stars": 2, "min_points": 100}])

    assert refused.status_code == 400 and not_rising.status_code == 400
    assert "star_levels" in str(refused.get_json()["error"]["details"])
    shown = client.get(f"/api/v1/communities/{world['alpha']}", headers=world.headers("admin")).get_json()
    assert shown["star_levels"] == LEVELS


def test_households_at_49_50_and_200_points_get_0_1_and_3_stars(app, client, world):
    relogin(app, world, Q1_CLOSED)
    publish_points_book(client, world)
    assert _set_levels(client, world, LEVELS).status_code == 200
    for name, points in (("a1", 49), ("a2", 50), ("a3", 200)):
        give(client, world, "staff_a2", world[name], points, "2026-03-10")

    _publish(world, "2026Q1")

    assert [household_stars(world["alpha"], world[n]) for n in ("a1", "a2", "a3")] == [0, 1, 3]


def test_deductions_count_against_the_years_points(app, client, world):
    relogin(app, world, Q1_CLOSED)
    publish_points_book(client, world)
    _set_levels(client, world, LEVELS)
    give(client, world, "staff_a2", world["a1"], 120, "2026-03-10")
    give(client, world, "staff_a2", world["a1"], -30, "2026-03-11")

    _publish(world, "2026Q1")

    assert household_stars(world["alpha"], world["a1"]) == 1  # 90 points


def test_a_reversed_record_lowers_the_stars_at_the_next_computation(app, client, world):
    relogin(app, world, Q1_CLOSED)
    publish_points_book(client, world)
    _set_levels(client, world, LEVELS)
    give(client, world, "staff_a2", world["a2"], 60, "2026-03-10")
    doubtful = give(client, world, "staff_a2", world["a2"], 150, "2026-03-12")
    _publish(world, "2026Q1")
    assert household_stars(world["alpha"], world["a2"]) == 3

    objection = client.post(f"/api/v1/records/{doubtful['id']}/objections", json={"reason": "没有这回事"},
                            headers=world.headers("resident_a1")).get_json()
    resolved = client.post(f"/api/v1/objections/{objection['id']}/resolve", json={"outcome": "reversed"},
                           headers=world.headers("staff_a3"))
    assert resolved.status_code == 200, resolved.get_json()
    assert household_stars(world["alpha"], world["a2"]) == 3  # until the next computation
    relogin(app, world, Q2_CLOSED)
    _publish(world, "2026Q2")

    assert household_stars(world["alpha"], world["a2"]) == 1
