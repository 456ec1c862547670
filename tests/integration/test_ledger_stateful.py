"""A Hypothesis state machine drives random awards, deductions, reversals, adjustments and
escrow draws over several households, and after every step checks the ledger's promises:
every transaction sums to zero, every cached balance equals the sum of its postings and the
model's expectation, and ``verify`` is clean."""

import itertools

import sqlalchemy as sa
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from pointsbank.auth.models import User
from pointsbank.community import services as community
from pointsbank.database import unit_of_work
from pointsbank.errors import DomainError
from pointsbank.extensions import db
from pointsbank.ledger import adjustments, services as ledger
from pointsbank.ledger.models import Account, Posting
from pointsbank.ledger.verify import verify

_numbers = itertools.count(1)


def run_machine(app, world):
    staff = db.session.get(User, world.users["staff_a2"])
    second = db.session.get(User, world.users["staff_a3"])
    community_id = world["alpha"]

    class LedgerMachine(RuleBasedStateMachine):
        @initialize()
        def households(self):
            self.expected = {}
            self.transactions = []  # (transaction_id, {household: delta}) not yet reversed
            for _ in range(3):
                number = f"H-{next(_numbers)}"
                created = unit_of_work(community.create_household)(None, community_id, number=number, head_name="户主")
                self.expected[created["id"]] = 100

        @rule(household=st.integers(0, 2), points=st.integers(1, 500), sign=st.sampled_from([1, -1]))
        def award_or_deduct(self, household, points, sign):
            hid = list(self.expected)[household]
            delta = sign * points

            def act():
                issuance = ledger.system_accounts(community_id)["issuance"]
                return ledger.post(community_id, "award" if sign > 0 else "deduction",
                                   [(issuance, -delta), (ledger.household_account_id(hid), delta)])
            posted = unit_of_work(act)()
            self.expected[hid] += delta
            self.transactions.append((posted.transaction_id, {hid: delta}))

        @precondition(lambda self: self.transactions)
        @rule(pick=st.integers(0, 10_000))
        def reverse(self, pick):
            transaction_id, deltas = self.transactions.pop(pick % len(self.transactions))
            unit_of_work(ledger.reverse)(transaction_id, community_id=community_id, actor_id=None)
            for hid, delta in deltas.items():
                self.expected[hid] -= delta

        @rule(household=st.integers(0, 2), points=st.integers(-200, 200).filter(bool))
        def adjustment(self, household, points):
            hid = list(self.expected)[household]
            made = unit_of_work(adjustments.request_adjustment)(staff, hid, points=points, reason="test")
            if made.status == "pending":
                unit_of_work(adjustments.approve_adjustment)(second, made.id)
            self.expected[hid] += points

        @rule(household=st.integers(0, 2), points=st.integers(1, 300))
        def draw_into_escrow(self, household, points):
            hid = list(self.expected)[household]

            def act():
                account = ledger.household_account_id(hid)
                vouchers = ledger.system_accounts(community_id)["vouchers"]
                return ledger.post(community_id, "voucher_issue", [(account, -points), (vouchers, points)],
                                   minimums={account: 100})
            try:
                posted = unit_of_work(act)()
            except DomainError as error:
                assert error.code == "insufficient_points"
                assert self.expected[hid] - points < 100
                return
            assert self.expected[hid] - points >= 100
            self.expected[hid] -= points
            self.transactions.append((posted.transaction_id, {hid: -points}))

        @invariant()
        def balances_match_the_model_and_the_postings(self):
            for hid, expected in self.expected.items():
                account = db.session.scalar(sa.select(Account).where(Account.household_id == hid))
                assert account.balance == expected
                assert ledger.account_balance(account.id) == expected

        @invariant()
        def every_transaction_sums_to_zero_and_verify_is_clean(self):
            unbalanced = db.session.execute(sa.select(Posting.transaction_id).group_by(Posting.transaction_id)
                                            .having(sa.func.sum(Posting.points) != 0)).all()
            assert unbalanced == []
            report = verify(community_id)
            assert report.ok, report.differences[:3]
            db.session.rollback()

    LedgerMachine.TestCase.settings = settings(max_examples=15, stateful_step_count=12, deadline=None,
                                               suppress_health_check=list(HealthCheck))
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(LedgerMachine, settings=LedgerMachine.TestCase.settings)


def test_random_ledger_operations_never_create_or_lose_a_point(app, world):
    run_machine(app, world)
