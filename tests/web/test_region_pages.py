"""The town-and-county pages: the region dashboard for town and county administrators, fair
scoring with its spot checks for staff, in Chinese and English."""

from __future__ import annotations

import re

from tests.fixtures.regions import give, publish_points_book
from tests.integration.helpers_round import relogin
from tests.web.helpers import login, post_form, text

NOW = "2026-08-20T02:00:00+00:00"


def _records(app, client, world):
    relogin(app, world, NOW)
    publish_points_book(client, world)
    publish_points_book(client, world, "beta")
    give(client, world, "staff_a2", world["a1"], 30, "2026-08-03")
    give(client, world, "staff_a2", world["a2"], 10, "2026-08-04")
    give(client, world, "staff_b", world["b1"], 12, "2026-08-05")


def test_a_town_admin_sees_its_villages_on_the_region_page_and_not_another_towns(app, client, world):
    _records(app, client, world)
    login(client, "admin_t2")
    page = text(client.get("/staff/region?period=2026Q3&lang=en"))
    other = client.get(f"/staff/region?period=2026Q3&region_id={world['t1']}")
    export = client.get(f"/staff/region/export.csv?period=2026Q3&region_id={world['t2']}")

    assert "明月村" in page and "清风村" not in page and "Trend by quarter" in page
    row = page.split('id="community-beta"')[1].split("</tr>")[0]
    assert ">12<" in row and "100.0%" in row  # one household, 12 points, taking part
    assert other.status_code == 404
    assert export.status_code == 200 and "明月村" in export.get_data().decode("utf-8-sig")


def test_the_county_admin_page_is_in_chinese_by_default(app, client, world):
    _records(app, client, world)
    login(client, "admin")
    page = text(client.get(f"/staff/region?period=2026Q3&region_id={world['county']}"))

    assert "清风村" in page and "明月村" in page and "季度趋势" in page and "户均积分" in page


def test_staff_see_fair_scoring_and_check_a_drawn_record(app, client, world):
    _records(app, client, world)
    login(client, "staff_a3")
    page = text(client.get("/staff/fairness?period=2026Q3&lang=en"))
    assert "staff_a2" in page and "Who recorded what" in page

    drawn = post_form(client, "/staff/fairness?period=2026Q3", "/staff/fairness/spot-checks",
                      {"period": "2026Q3", "size": "1"}, follow_redirects=True)
    html = text(drawn)
    check_id, record_id = re.search(r'id="check-(\d+)-(\d+)"', html).groups()
    confirmed = post_form(client, "/staff/fairness?period=2026Q3",
                          f"/staff/fairness/spot-checks/{check_id}/{record_id}/confirmed", {"period": "2026Q3"},
                          follow_redirects=True)

    row = text(confirmed).split(f'id="check-{check_id}-{record_id}"')[1].split("</tr>")[0]
    assert "已确认" in row or "Confirmed" in row


def test_the_recorder_is_not_offered_to_check_their_own_record(app, client, world):
    _records(app, client, world)
    login(client, "staff_a2")
    post_form(client, "/staff/fairness?period=2026Q3", "/staff/fairness/spot-checks", {"period": "2026Q3", "size": "2"})
    page = text(client.get("/staff/fairness?period=2026Q3&lang=en"))

    assert "Checked by another staff member" in page and "/confirmed" not in page


def test_staff_are_not_offered_to_check_a_record_of_their_own_household(app, client, world):
    """The fairness page asks policy.spot_check_refusal, as the service does: staff_a lives in
    a3, so a3's record has no check buttons for them (and the service would refuse them 403)."""
    relogin(app, world, NOW)
    publish_points_book(client, world)
    give(client, world, "staff_a2", world["a3"], 10, "2026-08-04")
    login(client, "staff_a")
    post_form(client, "/staff/fairness?period=2026Q3", "/staff/fairness/spot-checks", {"period": "2026Q3", "size": "1"})
    page = text(client.get("/staff/fairness?period=2026Q3&lang=en"))

    check_id, record_id = re.search(r'id="check-(\d+)-(\d+)"', page).groups()
    row = page.split(f'id="check-{check_id}-{record_id}"')[1].split("</tr>")[0]
    assert "This is your own household; another staff member must decide." in row
    assert "/confirmed" not in row and "/disputed" not in row
    refused = client.post(f"/api/v1/spot-checks/{check_id}/items/{record_id}/confirm", json={},
                          headers=world.headers("staff_a"))
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "conflict_of_interest"
