"""Random sequences of records, approvals and rejections through the services: no cap is ever
exceeded in any period, and the ledger holds exactly the points of the posted records."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st

from pointsbank.auth.models import User
from pointsbank.community import services as community
from pointsbank.database import unit_of_work
from pointsbank.errors import DomainError
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.ledger.models import LedgerTransaction, Posting
from pointsbank.ledger.verify import verify
from pointsbank.rules import approvals, records, services as books
from pointsbank.rules.engine import period_key
from pointsbank.rules.models import BehaviourRecord

BOOK = """\
version: "h1"
effective_from: 2026-01-01
categories:
  - code: c
    name: {zh: 类, en: Category}
rules:
  - code: hour
    category: c
    name: {zh: 每小时, en: Per hour}
    points: 3
    unit: hour
    max_quantity: 5
    caps:
      - {period: month, points: 20}
      - {period: quarter, points: 45}
  - code: deed
    category: c
    name: {zh: 好事, en: Deed}
    points: 7
    approval: staff
    caps:
      - {period: month, count: 2}
      - {period: year, points: 40}
  - code: fine
    category: c
    name: {zh: 罚, en: Fine}
    points: -6
    two_person_above: 10
    caps:
      - {period: quarter, points: 15}
  - code: plain
    category: c
    name: {zh: 普通, en: Plain}
    points: 11
"""
CAPS = {"hour": {"month": (20, None), "quarter": (45, None)}, "deed": {"month": (None, 2), "year": (40, None)},
        "fine": {"quarter": (15, None)}}
FIRST_DAY = date(2026, 1, 1)
numbers = itertools.count(1)

record_op = st.tuples(st.just("record"), st.integers(0, 1), st.sampled_from(["hour", "deed", "fine", "plain"]),
                      st.integers(0, (date(2026, 5, 15) - FIRST_DAY).days), st.integers(1, 5))
decide_op = st.tuples(st.sampled_from(["approve", "reject"]), st.integers(0, 30), st.integers(0, 1))


@pytest.fixture
def scene(app, world):
    publisher = db.session.get(User, world.users["staff_a2"])
    unit_of_work(books.publish)(publisher, world["alpha"], BOOK.encode(), "application/yaml")
    return world


def _run(operation, households, users):
    kind = operation[0]
    if kind == "record":
        _, which, rule, offset, quantity = operation
        actor = db.session.get(User, users["staff_a2"])
        unit_of_work(records.create_record)(actor, household_id=households[which], rule_code=rule,
                                            occurred_on=FIRST_DAY + timedelta(days=offset), quantity=quantity)
        return
    _, index, approver = operation
    pending = list(db.session.scalars(sa.select(BehaviourRecord.id).where(
        BehaviourRecord.household_id.in_(households), BehaviourRecord.status == "pending")
        .order_by(BehaviourRecord.id)))
    if not pending:
        return
    actor = db.session.get(User, users[("staff_a3", "staff_a")[approver]])
    if kind == "approve":
        unit_of_work(approvals.approve)(actor, pending[index % len(pending)])
    else:
        unit_of_work(approvals.reject)(actor, pending[index % len(pending)], reason="不符合")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(operations=st.lists(st.one_of(record_op, record_op, decide_op), max_size=18))
def test_no_cap_is_ever_exceeded_and_the_ledger_holds_the_decisions_points(scene, operations):
    world = scene
    households = [unit_of_work(community.create_household)(None, world["alpha"], number=f"H-{next(numbers)}",
                                                           head_name="户主")["id"] for _ in range(2)]
    for operation in operations:
        try:
            _run(operation, households, world.users)
        except DomainError:
            pass  # refusals (quantity, already decided …) move nothing; checked below
    db.session.rollback()

    kept = list(db.session.scalars(sa.select(BehaviourRecord).where(BehaviourRecord.household_id.in_(households))))
    used: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for record in kept:
        assert abs(record.points) <= abs(record.requested_points)
        if record.status in ("pending", "posted", "objected", "upheld"):
            for period in CAPS.get(record.rule_code, {}):
                slot = used[(record.household_id, record.rule_code, period, period_key(period, record.occurred_on))]
                slot[0] += abs(record.points)
                slot[1] += 1 if record.points else 0
        assert (record.transaction_id is not None) == (record.status == "posted" and record.points != 0)
    for (_, rule, period, _), (points, count) in used.items():
        cap_points, cap_count = CAPS[rule][period]
        assert cap_points is None or points <= cap_points
        assert cap_count is None or count <= cap_count

    for household in households:
        posted = sum(r.points for r in kept if r.household_id == household and r.status == "posted")
        assert ledger.household_balance(household) == 100 + posted
        on_ledger = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Posting.points), 0))
            .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
            .where(Posting.account_id == ledger.household_account_id(household),
                   LedgerTransaction.kind.in_(("award", "deduction"))))
        assert on_ledger == posted
    assert verify().ok
