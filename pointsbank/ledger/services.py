"""Moving points: the one function that writes postings, and what is built on it.

``post(community_id, "award", [(issuance, -6), (household_account, +6)])`` writes one
transaction whose legs sum to zero, locks the household/shop accounts it touches in id
order (PostgreSQL ``FOR UPDATE``; SQLite holds its write lock from ``BEGIN IMMEDIATE``),
updates their cached balances and extends their hash chains — all in the caller's unit of
work. System accounts are never locked. A caller that must not take an account below a floor
(a voucher may only draw redeemable points) passes ``minimums={account_id: floor}`` and gets
:class:`InsufficientPoints` instead of a posting.

Four statements per transaction on the hot path: lock, insert transaction, insert postings,
update balances (SQLAlchemy Core: the ORM's unit of work costs more than the work here).
:func:`post_many` writes many transactions of one community the same way with the same four
statements for all of them (a bulk import), exactly as the same calls of :func:`post` in a row would.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from flask_babel import lazy_gettext as _l

from pointsbank import clock
from pointsbank.errors import Conflict, NotFound, Unprocessable
from pointsbank.database import UTCDateTime, dialect_name, execute, is_postgresql, lock_for_update, next_ids
from pointsbank.extensions import db
from pointsbank.ledger.locks import (Locks, lock, lock_accounts, locked_columns,  # noqa: F401 (the ledger API)
                                    next_transaction_id)
from pointsbank.ledger.models import CHAINED_KINDS, Account, LedgerTransaction, Posting

SYSTEM_KINDS = ("issuance", "vouchers", "settled")


class LedgerError(RuntimeError):
    """A programming error: unbalanced legs, accounts of another community. Never user input."""


class InsufficientPoints(Unprocessable):
    code = "insufficient_points"
    message = _l("Not enough redeemable points: %(available)s available.")


class AlreadyReversed(Conflict):
    code = "already_reversed"
    message = _l("This transaction has already been reversed.")


@dataclass(frozen=True)
class Posted:
    transaction_id: int
    created_at: datetime
    #: balance after the transaction, per chained account
    balances: Mapping[int, int] = field(default_factory=dict)


# --- accounts ------------------------------------------------------------------------------

_system_cache: dict[tuple[str, int], dict[str, int]] = {}


def ensure_system_accounts(community_id: int) -> dict[str, int]:
    existing = {a.kind: a.id for a in db.session.scalars(
        sa.select(Account).where(Account.community_id == community_id, Account.kind.in_(SYSTEM_KINDS)))}
    for kind in SYSTEM_KINDS:
        if kind not in existing:
            account = Account(community_id=community_id, kind=kind, key=kind, balance=0)
            db.session.add(account)
            db.session.flush()
            existing[kind] = account.id
    return existing


def system_accounts(community_id: int) -> dict[str, int]:
    """kind → account id of a community's system accounts (ids never change, so cached per engine)."""
    cache_key = (str(db.engine.url), community_id)
    found = _system_cache.get(cache_key)
    if found is None:
        found = dict(db.session.execute(sa.select(Account.kind, Account.id).where(
            Account.community_id == community_id, Account.kind.in_(SYSTEM_KINDS))).tuples().all())
        if len(found) != len(SYSTEM_KINDS):
            raise LedgerError(f"community {community_id} has no system accounts")
        _system_cache[cache_key] = found
    return found


def open_household_account(household_id: int, community_id: int, base_points: int, actor_id: int | None) -> Account:
    """The household's account, with its opening transaction (the base, from issuance)."""
    account = Account(community_id=community_id, kind="household", key=f"household:{household_id}",
                      household_id=household_id, balance=0)
    db.session.add(account)
    db.session.flush()
    if base_points:
        post(community_id, "opening", [(system_accounts(community_id)["issuance"], -base_points),
                                       (account.id, base_points)],
             actor_id=actor_id, reference=("household", household_id))
    return account


def shop_account(community_id: int, shop_id: int, *, create: bool = True) -> int:
    account_id = db.session.scalar(sa.select(Account.id).where(
        Account.community_id == community_id, Account.key == f"shop:{shop_id}"))
    if account_id is None:
        if not create:
            raise NotFound()
        account = Account(community_id=community_id, kind="shop", key=f"shop:{shop_id}", shop_id=shop_id, balance=0)
        db.session.add(account)
        db.session.flush()
        account_id = account.id
    return account_id


def household_account_id(household_id: int) -> int:
    account_id = db.session.scalar(sa.select(Account.id).where(Account.household_id == household_id))
    if account_id is None:
        raise NotFound()
    return account_id


def lock_household_accounts(household_ids: Iterable[int]) -> dict[int, Any]:
    """Lock the households' ledger accounts in id order (:func:`locks.lock`) and return household
    id → the locked row, which :func:`post` takes as ``locked`` instead of locking again."""
    return lock(household_ids=household_ids).households


def household_balance(household_id: int) -> int:
    balance = db.session.scalar(sa.select(Account.balance).where(Account.household_id == household_id))
    return int(balance or 0)


def account_balance(account_id: int) -> int:
    """Sum of postings: the truth for any account, system accounts included."""
    return int(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Posting.points), 0)).where(
        Posting.account_id == account_id)) or 0)


# --- transactions --------------------------------------------------------------------------

def transaction_digest(community_id: int, kind: str, reference_type: str | None, reference_id: str | None,
                       reversal_of_id: int | None, actor_id: int | None, created_at: datetime,
                       legs: Iterable[tuple[int, int]]) -> str:
    text = "|".join([
        str(community_id), kind, reference_type or "", reference_id or "", str(reversal_of_id or ""),
        str(actor_id or ""), created_at.isoformat(),
        ";".join(f"{a}:{p}" for a, p in sorted(legs)),
    ])
    return hashlib.sha256(text.encode()).hexdigest()


def posting_hash(prev_hash: str | None, transaction_id: int, digest: str, account_id: int,
                 points: int, balance_after: int) -> str:
    text = f"{prev_hash or ''}|{transaction_id}|{digest}|{account_id}|{points}|{balance_after}"
    return hashlib.sha256(text.encode()).hexdigest()


def _merge(legs: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: dict[int, int] = {}
    for account_id, points in legs:
        if not isinstance(points, int) or isinstance(points, bool):
            raise LedgerError("points must be integers")
        merged[account_id] = merged.get(account_id, 0) + points
    return sorted((a, p) for a, p in merged.items() if p != 0)


def post(community_id: int, kind: str, legs: Sequence[tuple[int, int]], *, actor_id: int | None = None,
         reference: tuple[str, object] | None = None, reversal_of_id: int | None = None,
         memo: str | None = None, minimums: Mapping[int, int] | None = None,
         locked: Mapping[int, Any] | None = None) -> Posted:
    """``locked``: the handle :func:`lock` returned in this transaction (or rows of it, account
    id → row), when the caller locked the accounts already and nothing moved them since: the
    lock statement is then not sent again, and the transaction id it drew is used."""
    legs = _merge(legs)
    if len(legs) < 2 or sum(p for _, p in legs) != 0:
        raise LedgerError(f"a transaction needs two or more legs summing to zero, got {legs}")
    system_ids = set(system_accounts(community_id).values())
    chained_ids = [a for a, _ in legs if a not in system_ids]
    if not chained_ids:
        raise LedgerError("every transaction must touch a household or shop account")

    if locked is not None and all(a in locked for a in chained_ids):
        rows = {a: locked[a] for a in chained_ids}
    else:
        rows = {r.id: r for r in execute(_lock_statement(), {"ids": chained_ids})}
    if len(rows) != len(chained_ids) or any(
            r.community_id != community_id or r.kind not in CHAINED_KINDS for r in rows.values()):
        raise LedgerError("legs must be accounts of the transaction's community")

    deltas = dict(legs)
    balances = {a: int(rows[a].balance) + deltas[a] for a in chained_ids}
    for account_id, floor in (minimums or {}).items():
        if account_id in balances and balances[account_id] < floor:
            available = max(0, int(rows[account_id].balance) - floor)
            raise InsufficientPoints(available=available, details={"available": available})

    created_at = clock.now()
    ref_type, ref_id = (reference[0], str(reference[1])) if reference else (None, None)
    digest = transaction_digest(community_id, kind, ref_type, ref_id, reversal_of_id, actor_id, created_at, legs)
    transaction = {"community_id": community_id, "kind": kind, "reference_type": ref_type, "reference_id": ref_id,
                   "actor_id": actor_id, "reversal_of_id": reversal_of_id, "memo": memo, "digest": digest,
                   "created_at": created_at}
    drawn = getattr(rows[chained_ids[0]], "next_transaction_id", None)
    if drawn is None:  # rows locked by a statement that drew no id: the transaction's id comes from its insert
        transaction_id = execute(_transaction_insert(), transaction).scalar_one()
    else:
        transaction_id = int(drawn)

    posting_rows, account_updates = [], []
    for account_id, points in legs:
        row: dict[str, object] = {"community_id": community_id, "transaction_id": transaction_id,
                                  "account_id": account_id, "points": points, "created_at": created_at,
                                  "balance_after": None, "hash": None}
        if account_id in balances:
            new_hash = posting_hash(rows[account_id].last_hash, transaction_id, digest, account_id, points,
                                    balances[account_id])
            row.update(balance_after=balances[account_id], hash=new_hash)
            account_updates.append({"b_id": account_id, "b_balance": balances[account_id], "b_hash": new_hash})
        posting_rows.append(row)
    if drawn is not None and is_postgresql():
        params = {"t_id": transaction_id, **transaction}
        for i, row in enumerate(posting_rows):
            params.update({f"a{i}": row["account_id"], f"p{i}": row["points"], f"b{i}": row["balance_after"],
                           f"h{i}": row["hash"]})
        for i, update in enumerate(account_updates):
            params.update({f"u{i}": update["b_id"], f"ub{i}": update["b_balance"], f"uh{i}": update["b_hash"]})
        execute(_write_statement(len(posting_rows), len(account_updates)), params)
    else:
        if drawn is not None:
            execute(sa.insert(LedgerTransaction.__table__), {"id": transaction_id, **transaction})
        # Core, not the ORM's bulk insert: that one splits rows by which values are None (two
        # statements for the household leg and the system leg); this is one executemany
        execute(sa.insert(Posting.__table__), posting_rows)
        execute(_balance_update(), account_updates)
    return Posted(transaction_id=transaction_id, created_at=created_at, balances=balances)


@functools.lru_cache(maxsize=16)
def _write_statement(postings: int, updates: int) -> sa.TextClause:
    """The whole transaction in one statement (PostgreSQL): the transaction row, its postings and
    the chained accounts' new balances and chain heads, as data-modifying CTEs (the foreign keys
    are checked at the end of the statement). One per shape (legs, chained accounts), built once."""
    ctes = ["t AS (INSERT INTO ledger_transactions (id, community_id, kind, reference_type, reference_id, "
            "actor_id, reversal_of_id, memo, digest, created_at) VALUES (:t_id, :community_id, :kind, "
            ":reference_type, :reference_id, :actor_id, :reversal_of_id, :memo, :digest, :created_at))",
            "p AS (INSERT INTO postings (community_id, transaction_id, account_id, points, created_at, "
            "balance_after, hash) VALUES " + ", ".join(
                f"(:community_id, :t_id, :a{i}, :p{i}, :created_at, :b{i}, :h{i})" for i in range(postings)) + ")"]
    ctes += [f"u{i} AS (UPDATE accounts SET balance = :ub{i}, last_hash = :uh{i} WHERE id = :u{i})"
             for i in range(updates)]
    typed = [sa.bindparam("created_at", type_=UTCDateTime)]
    typed += [sa.bindparam(f"b{i}", type_=sa.BigInteger) for i in range(postings)]
    typed += [sa.bindparam(f"p{i}", type_=sa.BigInteger) for i in range(postings)]
    typed += [sa.bindparam(f"h{i}", type_=sa.String) for i in range(postings)]
    return sa.text("WITH " + ", ".join(ctes) + " SELECT 1").bindparams(*typed)


@functools.lru_cache(maxsize=2)
def _lock_for(dialect: str) -> sa.Select:
    accounts = Account.__table__
    lock = (sa.select(*locked_columns(dialect))
            .where(accounts.c.id.in_(sa.bindparam("ids", expanding=True))).order_by(accounts.c.id))
    return lock_for_update(lock, dialect, of=accounts)


def _lock_statement() -> sa.Select:
    """The chained accounts of a transaction, locked in id order (built once per dialect)."""
    return _lock_for(dialect_name())


@functools.lru_cache(maxsize=1)
def _transaction_insert() -> sa.Insert:
    transactions = LedgerTransaction.__table__
    return sa.insert(transactions).returning(transactions.c.id)


@functools.lru_cache(maxsize=1)
def _balance_update() -> sa.Update:
    accounts = Account.__table__
    return sa.update(accounts).where(accounts.c.id == sa.bindparam("b_id")).values(
        balance=sa.bindparam("b_balance"), last_hash=sa.bindparam("b_hash"))


@dataclass(frozen=True)
class Entry:
    """One transaction for :func:`post_many`, with the arguments :func:`post` takes."""

    kind: str
    legs: Sequence[tuple[int, int]]
    actor_id: int | None = None
    reference: tuple[str, object] | None = None
    memo: str | None = None


#: rows per statement in :func:`post_many` (the IN list of the lock, the batches of inserts)
BULK_CHUNK = 2000


def insert_rows(table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Rows (tuples of values in the order of ``columns``, as Python gives them: aware
    datetimes, None for NULL, lists for JSON) into ``table``, in the session's transaction.
    PostgreSQL: one ``COPY``, each row sent as ``rows`` yields it, so a generator's work overlaps
    the server's; elsewhere: executemany in batches of ``BULK_CHUNK``."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    rows = itertools.chain((first,), rows)
    if not is_postgresql():
        statement = sa.insert(table)
        while batch := [dict(zip(columns, row)) for row in itertools.islice(rows, BULK_CHUNK)]:
            db.session.execute(statement, batch)
        return
    import psycopg
    from psycopg import sql

    as_json = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, sa.JSON)]
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    connection = db.session.connection().connection.dbapi_connection
    try:
        with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
            write = copy.write_row
            if not as_json:
                for row in rows:
                    write(row)
                return
            for row in rows:
                row = list(row)
                for i in as_json:
                    if row[i] is not None:
                        row[i] = json.dumps(row[i])
                write(row)
    except psycopg.Error as error:  # as SQLAlchemy would raise it: IntegrityError, OperationalError …
        raise sa_exc.DBAPIError.instance(copy_sql.as_string(connection), None, error, psycopg.Error) from error


_TRANSACTION_COLUMNS = ("id", "community_id", "kind", "reference_type", "reference_id", "actor_id", "memo", "digest",
                        "created_at")
#: no id: the table's default numbers them in the order written, which is each chain's order
_POSTING_COLUMNS = ("community_id", "transaction_id", "account_id", "points", "created_at", "balance_after", "hash")


def _entry_legs(legs: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """:func:`_merge` of one entry's legs; two plain legs on two accounts (an award) skip it."""
    if len(legs) == 2:
        (a, p), (b, q) = legs
        if a != b and type(p) is int and type(q) is int and p and q:
            return [(a, p), (b, q)] if a < b else [(b, q), (a, p)]
    return _merge(legs)


def post_many(community_id: int, entries: Sequence[Entry]) -> list[Posted]:
    """Many transactions of one community in the caller's unit of work, as if :func:`post`
    were called for each entry in order (same legs checks, digests, balances and hash chains;
    one ``created_at`` for all), with a handful of statements instead of four per transaction:
    lock every household/shop account touched (id order), draw the transaction ids, COPY the
    transactions, COPY the postings (digests and hash chains computed as they are sent), update
    each account once."""
    if not entries:
        return []
    system_ids = set(system_accounts(community_id).values())
    prepared: list[tuple[Entry, list[tuple[int, int]]]] = []
    touched: set[int] = set()
    for entry in entries:
        legs = _entry_legs(entry.legs)
        if len(legs) < 2 or sum(p for _, p in legs) != 0:
            raise LedgerError(f"a transaction needs two or more legs summing to zero, got {legs}")
        chained = [a for a, _ in legs if a not in system_ids]
        if not chained:
            raise LedgerError("every transaction must touch a household or shop account")
        touched.update(chained)
        prepared.append((entry, legs))

    accounts = Account.__table__
    ordered = sorted(touched)
    state: dict[int, list] = {}  # account id → [balance, last hash]
    for start in range(0, len(ordered), BULK_CHUNK):
        lock = sa.select(accounts.c.id, accounts.c.community_id, accounts.c.kind, accounts.c.balance,
                         accounts.c.last_hash).where(accounts.c.id.in_(ordered[start:start + BULK_CHUNK])
                                                     ).order_by(accounts.c.id)
        for row in db.session.execute(lock_for_update(lock)):
            if row.community_id != community_id or row.kind not in CHAINED_KINDS:
                raise LedgerError("legs must be accounts of the transaction's community")
            state[row.id] = [int(row.balance), row.last_hash]
    if len(state) != len(touched):
        raise LedgerError("legs must be accounts of the transaction's community")

    created_at = clock.now()
    transaction_ids = next_ids(LedgerTransaction.__table__, len(prepared))
    digests: list[str] = []
    results: list[Posted] = []

    def transactions():
        for transaction_id, (entry, legs) in zip(transaction_ids, prepared):
            ref_type, ref_id = (entry.reference[0], str(entry.reference[1])) if entry.reference else (None, None)
            digest = transaction_digest(community_id, entry.kind, ref_type, ref_id, None, entry.actor_id,
                                        created_at, legs)
            digests.append(digest)
            yield transaction_id, community_id, entry.kind, ref_type, ref_id, entry.actor_id, entry.memo, digest, \
                created_at

    def postings():
        for transaction_id, (_, legs), digest in zip(transaction_ids, prepared, digests):
            balances = {}
            for account_id, points in legs:
                chain = state.get(account_id)
                if chain is None:  # a system account: no balance, no chain
                    yield community_id, transaction_id, account_id, points, created_at, None, None
                    continue
                balance = chain[0] + points
                chain[0], chain[1] = balance, posting_hash(chain[1], transaction_id, digest, account_id, points,
                                                           balance)
                balances[account_id] = balance
                yield community_id, transaction_id, account_id, points, created_at, balance, chain[1]
            results.append(Posted(transaction_id=transaction_id, created_at=created_at, balances=balances))

    insert_rows(LedgerTransaction.__table__, _TRANSACTION_COLUMNS, transactions())
    insert_rows(Posting.__table__, _POSTING_COLUMNS, postings())
    _update_accounts(sorted(state.items()))
    return results


def _update_accounts(heads: list[tuple[int, list]]) -> None:
    """Each account's new balance and chain head (``[(id, [balance, last hash])]``): on PostgreSQL
    one ``UPDATE … FROM unnest(arrays)``, elsewhere executemany in batches."""
    if is_postgresql():
        db.session.execute(sa.text(
            "UPDATE accounts SET balance = heads.balance, last_hash = heads.last_hash "
            "FROM unnest(CAST(:ids AS bigint[]), CAST(:balances AS bigint[]), CAST(:hashes AS varchar[])) "
            "AS heads (id, balance, last_hash) WHERE accounts.id = heads.id"),
            {"ids": [a for a, _ in heads], "balances": [b for _, (b, _) in heads],
             "hashes": [h for _, (_, h) in heads]})
        return
    updates = [{"b_id": a, "b_balance": b, "b_hash": h} for a, (b, h) in heads]
    for start in range(0, len(updates), BULK_CHUNK):
        db.session.execute(_balance_update(), updates[start:start + BULK_CHUNK])


def reverse(transaction_id: int, *, community_id: int, actor_id: int | None, kind: str = "reversal",
            memo: str | None = None, reference: tuple[str, object] | None = None) -> Posted:
    """Undo a transaction with a new one pointing at it; a transaction is reversed at most once."""
    original = db.session.get(LedgerTransaction, transaction_id)
    if original is None or original.community_id != community_id:
        raise NotFound()
    if db.session.scalar(sa.select(LedgerTransaction.id).where(LedgerTransaction.reversal_of_id == transaction_id)):
        raise AlreadyReversed()
    legs = [(a, -p) for a, p in db.session.execute(
        sa.select(Posting.account_id, Posting.points).where(Posting.transaction_id == transaction_id))]
    return post(community_id, kind, legs, actor_id=actor_id, reversal_of_id=transaction_id, memo=memo,
                reference=reference or (original.reference_type, original.reference_id)
                if original.reference_type else reference)


def household_postings(account_id: int, *, limit: int, before_id: int | None) -> list[sa.Row]:
    """A household's history, newest first: each posting with its transaction's kind and reference."""
    stmt = (sa.select(Posting.id, Posting.points, Posting.balance_after, Posting.created_at,
                      LedgerTransaction.id.label("transaction_id"), LedgerTransaction.kind,
                      LedgerTransaction.reference_type, LedgerTransaction.reference_id, LedgerTransaction.memo,
                      LedgerTransaction.reversal_of_id)
            .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
            .where(Posting.account_id == account_id).order_by(Posting.id.desc()).limit(limit))
    if before_id is not None:
        stmt = stmt.where(Posting.id < before_id)
    return list(db.session.execute(stmt))
