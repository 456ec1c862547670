"""Privacy of the boards: a deduction rule is not public by default, so its records never appear
by name on the public board, its CSV and XLSX exports or the region board, while staff and the
household itself still see them (and the household may still object within the notice period).
"""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook

from pointsbank.extensions import db
from pointsbank.reports import notice, periods
from pointsbank.rules import approvals
from tests.integration.helpers_round import at
from tests.web.helpers import actor, login, record, text

Q1_PUBLISHED = "2026-04-01T01:00:00+00:00"  # 09:00 on 1 April in Shanghai
NOW = "2026-04-02T01:00:00+00:00"           # a day later: still inside the 7-day notice period
BOARD = "/notice/alpha/2026Q1"


@pytest.fixture
def quarter(app, world):
    """A-001 earns 10 for volunteering (public); A-002 loses 5 for littering (a deduction: not public)."""
    at(app, Q1_PUBLISHED)
    day = date(2026, 3, 20)
    record(world, "staff_a2", "a1", "volunteer_hour", quantity=5, occurred_on=day)
    littering = record(world, "staff_a2", "a2", "littering", occurred_on=day)
    approvals.approve(actor(world, "staff_a3"), littering.id)
    db.session.commit()
    notice.publish(world["alpha"], periods.parse("2026Q1"))
    db.session.commit()
    at(app, NOW)
    return littering


def test_a_deduction_is_absent_from_the_public_board_by_name(client, quarter):
    html = text(client.get(BOARD))
    records = html.split('id="open-records"')[1].split("</table>")[0]

    assert "A-001" in records and "志愿服务" in records
    assert "A-002" not in records and "乱扔" not in records and "-5" not in records


def test_a_deduction_is_absent_from_the_csv_and_xlsx_exports(client, world, quarter):
    login(client, "staff_a2")
    csv_text = client.get(BOARD + "/export.csv").get_data().decode("utf-8-sig")
    book = load_workbook(io.BytesIO(client.get(BOARD + "/export.xlsx").get_data()))
    open_rows = [[c for c in row] for row in book["公示中"].iter_rows(min_row=2, values_only=True)]

    assert "volunteer_hour" in csv_text and "littering" not in csv_text
    assert [row[1] for row in open_rows] == ["A-001"]
    assert all("littering" not in str(cell) for sheet in book for row in sheet.iter_rows(values_only=True)
               for cell in row)


def test_staff_still_see_the_deduction_on_the_households_page(client, world, quarter):
    login(client, "staff_a2")
    html = text(client.get(f"/staff/households/{world['a2']}"))

    assert "乱扔乱倒垃圾" in html


def test_the_household_sees_its_deduction_and_may_still_object(client, world, quarter):
    login(client, "resident_a2")
    html = text(client.get("/home/history"))
    response = client.post(f"/api/v1/records/{quarter.id}/objections", json={"reason": "不是我家倒的"},
                           headers=world.headers("resident_a2"))

    assert "乱扔乱倒垃圾" in html
    assert response.status_code == 201, response.get_json()


def test_a_deduction_rule_marked_public_appears_on_the_board(app, client, world):
    from pointsbank.rules.rulebook import default_rulebook_text

    source = (default_rulebook_text().replace('version: "default-2026.1"', 'version: "2026.2"')
              .replace("effective_from: 2020-01-01", "effective_from: 2026-01-01")
              .replace("    points: -5\n    approval: staff", "    points: -5\n    approval: staff\n    public: true"))
    at(app, Q1_PUBLISHED)
    published = client.post(f"/api/v1/communities/{world['alpha']}/rulebooks", data=source.encode(),
                            headers=world.headers("admin", **{"Content-Type": "application/yaml"}))
    assert published.status_code == 201, published.get_json()
    littering = record(world, "staff_a2", "a2", "littering", occurred_on=date(2026, 3, 20))
    approvals.approve(actor(world, "staff_a3"), littering.id)
    notice.publish(world["alpha"], periods.parse("2026Q1"))
    db.session.commit()
    at(app, NOW)

    records = text(client.get(BOARD)).split('id="open-records"')[1].split("</table>")[0]

    assert "A-002" in records and "乱扔乱倒垃圾" in records


def test_a_deduction_is_absent_from_the_region_board(client, quarter):
    html = text(client.get("/notice/region/county/2026Q1"))

    assert "清风村" in html
    assert "A-002" not in html and "户主a2" not in html and "乱扔" not in html and "-5" not in html
