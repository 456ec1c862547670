"""Bulk import of behaviour records: checking and scoring the rows (see ``importer``).

Invariants:

* every row is validated before anything is written, and every bad row is reported with its
  line (the header is line 1) and each reason; nothing is written unless ``post`` is set,
  and then only the valid rows;
* a re-import never double-posts: each row's ``import_key`` is the SHA-256 of (community,
  household number, rule, date, quantity, resident, note, and how many identical rows came
  before it in the file), unique per community; rows whose key exists are skipped and
  reported as ``already_imported``;
* caps apply row by row in file order, on top of what the households already have: usage is
  read once for all households, rules and years of the file, after their accounts are locked,
  and carried forward in memory;
* lookups are batched (households by number, residents, existing keys, usage: one query each
  on PostgreSQL); the records are posted through ``ledger.post_many``, as ``ledger.post``
  one by one would post them.

Example: a row ``A-001, volunteer_hour, 2026/4/3, 3`` posts 6 points (2 a point an hour) or
fewer if the month's cap is near; ``A-999, …`` is reported as ``unknown_household`` on its line.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from flask_babel import lazy_gettext as _l

from pointsbank import clock
from pointsbank.auth.models import User
from pointsbank.community.models import Community, Household, Resident
from pointsbank.extensions import db
from pointsbank.rules import reasons as reason_text, services as books, tabular
from pointsbank.rules.engine import Decision, Usage, evaluate, period_key
from pointsbank.rules.models import BehaviourRecord
from pointsbank.rules.records import SCORING_STATUSES
from pointsbank.rules.rulebook import PERIODS, Rule
from pointsbank.database import is_postgresql

Progress = Callable[[str, int, int], None]
CHUNK = 1000

ROW_MESSAGES = {
    "missing_value": _l("%(column)s is empty."),
    "unknown_household": _l("Household number %(number)s is not registered in this community."),
    "unknown_rule": _l("There is no rule %(rule_code)s in rule book %(version)s."),
    "bad_date": _l("%(value)s is not a date like 2026-04-03 or 2026/4/3."),
    "future_date": _l("%(occurred_on)s is in the future."),
    "before_rulebook": _l("No rule book was in force on %(occurred_on)s."),
    "bad_quantity": _l("The quantity must be a whole number of at least 1 (got %(value)s)."),
    "unknown_resident": _l("%(resident)s is not a member of household %(number)s."),
    "note_too_long": _l("The note is longer than 500 characters."),
    "conflict_of_interest": _l("You may not record points for your own household."),
    "already_imported": _l("This row was imported before; skipped."),
    "too_long": _l("%(column)s is longer than %(max)s characters."),
    "duplicate_number": _l("Household number %(number)s appears again (first on line %(first)s)."),
    "already_exists": _l("Household number %(number)s is already registered; skipped."),
    "too_many_members": _l("At most %(max)s members per household."),
    "bad_phone": _l("The phone number must be 5 to 15 digits."),
    "household_frozen": _l("Household %(number)s is frozen: no points are recorded for it until it is unfrozen."),
}
SKIPS = ("already_imported", "already_exists")


@dataclass(slots=True)
class Candidate:
    line: int
    household_id: int
    resident_id: int | None
    version: books.BookVersion
    rule: Rule
    occurred_on: date
    quantity: int
    note: str | None
    key: str
    decision: Decision | None = None


@dataclass
class Report:
    rows: int = 0
    valid: int = 0
    invalid: int = 0
    posted: int = 0
    pending: int = 0
    skipped: int = 0
    points: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: set[int] = field(default_factory=set)

    def fail(self, line: int, code: str, **params: Any) -> None:
        template = ROW_MESSAGES.get(code)
        text = str(template) % params if template is not None else reason_text.message(code, params)
        self.errors.append({"line": line, "code": code, "reason": text})
        if code not in SKIPS:
            self.bad_lines.add(line)

    def as_dict(self) -> dict[str, Any]:
        self.errors.sort(key=lambda e: e["line"])
        return {"rows": self.rows, "valid": self.valid, "invalid": self.invalid, "posted": self.posted,
                "pending": self.pending, "skipped": self.skipped, "points": self.points, "errors": self.errors}


def import_key(community_id: int, number: str, rule_code: str, day: date, quantity: int, resident: str | None,
               note: str | None, occurrence: int) -> str:
    text = "\x1f".join([str(community_id), number, rule_code, day.isoformat(), str(quantity), resident or "",
                        note or "", str(occurrence)])
    return hashlib.sha256(text.encode()).hexdigest()


def _chunks(values: list[Any]):
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def member_of(column: sa.ColumnElement, values: list[Any]) -> list[sa.ColumnElement[bool]]:
    """``column`` among ``values`` as conditions, one query each: on PostgreSQL a single
    ``= ANY(array)`` (one parameter, whatever the count); elsewhere IN lists of ``CHUNK``."""
    if not values:
        return []
    if is_postgresql():
        return [column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))]
    return [column.in_(chunk) for chunk in _chunks(values)]


def _households(community_id: int, numbers: set[str]) -> tuple[dict[str, int], dict[int, dict[str, int]]]:
    by_number: dict[str, int] = {}
    for condition in member_of(Household.number, sorted(numbers)):
        by_number.update(db.session.execute(sa.select(Household.number, Household.id).where(
            Household.community_id == community_id, condition)).tuples().all())
    residents: dict[int, dict[str, int]] = defaultdict(dict)
    for condition in member_of(Resident.household_id, sorted(by_number.values())):
        for resident_id, household_id, name in db.session.execute(
                sa.select(Resident.id, Resident.household_id, Resident.name)
                .where(Resident.community_id == community_id, condition).order_by(Resident.id)):
            residents[household_id].setdefault(name.strip(), resident_id)
    return by_number, residents


def _existing_keys(community_id: int, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for condition in member_of(BehaviourRecord.import_key, keys):
        found.update(db.session.execute(sa.select(BehaviourRecord.import_key).where(
            BehaviourRecord.community_id == community_id, condition)).scalars())
    return found


def _usage(community_id: int, candidates: list[Candidate]) -> dict[tuple, list[int]]:
    """(household, rule, period, key) → [points, scoring count], for capped rules only."""
    capped = [c for c in candidates if c.rule.caps]
    usage: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    if not capped:
        return usage
    codes = sorted({c.rule.code for c in capped})
    years = sorted({period_key("year", c.occurred_on) for c in capped})
    record = BehaviourRecord
    for condition in member_of(record.household_id, sorted({c.household_id for c in capped})):
        rows = db.session.execute(
            sa.select(record.household_id, record.rule_code, record.month_key, record.quarter_key, record.year_key,
                      sa.func.sum(record.points), sa.func.count(sa.case((record.points != 0, 1))))
            .where(record.community_id == community_id, condition,
                   record.rule_code.in_(codes), record.year_key.in_(years), record.status.in_(SCORING_STATUSES))
            .group_by(record.household_id, record.rule_code, record.month_key, record.quarter_key, record.year_key))
        for household_id, code, month, quarter, year, points, count in rows:
            for period, key in (("month", month), ("quarter", quarter), ("year", year)):
                slot = usage[(household_id, code, period, key)]
                slot[0] += int(points or 0)
                slot[1] += int(count or 0)
    return usage


def _parse(report: Report, row: tabular.Row, today: date) -> tuple | None:
    """(number, rule code, day, quantity, resident, note) of a row, or None after reporting why not."""
    cells, line = row.cells, row.line
    text = tabular.text
    number, code = text(cells.get("household_number")), text(cells.get("rule_code"))
    raw_day, raw_quantity = cells.get("occurred_on"), cells.get("quantity")
    day_text, quantity_text = text(raw_day), text(raw_quantity)
    resident, note = text(cells.get("resident")), text(cells.get("note"))
    failed = False
    if number is None or code is None or day_text is None:
        for column, value in (("household_number", number), ("rule_code", code), ("occurred_on", day_text)):
            if value is None:
                report.fail(line, "missing_value", column=column)
        failed = True
    day = tabular.day(raw_day) if day_text is not None else None
    if day_text is not None and day is None:
        report.fail(line, "bad_date", value=day_text)
        failed = True
    elif day is not None and day > today:
        report.fail(line, "future_date", occurred_on=day.isoformat())
        failed = True
    quantity = 1 if quantity_text is None else tabular.whole_number(raw_quantity)
    if quantity is None:
        report.fail(line, "bad_quantity", value=quantity_text)
        failed = True
    if note is not None and len(note) > 500:
        report.fail(line, "note_too_long")
        failed = True
    if failed:
        return None
    return number, code, day, quantity, resident, note


def validate(community: Community, actor: User | None, rows: list[tabular.Row], report: Report,
             progress: Progress | None) -> list[Candidate]:
    today = clock.today_in(community.timezone)
    parsed = [(row, _parse(report, row, today)) for row in rows]
    by_number, residents = _households(community.id, {p[0] for _, p in parsed if p})
    versions = books.all_versions(community.id)
    version_on: dict[date, books.BookVersion | None] = {}  # a file has a few hundred dates, a few rules
    rule_of: dict[tuple[int, str], Rule | None] = {}
    seen: Counter = Counter()
    candidates = []
    for row, values in parsed:
        if values is None:
            continue
        number, code, day, quantity, resident, note = values
        household_id = by_number.get(number)
        if day not in version_on:
            version_on[day] = books.pick(versions, day)
        version = version_on[day]
        if version is None:
            rule = None
        elif (version.id, code) in rule_of:
            rule = rule_of[(version.id, code)]
        else:
            rule = rule_of[(version.id, code)] = version.book.rule(code)
        if household_id is None:
            report.fail(row.line, "unknown_household", number=number)
        elif actor is not None and actor.household_id == household_id:
            report.fail(row.line, "conflict_of_interest")
        if version is None:
            report.fail(row.line, "before_rulebook", occurred_on=day.isoformat())
        elif rule is None:
            report.fail(row.line, "unknown_rule", rule_code=code, version=version.version)
        resident_id = residents.get(household_id, {}).get(resident) if resident else None
        if resident and household_id is not None and resident_id is None:
            report.fail(row.line, "unknown_resident", resident=resident, number=number)
        identity = (number, code, day, quantity, resident, note)
        seen[identity] += 1
        if row.line not in report.bad_lines:
            candidates.append(Candidate(row.line, household_id, resident_id, version, rule, day, quantity, note,
                                        import_key(community.id, *identity, seen[identity] - 1)))
    return candidates


def score(community: Community, candidates: list[Candidate], report: Report, progress: Progress | None) -> None:
    """Caps row by row in file order, on top of the households' usage. ``evaluate`` is pure, so
    the decision of a row without caps is reused for every row with the same rule book, rule,
    quantity and date."""
    usage = _usage(community.id, candidates)
    keys_on: dict[date, dict[str, str]] = {}
    uncapped: dict[tuple, Decision] = {}
    for done, candidate in enumerate(candidates, start=1):
        rule, day = candidate.rule, candidate.occurred_on
        if rule.caps:
            keys = keys_on.get(day)
            if keys is None:
                keys = keys_on[day] = {period: period_key(period, day) for period in PERIODS}
            decision = evaluate(rule, quantity=candidate.quantity, occurred_on=day, has_evidence=False,
                                usage={p: Usage(*usage[(candidate.household_id, rule.code, p, keys[p])])
                                       for p in {cap.period for cap in rule.caps}},
                                book_effective_from=candidate.version.effective_from)
        else:
            same = (candidate.version.id, rule.code, candidate.quantity, day)
            decision = uncapped.get(same)
            if decision is None:
                decision = uncapped[same] = evaluate(rule, quantity=candidate.quantity, occurred_on=day,
                                                     has_evidence=False, usage={},
                                                     book_effective_from=candidate.version.effective_from)
        if decision.status == "refused":
            for reason in decision.reasons:
                report.fail(candidate.line, reason.code, **reason.params)
            continue
        candidate.decision = decision
        if rule.caps:
            for period in PERIODS:
                slot = usage[(candidate.household_id, rule.code, period, keys[period])]
                slot[0] += decision.points
                slot[1] += 1 if decision.points else 0
        if progress and done % 500 == 0:
            progress("score", done, len(candidates))
