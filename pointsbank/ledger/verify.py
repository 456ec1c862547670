"""``pointsbank ledger verify``: recompute everything the ledger promises.

1. every transaction's postings sum to zero (one SQL ``GROUP BY … HAVING``);
2. every transaction's stored digest matches its legs (streamed in transaction order);
3. every household/shop account's hash chain and ``balance_after`` recompute, and its
   cached balance equals the sum of its postings (streamed in account order).

Rows are streamed with server-side cursors (``yield_per``), so memory stays bounded whatever
the size of the ledger; only one transaction's or one account's state is held at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import sqlalchemy as sa

from pointsbank.extensions import db
from pointsbank.ledger.models import CHAINED_KINDS, Account, LedgerTransaction, Posting
from pointsbank.ledger.posting import posting_hash, transaction_digest

BATCH = 5000


@dataclass(frozen=True)
class Difference:
    check: str
    account_id: int | None
    posting_id: int | None
    transaction_id: int | None
    expected: str
    found: str

    def __str__(self) -> str:
        where = ", ".join(f"{k} {v}" for k, v in (("account", self.account_id), ("posting", self.posting_id),
                                                  ("transaction", self.transaction_id)) if v is not None)
        return f"{self.check}: {where}: expected {self.expected}, found {self.found}"


@dataclass
class Report:
    postings: int = 0
    transactions: int = 0
    accounts: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def verify(community_id: int | None = None, progress: Callable[[int], None] | None = None,
           max_differences: int = 1000) -> Report:
    report = Report()

    def differ(d: Difference) -> None:
        if len(report.differences) < max_differences:
            report.differences.append(d)

    scope_p = (Posting.community_id == community_id) if community_id is not None else sa.true()
    scope_t = (LedgerTransaction.community_id == community_id) if community_id is not None else sa.true()
    scope_a = (Account.community_id == community_id) if community_id is not None else sa.true()

    # 1. zero sums
    for tx_id, total in db.session.execute(
            sa.select(Posting.transaction_id, sa.func.sum(Posting.points)).where(scope_p)
            .group_by(Posting.transaction_id).having(sa.func.sum(Posting.points) != 0)):
        differ(Difference("zero_sum", None, None, tx_id, "0", str(total)))

    # 2. transaction digests, streamed in transaction order
    stmt = (sa.select(LedgerTransaction.id, LedgerTransaction.community_id, LedgerTransaction.kind,
                      LedgerTransaction.reference_type, LedgerTransaction.reference_id,
                      LedgerTransaction.reversal_of_id, LedgerTransaction.actor_id, LedgerTransaction.created_at,
                      LedgerTransaction.digest, Posting.account_id, Posting.points)
            .join(Posting, sa.and_(Posting.community_id == LedgerTransaction.community_id,
                                   Posting.transaction_id == LedgerTransaction.id)).where(scope_t)
            .order_by(LedgerTransaction.id, Posting.account_id))
    current, legs = None, []
    for row in _stream(stmt):
        if current is not None and row.id != current.id:
            _check_digest(current, legs, differ)
            report.transactions += 1
            legs = []
        current = row
        legs.append((row.account_id, row.points))
    if current is not None:
        _check_digest(current, legs, differ)
        report.transactions += 1

    # 3. chains and cached balances, streamed in account order
    stmt = (sa.select(Account.id.label("account_id"), Account.balance, Account.last_hash, Posting.id, Posting.points,
                      Posting.balance_after, Posting.hash, Posting.transaction_id, LedgerTransaction.digest)
            .join(Posting, sa.and_(Posting.community_id == Account.community_id, Posting.account_id == Account.id))
            .join(LedgerTransaction, sa.and_(LedgerTransaction.community_id == Posting.community_id,
                                             LedgerTransaction.id == Posting.transaction_id))
            .where(scope_a, Account.kind.in_(CHAINED_KINDS)).order_by(Account.id, Posting.id))
    account, running, prev_hash, last_row = None, 0, None, None
    for row in _stream(stmt):
        report.postings += 1
        if progress and report.postings % BATCH == 0:
            progress(report.postings)
        if row.account_id != account:
            if last_row is not None:
                _close_account(last_row, running, prev_hash, differ)
                report.accounts += 1
            account, running, prev_hash = row.account_id, 0, None
        running += row.points
        if row.balance_after != running:
            differ(Difference("balance_after", row.account_id, row.id, row.transaction_id, str(running),
                              str(row.balance_after)))
        expected = posting_hash(prev_hash, row.transaction_id, row.digest, row.account_id, row.points,
                                row.balance_after if row.balance_after is not None else running)
        if row.hash != expected:
            differ(Difference("hash_chain", row.account_id, row.id, row.transaction_id, expected, str(row.hash)))
        prev_hash = row.hash
        last_row = row
    if last_row is not None:
        _close_account(last_row, running, prev_hash, differ)
        report.accounts += 1

    # accounts with a cached balance but no postings
    for account_id, balance in db.session.execute(
            sa.select(Account.id, Account.balance).where(scope_a, Account.kind.in_(CHAINED_KINDS), Account.balance != 0,
                                                       ~sa.exists().where(Posting.community_id == Account.community_id,
                                                                          Posting.account_id == Account.id))):
        differ(Difference("cached_balance", account_id, None, None, "0", str(balance)))
    # postings of system accounts count too
    report.postings += int(db.session.scalar(sa.select(sa.func.count()).select_from(Posting).join(
        Account, sa.and_(Account.community_id == Posting.community_id, Account.id == Posting.account_id))
        .where(scope_p, Account.kind.notin_(CHAINED_KINDS))) or 0)
    return report


def _stream(stmt: sa.Select) -> Iterator[sa.Row]:
    result = db.session.execute(stmt.execution_options(yield_per=BATCH, stream_results=True))
    yield from result


def _check_digest(tx: sa.Row, legs: list[tuple[int, int]], differ: Callable[[Difference], None]) -> None:
    expected = transaction_digest(tx.community_id, tx.kind, tx.reference_type, tx.reference_id, tx.reversal_of_id,
                                  tx.actor_id, tx.created_at, legs)
    if expected != tx.digest:
        differ(Difference("transaction_digest", None, None, tx.id, expected, tx.digest))


def _close_account(row: sa.Row, running: int, prev_hash: str | None, differ: Callable[[Difference], None]) -> None:
    if row.balance != running:
        differ(Difference("cached_balance", row.account_id, None, None, str(running), str(row.balance)))
    if row.last_hash != prev_hash:
        differ(Difference("last_hash", row.account_id, row.id, None, str(prev_hash), str(row.last_hash)))
