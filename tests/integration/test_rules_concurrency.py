"""Records racing on real PostgreSQL: caps hold and approvals post once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
import sqlalchemy as sa

from pointsbank.auth.models import User
from pointsbank.database import unit_of_work
from pointsbank.errors import DomainError
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.ledger.verify import verify
from pointsbank.rules import approvals, records, services as books
from pointsbank.rules.models import BehaviourRecord
from tests.fixtures.rules import RULEBOOK

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def published(world):
    unit_of_work(books.publish)(db.session.get(User, world.users["staff_a2"]), world["alpha"], RULEBOOK.encode(),
                                "application/yaml")
    return world


def _race(app, count, work):
    barrier = threading.Barrier(count)

    def run(i):
        with app.app_context():
            barrier.wait()
            try:
                return work(i)
            except DomainError as error:
                return error.code
            finally:
                db.session.remove()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_twelve_records_at_once_against_a_monthly_cap_score_exactly_the_cap(app, published):
    world = published

    def create(i):
        actor = db.session.get(User, world.users[("staff_a2", "staff_a3", "grid_a")[i % 3]])
        record = unit_of_work(records.create_record)(actor, household_id=world["a1"], rule_code="volunteer_hour",
                                                     occurred_on=date(2026, 5, 1 + i), quantity=8)
        return record.points

    points = _race(app, 12, create)
    assert sorted(points, reverse=True)[:3] == [16, 16, 8] and sum(points) == 40
    db.session.rollback()
    assert ledger.household_balance(world["a1"]) == 140
    assert verify().ok


def test_two_staff_approving_the_same_record_at_once_post_it_once(app, published):
    world = published
    recorder = db.session.get(User, world.users["grid_a"])
    pending = unit_of_work(records.create_record)(recorder, household_id=world["a2"], rule_code="model_family",
                                                  occurred_on=date(2026, 5, 3))
    record_id = pending.id

    def approve(i):
        actor = db.session.get(User, world.users[("staff_a2", "staff_a3")[i]])
        return unit_of_work(approvals.approve)(actor, record_id).status

    outcomes = _race(app, 2, approve)
    assert sorted(outcomes) == ["posted", "record_not_pending"]
    db.session.rollback()
    assert ledger.household_balance(world["a2"]) == 150
    assert db.session.scalar(sa.select(BehaviourRecord.status).where(BehaviourRecord.id == record_id)) == "posted"
    assert verify().ok
