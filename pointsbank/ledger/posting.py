"""Moving points: the one entry point that locks a transaction's accounts and draws its id, and
the one core that writes postings, for one transaction or many.

``locks = lock(household_ids=[h], shop=(community_id, shop_id))`` sends one statement: the
households' and the shop's accounts, locked in id order (PostgreSQL ``FOR UPDATE``; SQLite holds
its write lock from ``BEGIN IMMEDIATE``), with their balances and chain heads and the id the next
ledger transaction will have. :func:`post` takes the handle as ``locked`` and then neither locks
again nor draws an id. ``draw=(table, label)`` draws the id of another row in the same statement
(a behaviour record that references the transaction). No module outside the ledger builds a lock
statement over ``accounts`` or selects its columns for one. The lock and the post that reads its
rows live here together: what a lock statement selects (:func:`locked_columns`) is what
:func:`_heads` checks and advances, so a change to either is made in one module.

``post(community_id, "award", [(issuance, -6), (household_account, +6)])`` writes one
transaction whose legs sum to zero, locks the household/shop accounts it touches in id
order (:func:`lock`; SQLite holds its write lock from ``BEGIN IMMEDIATE``),
updates their cached balances and extends their hash chains — all in the caller's unit of
work. System accounts are never locked. A caller that must not take an account below a floor
(a voucher may only draw redeemable points) passes ``minimums={account_id: floor}`` and gets
:class:`InsufficientPoints` instead of a posting.

On PostgreSQL, with the accounts locked by :func:`lock` (which drew the
transaction's id), a transaction is one more statement: the transaction row, its postings and
the accounts' new balances and chain heads as data-modifying CTEs; elsewhere, or when the id
was not drawn, three (insert the transaction, its postings, update the balances) after the lock.
:func:`post_many` writes many transactions of one community with a handful of statements for
all of them (a bulk import), exactly as the same calls of :func:`post` in a row would.

Both go through one core — :func:`_chained` (the legs' checks), :func:`_heads` (the locked
accounts' checks), :func:`_transaction_row` (the digest), :func:`_posting_rows` (balances and
hash chains) — and both write the columns :data:`TRANSACTION_COLUMNS` and :data:`POSTING_COLUMNS`
name: a change to a transaction's or a posting's columns is made there, once.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from pointsbank import clock
from pointsbank.bulk import insert_rows
from pointsbank.database import (dialect_name, execute, is_citus, is_postgresql, lock_for_update, next_id_column,
                                 next_ids)
from pointsbank.errors import Conflict, NotFound, Unprocessable
from pointsbank.extensions import db
from pointsbank.ledger.accounts import LedgerError, new_household_account, system_accounts
from pointsbank.ledger.models import CHAINED_KINDS, Account, LedgerTransaction, Posting


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


@dataclass(frozen=True)
class Entry:
    """One transaction for :func:`post_many`, with the arguments :func:`post` takes."""

    kind: str
    legs: Sequence[tuple[int, int]]
    actor_id: int | None = None
    reference: tuple[str, object] | None = None
    memo: str | None = None


class _Transaction(NamedTuple):
    """A ledger transaction's row, in the order of :data:`TRANSACTION_COLUMNS`."""

    id: int | None
    community_id: int
    kind: str
    reference_type: str | None
    reference_id: str | None
    actor_id: int | None
    reversal_of_id: int | None
    memo: str | None
    digest: str
    created_at: datetime


#: the columns of a transaction's row and of a posting's row, as both paths write them
TRANSACTION_COLUMNS: tuple[str, ...] = _Transaction._fields
#: no id: the table's default numbers them in the order written, which is each chain's order
POSTING_COLUMNS = ("community_id", "transaction_id", "account_id", "points", "created_at", "balance_after", "hash")

#: rows per statement in :func:`post_many` (the IN list of the lock, the batches of updates)
BULK_CHUNK = 2000


# --- locks and ids: the one entry point -------------------------------------------------

#: household accounts locked per statement when many are locked at once (a bulk import)
LOCK_CHUNK = 1000


class Locks(dict):
    """The handle :func:`lock` returns: account id → locked row (id, community_id, kind, balance,
    last_hash, household_id, next_transaction_id and any drawn id), which ``post`` takes as
    ``locked``; and by owner: :attr:`households` (household id → row), :attr:`shop_account`."""

    def __init__(self, rows: Iterable[Any] = (), shop_key: str | None = None) -> None:
        super().__init__()
        self.households: dict[int, Any] = {}
        self.shop_account: int | None = None
        for row in rows:
            self[row.id] = row
            if row.household_id is not None:
                self.households[row.household_id] = row
            elif shop_key is not None:
                self.shop_account = row.id


def next_transaction_id(dialect: str) -> sa.Label:
    """A column for a lock statement: the id the next ledger transaction will have, drawn once
    per statement (PostgreSQL: ``nextval`` in an InitPlan; SQLite: max + 1 under its write lock).
    ``post`` given rows that carry it writes the whole transaction — transaction, postings,
    balances — in one statement on PostgreSQL. Rows of one lock statement serve one ``post``."""
    return next_id_column(LedgerTransaction.__table__, dialect, "next_transaction_id")


def locked_columns(dialect: str) -> list[Any]:
    """What a lock statement over ``accounts`` selects so that its rows can be handed to ``post``
    as ``locked``: id, community, kind, balance, chain head, and the id drawn for the transaction."""
    accounts = Account.__table__
    return [accounts.c.id, accounts.c.community_id, accounts.c.kind, accounts.c.balance, accounts.c.last_hash,
            next_transaction_id(dialect)]


class _Drawn:
    """A locked row with the ids drawn apart from its lock statement (on Citus, see :func:`lock`)."""

    def __init__(self, row: Any, **drawn: int) -> None:
        self.__dict__.update(row._mapping, **drawn)


def _draws_in_lock(dialect: str) -> bool:
    """Whether a lock statement draws ids itself (``nextval`` in an InitPlan). Not on Citus: there
    the statement runs on the shard's worker, whose sequences hand out another range (2^48 × its
    group), so transaction ids would no longer follow the order they were written in; the ids
    are drawn on the coordinator instead, one statement more (:func:`next_ids`)."""
    return dialect != "postgresql" or not is_citus()


@functools.lru_cache(maxsize=32)
def _statement(dialect: str, households: str, shop: bool, draw: tuple[sa.Table, str] | None,
               draws: bool = True) -> sa.Select:
    """Built once per shape: ``households`` is "none", "one" (``= :household_id``) or "many"
    (an expanding ``IN``); ``shop`` adds the shop's account by its key; every shape names the
    community (one shard on Citus)."""
    accounts = Account.__table__
    columns = [*(locked_columns(dialect) if draws else _head_columns()), accounts.c.household_id]
    if draw is not None and draws:
        columns.append(next_id_column(draw[0], dialect, draw[1]))
    owners = []
    if households == "one":
        owners.append(accounts.c.household_id == sa.bindparam("household_id"))
    elif households == "many":
        owners.append(accounts.c.household_id.in_(sa.bindparam("household_ids", expanding=True)))
    if shop:
        owners.append(accounts.c.key == sa.bindparam("shop_key"))
    stmt = (sa.select(*columns).where(accounts.c.community_id == sa.bindparam("community_id"), sa.or_(*owners))
            .order_by(accounts.c.id))
    return lock_for_update(stmt, dialect, of=accounts)


def lock(community_id: int, *, household_ids: Iterable[int] = (), shop: int | None = None,
         draw: tuple[sa.Table, str] | None = None) -> Locks:
    """Lock the accounts of these households of the community and of this shop (its id) in one
    statement, drawing the next ledger transaction's id (and ``draw``'s, an attribute named
    ``draw[1]`` on every row). An account that does not exist is simply absent from the handle."""
    ids = sorted(set(household_ids))
    if not ids and shop is None:
        return Locks()  # nothing to lock: no statement
    params: dict[str, Any] = {"community_id": community_id}
    shop_key = None
    if shop is not None:
        shop_key = f"shop:{shop}"
        params["shop_key"] = shop_key
    dialect = dialect_name()
    draws = _draws_in_lock(dialect)
    if len(ids) > LOCK_CHUNK:
        if shop is not None or draw is not None:
            raise ValueError(f"a shop or a drawn id is locked with at most {LOCK_CHUNK} households")
        rows: list[Any] = []
        for start in range(0, len(ids), LOCK_CHUNK):
            rows += execute(_statement(dialect, "many", False, None, draws),
                            {**params, "household_ids": ids[start:start + LOCK_CHUNK]})
        return Locks(rows)
    if len(ids) == 1:
        params["household_id"] = ids[0]
    elif ids:
        params["household_ids"] = ids
    shape = "one" if len(ids) == 1 else "many" if ids else "none"
    rows = execute(_statement(dialect, shape, shop is not None, draw, draws), params).all()
    if not draws and rows:
        drawn = {"next_transaction_id": next_ids(LedgerTransaction.__table__, 1)[0]}
        if draw is not None:
            drawn[draw[1]] = next_ids(draw[0], 1)[0]
        rows = [_Drawn(row, **drawn) for row in rows]
    return Locks(rows, shop_key)


def lock_household_accounts(community_id: int, household_ids: Iterable[int]) -> dict[int, Any]:
    """Lock the community's households' ledger accounts in id order (:func:`lock`) and return
    household id → the locked row, which ``post`` takes as ``locked`` instead of locking again."""
    return lock(community_id, household_ids=household_ids).households


def _head_columns() -> list[Any]:
    accounts = Account.__table__
    return [accounts.c.id, accounts.c.community_id, accounts.c.kind, accounts.c.balance, accounts.c.last_hash]


@functools.lru_cache(maxsize=4)
def _by_id(dialect: str, draws: bool = True) -> sa.Select:
    accounts = Account.__table__
    stmt = (sa.select(*(locked_columns(dialect) if draws else _head_columns()))
            .where(accounts.c.community_id == sa.bindparam("community_id"),
                   accounts.c.id.in_(sa.bindparam("ids", expanding=True))).order_by(accounts.c.id))
    return lock_for_update(stmt, dialect, of=accounts)


def lock_by_id(community_id: int, account_ids: Sequence[int]) -> list[Any]:
    """Lock these accounts of the community (ids ascending) in id order and draw the next
    transaction's id (not on Citus: ``post`` then takes it from its insert): what ``post`` sends
    when its caller did not :func:`lock` the accounts first. Rows as :func:`lock`'s."""
    dialect = dialect_name()
    return execute(_by_id(dialect, _draws_in_lock(dialect)), {"community_id": community_id, "ids": account_ids}).all()


@functools.lru_cache(maxsize=2)
def _heads_by_id(dialect: str) -> sa.Select:
    accounts = Account.__table__
    stmt = (sa.select(*_head_columns())
            .where(accounts.c.community_id == sa.bindparam("community_id"),
                   accounts.c.id.in_(sa.bindparam("ids", expanding=True))).order_by(accounts.c.id))
    return lock_for_update(stmt, dialect, of=accounts)


def lock_many(community_id: int, account_ids: Iterable[int], chunk: int = LOCK_CHUNK) -> list[Any]:
    """Lock many accounts of the community in id order, ``chunk`` per statement, drawing no id
    (``post_many`` draws its transactions' ids at once): rows of id, community_id, kind, balance, last_hash."""
    ids = sorted(set(account_ids))
    statement = _heads_by_id(dialect_name())
    rows: list[Any] = []
    for start in range(0, len(ids), chunk):
        rows += db.session.execute(statement, {"community_id": community_id,  # as the ORM session: flushes first
                                               "ids": ids[start:start + chunk]})
    return rows


@functools.lru_cache(maxsize=2)
def _accounts_by_id(dialect: str) -> sa.Select:
    accounts = Account.__table__
    return lock_for_update(sa.select(accounts.c.id).where(accounts.c.community_id == sa.bindparam("community_id"),
                                                          accounts.c.id.in_(sa.bindparam("ids", expanding=True)))
                           .order_by(accounts.c.id), dialect)


def lock_accounts(account_ids: Mapping[int, Iterable[int]]) -> None:
    """Lock these accounts (community id → its account ids), whatever their owners, community by
    community in id order: an offline sync holds a shop's accounts in several communities and
    many households' before it posts several transactions; each ``post`` then finds them already
    held. One statement per community (one shard each on Citus, which refuses a ``FOR UPDATE``
    over several)."""
    statement = _accounts_by_id(dialect_name())
    for community_id in sorted(account_ids):
        ids = sorted(set(account_ids[community_id]))
        if ids:
            execute(statement, {"community_id": community_id, "ids": ids}).all()


# --- the core ------------------------------------------------------------------------------

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


def _entry_legs(legs: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """:func:`_merge` of one entry's legs; two plain legs on two accounts (an award) skip it."""
    if len(legs) == 2:
        (a, p), (b, q) = legs
        if a != b and type(p) is int and type(q) is int and p and q:
            return [(a, p), (b, q)] if a < b else [(b, q), (a, p)]
    return _merge(legs)


def _chained(legs: list[tuple[int, int]], system_ids: set[int]) -> list[int]:
    """The household/shop accounts of merged legs (in id order), after the legs' checks."""
    if len(legs) < 2 or sum(p for _, p in legs) != 0:
        raise LedgerError(f"a transaction needs two or more legs summing to zero, got {legs}")
    chained = [a for a, _ in legs if a not in system_ids]
    if not chained:
        raise LedgerError("every transaction must touch a household or shop account")
    return chained


def _heads(rows: Iterable[Any], community_id: int, expected: int) -> dict[int, list]:
    """Locked account rows → account id → ``[balance, last hash]``, the chain heads the core
    advances; every row an account of the community that has a chain, and ``expected`` of them."""
    heads: dict[int, list] = {}
    for row in rows:
        if row.community_id != community_id or row.kind not in CHAINED_KINDS:
            raise LedgerError("legs must be accounts of the transaction's community")
        heads[row.id] = [int(row.balance), row.last_hash]
    if len(heads) != expected:
        raise LedgerError("legs must be accounts of the transaction's community")
    return heads


def _transaction_row(transaction_id: int | None, community_id: int, kind: str,
                     reference: tuple[str, object] | None, actor_id: int | None, reversal_of_id: int | None,
                     memo: str | None, created_at: datetime, legs: list[tuple[int, int]]) -> _Transaction:
    ref_type, ref_id = (reference[0], str(reference[1])) if reference else (None, None)
    digest = transaction_digest(community_id, kind, ref_type, ref_id, reversal_of_id, actor_id, created_at, legs)
    return _Transaction(transaction_id, community_id, kind, ref_type, ref_id, actor_id, reversal_of_id, memo,
                        digest, created_at)


def _posting_rows(transaction: _Transaction, legs: list[tuple[int, int]],
                  heads: dict[int, list]) -> tuple[list[tuple], dict[int, int]]:
    """The transaction's postings (tuples in the order of :data:`POSTING_COLUMNS`), advancing the
    chained accounts' ``heads`` in place; and the balance after, per chained account."""
    transaction_id, community_id, digest, created_at = (transaction.id, transaction.community_id,
                                                        transaction.digest, transaction.created_at)
    rows: list[tuple] = []
    balances: dict[int, int] = {}
    for account_id, points in legs:
        head = heads.get(account_id)
        if head is None:  # a system account: no balance, no chain
            rows.append((community_id, transaction_id, account_id, points, created_at, None, None))
            continue
        balance = head[0] + points
        head[0], head[1] = balance, posting_hash(head[1], transaction_id, digest, account_id, points, balance)
        balances[account_id] = balance
        rows.append((community_id, transaction_id, account_id, points, created_at, balance, head[1]))
    return rows, balances


# --- one transaction -----------------------------------------------------------------------

def post(community_id: int, kind: str, legs: Sequence[tuple[int, int]], *, actor_id: int | None = None,
         reference: tuple[str, object] | None = None, reversal_of_id: int | None = None,
         memo: str | None = None, minimums: Mapping[int, int] | None = None,
         locked: Mapping[int, Any] | None = None) -> Posted:
    """``locked``: the handle :func:`lock` returned in this transaction
    (or rows of it, account id → row), when the caller locked the accounts already and nothing
    moved them since: the lock statement is then not sent again, and the transaction id it drew is used."""
    legs = _merge(legs)
    chained_ids = _chained(legs, set(system_accounts(community_id).values()))
    if locked is not None and all(a in locked for a in chained_ids):
        rows = [locked[a] for a in chained_ids]
    else:
        rows = lock_by_id(community_id, chained_ids)
    heads = _heads(rows, community_id, len(chained_ids))
    if minimums:
        deltas = dict(legs)
        for account_id, floor in minimums.items():
            head = heads.get(account_id)
            if head is not None and head[0] + deltas[account_id] < floor:
                available = max(0, head[0] - floor)
                raise InsufficientPoints(available=available, details={"available": available})

    drawn = getattr(rows[0], "next_transaction_id", None)
    transaction = _transaction_row(None if drawn is None else int(drawn), community_id, kind, reference, actor_id,
                                   reversal_of_id, memo, clock.now(), legs)
    if drawn is None:  # rows locked by a statement that drew no id: the transaction's id comes from its insert
        transaction = transaction._replace(id=execute(_transaction_insert(), dict(
            zip(TRANSACTION_COLUMNS[1:], transaction[1:]))).scalar_one())
    postings, balances = _posting_rows(transaction, legs, heads)
    if drawn is not None and is_postgresql():
        statement, transaction_keys, posting_keys, update_keys = _write_statement(len(postings), len(heads))
        params = dict(zip(transaction_keys, transaction))
        for keys, row in zip(posting_keys, postings):
            params.update(zip(keys, row))
        for keys, (account_id, (balance, last_hash)) in zip(update_keys, heads.items()):
            params.update(zip(keys, (account_id, balance, last_hash)))
        execute(statement, params)
    else:
        if drawn is not None:
            execute(_transaction_insert_with_id(), dict(zip(TRANSACTION_COLUMNS, transaction)))
        # Core, not the ORM's bulk insert: that one splits rows by which values are None (two
        # statements for the household leg and the system leg); this is one executemany
        execute(_posting_insert(), [dict(zip(POSTING_COLUMNS, row)) for row in postings])
        execute(_balance_update(), [{"b_community_id": community_id, "b_id": a, "b_balance": b, "b_hash": h}
                                    for a, (b, h) in heads.items()])
    return Posted(transaction_id=transaction.id, created_at=transaction.created_at, balances=balances)


@functools.lru_cache(maxsize=16)
def _write_statement(postings: int, updates: int) -> tuple[sa.TextClause, tuple[str, ...],
                                                         list[tuple[str, ...]], list[tuple[str, ...]]]:
    """The whole transaction in one statement (PostgreSQL): the transaction row, its postings and
    the chained accounts' new balances and chain heads, as data-modifying CTEs (the foreign keys
    are checked at the end of the statement). One per shape (legs, chained accounts), built once
    from :data:`TRANSACTION_COLUMNS` and :data:`POSTING_COLUMNS`, with its parameters' names."""
    transactions, posting_table = LedgerTransaction.__table__, Posting.__table__
    transaction_keys = tuple(f"t_{c}" for c in TRANSACTION_COLUMNS)
    posting_keys = [tuple(f"p{i}_{c}" for c in POSTING_COLUMNS) for i in range(postings)]
    update_keys = [(f"u{i}_id", f"u{i}_balance", f"u{i}_hash") for i in range(updates)]
    ctes = [f"t AS (INSERT INTO {transactions.name} ({', '.join(TRANSACTION_COLUMNS)}) VALUES ("
            + ", ".join(f":{k}" for k in transaction_keys) + "))",
            f"p AS (INSERT INTO {posting_table.name} ({', '.join(POSTING_COLUMNS)}) VALUES "
            + ", ".join("(" + ", ".join(f":{k}" for k in keys) + ")" for keys in posting_keys) + ")"]
    ctes += [f"u{i} AS (UPDATE accounts SET balance = :{b}, last_hash = :{h} "
             f"WHERE community_id = :t_community_id AND id = :{a})" for i, (a, b, h) in enumerate(update_keys)]
    typed = [sa.bindparam(k, type_=transactions.c[c].type) for k, c in zip(transaction_keys, TRANSACTION_COLUMNS)]
    typed += [sa.bindparam(k, type_=posting_table.c[c].type) for keys in posting_keys
              for k, c in zip(keys, POSTING_COLUMNS)]
    statement = sa.text("WITH " + ", ".join(ctes) + " SELECT 1").bindparams(*typed)
    return statement, transaction_keys, posting_keys, update_keys


@functools.lru_cache(maxsize=1)
def _transaction_insert() -> sa.Insert:
    transactions = LedgerTransaction.__table__
    return sa.insert(transactions).returning(transactions.c.id)


@functools.lru_cache(maxsize=1)
def _transaction_insert_with_id() -> sa.Insert:
    return sa.insert(LedgerTransaction.__table__)


@functools.lru_cache(maxsize=1)
def _posting_insert() -> sa.Insert:
    return sa.insert(Posting.__table__)


@functools.lru_cache(maxsize=1)
def _balance_update() -> sa.Update:
    accounts = Account.__table__
    return sa.update(accounts).where(accounts.c.community_id == sa.bindparam("b_community_id"),
                                     accounts.c.id == sa.bindparam("b_id")).values(
        balance=sa.bindparam("b_balance"), last_hash=sa.bindparam("b_hash"))


# --- many transactions ---------------------------------------------------------------------

def post_many(community_id: int, entries: Sequence[Entry]) -> list[Posted]:
    """Many transactions of one community in the caller's unit of work, as if :func:`post`
    were called for each entry in order (same core: legs checks, digests, balances and hash
    chains; one ``created_at`` for all), with a handful of statements instead of some per
    transaction: lock every household/shop account touched (id order), draw the transaction
    ids, COPY the transactions, COPY the postings (digests and hash chains computed as they are
    sent), update each account once."""
    if not entries:
        return []
    system_ids = set(system_accounts(community_id).values())
    prepared: list[tuple[Entry, list[tuple[int, int]]]] = []
    touched: set[int] = set()
    for entry in entries:
        legs = _entry_legs(entry.legs)
        touched.update(_chained(legs, system_ids))
        prepared.append((entry, legs))
    heads = _heads(lock_many(community_id, touched, BULK_CHUNK), community_id, len(touched))

    created_at = clock.now()
    transaction_ids = next_ids(LedgerTransaction.__table__, len(prepared))
    transactions: list[_Transaction] = []
    results: list[Posted] = []

    def transaction_rows():
        for transaction_id, (entry, legs) in zip(transaction_ids, prepared):
            transaction = _transaction_row(transaction_id, community_id, entry.kind, entry.reference,
                                           entry.actor_id, None, entry.memo, created_at, legs)
            transactions.append(transaction)
            yield transaction

    def posting_rows():
        for transaction, (_, legs) in zip(transactions, prepared):
            rows, balances = _posting_rows(transaction, legs, heads)
            results.append(Posted(transaction_id=transaction.id, created_at=created_at, balances=balances))
            yield from rows

    insert_rows(LedgerTransaction.__table__, TRANSACTION_COLUMNS, transaction_rows())
    insert_rows(Posting.__table__, POSTING_COLUMNS, posting_rows())
    _update_accounts(community_id, sorted(heads.items()))
    return results


def _update_accounts(community_id: int, heads: list[tuple[int, list]]) -> None:
    """Each account's new balance and chain head (``[(id, [balance, last hash])]``): on PostgreSQL
    one ``UPDATE … FROM unnest(arrays)``, elsewhere executemany in batches."""
    if is_postgresql():
        db.session.execute(sa.text(
            "UPDATE accounts SET balance = heads.balance, last_hash = heads.last_hash "
            "FROM unnest(CAST(:ids AS bigint[]), CAST(:balances AS bigint[]), CAST(:hashes AS varchar[])) "
            "AS heads (id, balance, last_hash) WHERE accounts.community_id = :community_id AND accounts.id = heads.id"),
            {"community_id": community_id, "ids": [a for a, _ in heads], "balances": [b for _, (b, _) in heads],
             "hashes": [h for _, (_, h) in heads]})
        return
    updates = [{"b_community_id": community_id, "b_id": a, "b_balance": b, "b_hash": h} for a, (b, h) in heads]
    for start in range(0, len(updates), BULK_CHUNK):
        db.session.execute(_balance_update(), updates[start:start + BULK_CHUNK])


# --- built on post -------------------------------------------------------------------------

def open_household_account(household_id: int, community_id: int, base_points: int, actor_id: int | None) -> Account:
    """The household's account, with its opening transaction (the base, from issuance)."""
    account = new_household_account(household_id, community_id)
    if base_points:
        post(community_id, "opening", [(system_accounts(community_id)["issuance"], -base_points),
                                       (account.id, base_points)],
             actor_id=actor_id, reference=("household", household_id))
    return account


def reverse(transaction_id: int, *, community_id: int, actor_id: int | None, kind: str = "reversal",
            memo: str | None = None, reference: tuple[str, object] | None = None) -> Posted:
    """Undo a transaction with a new one pointing at it; a transaction is reversed at most once."""
    original = db.session.get(LedgerTransaction, (transaction_id, community_id))
    if original is None or original.community_id != community_id:
        raise NotFound()
    if db.session.scalar(sa.select(LedgerTransaction.id).where(LedgerTransaction.community_id == community_id,
                                                                LedgerTransaction.reversal_of_id == transaction_id)):
        raise AlreadyReversed()
    legs = [(a, -p) for a, p in db.session.execute(
        sa.select(Posting.account_id, Posting.points).where(Posting.transaction_id == transaction_id))]
    return post(community_id, kind, legs, actor_id=actor_id, reversal_of_id=transaction_id, memo=memo,
                reference=reference or (original.reference_type, original.reference_id)
                if original.reference_type else reference)
