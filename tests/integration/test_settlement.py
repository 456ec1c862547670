"""Settlement statements: what a shop is owed for a quarter, to the fen, built once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pointsbank.auth.models import User
from pointsbank.errors import DomainError
from pointsbank.jobs.models import JobRun
from pointsbank.jobs.runner import execute
from pointsbank.ledger import services as ledger
from pointsbank.redeem.models import Redemption
from pointsbank.reports import statements
from pointsbank.extensions import db as _db
from pointsbank.reports.models import SettlementLine, SettlementStatement
from tests.integration.helpers_round import (AFTER_Q2, Q2, Q2_LAST_MINUTE, Q3_FIRST_MINUTE, at, ledger_ok, redeem,
                                             redemption, reverse, set_point_value, statements_of, user)
from tests.integration.helpers_redeem import new_shop
from pointsbank.database import row_by_id


def lines_of(statement_id: int) -> list:
    """A statement's lines as the API shows them: its redemptions (derived), then its adjustments."""
    return statements.statement_lines(row_by_id(SettlementStatement, statement_id))


def test_a_statement_per_shop_counts_the_redemptions_of_the_quarter_in_the_community_time_zone(app, world, db):
    other_shop, _ = new_shop(world["alpha"], "二号超市")
    redeem(app, world, "2026-04-01T02:00:00+00:00", 10)
    last_minute = redeem(app, world, Q2_LAST_MINUTE, 7)
    redeem(app, world, Q3_FIRST_MINUTE, 5)  # 00:00 on 1 July in Shanghai: next quarter
    redeem(app, world, "2026-03-31T15:59:00+00:00", 3)  # 23:59 on 31 March: previous quarter

    at(app, AFTER_Q2)
    result = execute("settlement", world["alpha"], Q2)

    assert result.outcome == "completed"
    (statement,) = statements_of(world["alpha"], "2026Q2")
    assert (statement.shop_id, statement.count, statement.points, statement.amount_fen, statement.status) == (
        world["shop_a"], 2, 17, 1700, "draft")
    assert [line.redemption_id for line in lines_of(statement.id)][-1] == last_minute
    assert other_shop not in {s.shop_id for s in statements_of(world["alpha"], "2026Q2")}


def test_each_shop_gets_its_own_statement(app, world, db):
    other_shop, _ = new_shop(world["alpha"], "二号超市")
    world.users["cashier_two"] = db.session.scalar(sa.select(User.id).where(User.username == f"c{other_shop}_0"))
    redeem(app, world, "2026-05-01T02:00:00+00:00", 10)
    redeem(app, world, "2026-05-02T02:00:00+00:00", 4, cashier="cashier_two")
    redeem(app, world, "2026-05-03T02:00:00+00:00", 6, cashier="cashier_two")

    at(app, AFTER_Q2)
    execute("settlement", world["alpha"], Q2)

    by_shop = {s.shop_id: (s.count, s.points, s.amount_fen) for s in statements_of(world["alpha"], "2026Q2")}
    assert by_shop == {world["shop_a"]: (1, 10, 1000), other_shop: (2, 10, 1000)}


def test_fen_owed_is_each_redemption_at_the_point_value_in_force_at_its_moment_across_a_change(app, world, db):
    redeem(app, world, "2026-04-10T02:00:00+00:00", 30)          # 100 fen a point
    set_point_value(app, world, "2026-05-01T00:00:00+00:00", 150)
    redeem(app, world, "2026-05-10T02:00:00+00:00", 20)          # 150 fen a point
    set_point_value(app, world, "2026-06-01T00:00:00+00:00", 75)
    redeem(app, world, "2026-06-10T02:00:00+00:00", 9)           # 75 fen a point

    at(app, AFTER_Q2)
    execute("settlement", world["alpha"], Q2)

    (statement,) = statements_of(world["alpha"], "2026Q2")
    expected = sum(r.points * r.point_value_fen for r in db.session.scalars(
        sa.select(Redemption).where(Redemption.shop_id == world["shop_a"])))
    assert expected == 30 * 100 + 20 * 150 + 9 * 75
    assert (statement.points, statement.amount_fen) == (59, expected)
    assert [(line.points, line.point_value_fen, line.value_fen) for line in lines_of(statement.id)] == [
        (30, 100, 3000), (20, 150, 3000), (9, 75, 675)]


def test_running_the_settlement_again_changes_nothing(app, world, db):
    redeem(app, world, "2026-05-01T02:00:00+00:00", 10)
    at(app, AFTER_Q2)
    first = execute("settlement", world["alpha"], Q2)
    before = [(s.id, s.count, s.points, s.amount_fen, s.built_at) for s in statements_of(world["alpha"], "2026Q2")]
    lines = [tuple(line) for s in statements_of(world["alpha"], "2026Q2") for line in lines_of(s.id)]

    at(app, "2026-07-02T01:00:00+00:00")
    second = execute("settlement", world["alpha"], Q2)

    assert (first.outcome, second.outcome) == ("completed", "already_completed")
    assert [(s.id, s.count, s.points, s.amount_fen, s.built_at) for s in statements_of(world["alpha"], "2026Q2")] == before
    assert [tuple(line) for s in statements_of(world["alpha"], "2026Q2") for line in lines_of(s.id)] == lines
    assert len(lines) == 1
    run = db.session.scalar(sa.select(JobRun).where(JobRun.job == "settlement"))
    assert (run.status, run.attempt, run.summary["statements"]) == ("completed", 1, 1)


def test_a_quarter_that_has_not_ended_in_the_community_time_zone_is_refused(app, world, db):
    at(app, "2026-06-30T15:59:59+00:00")  # 23:59:59 on 30 June in Shanghai
    with pytest.raises(DomainError) as refused:
        statements.run_settlement(None, "2026Q2", world["alpha"])
    assert refused.value.code == "period_not_closed"


def test_a_redemption_reversed_before_the_statement_is_built_is_not_on_it(app, world, db):
    kept = redeem(app, world, "2026-05-01T02:00:00+00:00", 10)
    undone = redeem(app, world, "2026-05-02T02:00:00+00:00", 4)
    reverse(app, world, "2026-05-03T02:00:00+00:00", undone)

    at(app, AFTER_Q2)
    execute("settlement", world["alpha"], Q2)

    (statement,) = statements_of(world["alpha"], "2026Q2")
    assert [line.redemption_id for line in lines_of(statement.id)] == [kept]
    assert (statement.count, statement.points, statement.amount_fen) == (1, 10, 1000)


def test_a_draft_whose_redemption_was_reversed_is_rebuilt_when_confirmed_and_must_be_confirmed_again(app, world, db):
    redeem(app, world, "2026-05-01T02:00:00+00:00", 10)
    undone = redeem(app, world, "2026-05-02T02:00:00+00:00", 4)
    at(app, AFTER_Q2)
    execute("settlement", world["alpha"], Q2)
    reverse(app, world, "2026-07-02T02:00:00+00:00", undone)
    (statement,) = statements_of(world["alpha"], "2026Q2")
    admin = user(world, "admin")

    with pytest.raises(DomainError) as changed:
        statements.confirm_statement(admin, statement.id)
    assert changed.value.code == "statement_changed" and changed.value.keeps_changes
    db.session.commit()
    rebuilt = statements.confirm_statement(admin, statement.id)
    db.session.commit()

    assert changed.value.details == {"before": {"count": 2, "points": 14, "amount_fen": 1400, "adjustment_count": 0},
                                     "after": {"count": 1, "points": 10, "amount_fen": 1000, "adjustment_count": 0}}
    assert (rebuilt["status"], rebuilt["count"], rebuilt["amount_fen"]) == ("confirmed", 1, 1000)
    assert undone not in [line.redemption_id for line in lines_of(statement.id)]


def test_a_redemption_reversed_after_confirmation_is_a_negative_adjustment_in_the_next_statement(app, world, db):
    undone = redeem(app, world, "2026-05-02T02:00:00+00:00", 4)
    set_point_value(app, world, "2026-05-03T00:00:00+00:00", 250)
    at(app, AFTER_Q2)
    execute("settlement", world["alpha"], Q2)
    (q2,) = statements_of(world["alpha"], "2026Q2")
    statements.confirm_statement(user(world, "admin"), q2.id)
    db.session.commit()
    reverse(app, world, "2026-08-01T02:00:00+00:00", undone)
    redeem(app, world, "2026-08-02T02:00:00+00:00", 6)  # at 250 fen

    at(app, "2026-10-01T01:00:00+00:00")
    execute("settlement", world["alpha"], Q2.next())
    execute("settlement", world["alpha"], Q2.next())

    (q2,) = statements_of(world["alpha"], "2026Q2")
    (q3,) = statements_of(world["alpha"], "2026Q3")
    assert (q2.status, q2.count, q2.amount_fen) == ("confirmed", 1, 400)  # a confirmed statement never changes
    adjustments = [(l.redemption_id, l.points, l.point_value_fen, l.value_fen, l.origin_statement_id)
                   for l in lines_of(q3.id) if l.kind == "adjustment"]
    assert adjustments == [(undone, -4, 100, -400, q2.id)]  # at the value it was paid at, not today's
    assert [(l.kind, l.redemption_id) for l in lines_of(q2.id)] == [("redemption", undone)]  # still paid by Q2
    assert [l.kind for l in lines_of(q3.id)] == ["redemption", "adjustment"]
    assert (q3.count, q3.points, q3.amount_fen) == (1, 6 - 4, 1500 - 400)
    assert (q3.adjustment_count, q3.adjustment_points, q3.adjustment_fen) == (1, -4, -400)
    assert redemption(undone).reversed_at is not None


def test_an_adjustment_alone_makes_a_statement_for_a_shop_without_redemptions(app, world, db):
    undone = redeem(app, world, "2026-05-02T02:00:00+00:00", 4)
    at(app, AFTER_Q2)
    execute("settlement", world["alpha"], Q2)
    (q2,) = statements_of(world["alpha"], "2026Q2")
    statements.confirm_statement(user(world, "admin"), q2.id)
    statements.pay_statement(user(world, "admin"), q2.id)
    db.session.commit()
    reverse(app, world, "2026-08-01T02:00:00+00:00", undone)

    at(app, "2026-10-01T01:00:00+00:00")
    execute("settlement", world["alpha"], Q2.next())
    (q3,) = statements_of(world["alpha"], "2026Q3")
    statements.confirm_statement(user(world, "admin"), q3.id)
    paid = statements.pay_statement(user(world, "admin"), q3.id)
    db.session.commit()

    assert (q3.count, q3.points, q3.amount_fen, paid["status"]) == (0, -4, -400, "paid")
    shop = ledger.shop_account(world["alpha"], world["shop_a"])
    assert ledger.account_balance(shop) == 0  # paid, taken back by the reversal, returned by the adjustment
    assert ledger_ok(world["alpha"])


def test_paying_posts_the_shop_points_to_settled_through_the_ledger_once(app, world, db):
    redeem(app, world, "2026-05-01T02:00:00+00:00", 10)
    redeem(app, world, "2026-05-02T02:00:00+00:00", 5)
    at(app, AFTER_Q2)
    execute("settlement", world["alpha"], Q2)
    (statement,) = statements_of(world["alpha"], "2026Q2")
    admin = user(world, "admin")
    with pytest.raises(DomainError) as unconfirmed:
        statements.pay_statement(admin, statement.id)
    statements.confirm_statement(admin, statement.id)
    paid = statements.pay_statement(admin, statement.id)
    db.session.commit()
    with pytest.raises(DomainError) as again:
        statements.pay_statement(admin, statement.id)

    settled = ledger.system_accounts(world["alpha"])["settled"]
    shop = ledger.shop_account(world["alpha"], world["shop_a"])
    assert (unconfirmed.value.code, again.value.code) == ("statement_not_confirmed", "statement_already_paid")
    assert (paid["status"], ledger.account_balance(settled), ledger.account_balance(shop)) == ("paid", 15, 0)
    assert paid["transaction_id"] is not None
    assert ledger_ok(world["alpha"])


def test_a_failed_run_leaves_a_failed_record_and_the_next_run_completes_it(app, world, db, monkeypatch):
    from pointsbank.reports import settlement

    redeem(app, world, "2026-05-01T02:00:00+00:00", 10)
    at(app, AFTER_Q2)
    real = settlement.settle

    def broken(*args, **kwargs):
        real(*args, **kwargs)  # the statements are written … then the run fails before committing
        raise RuntimeError("disk full")

    monkeypatch.setattr(settlement, "settle", broken)
    failed = execute("settlement", world["alpha"], Q2)
    after_failure = statements_of(world["alpha"], "2026Q2")
    run = db.session.scalar(sa.select(JobRun).execution_options(populate_existing=True))
    assert (failed.outcome, run.status, run.attempt, after_failure) == ("failed", "failed", 1, [])
    assert "disk full" in run.error

    monkeypatch.setattr(settlement, "settle", real)
    resumed = execute("settlement", world["alpha"], Q2)

    run = db.session.scalar(sa.select(JobRun).execution_options(populate_existing=True))
    assert (resumed.outcome, run.status, run.attempt, run.error) == ("completed", "completed", 2, None)
    assert [(s.count, s.amount_fen) for s in statements_of(world["alpha"], "2026Q2")] == [(1, 1000)]


def test_the_migration_to_derived_lines_keeps_every_statement_line_both_ways(app, world, db):
    from flask_migrate import downgrade, upgrade

    redeem(app, world, "2026-05-01T02:00:00+00:00", 10)
    undone = redeem(app, world, "2026-05-02T02:00:00+00:00", 4)
    redeem(app, world, "2026-05-03T02:00:00+00:00", 3, household="b1", resident="resident_b1", cashier="cashier_b")
    at(app, AFTER_Q2)
    execute("settlement", world["alpha"], Q2)
    execute("settlement", world["beta"], Q2)
    (q2,) = statements_of(world["alpha"], "2026Q2")
    statements.confirm_statement(user(world, "admin"), q2.id)
    db.session.commit()
    reverse(app, world, "2026-08-01T02:00:00+00:00", undone)
    at(app, "2026-10-01T01:00:00+00:00")
    execute("settlement", world["alpha"], Q2.next())
    settled = _db.session.scalars(sa.select(SettlementStatement).order_by(SettlementStatement.id)).all()
    before = {s.id: (s.starts_at, s.ends_at, [tuple(line) for line in lines_of(s.id)]) for s in settled}
    db.session.commit()
    db.session.remove()

    downgrade(revision="0003_round")
    with db.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT statement_id, kind, redemption_id FROM settlement_lines "
                                      "ORDER BY statement_id, id")).all()
    upgrade(revision="heads")
    db.session.remove()

    after = {s.id: (s.starts_at, s.ends_at, [tuple(line) for line in lines_of(s.id)])
             for s in _db.session.scalars(sa.select(SettlementStatement).order_by(SettlementStatement.id))}
    assert after == before
    assert [(s, k, r) for s, k, r in stored if r == undone] == [(q2.id, "redemption", undone),
                                                               (q2.id + 2, "adjustment", undone)]
    assert len(stored) == sum(len(lines) for _, _, lines in before.values()) == 4  # 2 + 1 + the adjustment
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(SettlementLine)) == 1  # the adjustment


def test_one_run_settles_every_community_at_once_each_in_its_own_time_zone(app, world, db, monkeypatch):
    from pointsbank.community.models import Community
    from pointsbank.reports import settlement

    db.session.get(Community, world["beta"]).timezone = "Europe/Berlin"
    db.session.commit()
    late = "2026-06-30T20:00:00+00:00"  # 22:00 on 30 June in Berlin (Q2), 04:00 on 1 July in Shanghai (Q3)
    redeem(app, world, late, 5)
    redeem(app, world, late, 3, household="b1", resident="resident_b1", cashier="cashier_b")
    redeem(app, world, "2026-05-03T02:00:00+00:00", 7, household="b1", resident="resident_b1", cashier="cashier_b")
    calls = []
    real = settlement.settle_quarters
    monkeypatch.setattr(settlement, "settle_quarters", lambda bounds, key: calls.append(sorted(bounds)) or real(
        bounds, key))

    at(app, "2026-07-01T01:00:00+00:00")  # Q2 has ended in both
    result = statements.run_settlement(None, "2026Q2")

    assert calls == [sorted([world["alpha"], world["beta"]])]  # one set-based build for both
    assert {r["community_id"]: (r["outcome"], r["statements"], r["redemptions"], r["points"]) for r in result["runs"]} \
        == {world["alpha"]: ("completed", 0, 0, 0), world["beta"]: ("completed", 1, 2, 10)}
    (beta,) = statements_of(world["beta"], "2026Q2")
    assert (beta.starts_at.isoformat(), beta.ends_at.isoformat()) == ("2026-03-31T22:00:00+00:00",
                                                                      "2026-06-30T22:00:00+00:00")
    assert (beta.count, beta.points, beta.amount_fen) == (2, 10, 2000)  # beta: 200 fen a point


def test_one_run_leaves_a_settled_community_untouched_and_takes_over_a_failed_one(app, world, db, monkeypatch):
    from pointsbank.jobs.guard import record_failure
    from pointsbank.reports import settlement

    redeem(app, world, "2026-05-01T02:00:00+00:00", 10)
    redeem(app, world, "2026-05-03T02:00:00+00:00", 4, household="b1", resident="resident_b1", cashier="cashier_b")
    at(app, AFTER_Q2)
    execute("settlement", world["alpha"], Q2)
    record_failure("settlement", world["beta"], "2026Q2", RuntimeError("disk full"))
    before = [(s.id, s.count, s.amount_fen, s.built_at) for s in statements_of(world["alpha"], "2026Q2")]
    claimed = []
    real = settlement.settle_quarters
    monkeypatch.setattr(settlement, "settle_quarters", lambda bounds, key: claimed.append(sorted(bounds)) or real(
        bounds, key))

    at(app, "2026-07-02T01:00:00+00:00")
    result = statements.run_settlement(None, "2026Q2")
    _db.session.commit()

    assert claimed == [[world["beta"]]]
    runs = {r["community_id"]: r for r in result["runs"]}
    assert (runs[world["alpha"]]["outcome"], runs[world["alpha"]]["attempt"], runs[world["alpha"]]["statements"]) \
        == ("already_completed", 1, 1)
    assert (runs[world["beta"]]["outcome"], runs[world["beta"]]["attempt"], runs[world["beta"]]["amount_fen"]) \
        == ("completed", 2, 800)
    assert [(s.id, s.count, s.amount_fen, s.built_at) for s in statements_of(world["alpha"], "2026Q2")] == before
    stored = {r.community_id: (r.status, r.attempt, r.error, r.summary["statements"]) for r in db.session.scalars(
        sa.select(JobRun).execution_options(populate_existing=True))}
    assert stored == {world["alpha"]: ("completed", 1, None, 1), world["beta"]: ("completed", 2, None, 1)}


@pytest.mark.postgres_only
def test_a_community_another_process_is_settling_is_busy_and_the_others_are_settled(app, world, db):
    from pointsbank.jobs.guard import lock_key

    redeem(app, world, "2026-05-01T02:00:00+00:00", 10)
    redeem(app, world, "2026-05-03T02:00:00+00:00", 4, household="b1", resident="resident_b1", cashier="cashier_b")
    at(app, AFTER_Q2)
    with db.engine.connect() as other:  # another process, inside its run of alpha
        other.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_key("settlement", world["alpha"], "2026Q2"))))
        busy = statements.run_settlement(None, "2026Q2")
        _db.session.commit()
        other.rollback()

    again = statements.run_settlement(None, "2026Q2")
    _db.session.commit()

    assert {r["community_id"]: r["outcome"] for r in busy["runs"]} == {world["alpha"]: "busy",
                                                                       world["beta"]: "completed"}
    assert {r["community_id"]: r["outcome"] for r in again["runs"]} == {world["alpha"]: "completed",
                                                                        world["beta"]: "already_completed"}
    assert [(s.count, s.amount_fen) for s in statements_of(world["alpha"], "2026Q2")] == [(1, 1000)]
    assert [(s.count, s.amount_fen) for s in statements_of(world["beta"], "2026Q2")] == [(1, 800)]
    assert {(r.community_id, r.attempt) for r in db.session.scalars(sa.select(JobRun))} == {
        (world["alpha"], 1), (world["beta"], 1)}
