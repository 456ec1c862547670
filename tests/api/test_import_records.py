"""Bulk import of records: CSV (UTF-8, BOM, GB18030) and XLSX, every bad row reported with its
line, nothing posted unless asked, re-imports that post nothing new."""

from __future__ import annotations

import io
import time
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from pointsbank.extensions import db as _db
from pointsbank.ledger.verify import verify
from pointsbank.rules.models import BehaviourRecord
from tests.fixtures.rules import error_code, household, publish


def _import(client, world, data: bytes, filename="records.csv", who="staff_a2", post=None, **headers):
    form = {"file": (io.BytesIO(data), filename)}
    if post is not None:
        form["post"] = "true" if post else "false"
    return client.post(f"/api/v1/communities/{world['alpha']}/records/import", data=form,
                       headers=world.headers(who, **headers), content_type="multipart/form-data")


def _count(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(BehaviourRecord))


def _big_csv(rows: int, bad: dict[int, str]) -> tuple[str, int]:
    """A GB18030 register of ``rows`` data rows; ``bad`` maps a line to the way it is broken."""
    lines = ["户号,规则代码,日期,数量,备注"]
    rules = [("good_deed", ""), ("litter", ""), ("volunteer_hour", "3")]
    for line in range(2, rows + 2):
        rule, quantity = rules[line % 3]
        number = ("A-001", "A-002", "A-003")[line % 3 if rule != "volunteer_hour" else (line // 3) % 3]
        day = date(2026, 4, 1 + line % 30) if line % 2 else date(2026, 5, 1 + line % 15)
        row = [number, rule, f"{day.year}/{day.month}/{day.day}", quantity, f"第{line}行 志愿者登记"]
        if bad.get(line) == "household":
            row[0] = "A-999"
        elif bad.get(line) == "date":
            row[2] = "2026/13/40"
        elif bad.get(line) == "rule":
            row[1] = "no_such_rule"
        lines.append(",".join(row))
    return "\r\n".join(lines) + "\r\n", rows


@pytest.mark.slow  # 10,000 rows checked, then 6,700 of them posted in bulk (ledger.post_many)
def test_ten_thousand_gb18030_rows_with_three_bad_ones_report_them_post_nothing_then_post_once(
        client, world, db, runner, tmp_path):
    publish(client, world)
    bad = {17: "household", 5003: "date", 9999: "rule"}
    text, rows = _big_csv(10_000, bad)
    path = tmp_path / "records.csv"
    path.write_bytes(text.encode("gb18030"))

    started = time.monotonic()
    dry = _import(client, world, path.read_bytes())
    assert dry.status_code == 200, dry.get_json()
    report = dry.get_json()
    assert (report["rows"], report["valid"], report["invalid"], report["posted"]) == (10_000, 9_997, 3, 0)
    assert [(e["line"], e["code"]) for e in report["errors"]] == [
        (17, "unknown_household"), (5003, "bad_date"), (9999, "unknown_rule")]
    assert "A-999" in report["errors"][0]["reason"] and "2026/13/40" in report["errors"][1]["reason"]
    assert _count(db) == 0 and household(client, world, "a1")["balance"] == 100

    result = runner.invoke(args=["import", "records", str(path), "--community", "alpha", "--post",
                                 "--as", "staff_a2"])
    assert result.exit_code == 0, result.output
    assert "line 17: unknown_household" in result.output and "posted 9997" in result.output
    db.session.rollback()
    assert _count(db) == 9_997
    balances = sum(household(client, world, h)["balance"] for h in ("a1", "a2", "a3"))
    assert balances == 300 + report["points"]
    assert verify().ok

    again = _import(client, world, path.read_bytes(), post=True).get_json()
    assert (again["posted"], again["skipped"], again["invalid"]) == (0, 9_997, 3)
    assert _count(db) == 9_997
    assert sum(household(client, world, h)["balance"] for h in ("a1", "a2", "a3")) == balances
    assert time.monotonic() - started < 120


def test_caps_apply_row_by_row_in_file_order_on_top_of_what_the_household_has(client, world, db):
    publish(client, world)
    client.post("/api/v1/records", headers=world.headers("staff_a2"), json={
        "household_id": world["a1"], "rule_code": "volunteer_hour", "occurred_on": "2026-05-01", "quantity": 8})
    csv = ("household_number,rule_code,occurred_on,quantity\n"
           + "".join(f"A-001,volunteer_hour,2026-05-0{d},8\n" for d in (2, 3, 4))).encode()
    report = _import(client, world, csv, post=True).get_json()
    assert (report["posted"], report["points"]) == (3, 24)
    points = list(db.session.scalars(sa.select(BehaviourRecord.points).where(BehaviourRecord.import_key.is_not(None))
                                     .order_by(BehaviourRecord.id)))
    assert points == [16, 8, 0]
    assert household(client, world, "a1")["balance"] == 140


def test_every_kind_of_bad_row_is_reported_on_its_line_with_a_reason(client, world):
    publish(client, world)
    csv = "\n".join([
        "备注,日期,规则代码,户号,数量,居民",          # any order, Chinese headers
        "ok,2026-05-01,good_deed,A-001,,",
        "未来,2026-05-16,good_deed,A-001,,",            # 3: future date
        "小数,2026-05-01,volunteer_hour,A-001,1.5,",    # 4: not a whole number
        "超量,2026-05-01,volunteer_hour,A-001,9,",      # 5: over max_quantity 8
        "证据,2026-05-01,rescue,A-001,,",               # 6: evidence required
        "旧,2026-03-01,good_deed,A-001,,",              # 7: before the rule book
        "谁,2026-05-01,good_deed,A-001,,张三",          # 8: not a member
        ",,good_deed,A-001,,",                           # 9: no date
        ",,,,,",                                         # blank: skipped, not counted
        "成员,2026-05-01,good_deed,A-001,,家人a1",      # 11: fine, with its resident
    ]).encode("utf-8")
    report = _import(client, world, b"\xef\xbb\xbf" + csv).get_json()
    assert [(e["line"], e["code"]) for e in report["errors"]] == [
        (3, "future_date"), (4, "bad_quantity"), (5, "quantity_above_limit"), (6, "evidence_required"),
        (7, "before_rulebook"), (8, "unknown_resident"), (9, "missing_value")]
    assert (report["rows"], report["valid"], report["invalid"]) == (9, 2, 7)
    assert all(e["reason"] for e in report["errors"])


def test_staff_importing_a_row_for_their_own_household_is_refused_for_that_row(client, world):
    publish(client, world)
    csv = b"household_number,rule_code,occurred_on\nA-003,good_deed,2026-05-01\nA-001,good_deed,2026-05-01\n"
    report = _import(client, world, csv, who="staff_a", post=True).get_json()
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(2, "conflict_of_interest")]
    assert report["posted"] == 1 and household(client, world, "a3")["balance"] == 100


def test_an_xlsx_with_real_excel_dates_and_identical_rows_imports_each_occurrence(client, world, db):
    import openpyxl

    publish(client, world)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["户号", "规则代码", "日期", "数量"])
    sheet.append(["A-002", "good_deed", datetime(2026, 5, 2), None])
    sheet.append(["A-002", "good_deed", datetime(2026, 5, 2), None])  # the same deed twice that day
    sheet.append(["A-002", "volunteer_hour", "2026/5/3", 4])
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = _import(client, world, buffer.getvalue(), "records.xlsx", post=True).get_json()
    assert (report["posted"], report["invalid"], report["points"]) == (3, 0, 78)
    again = _import(client, world, buffer.getvalue(), "records.xlsx", post=True).get_json()
    assert (again["posted"], again["skipped"]) == (0, 3)
    assert {e["code"] for e in again["errors"]} == {"already_imported"}
    assert household(client, world, "a2")["balance"] == 178


def test_a_file_that_is_not_a_table_or_lacks_columns_is_refused_whole(client, world, db):
    publish(client, world)
    missing = _import(client, world, "户号,日期\nA-001,2026-05-01\n".encode())
    assert missing.status_code == 400 and error_code(missing) == "import_columns_missing"
    assert missing.get_json()["error"]["details"]["missing"] == ["rule_code"]
    garbage = _import(client, world, b"PK\x03\x04 not really a zip", "x.xlsx")
    assert garbage.status_code == 400 and error_code(garbage) == "import_unreadable"
    assert _count(db) == 0
    assert _import(client, world, b"a,b\n", who="grid_a").status_code == 403
    assert _import(client, world, b"a,b\n", who="staff_b").status_code == 404


def test_the_cli_without_post_writes_nothing_and_exits_1_on_bad_rows(client, world, runner, tmp_path, db):
    publish(client, world)
    path = tmp_path / "r.csv"
    path.write_text("户号,规则代码,日期\nA-001,good_deed,2026/5/1\nA-404,good_deed,2026/5/1\n", encoding="utf-8")
    result = runner.invoke(args=["import", "records", str(path), "--community", "alpha"])
    assert result.exit_code == 1
    assert "line 3: unknown_household" in result.output
    _db.session.rollback()
    assert _count(db) == 0
    refused = runner.invoke(args=["import", "records", str(path), "--community", "alpha", "--post"])
    assert refused.exit_code == 2 and "--as" in refused.output
