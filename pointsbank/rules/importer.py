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
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import exc as sa_exc

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.bulk import insert_rows
from pointsbank.community import freeze
from pointsbank.community.models import Community
from pointsbank.errors import BadRequest, NotFound
from pointsbank.database import next_ids
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.notify import services as notify
from pointsbank.rules import reasons as reason_text, tabular
from pointsbank.rules.engine import period_key
from pointsbank.rules.errors import ImportConflict
from pointsbank.rules.import_checks import (Candidate, Progress, Report, _existing_keys, score,
                                            validate)
from pointsbank.rules.models import BehaviourRecord
from pointsbank.rules.records import lock_households

REQUIRED = ("household_number", "rule_code", "occurred_on")
#: transactions per ledger.post_many call (each call: a few statements, its accounts locked and
#: updated once, its transactions' digests in memory; the rows themselves stream into COPY)
POST_CHUNK = 50_000


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
    new_candidates = [c for c in candidates if c.key not in existing]
    report.skipped = len(candidates) - len(new_candidates)
    # locked before usage is read: caps hold under concurrency
    accounts = lock_households(community.id, (c.household_id for c in new_candidates)) if post else {}
    # households: a frozen one's rows are refused
    frozen = freeze.frozen_among(community.id, (c.household_id for c in new_candidates))
    for candidate in new_candidates:
        if candidate.household_id in frozen:
            report.fail(candidate.line, "household_frozen", number=frozen[candidate.household_id].number)
    new_candidates = [c for c in new_candidates if c.household_id not in frozen]
    score(community, new_candidates, report, progress)
    scored = [c for c in new_candidates if c.decision is not None]
    report.invalid = len(report.bad_lines)
    report.valid = len(scored)
    report.points = sum(c.decision.points for c in scored if c.decision.status == "posted")
    if post and scored:
        _write(community, actor, scored, accounts, report, progress)
    audit.record(actor, "records.import", community_id=community.id, target_type="community",
                 target_id=community.id,
                 data={"filename": filename, "sha256": hashlib.sha256(data).hexdigest(), "post": post,
                       "rows": report.rows, "valid": report.valid, "invalid": report.invalid,
                       "skipped": report.skipped, "posted": report.posted, "pending": report.pending})
    return report.as_dict()


#: the columns of an imported record, in the order ``_write`` yields their values
RECORD_COLUMNS = ("id", "community_id", "household_id", "resident_id", "rulebook_version_id", "rule_code", "category",
                  "occurred_on", "month_key", "quarter_key", "year_key", "quantity", "note", "status", "points",
                  "requested_points", "approvals_required", "reasons", "is_claim", "import_key", "recorded_by_id",
                  "created_at", "posted_at", "transaction_id")


def _write(community: Community, actor: User, scored: list[Candidate], accounts: dict[int, int], report: Report,
           progress: Progress | None) -> None:
    """Post the scored rows (``accounts``: household id → its locked account) and insert their
    records, each with its transaction; the records stream into one COPY as they are built."""
    issuance = ledger.system_accounts(community.id)["issuance"]
    ids = next_ids(BehaviourRecord.__table__, len(scored))  # each posting can name its record
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
    transaction_ids: list[int | None] = [None] * len(scored)
    for start in range(0, len(entries), POST_CHUNK):  # all in the caller's transaction; chunks bound the memory
        for index, posted in zip(posted_rows[start:start + POST_CHUNK],
                                 ledger.post_many(community.id, entries[start:start + POST_CHUNK])):
            transaction_ids[index] = posted.transaction_id
        if progress:
            progress("post", min(start + POST_CHUNK, len(entries)), len(entries))
    notify.records_posted(community.id, [(scored[i].household_id, ids[i], scored[i].decision.points,
                                          scored[i].rule.name_zh) for i in posted_rows], now)  # same transaction

    def rows():
        keys_on: dict[date, tuple[str, str, str]] = {}
        stored: dict[int, list] = {}  # id(decision) → its reasons as stored (rows share decisions)
        for record_id, candidate, transaction_id in zip(ids, scored, transaction_ids):
            decision, day, rule = candidate.decision, candidate.occurred_on, candidate.rule
            keys = keys_on.get(day)
            if keys is None:
                keys = keys_on[day] = (period_key("month", day), period_key("quarter", day), period_key("year", day))
            reasons = stored.get(id(decision))
            if reasons is None:
                reasons = stored[id(decision)] = reason_text.stored(decision.reasons)
            posted = decision.status == "posted"
            yield (record_id, community.id, candidate.household_id, candidate.resident_id, candidate.version.id,
                   rule.code, rule.category, day, *keys, candidate.quantity, candidate.note,
                   "posted" if posted else "pending", decision.points, decision.requested_points,
                   decision.approvals_required, reasons, False, candidate.key, actor.id, now,
                   now if posted else None, transaction_id)

    try:
        insert_rows(BehaviourRecord.__table__, RECORD_COLUMNS, rows())
    except sa_exc.IntegrityError:
        raise ImportConflict() from None
    if progress:
        progress("post", len(scored), len(scored))
