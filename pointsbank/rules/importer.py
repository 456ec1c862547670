"""Bulk imports as use cases: behaviour records (scored and, when asked, posted) and the
household register. Both validate every row first and report each bad row with its line.

``import_records(actor, community_id, data, filename, post=False)`` →
``{rows, valid, invalid, posted, pending, skipped, points, errors: [{line, code, reason}]}``:
without ``post`` nothing is written (the report still says what each valid row would score);
with it the valid rows become records — posted, or pending when their rule needs approval —
in one unit of work, and one audit row tells who imported which file.
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import exc as sa_exc

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community.models import Community
from pointsbank.errors import BadRequest, NotFound
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.ledger.models import Account
from pointsbank.rules import reasons as reason_text, tabular
from pointsbank.rules.engine import period_key
from pointsbank.rules.errors import ImportConflict
from pointsbank.rules.import_checks import (CHUNK, Candidate, Progress, Report, _existing_keys, score,
                                            validate)
from pointsbank.rules.models import BehaviourRecord
from pointsbank.rules.records import lock_households

REQUIRED = ("household_number", "rule_code", "occurred_on")
#: transactions per ledger.post_many call (each call: a few statements, and its rows in memory)
POST_CHUNK = 10_000


class RecorderRequired(BadRequest):
    code = "recorder_required"
    message = _l("Say who records the imported rows (--as USERNAME) to post them.")


def community_for_import(actor: User | None, community_id: int) -> Community:
    if actor is not None:
        return policy.community_for(actor, community_id, "admin", "staff")
    community = db.session.get(Community, community_id)
    if community is None:
        raise NotFound()
    return community


def import_records(actor: User | None, community_id: int, data: bytes, filename: str | None = None, *,
                   post: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    community = community_for_import(actor, community_id)
    if post and actor is None:
        raise RecorderRequired()
    rows = tabular.read_table(data, filename, tabular.RECORD_COLUMNS, REQUIRED)
    report = Report(rows=len(rows))
    candidates = validate(community, actor, rows, report, progress)
    existing = _existing_keys(community.id, [c.key for c in candidates])
    for candidate in candidates:
        if candidate.key in existing:
            report.fail(candidate.line, "already_imported")
    fresh = [c for c in candidates if c.key not in existing]
    report.skipped = len(candidates) - len(fresh)
    if post:
        lock_households(c.household_id for c in fresh)  # before usage is read: caps hold under concurrency
    score(community, fresh, report, progress)
    scored = [c for c in fresh if c.decision is not None]
    report.invalid = len(report.bad_lines)
    report.valid = len(scored)
    report.points = sum(c.decision.points for c in scored if c.decision.status == "posted")
    if post and scored:
        _write(community, actor, scored, report, progress)
    audit.record(actor, "records.import", community_id=community.id, target_type="community",
                 target_id=community.id,
                 data={"filename": filename, "sha256": hashlib.sha256(data).hexdigest(), "post": post,
                       "rows": report.rows, "valid": report.valid, "invalid": report.invalid,
                       "skipped": report.skipped, "posted": report.posted, "pending": report.pending})
    return report.as_dict()


def _row(community: Community, actor: User, candidate: Candidate, record_id: int, transaction_id: int | None,
         now) -> dict[str, Any]:
    decision, day = candidate.decision, candidate.occurred_on
    status = "posted" if decision.status == "posted" else "pending"
    return {"id": record_id, "community_id": community.id, "household_id": candidate.household_id,
            "resident_id": candidate.resident_id, "rulebook_version_id": candidate.version.id,
            "rule_code": candidate.rule.code, "category": candidate.rule.category, "occurred_on": day,
            "month_key": period_key("month", day), "quarter_key": period_key("quarter", day),
            "year_key": period_key("year", day), "quantity": candidate.quantity, "note": candidate.note,
            "evidence_id": None, "status": status, "points": decision.points,
            "requested_points": decision.requested_points, "approvals_required": decision.approvals_required,
            "reasons": reason_text.stored(decision.reasons), "is_claim": False, "group_key": None,
            "import_key": candidate.key, "recorded_by_id": actor.id, "created_at": now,
            "posted_at": now if status == "posted" else None, "decided_at": None,
            "transaction_id": transaction_id, "reversal_transaction_id": None}


def _allocate_ids(count: int) -> list[int]:
    """Record ids before the records exist, so each posting can reference its record and the
    records are then inserted once, transaction ids included (no RETURNING, no second UPDATE).
    PostgreSQL draws them from the sequence; SQLite holds its write lock (BEGIN IMMEDIATE)."""
    if db.engine.dialect.name == "postgresql":
        sequence = sa.func.pg_get_serial_sequence(BehaviourRecord.__tablename__, "id")
        return sorted(db.session.scalars(sa.select(sa.func.nextval(sequence))
                                         .select_from(sa.func.generate_series(1, count))))
    first = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(BehaviourRecord.id), 0))) + 1
    return list(range(first, first + count))


def _write(community: Community, actor: User, scored: list[Candidate], report: Report,
           progress: Progress | None) -> None:
    issuance = ledger.system_accounts(community.id)["issuance"]
    households = sorted({c.household_id for c in scored})
    accounts: dict[int, int] = {}
    for start in range(0, len(households), CHUNK):
        accounts.update(db.session.execute(sa.select(Account.household_id, Account.id).where(
            Account.household_id.in_(households[start:start + CHUNK]))).tuples().all())
    ids = _allocate_ids(len(scored))
    now = clock.now()
    entries: list[ledger.Entry] = []
    posted_rows: list[int] = []  # index in ``scored`` of each entry
    for index, (record_id, candidate) in enumerate(zip(ids, scored)):
        points = candidate.decision.points
        if candidate.decision.status != "posted":
            report.pending += 1
            continue
        report.posted += 1
        if points:
            entries.append(ledger.Entry("award" if points > 0 else "deduction",
                                        [(issuance, -points), (accounts[candidate.household_id], points)],
                                        actor_id=actor.id, reference=("record", record_id),
                                        memo=candidate.rule.name_zh[:255]))
            posted_rows.append(index)
    transaction_ids: dict[int, int] = {}
    for start in range(0, len(entries), POST_CHUNK):  # all in the caller's transaction; chunks bound the memory
        for index, posted in zip(posted_rows[start:start + POST_CHUNK],
                                 ledger.post_many(community.id, entries[start:start + POST_CHUNK])):
            transaction_ids[index] = posted.transaction_id
        if progress:
            progress("post", min(start + POST_CHUNK, len(entries)), len(entries))
    rows = [_row(community, actor, candidate, record_id, transaction_ids.get(index), now)
            for index, (record_id, candidate) in enumerate(zip(ids, scored))]
    try:
        ledger.insert_rows(BehaviourRecord.__table__, rows)
    except sa_exc.IntegrityError:
        raise ImportConflict() from None
    if progress:
        progress("post", len(scored), len(scored))
