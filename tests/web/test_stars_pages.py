"""Star-rated households on the pages: the notice board, the staff's household page, the resident's home."""

from __future__ import annotations

from tests.api.test_stars import LEVELS, Q1_CLOSED, _publish, _set_levels
from tests.fixtures.regions import give, publish_points_book
from tests.integration.helpers_round import relogin
from tests.web.helpers import login, text


def test_the_board_the_household_page_and_the_residents_home_show_the_stars(app, client, world):
    relogin(app, world, Q1_CLOSED)
    publish_points_book(client, world)
    _set_levels(client, world, LEVELS)
    give(client, world, "staff_a2", world["a1"], 120, "2026-03-10")
    _publish(world, "2026Q1")

    board = client.get(f"/api/v1/communities/{world['alpha']}/notice?period=2026Q1",
                       headers=world.headers("staff_a2")).get_json()
    page = text(client.get("/notice/alpha/2026Q1?lang=en"))
    login(client, "resident_a1")
    home = text(client.get("/home?lang=en"))
    home_zh = text(client.get("/home?lang=zh_CN"))
    with app.test_client() as staff:
        login(staff, "staff_a2")
        staff_page = text(staff.get(f"/staff/households/{world['a1']}?lang=en"))

    assert {e["number"]: e["stars"] for e in board["ranking"]} == {"A-001": 2, "A-002": 0, "A-003": 0}
    assert "★★" in page and "2 stars" in page
    assert "2-star household of 2026" in home and "120 points this year" in home
    assert "2-star household of 2026" in staff_page
    assert "2026 年度 2 星级文明户" in home_zh and "本年度积分 120" in home_zh
