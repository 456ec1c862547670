"""Behaviour records: score one (or a group), keep it, post it through the ledger.

Invariants:

* a household's usage of a rule in a cap period is the sum of the points, and the count of
  the scoring (non-zero) records, of its records under that rule in that period whose status
  is pending, posted, objected or upheld — pending records reserve their points, rejected and
  reversed ones give them back;
* caps hold under concurrency: the household's ledger account row is locked
  (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises
  writers) *before* usage is read, so two records never both pass a cap;
* a posted record with points ≠ 0 has exactly one ledger transaction, ``award`` or
  ``deduction``, ``issuance → household`` referencing ``("record", id)``; a 0-point record is
  posted without one, its reasons kept;
* a resident's claim (``is_claim``) always waits for at least one staff approval.

Example: 2 points an hour capped at 40 a month, 38 already this month, 3 hours recorded →
posted with 2 points and the reason ``points_cap_reached``.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Iterable

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community import freeze
from pointsbank.community.models import Household, Resident
from pointsbank.errors import NotFound
from pointsbank.database import execute, next_ids, row_by_id
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.notify import services as notify
from pointsbank.rules import reasons as reason_text, services as books
from pointsbank.rules.engine import Decision, Reason, Usage, evaluate, period_key
from pointsbank.rules.errors import (ClaimNeedsEvidence, EvidenceNotFound, GroupEmpty, RecordInFuture, RecordRefused,
                                     ResidentNotInHousehold, UnknownRule)
from pointsbank.rules.models import BehaviourRecord, Evidence
from pointsbank.rules.rulebook import PERIODS, Rule

SCORING_STATUSES = ("pending", "posted", "objected", "upheld")
#: who records points for a household in its scope (staff pages, the API)
RECORDER_ROLES = ("staff", "grid_worker")
#: who may send a record: the recorders, and a resident claiming (申领) for its own household
RECORD_OR_CLAIM_ROLES = (*RECORDER_ROLES, "resident")


@dataclass(frozen=True)
class Scored:
    """A record as the engine sees it: where it stands and what it would score."""

    household: Household | policy.HouseholdRef
    resident_id: int | None
    version: books.BookVersion
    rule: Rule
    decision: Decision


# --- usage and locks -----------------------------------------------------------------------

def lock_households(community_id: int, household_ids: Iterable[int]) -> dict[int, int]:
    """Serialise scoring per household: lock their ledger accounts in id order (PostgreSQL
    ``FOR UPDATE``; SQLite's write lock is already held). Household id → account id."""
    return {household_id: row.id
            for household_id, row in ledger.lock_household_accounts(community_id, household_ids).items()}


def lock_and_draw(community_id: int, household_id: int) -> Any:
    """Lock the household's account and draw the id the new record will have (and the ledger
    transaction's that will move its points), in one statement (:func:`ledger.lock`): the record
    can then be inserted once, with its transaction id; the row is what ``ledger.post`` takes."""
    locks = ledger.lock(community_id, household_ids=[household_id], draw=(BehaviourRecord.__table__, "record_id"))
    row = locks.households.get(household_id)
    if row is None:
        raise NotFound()
    return row


def usage_for(community_id: int, household_id: int, rule: Rule, day: date) -> dict[str, Usage]:
    """What the household already has under ``rule`` in each of its cap periods around ``day``."""
    if not rule.caps:
        return {}
    record = BehaviourRecord
    columns = []
    for period, column in (("month", record.month_key), ("quarter", record.quarter_key), ("year", record.year_key)):
        key = period_key(period, day)
        columns += [sa.func.coalesce(sa.func.sum(sa.case((column == key, record.points), else_=0)), 0),
                    sa.func.count(sa.case((sa.and_(column == key, record.points != 0), 1)))]
    row = db.session.execute(sa.select(*columns).where(
        record.community_id == community_id, record.household_id == household_id, record.rule_code == rule.code,
        record.year_key == period_key("year", day), record.status.in_(SCORING_STATUSES))).one()
    return {period: Usage(int(row[2 * i]), int(row[2 * i + 1])) for i, period in enumerate(PERIODS)}


# --- checks shared by create and evaluate --------------------------------------------------

def check_date(timezone: str, day: date) -> None:
    today = clock.today_in(timezone)
    if day > today:
        raise RecordInFuture(occurred_on=day.isoformat(), today=today.isoformat())


def rule_in(version: books.BookVersion, rule_code: str) -> Rule:
    rule = version.book.rule(rule_code)
    if rule is None:
        raise UnknownRule(rule_code=rule_code, version=version.version,
                          details={"rulebook_version": version.version})
    return rule


def _resident(community_id: int, household_id: int, resident_id: int | None) -> int | None:
    if resident_id is not None and db.session.scalar(sa.select(Resident.id).where(
            Resident.community_id == community_id, Resident.id == resident_id,
            Resident.household_id == household_id)) is None:
        raise ResidentNotInHousehold(resident_id=resident_id, household_id=household_id)
    return resident_id


def _evidence(actor: User, household_ids: set[int], community_id: int, evidence_id: int | None) -> Evidence | None:
    """The evidence a record may cite: of the community, of its household or of none, and a
    resident's own (or its household's)."""
    if evidence_id is None:
        return None
    evidence = db.session.get(Evidence, (evidence_id, community_id))
    if (evidence is None or evidence.community_id != community_id
            or (evidence.household_id is not None and evidence.household_id not in household_ids)
            or (actor.role == "resident" and evidence.household_id != actor.household_id
                and evidence.uploaded_by_id != actor.id)):
        raise EvidenceNotFound(evidence_id=evidence_id)
    return evidence


def _as_claim(decision: Decision) -> Decision:
    if decision.approvals_required >= 1:
        return decision
    return replace(decision, status="pending", approvals_required=1,
                   reasons=(*decision.reasons, Reason("claim_needs_approval", {"approvals": 1})))


def score(actor: User, household: Household | policy.HouseholdRef, version: books.BookVersion, rule: Rule, *,
          resident_id: int | None, occurred_on: date, quantity: int, has_evidence: bool) -> Scored:
    usage = usage_for(household.community_id, household.id, rule, occurred_on)
    decision = evaluate(rule, quantity=quantity, occurred_on=occurred_on, has_evidence=has_evidence, usage=usage,
                        book_effective_from=version.effective_from)
    if decision.status == "refused":
        stored = reason_text.stored(decision.reasons)
        raise RecordRefused(stored, [reason_text.message(r["code"], r["params"]) for r in stored])
    if actor.role == "resident":
        decision = _as_claim(decision)
    return Scored(household, resident_id, version, rule, decision)


def _prepare(actor: User, household_id: int, rule_code: str, occurred_on: date, resident_id: int | None,
             evidence: int | None) -> tuple[policy.HouseholdRef, books.BookVersion, Rule, Evidence | None]:
    household = policy.household_ref(actor, household_id, *RECORD_OR_CLAIM_ROLES)
    if actor.role != "resident":
        policy.ensure_not_own_household(actor, household.id)
    check_date(household.timezone, occurred_on)
    version = books.version_for(household.community_id, occurred_on)
    rule = rule_in(version, rule_code)
    _resident(household.community_id, household.id, resident_id)
    found = _evidence(actor, {household.id}, household.community_id, evidence)
    if actor.role == "resident" and found is None:
        raise ClaimNeedsEvidence()
    return household, version, rule, found


# --- use cases -----------------------------------------------------------------------------

def evaluate_record(actor: User, *, household_id: int, rule_code: str, occurred_on: date, quantity: int = 1,
                    resident_id: int | None = None, note: str | None = None,
                    evidence: int | None = None) -> dict[str, Any]:
    """What a record would score, and why; records nothing."""
    household, version, rule, found = _prepare(actor, household_id, rule_code, occurred_on, resident_id, evidence)
    scored = score(actor, household, version, rule, resident_id=resident_id, occurred_on=occurred_on,
                   quantity=quantity, has_evidence=found is not None)
    decision = scored.decision
    return {"household_id": household.id, "rule_code": rule.code, "category": rule.category,
            "rule_name": {"zh": rule.name_zh, "en": rule.name_en}, "rulebook_version_id": version.id,
            "rulebook_version": version.version, "occurred_on": occurred_on, "quantity": quantity,
            "status": decision.status, "points": decision.points, "requested_points": decision.requested_points,
            "approvals_required": decision.approvals_required, "capped": decision.capped,
            "reasons": reason_text.rendered(reason_text.stored(decision.reasons))}


def create_record(actor: User, *, household_id: int, rule_code: str, occurred_on: date, quantity: int = 1,
                  resident_id: int | None = None, note: str | None = None,
                  evidence: int | None = None) -> BehaviourRecord:
    household, version, rule, found = _prepare(actor, household_id, rule_code, occurred_on, resident_id, evidence)
    locked = lock_and_draw(household.community_id, household.id)  # before usage is read: caps hold under concurrency
    freeze.ensure_not_frozen(household.community_id, household.id)  # households: no record for a frozen one
    scored = score(actor, household, version, rule, resident_id=resident_id, occurred_on=occurred_on,
                   quantity=quantity, has_evidence=found is not None)
    record = store_scored(actor, scored, occurred_on=occurred_on, quantity=quantity, note=note,
                          evidence_id=found.id if found else None, record_id=locked.record_id, account=locked)
    audit.record(actor, "record.create", community_id=household.community_id, target=record,
                 data={"household_id": household.id, "rule_code": rule.code, "status": record.status,
                       "points": record.points, "is_claim": record.is_claim})
    return as_created([record], household.notice_days)[0]


def create_group(actor: User, *, rule_code: str, occurred_on: date, quantity: int = 1, note: str | None = None,
                 evidence: int | None = None, household_ids: list[int] | None = None,
                 resident_ids: list[int] | None = None) -> list[BehaviourRecord]:
    """One activity for many households (or residents), each scored and capped on its own."""
    policy.require_role(actor, "staff", "grid_worker")
    targets: list[tuple[Household, int | None]] = []
    for household_id in dict.fromkeys(household_ids or []):
        targets.append((policy.household_for(actor, household_id, "staff", "grid_worker"), None))
    for resident_id in dict.fromkeys(resident_ids or []):
        resident = row_by_id(Resident, resident_id, actor.community_id)
        if resident is None:
            raise NotFound()
        targets.append((policy.household_for(actor, resident.household_id, "staff", "grid_worker"), resident.id))
    if not targets:
        raise GroupEmpty()
    for household, _ in targets:
        policy.ensure_not_own_household(actor, household.id)
    community = targets[0][0].community
    check_date(community.timezone, occurred_on)
    version = books.version_for(community.id, occurred_on)
    rule = rule_in(version, rule_code)
    found = _evidence(actor, {h.id for h, _ in targets}, community.id, evidence)
    accounts = lock_households(community.id, (h.id for h, _ in targets))
    freeze.ensure_none_frozen(community.id, (h.id for h, _ in targets))  # households: the whole group is refused
    record_ids = next_ids(BehaviourRecord.__table__, len(targets))
    group_key = uuid.uuid4().hex
    records = []
    for record_id, (household, resident_id) in zip(record_ids, targets):
        scored = score(actor, household, version, rule, resident_id=resident_id, occurred_on=occurred_on,
                       quantity=quantity, has_evidence=found is not None)
        records.append(store_scored(actor, scored, occurred_on=occurred_on, quantity=quantity, note=note,
                                    evidence_id=found.id if found else None, group_key=group_key, record_id=record_id,
                                    account_id=accounts.get(household.id)))
    audit.record(actor, "record.group", community_id=community.id, target_type="record_group", target_id=group_key,
                 data={"rule_code": rule.code, "occurred_on": occurred_on.isoformat(), "records": len(records),
                       "points": sum(r.points for r in records if r.status == "posted")})
    return as_created(records, community.notice_days)


def as_created(records: list[BehaviourRecord], notice_days: int) -> list[BehaviourRecord]:
    """:func:`listing.decorate` for records created in this call, without reading anything:
    nobody has approved them yet, and the notice deadline comes from their community."""
    for record in records:
        record.approved_by = []
        record.notice_until = record.posted_at + timedelta(days=notice_days) if record.posted_at else None
    return records


def store_scored(actor: User, scored: Scored, *, occurred_on: date, quantity: int, note: str | None,
                 evidence_id: int | None, record_id: int, group_key: str | None = None,
                 account_id: int | None = None, account: Any = None) -> BehaviourRecord:
    """Store a scored record under ``record_id`` (drawn by :func:`lock_and_draw` or
    :func:`~pointsbank.database.next_ids`), posting it first when the rule needs no approval: the points
    move with the reference ``("record", id)`` and the record is then inserted once, with its
    transaction id (SQLAlchemy Core; the ORM's unit of work cost more than the work here).
    ``account``: the household's locked account row, or ``account_id``: its id. Returns the
    record as a detached object (the session does not track it)."""
    decision, rule = scored.decision, scored.rule
    now = clock.now()
    posted = decision.status == "posted"
    transaction_id = None
    if posted and decision.points:
        transaction_id = _move_points(scored.household.community_id, scored.household.id, record_id, decision.points,
                                      actor.id, rule.name_zh, account_id=account_id, account=account,
                                      household=scored.household)
    values = dict(
        id=record_id, community_id=scored.household.community_id, household_id=scored.household.id,
        resident_id=scored.resident_id, rulebook_version_id=scored.version.id, rule_code=rule.code,
        category=rule.category, occurred_on=occurred_on, month_key=period_key("month", occurred_on),
        quarter_key=period_key("quarter", occurred_on), year_key=period_key("year", occurred_on),
        quantity=quantity, note=note, evidence_id=evidence_id, status="posted" if posted else "pending",
        points=decision.points, requested_points=decision.requested_points,
        approvals_required=decision.approvals_required, reasons=reason_text.stored(decision.reasons),
        is_claim=actor.role == "resident", group_key=group_key, import_key=None, recorded_by_id=actor.id,
        created_at=now, posted_at=now if posted else None,
        decided_at=now if posted and decision.approvals_required else None, transaction_id=transaction_id,
        reversal_transaction_id=None)
    execute(_record_insert(), values)
    return BehaviourRecord(**values)


@functools.lru_cache(maxsize=1)
def _record_insert() -> sa.Insert:
    return sa.insert(BehaviourRecord.__table__)


def post_record(record: BehaviourRecord, actor_id: int | None, memo: str, account_id: int | None = None) -> None:
    """Posted now: points through the ledger (none for a 0-point record)."""
    _mark_posted(record)
    _post_points(record, actor_id, memo, account_id)
    db.session.flush()


def _mark_posted(record: BehaviourRecord) -> None:
    now = clock.now()
    record.status, record.posted_at = "posted", now
    if record.decided_at is None and record.approvals_required:
        record.decided_at = now


def _post_points(record: BehaviourRecord, actor_id: int | None, memo: str, account_id: int | None) -> None:
    if record.points:
        record.transaction_id = _move_points(record.community_id, record.household_id, record.id, record.points,
                                             actor_id, memo, account_id=account_id)


def _move_points(community_id: int, household_id: int, record_id: int, points: int, actor_id: int | None,
                 memo: str, *, account_id: int | None = None, account: Any = None, household: Any = None) -> int:
    """A record's points through the ledger (``award`` or ``deduction`` from issuance); the
    transaction's id."""
    issuance = ledger.system_accounts(community_id)["issuance"]
    if account is not None:
        account_id = account.id
    elif account_id is None:
        account_id = ledger.household_account_id(household_id, community_id=community_id)
    posted = ledger.post(community_id, "award" if points > 0 else "deduction",
                         [(issuance, -points), (account_id, points)], actor_id=actor_id,
                         reference=("record", record_id), memo=memo[:255],
                         locked={account.id: account} if account is not None else None)
    notify.record_posted(community_id, household_id, record_id, points, memo, posted.created_at,  # same transaction
                         household=household)
    return posted.transaction_id
