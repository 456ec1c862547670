"""Issue 7's staff list, the parts added while checking it: settlement exports from the pages,
the notice board in the back office's navigation, and the transport security headers."""

from __future__ import annotations

from datetime import date, datetime, timezone
from io import BytesIO

from openpyxl import load_workbook

from tests.web.helpers import login, post_form, record, redeem, text


def _settled_statement(app, client, world) -> str:
    """An administrator's statement of 2026Q1 for shop_a: one redemption of 7 points (¥7.00)."""
    record(world, "staff_a2", "a1", "volunteer_hour", quantity=8, occurred_on=date(2026, 3, 1))
    app.config["CLOCK"] = datetime(2026, 3, 10, 2, 0, tzinfo=timezone.utc)
    redeem(world, "a1", points=10, spent=7)
    app.config["CLOCK"] = datetime(2026, 5, 15, 2, 0, tzinfo=timezone.utc)
    login(client, "admin")
    post_form(client, "/staff/settlements?period=2026Q1", "/staff/settlements/run", {"period": "2026Q1"})
    html = text(client.get("/staff/settlements?period=2026Q1"))
    return html.split('id="statement-')[1].split('"')[0]


def test_a_statement_downloads_as_csv_and_xlsx_from_its_pages(app, client, world):
    statement_id = _settled_statement(app, client, world)
    listing = text(client.get("/staff/settlements?period=2026Q1"))
    page = text(client.get(f"/staff/settlements/{statement_id}"))
    assert f"/staff/settlements/{statement_id}/export.csv" in listing
    assert f'href="/staff/settlements/{statement_id}/export.xlsx"' in page and "下载 CSV" in page

    csv = client.get(f"/staff/settlements/{statement_id}/export.csv")
    xlsx = client.get(f"/staff/settlements/{statement_id}/export.xlsx")

    assert csv.status_code == 200 and csv.data.startswith("\ufeff".encode())
    body = csv.data.decode("utf-8-sig")
    assert "爱心超市" in body and "7.00" in body
    assert csv.headers["Content-Disposition"].startswith("attachment;")
    sheet = load_workbook(BytesIO(xlsx.data))["明细"]
    assert sheet.cell(row=sheet.max_row, column=1).value == "合计"


def test_only_administrators_download_statements(app, client, world):
    statement_id = _settled_statement(app, client, world)
    staff = app.test_client()
    login(staff, "staff_a")
    assert staff.get(f"/staff/settlements/{statement_id}/export.csv").status_code == 403
    assert client.get(f"/staff/settlements/{statement_id}/export.pdf").status_code == 404


def test_the_back_office_links_to_the_communitys_notice_boards(client, world):
    login(client, "staff_a")
    html = text(client.get("/staff"))

    assert 'href="/notice/alpha"' in html and ">公示<" in html
    assert client.get("/notice/alpha").status_code == 200


def test_other_sites_may_not_embed_our_files_and_https_is_remembered(client, world):
    plain = client.get("/login")
    secure = client.get("/login", base_url="https://localhost")

    assert plain.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in plain.headers  # no promise over plain HTTP
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_settlement_pages_name_the_quarter_in_words_in_each_language(app, client, world):
    statement_id = _settled_statement(app, client, world)
    listing = text(client.get("/staff/settlements?period=2026Q1"))
    page = text(client.get(f"/staff/settlements/{statement_id}"))
    english = text(client.get(f"/staff/settlements/{statement_id}?lang=en"))

    assert "2026年第1季度" in listing and "2026年第1季度" in page
    assert "Q1 2026" in english
