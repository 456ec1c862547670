"""The ledger's promises on both databases: zero sums, cached balances, chains, reversals, floors."""

import pytest
import sqlalchemy as sa

from pointsbank.database import unit_of_work
from pointsbank.ledger import services as ledger
from pointsbank.ledger.models import Account, LedgerTransaction, Posting
from pointsbank.ledger.verify import verify
from tests.integration.helpers_ledger import award
from pointsbank.database import row_by_id


def test_an_award_moves_points_from_issuance_and_updates_the_cached_balance(world, db):
    posted = award(world["alpha"], world["a1"], 35)
    award(world["alpha"], world["a1"], -20, kind="deduction")
    db.session.commit()
    assert ledger.household_balance(world["a1"]) == 115
    assert ledger.account_balance(ledger.household_account_id(world["a1"])) == 115
    legs = db.session.execute(sa.select(Posting.points).where(Posting.transaction_id == posted.transaction_id)).scalars().all()
    assert sorted(legs) == [-35, 35]
    assert verify().ok


def test_legs_that_do_not_sum_to_zero_are_refused_and_nothing_is_written(world, db):
    issuance = ledger.system_accounts(world["alpha"])["issuance"]
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Posting))
    with pytest.raises(ledger.LedgerError):
        ledger.post(world["alpha"], "award", [(issuance, -5), (ledger.household_account_id(world["a1"]), 6)])
    with pytest.raises(ledger.LedgerError):
        ledger.post(world["alpha"], "award", [(issuance, -5), (ledger.system_accounts(world["alpha"])["vouchers"], 5)])
    with pytest.raises(ledger.LedgerError):  # an account of another community
        ledger.post(world["alpha"], "award", [(issuance, -5), (ledger.household_account_id(world["b1"]), 5)])
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Posting)) == before


def test_points_must_be_integers_never_floats(world):
    issuance = ledger.system_accounts(world["alpha"])["issuance"]
    with pytest.raises(ledger.LedgerError):
        ledger.post(world["alpha"], "award", [(issuance, -1.5), (ledger.household_account_id(world["a1"]), 1.5)])


def test_a_transaction_is_reversed_at_most_once(world, db):
    posted = award(world["alpha"], world["a1"], 12)
    reversal = ledger.reverse(posted.transaction_id, community_id=world["alpha"], actor_id=None)
    assert ledger.household_balance(world["a1"]) == 100
    assert row_by_id(LedgerTransaction, reversal.transaction_id).reversal_of_id == posted.transaction_id
    with pytest.raises(ledger.AlreadyReversed):
        ledger.reverse(posted.transaction_id, community_id=world["alpha"], actor_id=None)
    db.session.commit()
    assert verify().ok


def test_a_floor_refuses_a_draw_below_it_and_moves_nothing(world, db):
    award(world["alpha"], world["a1"], 30)
    account = ledger.household_account_id(world["a1"])
    vouchers = ledger.system_accounts(world["alpha"])["vouchers"]
    with pytest.raises(ledger.InsufficientPoints) as refused:
        ledger.post(world["alpha"], "voucher_issue", [(account, -31), (vouchers, 31)], minimums={account: 100})
    assert refused.value.details == {"available": 30}
    ledger.post(world["alpha"], "voucher_issue", [(account, -30), (vouchers, 30)], minimums={account: 100})
    assert ledger.household_balance(world["a1"]) == 100


def test_deductions_may_take_a_balance_below_the_base_and_below_zero(world, db):
    award(world["alpha"], world["a1"], -150, kind="deduction")
    db.session.commit()
    assert ledger.household_balance(world["a1"]) == -50
    assert verify().ok


def test_verify_names_the_account_and_posting_of_a_posting_altered_behind_the_apps_back(app, world, db, runner):
    award(world["alpha"], world["a1"], 7)
    db.session.commit()
    account = ledger.household_account_id(world["a1"])
    posting_id = db.session.scalar(sa.select(sa.func.max(Posting.id)).where(Posting.account_id == account))
    db.session.rollback()  # end the read: on SQLite every transaction holds the write lock
    with db.engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.exec_driver_sql("ALTER TABLE postings DISABLE TRIGGER postings_append_only")
        conn.execute(sa.update(Posting).where(Posting.id == posting_id).values(points=70))
        if postgres:
            conn.exec_driver_sql("ALTER TABLE postings ENABLE TRIGGER postings_append_only")
    report = verify()
    assert not report.ok
    assert any(d.check == "hash_chain" and d.account_id == account and d.posting_id == posting_id
               for d in report.differences)
    assert any(d.check == "zero_sum" for d in report.differences)
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert f"account {account}, posting {posting_id}" in result.output


def test_verify_reports_a_cached_balance_that_drifted(world, db):
    with db.engine.begin() as conn:
        conn.execute(sa.update(Account).where(Account.household_id == world["a2"]).values(balance=999))
    report = verify()
    assert [d.check for d in report.differences] == ["cached_balance"]
    assert report.differences[0].expected == "100" and report.differences[0].found == "999"


def test_a_clean_ledger_verifies_and_the_command_exits_zero(world, runner):
    award(world["alpha"], world["a1"], 3)
    from pointsbank.extensions import db

    db.session.commit()
    result = runner.invoke(args=["ledger", "verify", "--community", "alpha"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


@pytest.mark.postgres_only
def test_postgresql_refuses_updating_or_deleting_postings_and_transactions(world, db):
    for statement in ("UPDATE postings SET points = points + 1", "DELETE FROM postings",
                      "UPDATE ledger_transactions SET memo = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with db.engine.begin() as conn:
                conn.exec_driver_sql(statement)


@pytest.mark.postgres_only
def test_a_serialisation_failure_is_retried_then_answered_503(app, world, db):
    from pointsbank.errors import ServiceBusy

    calls = {"n": 0}

    def flaky(fail_times):
        calls["n"] += 1
        if calls["n"] <= fail_times:
            db.session.execute(sa.text("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$"))
        return award(world["alpha"], world["a1"], 1)

    unit_of_work(flaky)(2)
    assert calls["n"] == 3 and ledger.household_balance(world["a1"]) == 101
    calls["n"] = 0
    app.config["DB_RETRIES"] = 2
    with pytest.raises(ServiceBusy):
        unit_of_work(flaky)(99)
    assert calls["n"] == 3
    assert ledger.household_balance(world["a1"]) == 101
