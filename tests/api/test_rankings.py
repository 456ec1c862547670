"""Rankings, notice boards and their exports through the API; villages ranked by region."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from tests.integration.helpers_round import AFTER_Q2, relogin, record
from pointsbank.database import row_by_id


def _records(world) -> None:
    record(world, "a1", 30)
    record(world, "a2", 30)
    record(world, "a3", 12)


def test_any_login_of_the_community_reads_the_ranking_with_its_champion(app, client, world):
    _records(world)
    response = client.get(f"/api/v1/communities/{world['alpha']}/rankings?period=2026Q2",
                          headers=world.headers("resident_a1"))

    body = response.get_json()
    assert response.status_code == 200
    assert body["period"] == "2026Q2"
    assert [(e["rank"], e["number"], e["head_name"], e["points"]) for e in body["ranking"]] == [
        (1, "A-001", "户主a1", 30), (1, "A-002", "户主a2", 30), (3, "A-003", "户主a3", 12)]
    assert [c["household_id"] for c in body["champion"]] == [world["a1"], world["a2"]]


def test_another_community_ranking_is_not_found(client, world):
    response = client.get(f"/api/v1/communities/{world['alpha']}/rankings", headers=world.headers("staff_b"))
    assert response.status_code == 404


def test_a_malformed_period_is_bad_input(client, world):
    response = client.get(f"/api/v1/communities/{world['alpha']}/rankings?period=Q2-2026",
                          headers=world.headers("staff_a"))
    assert response.status_code == 400


def test_the_notice_is_live_during_the_quarter_and_as_published_after_the_round(app, client, world, runner):
    _records(world)
    live = client.get(f"/api/v1/communities/{world['alpha']}/notice?period=2026Q2", headers=world.headers("staff_a"))
    relogin(app, world, AFTER_Q2)
    built = runner.invoke(args=["notice", "--period", "2026Q2", "--community", "alpha"])
    published = client.get(f"/api/v1/communities/{world['alpha']}/notice?period=2026Q2",
                           headers=world.headers("staff_a"))

    assert live.get_json()["is_published"] is False
    assert built.exit_code == 0, built.output
    body = published.get_json()
    assert body["is_published"] is True and body["published_at"]
    assert [c["number"] for c in body["champion"]] == ["A-001", "A-002"]
    assert body["categories"][0]["points"] == 72


def test_the_notice_exports_as_xlsx_sheets_and_csv_sections(app, client, world):
    _records(world)
    url = f"/api/v1/communities/{world['alpha']}/notice/export?period=2026Q2"
    xlsx = client.get(url + "&format=xlsx", headers=world.headers("staff_a"))
    text = client.get(url, headers=world.headers("staff_a"))

    book = load_workbook(io.BytesIO(xlsx.data))
    assert book.sheetnames == ["排名", "分类", "网格", "公示中"]
    assert [c.value for c in book["排名"][1]] == ["名次", "户号", "户主", "网格", "积分"]
    assert [c.value for c in book["排名"][book["排名"].max_row]] == ["合计", None, None, None, 72]
    assert text.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(text.data.decode("utf-8-sig"))))
    assert rows[0] == ["排名"] and ["分类"] in rows


def test_the_ranking_exports_as_csv(app, client, world):
    _records(world)
    response = client.get(f"/api/v1/communities/{world['alpha']}/rankings/export?period=2026Q2&format=csv",
                          headers=world.headers("grid_a"))
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == ["名次", "户号", "户主", "网格", "积分"]
    assert rows[1:] == [["1", "A-001", "户主a1", "一组", "30"], ["1", "A-002", "户主a2", "一组", "30"],
                        ["3", "A-003", "户主a3", "二组", "12"], ["合计", "", "", "", "72"]]


def test_an_admin_ranks_the_villages_of_a_county(app, client, world):
    _records(world)
    record(world, "b1", 30)
    response = client.get(f"/api/v1/regions/{world['county']}/rankings?period=2026Q2", headers=world.headers("admin"))
    staff = client.get(f"/api/v1/regions/{world['county']}/rankings?period=2026Q2", headers=world.headers("staff_a"))

    assert [(e["rank"], e["code"], e["average_points"]) for e in response.get_json()["ranking"]] == [
        (1, "beta", "30.00"), (2, "alpha", "24.00")]
    assert staff.status_code == 403


def test_a_name_with_control_characters_still_exports_as_xlsx(app, client, world, db):
    """schemathesis (make check-reliability) found a 500: a head name with a control character,
    which XLSX cannot hold, failed the whole export."""
    from pointsbank.community.models import Household

    _records(world)
    row_by_id(Household, world["a1"]).head_name = "户主\x0ba1\x1f"
    db.session.commit()
    for path in ("rankings/export", "notice/export"):
        response = client.get(f"/api/v1/communities/{world['alpha']}/{path}?period=2026Q2&format=xlsx",
                              headers=world.headers("staff_a"))
        assert response.status_code == 200, path
        sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
        assert "户主a1" in [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)], path
