"""Point resets and expiry at the period boundary, through the ledger, once per period."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from pointsbank.community.models import Community
from pointsbank.jobs import runner as job_runner
from pointsbank.jobs.runner import execute
from pointsbank.ledger import services as ledger
from pointsbank.ledger.models import LedgerTransaction
from pointsbank.redeem import vouchers
from pointsbank.reports import periods
from pointsbank.reports.resets import upcoming_reset
from tests.integration.helpers_ledger import award
from tests.integration.helpers_round import AFTER_Q2, Q2, at, ledger_ok, user


def _policy(app, world, db, moment: str, reset: str, years: int | None = None) -> Community:
    at(app, moment)
    community = db.session.get(Community, world["alpha"])
    community.points_reset, community.points_expire_years = reset, years
    db.session.commit()
    return community


def _balances(world, *names: str) -> list[int]:
    return [ledger.household_balance(world[name]) for name in names]


def test_choosing_a_policy_records_when_it_was_chosen_and_an_unchanged_value_does_not(app, world, db):
    community = _policy(app, world, db, "2026-05-20T00:00:00+00:00", "quarter")
    assert community.points_policy_since == datetime(2026, 5, 20, tzinfo=timezone.utc)
    at(app, "2026-05-25T00:00:00+00:00")
    community.points_reset = "quarter"
    assert community.points_policy_since == datetime(2026, 5, 20, tzinfo=timezone.utc)


def test_a_quarterly_reset_brings_every_household_back_to_its_base_in_both_directions(app, world, db):
    _policy(app, world, db, "2026-05-15T03:00:00+00:00", "quarter")
    award(world["alpha"], world["a1"], 30)
    award(world["alpha"], world["a2"], -20, kind="deduction")
    db.session.commit()

    at(app, AFTER_Q2)
    first = execute("reset", world["alpha"], Q2)
    second = execute("reset", world["alpha"], Q2)

    assert _balances(world, "a1", "a2", "a3") == [100, 100, 100]
    assert (first.outcome, first.summary) == ("completed", {"households": 2, "points": 10})
    assert second.outcome == "already_completed"
    kinds = db.session.scalars(sa.select(LedgerTransaction.kind).where(LedgerTransaction.kind == "reset")).all()
    assert len(kinds) == 2
    assert ledger_ok(world["alpha"])


def test_a_late_reset_keeps_the_points_earned_after_the_boundary(app, world, db):
    _policy(app, world, db, "2026-05-15T03:00:00+00:00", "quarter")
    award(world["alpha"], world["a1"], 30)
    at(app, "2026-07-01T02:00:00+00:00")  # after the boundary, before the (late) reset
    award(world["alpha"], world["a1"], 5)
    db.session.commit()

    at(app, "2026-07-03T00:00:00+00:00")
    execute("reset", world["alpha"], Q2)

    assert _balances(world, "a1") == [105]


def test_only_boundaries_after_the_policy_was_chosen_are_reset(app, world, db):
    award(world["alpha"], world["a1"], 30)
    db.session.commit()
    _policy(app, world, db, "2026-07-05T00:00:00+00:00", "quarter")  # chosen after Q2 ended

    due = job_runner.due(datetime(2026, 7, 6, tzinfo=timezone.utc), jobs=["reset"])
    after_q3 = job_runner.due(datetime(2026, 10, 1, tzinfo=timezone.utc), jobs=["reset"])

    assert due == []
    assert [(c.code, [p.key for p in ps]) for _, c, ps in after_q3] == [("alpha", ["2026Q3"])]


def test_catching_up_several_missed_boundaries_applies_only_the_newest_reset(app, world, db):
    _policy(app, world, db, "2026-05-15T03:00:00+00:00", "quarter")
    award(world["alpha"], world["a1"], 30)
    at(app, "2026-11-01T00:00:00+00:00")
    award(world["alpha"], world["a1"], 7)
    db.session.commit()

    at(app, "2027-01-03T00:00:00+00:00")
    results = job_runner.catch_up(app.config["CLOCK"], jobs=["reset"])

    assert [(r.period, r.summary) for r in results] == [
        ("2026Q2", {"superseded_by": "2026Q4"}), ("2026Q3", {"superseded_by": "2026Q4"}),
        ("2026Q4", {"households": 1, "points": 37})]
    assert _balances(world, "a1") == [100]
    assert ledger_ok(world["alpha"])


def test_expiry_lets_unspent_points_older_than_the_limit_lapse_oldest_first(app, world, db):
    _policy(app, world, db, "2026-05-15T03:00:00+00:00", "expire", years=1)
    at(app, "2025-06-01T00:00:00+00:00")
    award(world["alpha"], world["a1"], 50)  # earned in 2025: lapses at the end of 2026
    at(app, "2026-06-01T00:00:00+00:00")
    award(world["alpha"], world["a1"], 30)  # earned in 2026: kept
    vouchers.issue_voucher(user(world, "resident_a1"), points=20)  # spends the oldest points first
    db.session.commit()
    year = periods.parse("2026")

    at(app, "2026-12-01T00:00:00+00:00")
    announced = upcoming_reset(db.session.get(Community, world["alpha"]), world["a1"])
    at(app, "2026-12-31T16:30:00+00:00")  # 00:30 on 1 January 2027 in Shanghai
    first = execute("expiry", world["alpha"], year)
    again = execute("expiry", world["alpha"], year)

    assert announced == {"kind": "expiry", "period": "2026", "effective_at": datetime(2026, 12, 31, 16, 0,
                                                                                      tzinfo=timezone.utc),
                         "last_day": periods.parse("2026").last_day(), "points": 30}
    assert (first.summary, again.outcome) == ({"households": 1, "points": 30}, "already_completed")
    assert _balances(world, "a1") == [100 + 50 + 30 - 20 - 30]
    kinds = db.session.scalars(sa.select(LedgerTransaction.kind).where(LedgerTransaction.kind == "point_expiry")).all()
    assert kinds == ["point_expiry"]
    assert ledger_ok(world["alpha"])


def test_upcoming_reset_announces_the_boundary_and_the_points_at_stake(app, world, db):
    community = _policy(app, world, db, "2026-05-15T03:00:00+00:00", "quarter")
    award(world["alpha"], world["a1"], 30)
    db.session.commit()

    household = upcoming_reset(community, world["a1"])
    everyone = upcoming_reset(community)
    community.points_reset = "none"

    assert household == {"kind": "reset", "period": "2026Q2", "effective_at": datetime(2026, 6, 30, 16, 0,
                                                                                       tzinfo=timezone.utc),
                         "last_day": Q2.last_day(), "points": 30}
    assert everyone["points"] == 30
    assert upcoming_reset(community) is None
