"""The public notice board pages: /notice/{code} and /notice/{code}/{period}.

The world's first quarter of 2026 (清风村, alpha): A-001 and A-002 tie on 10 points, A-003
has 3; the board is published on 1 April, so the records posted that morning are still open
to objection. Records go through the real services (rule book, ledger), the board through
the quarterly job's ``notice.publish``.
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from pointsbank.community.models import Community
from pointsbank.extensions import db
from pointsbank.reports import notice, periods
from tests.integration.helpers_round import at
from tests.web.helpers import login, record, text
from pointsbank.database import row_by_id

Q1_PUBLISHED = "2026-04-01T01:00:00+00:00"  # 09:00 on 1 April in Shanghai
NOW = "2026-05-15T02:00:00+00:00"           # the suite's frozen clock
BOARD = "/notice/alpha/2026Q1"


def _publish(app, world, period: str, moment: str, community: str = "alpha") -> None:
    at(app, moment)
    notice.publish(world[community], periods.parse(period))
    db.session.commit()
    at(app, NOW)


@pytest.fixture
def quarter(app, world):
    """Q1 2026 of alpha recorded (dated 20 March, posted on 1 April) and its board published."""
    at(app, Q1_PUBLISHED)
    day = date(2026, 3, 20)
    record(world, "staff_a2", "a1", "volunteer_hour", quantity=5, occurred_on=day)       # +10 volunteer
    record(world, "staff_a2", "a2", "volunteer_hour", quantity=2, occurred_on=day)       # +4 volunteer
    record(world, "staff_a2", "a2", "environment_cleanup", quantity=2, occurred_on=day)  # +6 cleanliness
    record(world, "staff_a2", "a3", "helping_neighbours", occurred_on=day)               # +3 neighbourliness
    record(world, "staff_a2", "a3", "model_family", occurred_on=day)                     # pending: counts nothing
    _publish(app, world, "2026Q1", Q1_PUBLISHED)
    return world


def _rows(html: str, table_id: str) -> list[list[str]]:
    """The cells' text of each body row of a table."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert table, f"no table #{table_id}"
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(0), re.S).group(1)
    return [[re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def _section(html: str, element_id: str) -> str:
    found = re.search(rf'<section[^>]*id="{element_id}".*?</section>', html, re.S)
    assert found, f"no section #{element_id}"
    return found.group(0)


def _chart(html: str) -> str:
    found = re.search(r'<svg id="category-chart".*?</svg>', html, re.S)
    assert found, "no <svg id=category-chart>"
    return found.group(0)


def test_the_board_ranks_households_and_ties_share_a_rank(client, quarter):
    response = client.get(BOARD)

    assert response.status_code == 200
    assert _rows(text(response), "ranking") == [["1 （并列）", "A-001", "户主a1", "10"],
                                                ["1 （并列）", "A-002", "户主a2", "10"],
                                                ["3", "A-003", "户主a3", "3"]]


def test_the_champion_is_every_household_tied_first(client, quarter):
    champion = _section(text(client.get(BOARD)), "champion")

    assert "A-001" in champion and "户主a1" in champion
    assert "A-002" in champion and "户主a2" in champion
    assert "A-003" not in champion
    assert "并列第一" in champion


def test_the_category_chart_is_an_accessible_svg_with_each_categorys_total(client, quarter):
    chart = _chart(text(client.get(BOARD)))

    assert 'role="img"' in chart and 'aria-labelledby="category-chart-title category-chart-desc"' in chart
    assert re.search(r'<title id="category-chart-title">各类别积分，2026年第1季度</title>', chart)
    labels = re.findall(r'class="chart-label"[^>]*>([^<]*)<', chart)
    values = re.findall(r'class="chart-value"[^>]*>([^<]*)<', chart)
    assert list(zip(labels, values)) == [("志愿服务", "14"), ("清洁卫生", "6"), ("邻里和睦", "3")]  # biggest first
    assert "志愿服务：14 分" in chart  # the <desc> reads every value out
    widths = dict(zip(labels, (float(w) for w in re.findall(r'<rect[^>]*width="([\d.]+)"', chart))))
    assert widths["志愿服务"] > widths["清洁卫生"] > widths["邻里和睦"] > 0


def test_the_board_shows_totals_per_grid_and_the_records_open_to_objection(client, quarter):
    html = text(client.get(BOARD))

    assert _rows(html, "grid-totals") == [["一组", "2", "20"], ["二组", "1", "3"]]
    open_records = _rows(html, "open-records")
    assert [row[:4] for row in open_records] == [["A-001", "户主a1", "志愿服务（每小时） （志愿服务）", "+10"],
                                                ["A-002", "户主a2", "志愿服务（每小时） （志愿服务）", "+4"],
                                                ["A-002", "户主a2", "参加环境整治 （清洁卫生）", "+6"],
                                                ["A-003", "户主a3", "邻里互帮互助 （邻里和睦）", "+3"]]
    assert all(row[5] == "2026/4/8 09:00" for row in open_records)  # 7 days after posting, Shanghai time


def test_the_board_shows_no_private_household_details(client, quarter):
    from pointsbank.community.models import Household

    row_by_id(Household, quarter["a1"]).address = "清风村北街 8 号"  # a private detail
    db.session.commit()
    html = text(client.get(BOARD))

    assert "家人a1" not in html and "家人a2" not in html      # members
    assert "北街" not in html                                  # addresses
    assert f"/staff/households/{quarter['a1']}" not in html    # no links into the back office
    assert 'id="export-csv"' not in html                       # exports only for logins


def test_the_board_reads_in_english(client, quarter):
    html = text(client.get(BOARD + "?lang=en"))

    assert '<html lang="en">' in html
    assert "Champion of the quarter" in html and "Q1 2026" in html
    assert _rows(html, "ranking")[0] == ["1 (tied)", "A-001", "户主a1", "10"]
    labels = re.findall(r'class="chart-label"[^>]*>([^<]*)<', _chart(html))
    assert sorted(labels) == ["Cleanliness", "Neighbourliness", "Volunteer service"]
    assert _rows(html, "open-records")[0][2] == "Volunteer service, per hour (Volunteer service)"
    assert "Objections until" in html and "Records open to objection" in html


def test_the_board_prints_as_a_poster(client, quarter):
    html = text(client.get(BOARD))

    assert 'class="notice-page"' in html
    assert "data-print" in html and "js/print.js" in html
    assert "http://localhost/notice/alpha/2026Q1" in html  # the poster says where to read it online
    with client.get("/assets/css/app.css") as response:
        css = text(response)
    assert re.search(r"@media print\s*{[^@]*\.notice-page", css)


def test_the_year_board_honours_the_best_families(client, app, world):
    at(app, Q1_PUBLISHED)
    record(world, "staff_a2", "a1", "volunteer_hour", quantity=5, occurred_on=date(2026, 3, 20))  # +10
    record(world, "staff_a2", "a2", "volunteer_hour", quantity=5, occurred_on=date(2026, 3, 21))  # +10
    db.session.get(Community, world["alpha"]).best_families_count = 1
    db.session.commit()
    _publish(app, world, "2026", "2027-01-01T01:00:00+00:00")

    html = text(client.get("/notice/alpha/2026"))

    families = re.search(r'<ol class="honours" id="best-families">(.*?)</ol>', html, re.S).group(1)
    assert "A-001" in families and "A-002" in families and "A-003" not in families  # a tie at the cut-off
    assert "2026年度" in html and 'id="open-records"' not in html
    assert _rows(html, "ranking")[2] == ["3", "A-003", "户主a3", "0"]


def test_the_list_shows_the_published_boards_newest_first(client, app, quarter):
    _publish(app, quarter, "2025Q4", "2026-01-01T01:00:00+00:00")
    html = text(client.get("/notice/alpha"))

    links = re.findall(r'href="/notice/alpha/(\w+)"', html)
    assert links == ["2026Q1", "2025Q4"]
    assert "清风村" in html


@pytest.mark.parametrize("url", ["/notice/nowhere/2026Q1", "/notice/nowhere", "/notice/alpha/2026Q2",
                                 "/notice/alpha/2025Q3", "/notice/alpha/nonsense", "/notice/beta/2026Q1"])
def test_an_unknown_community_or_an_unpublished_period_is_a_friendly_404(client, quarter, url):
    response = client.get(url)

    assert response.status_code == 404
    assert "没有找到公示" in text(response)
    assert 'id="ranking"' not in text(response)


def test_the_404_speaks_english_on_request(client, quarter):
    response = client.get("/notice/alpha/2026Q2?lang=en")

    assert response.status_code == 404
    assert "Notice board not found" in text(response)
    assert "清风村 has not published a notice board for Q2 2026." in text(response)


def test_a_community_that_does_not_publish_its_board_shows_it_only_to_its_own_logins(app, quarter):
    db.session.get(Community, quarter["alpha"]).is_notice_public = False
    db.session.commit()
    anonymous, outsider, villager = app.test_client(), app.test_client(), app.test_client()
    login(outsider, "staff_b")
    login(villager, "resident_a1")

    assert anonymous.get(BOARD).status_code == 404
    assert outsider.get(BOARD).status_code == 404
    assert villager.get(BOARD).status_code == 200
    assert 'href="/notice/alpha/2026Q1"' in text(villager.get("/notice/alpha"))


def test_logins_of_the_community_download_the_board_as_csv_and_xlsx(client, quarter):
    login(client, "staff_a")
    html = text(client.get(BOARD))
    assert 'id="export-csv"' in html and 'id="export-xlsx"' in html

    csv = client.get(BOARD + "/export.csv")
    xlsx = client.get(BOARD + "/export.xlsx")

    assert csv.status_code == 200 and csv.data.startswith("\ufeff".encode())
    assert "户主a1" in csv.data.decode("utf-8-sig") and "attachment" in csv.headers["Content-Disposition"]
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_exports_need_a_login_in_the_community(client, quarter):
    assert client.get(BOARD + "/export.csv").status_code == 302  # to the login form
    login(client, "staff_b")
    assert client.get(BOARD + "/export.csv").status_code == 404
