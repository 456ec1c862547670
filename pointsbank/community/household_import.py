"""Importing the household register from CSV or XLSX.

Columns ``number, head_name, grid, address, members, phone`` (or ``户号, 户主, 网格, 地址, 成员,
电话``); members are separated by 、 , ; or spaces; the phone (optional) is 5 to 15 digits, and the
import report never repeats it. Every row is checked first; a number already
registered is skipped (``already_exists``), so importing the same register twice creates
nothing new; unless ``dry_run``, the valid rows become households, each with its ledger
account opened at the community's base points, in one unit of work with one audit row.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth.models import User
from pointsbank.community.models import Grid, Household, Resident
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.notify import phones
from pointsbank.rules import tabular
from pointsbank.rules.import_checks import CHUNK, Progress, Report
from pointsbank.rules.importer import community_for_import

MEMBER_SEPARATORS = re.compile(r"[、,，;；\s]+")
LIMITS = {"number": 32, "head_name": 100, "grid": 100, "address": 255}
MAX_MEMBERS = 50


def _check(report: Report, row: tabular.Row, first_lines: dict[str, int],
           existing: set[str]) -> dict[str, Any] | None:
    values = {column: tabular.text(row.cells.get(column)) for column in LIMITS}
    members = [m for m in MEMBER_SEPARATORS.split(tabular.text(row.cells.get("members")) or "") if m]
    for column in ("number", "head_name"):
        if values[column] is None:
            report.fail(row.line, "missing_value", column=column)
    for column, limit in LIMITS.items():
        if values[column] is not None and len(values[column]) > limit:
            report.fail(row.line, "too_long", column=column, max=limit)
    if any(len(m) > 100 for m in members):
        report.fail(row.line, "too_long", column="members", max=100)
    if len(members) > MAX_MEMBERS:
        report.fail(row.line, "too_many_members", max=MAX_MEMBERS)
    try:
        phone = phones.normalised(tabular.text(row.cells.get("phone")))
    except phones.BadPhone:
        phone = None
        report.fail(row.line, "bad_phone")
    number = values["number"]
    if number is not None and number in first_lines:
        report.fail(row.line, "duplicate_number", number=number, first=first_lines[number])
    elif number is not None:
        first_lines[number] = row.line
    if row.line in report.bad_lines:
        return None
    if number in existing:
        report.fail(row.line, "already_exists", number=number)
        return None
    return values | {"members": members, "phone": phone}


def import_households(actor: User | None, community_id: int, data: bytes, filename: str | None = None, *,
                      dry_run: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    community = community_for_import(actor, community_id)
    rows = tabular.read_table(data, filename, tabular.HOUSEHOLD_COLUMNS, ("number", "head_name"))
    report = Report(rows=len(rows))
    numbers = sorted({n for n in (tabular.text(r.cells.get("number")) for r in rows) if n})
    existing: set[str] = set()
    for start in range(0, len(numbers), CHUNK):
        existing.update(db.session.scalars(sa.select(Household.number).where(
            Household.community_id == community.id, Household.number.in_(numbers[start:start + CHUNK]))))
    first_lines: dict[str, int] = {}
    valid = [v for v in (_check(report, row, first_lines, existing) for row in rows) if v is not None]
    report.skipped = sum(1 for e in report.errors if e["code"] == "already_exists")
    created = 0
    if not dry_run and valid:
        created = _create(community, actor, valid, progress)
    audit.record(actor, "households.import", community_id=community.id, target_type="community",
                 target_id=community.id,
                 data={"filename": filename, "sha256": hashlib.sha256(data).hexdigest(), "dry_run": dry_run,
                       "rows": report.rows, "valid": len(valid), "invalid": len(report.bad_lines),
                       "skipped": report.skipped, "created": created})
    report.errors.sort(key=lambda e: e["line"])
    return {"rows": report.rows, "valid": len(valid), "invalid": len(report.bad_lines), "created": created,
            "skipped": report.skipped, "errors": report.errors}


def _create(community, actor: User | None, valid: list[dict[str, Any]], progress: Progress | None) -> int:
    grids = dict(db.session.execute(sa.select(Grid.name, Grid.id).where(Grid.community_id == community.id))
                 .tuples().all())
    for name in sorted({v["grid"] for v in valid if v["grid"]} - set(grids)):
        grid = Grid(community_id=community.id, name=name)
        db.session.add(grid)
        db.session.flush()
        grids[name] = grid.id
    now, actor_id = clock.now(), actor.id if actor else None
    for start in range(0, len(valid), CHUNK):
        chunk = valid[start:start + CHUNK]
        households = [Household(community_id=community.id, number=v["number"], head_name=v["head_name"],
                                address=v["address"], grid_id=grids.get(v["grid"]), phone=v["phone"],
                                created_at=now) for v in chunk]
        db.session.add_all(households)
        db.session.flush()
        db.session.add_all([Resident(community_id=community.id, household_id=h.id, name=name, created_at=now)
                            for h, v in zip(households, chunk) for name in v["members"]])
        for household in households:
            ledger.open_household_account(household.id, community.id, community.base_points, actor_id)
        db.session.flush()
        if progress:
            progress("create", start + len(chunk), len(valid))
    return len(valid)
