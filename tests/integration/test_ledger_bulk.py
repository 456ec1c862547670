"""``ledger.post_many``: many transactions in a few statements, exactly as ``post`` one by one would."""

import pytest
import sqlalchemy as sa

from pointsbank import bulk
from pointsbank.ledger import posting, services as ledger
from pointsbank.ledger.models import LedgerTransaction, Posting
from pointsbank.ledger.verify import verify
from tests.integration.helpers_ledger import award


def _entries(world, points_by_household):
    issuance = ledger.system_accounts(world["alpha"])["issuance"]
    return [ledger.Entry("award" if points > 0 else "deduction",
                         [(issuance, -points), (ledger.household_account_id(world[h]), points)],
                         reference=("record", n), memo=f"row {n}")
            for n, (h, points) in enumerate(points_by_household)]


@pytest.mark.parametrize("chunk", [ledger.BULK_CHUNK, 2])
def test_many_awards_keep_balances_and_hash_chains_that_verify_and_later_posts_extend(world, db, monkeypatch, chunk):
    monkeypatch.setattr(posting, "BULK_CHUNK", chunk)  # the locks and the account updates
    monkeypatch.setattr(bulk, "BATCH_ROWS", chunk)  # the inserts (executemany where there is no COPY)
    award(world["alpha"], world["a1"], 7)  # a chain that already has a head
    plan = [("a1", 5), ("a2", 3), ("a1", -20), ("a3", 10), ("a1", 2), ("a2", 4)]
    posted = ledger.post_many(world["alpha"], _entries(world, plan))
    db.session.commit()

    assert [p.balances[ledger.household_account_id(world["a1"])] for p in (posted[0], posted[2], posted[4])] == \
        [112, 92, 94]
    assert ledger.household_balance(world["a1"]) == 94
    assert ledger.household_balance(world["a2"]) == 107
    assert ledger.household_balance(world["a3"]) == 110
    ids = [p.transaction_id for p in posted]
    assert ids == sorted(ids) and len(set(ids)) == len(plan)
    rows = db.session.execute(sa.select(LedgerTransaction.id, LedgerTransaction.kind, LedgerTransaction.reference_id,
                                        LedgerTransaction.memo).where(LedgerTransaction.id.in_(ids))
                              .order_by(LedgerTransaction.id)).all()
    assert [(r.kind, r.reference_id, r.memo) for r in rows] == [
        ("award", "0", "row 0"), ("award", "1", "row 1"), ("deduction", "2", "row 2"), ("award", "3", "row 3"),
        ("award", "4", "row 4"), ("award", "5", "row 5")]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Posting).where(
        Posting.transaction_id.in_(ids))) == 2 * len(plan)
    report = verify()
    assert report.ok, report.differences

    award(world["alpha"], world["a1"], 1)  # post() continues the chain post_many left
    db.session.commit()
    assert ledger.household_balance(world["a1"]) == 95
    assert verify().ok


def test_a_bad_entry_refuses_the_whole_batch_and_writes_nothing(world, db):
    issuance = ledger.system_accounts(world["alpha"])["issuance"]
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Posting))
    good = _entries(world, [("a1", 5)])
    unbalanced = ledger.Entry("award", [(issuance, -5), (ledger.household_account_id(world["a2"]), 6)])
    foreign = ledger.Entry("award", [(issuance, -5), (ledger.household_account_id(world["b1"]), 5)])
    system_only = ledger.Entry("award", [(issuance, -5), (ledger.system_accounts(world["alpha"])["vouchers"], 5)])
    for bad in (unbalanced, foreign, system_only):
        with pytest.raises(ledger.LedgerError):
            ledger.post_many(world["alpha"], good + [bad])
        db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Posting)) == before
    assert ledger.post_many(world["alpha"], []) == []


def test_legs_that_name_an_account_twice_are_merged_into_one_posting_as_post_merges_them(world, db):
    issuance = ledger.system_accounts(world["alpha"])["issuance"]
    a1, a2 = ledger.household_account_id(world["a1"]), ledger.household_account_id(world["a2"])
    posted = ledger.post_many(world["alpha"], [
        ledger.Entry("award", [(issuance, -5), (a1, 3), (a1, 2)], reference=("record", 1)),
        ledger.Entry("transfer", [(a2, 4), (a1, -4), (issuance, 0)], reference=("record", 2))])
    db.session.commit()

    legs = db.session.execute(sa.select(Posting.transaction_id, Posting.account_id, Posting.points)
                              .where(Posting.transaction_id.in_([p.transaction_id for p in posted]))
                              .order_by(Posting.id)).all()
    assert [(r.account_id, r.points) for r in legs] == sorted([(issuance, -5), (a1, 5)]) + sorted([(a1, -4), (a2, 4)])
    assert posted[1].balances == {a1: 101, a2: 104}
    assert verify().ok
