"""Every CSV and XLSX export neutralises text a spreadsheet would evaluate (OWASP "CSV injection"):
a household or shop named ``=HYPERLINK(…)`` comes out as text with a leading ``'``, never as a
formula, whatever the leading character (``=``, ``+``, ``-``, ``@``, tab, carriage return)."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from tests.api.test_rankings import _records
from tests.api.test_settlements import _settled
from pointsbank.database import row_by_id

LEADING = ["=", "+", "-", "@", "\t", "\r"]
PAYLOAD = 'HYPERLINK("http://evil.example/","点我")'


def _rename_household(db, world, name: str) -> None:
    from pointsbank.community.models import Household

    row_by_id(Household, world["a1"]).head_name = name
    db.session.commit()


def _csv_cells(data: bytes) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")) for cell in row]


def _xlsx_cells(data: bytes) -> list:
    book = load_workbook(io.BytesIO(data))
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def _assert_neutralised(fmt: str, data: bytes, name: str) -> None:
    if fmt == "csv":
        cells = _csv_cells(data)
        assert "'" + name in cells
        assert name not in cells
    else:
        cells = _xlsx_cells(data)
        # (XML turns a stored carriage return into a line feed when read back: compare past the lead)
        matching = [c for c in cells if isinstance(c.value, str) and c.value.endswith(PAYLOAD)]
        assert matching and all(c.value.startswith("'") and c.data_type == "s" for c in matching)
        assert not [c for c in cells if c.data_type == "f"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("lead", LEADING, ids=["equals", "plus", "minus", "at", "tab", "cr"])
def test_the_ranking_export_writes_a_formula_like_head_name_as_quoted_text(app, client, world, db, lead, fmt):
    _records(world)
    name = lead + PAYLOAD
    _rename_household(db, world, name)
    response = client.get(f"/api/v1/communities/{world['alpha']}/rankings/export?period=2026Q2&format={fmt}",
                          headers=world.headers("staff_a"))
    assert response.status_code == 200
    _assert_neutralised(fmt, response.data, name)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("lead", LEADING, ids=["equals", "plus", "minus", "at", "tab", "cr"])
def test_the_notice_export_writes_a_formula_like_head_name_as_quoted_text(app, client, world, db, lead, fmt):
    _records(world)
    name = lead + PAYLOAD
    _rename_household(db, world, name)
    response = client.get(f"/api/v1/communities/{world['alpha']}/notice/export?period=2026Q2&format={fmt}",
                          headers=world.headers("staff_a"))
    assert response.status_code == 200
    _assert_neutralised(fmt, response.data, name)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("lead", LEADING, ids=["equals", "plus", "minus", "at", "tab", "cr"])
def test_the_settlement_export_writes_a_formula_like_shop_name_as_quoted_text(app, client, world, db, lead, fmt):
    from pointsbank.redeem.models import Shop

    name = lead + PAYLOAD
    db.session.get(Shop, world["shop_a"]).name = name
    db.session.commit()
    statement = _settled(app, client, world)
    response = client.get(f"/api/v1/settlements/{statement['id']}/export?format={fmt}",
                          headers=world.headers("admin"))
    assert response.status_code == 200
    _assert_neutralised(fmt, response.data, name)


def test_negative_numbers_stay_numbers_in_both_formats():
    from pointsbank.reports.exports import Sheet, render

    sheet = Sheet("t", ["名称", "积分"], [["-3 not a number", -3]])
    csv_cells = _csv_cells(render("csv", [sheet], "t").body)
    xlsx_cells = _xlsx_cells(render("xlsx", [sheet], "t").body)
    assert csv_cells == ["名称", "积分", "'-3 not a number", "-3"]
    assert [c.value for c in xlsx_cells] == ["名称", "积分", "'-3 not a number", -3]
