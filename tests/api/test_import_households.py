"""Importing the household register: Chinese or English headers, members split on 、,; or
spaces, every bad row on its line, numbers already registered skipped."""

from __future__ import annotations

import io

import sqlalchemy as sa

from pointsbank.community.models import Household, Resident
from pointsbank.extensions import db as _db
from pointsbank.ledger.verify import verify
from tests.fixtures.rules import error_code

REGISTER = "\n".join([
    "户号,户主,网格,地址,成员",
    "A-101,王大山,三组,东街1号,王大山、李秀英 王小明",
    "A-102,赵四,一组,,赵四;钱五",
    ",无号,一组,,",                      # 4: no number
    "A-101,重复,三组,,",                  # 5: the same number again
    "A-001,已有,一组,,",                  # 6: already registered: skipped
    "A-103," + "长" * 101 + ",一组,,",    # 7: head name too long
]) + "\n"


def _upload(client, world, data: bytes, who="staff_a2", dry_run=False):
    return client.post(f"/api/v1/communities/{world['alpha']}/households/import", headers=world.headers(who),
                       data={"file": (io.BytesIO(data), "register.csv"), "dry_run": str(dry_run).lower()},
                       content_type="multipart/form-data")


def test_a_register_imports_its_valid_households_with_members_grids_and_opening_balances(client, world, db):
    response = _upload(client, world, REGISTER.encode("gb18030"))
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert (report["rows"], report["valid"], report["invalid"], report["created"], report["skipped"]) == (
        6, 2, 3, 2, 1)
    assert [(e["line"], e["code"]) for e in report["errors"]] == [
        (4, "missing_value"), (5, "duplicate_number"), (6, "already_exists"), (7, "too_long")]
    wang = db.session.scalar(sa.select(Household).where(Household.number == "A-101"))
    assert (wang.head_name, wang.address, wang.grid.name) == ("王大山", "东街1号", "三组")
    assert [r.name for r in db.session.scalars(sa.select(Resident).where(Resident.household_id == wang.id)
                                               .order_by(Resident.id))] == ["王大山", "李秀英", "王小明"]
    view = client.get(f"/api/v1/households/{wang.id}", headers=world.headers("staff_a2")).get_json()
    assert (view["balance"], view["redeemable"]) == (100, 0)
    again = _upload(client, world, REGISTER.encode("gb18030")).get_json()
    assert (again["created"], again["skipped"]) == (0, 3)
    assert verify().ok


def test_a_dry_run_creates_nothing(client, world, db):
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Household))
    report = _upload(client, world, REGISTER.encode(), dry_run=True).get_json()
    assert (report["valid"], report["created"]) == (2, 0)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Household)) == before


def test_only_staff_and_admins_of_the_community_import_households(client, world):
    assert _upload(client, world, REGISTER.encode(), who="grid_a").status_code == 403
    assert _upload(client, world, REGISTER.encode(), who="staff_b").status_code == 404
    missing = _upload(client, world, "户号,地址\nA-1,x\n".encode())
    assert missing.status_code == 400 and error_code(missing) == "import_columns_missing"


def test_the_cli_imports_an_english_register_from_xlsx_with_a_report(client, world, runner, tmp_path, db):
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.append(["members", "number", "head_name", "grid"])
    workbook.active.append(["周一 周二", "A-201", "周一", "一组"])
    workbook.active.append([None, None, "无号", None])
    path = tmp_path / "register.xlsx"
    workbook.save(path)
    result = runner.invoke(args=["import", "households", str(path), "--community", "alpha"])
    assert result.exit_code == 0, result.output
    assert "line 3: missing_value" in result.output and "created 1" in result.output
    _db.session.rollback()
    assert db.session.scalar(sa.select(Household.head_name).where(Household.number == "A-201")) == "周一"
    dry = runner.invoke(args=["import", "households", str(path), "--community", "alpha", "--dry-run"])
    assert dry.exit_code == 1  # a bad row and nothing created
