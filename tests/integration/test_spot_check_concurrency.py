"""Spot checks racing on real PostgreSQL: an item is checked once, a record gets one objection."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pointsbank.auth.models import User
from pointsbank.database import unit_of_work
from pointsbank.extensions import db
from pointsbank.regions import spotchecks
from pointsbank.regions.models import SpotCheckItem
from pointsbank.rules import objections
from pointsbank.rules.models import BehaviourRecord, Objection
from tests.fixtures.regions import give, publish_points_book
from tests.integration.helpers_round import relogin
from tests.integration.test_rules_concurrency import _race

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def drawn(app, client, world):
    relogin(app, world, "2026-08-20T02:00:00+00:00")
    publish_points_book(client, world)
    record = give(client, world, "grid_a", world["a1"], 10, "2026-08-03")
    check = unit_of_work(spotchecks.draw_spot_check)(db.session.get(User, world.users["staff_a3"]), world["alpha"],
                                                     period="2026Q3", size=1, seed=1)
    return check.id, record["id"]


def test_two_staff_checking_the_same_item_at_once_check_it_once(app, world, drawn):
    check_id, record_id = drawn

    def check(i):
        actor = db.session.get(User, world.users[("staff_a2", "staff_a3")[i]])
        outcome = ("disputed", "confirmed")[i]
        return unit_of_work(spotchecks.check_item)(actor, check_id, record_id, outcome=outcome, note="核实").status

    outcomes = _race(app, 2, check)
    db.session.rollback()
    item = db.session.scalar(sa.select(SpotCheckItem).where(SpotCheckItem.record_id == record_id))
    assert sorted(outcomes, key=str) == sorted([item.status, "spot_check_item_checked"], key=str)
    objections_opened = db.session.scalar(sa.select(sa.func.count()).select_from(Objection)
                                          .where(Objection.record_id == record_id))
    assert objections_opened == (1 if item.status == "disputed" else 0)


def test_a_dispute_and_a_residents_objection_at_once_open_one_objection(app, world, drawn):
    check_id, record_id = drawn

    def act(i):
        if i == 0:
            actor = db.session.get(User, world.users["staff_a2"])
            return unit_of_work(spotchecks.check_item)(actor, check_id, record_id, outcome="disputed",
                                                       note="存疑").status
        actor = db.session.get(User, world.users["resident_a2"])
        return unit_of_work(objections.raise_objection)(actor, record_id, reason="没有这回事").status

    outcomes = _race(app, 2, act)
    db.session.rollback()
    assert "record_not_open_to_objection" in outcomes and len(set(outcomes)) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Objection)
                             .where(Objection.record_id == record_id)) == 1
    assert db.session.scalar(sa.select(BehaviourRecord.status).where(BehaviourRecord.id == record_id)) == "objected"
