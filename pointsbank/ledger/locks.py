"""The one entry point that locks the accounts a ledger transaction touches and draws its id.

``locks = lock(household_ids=[h], shop=(community_id, shop_id))`` sends one statement: the
households' and the shop's accounts, locked in id order (PostgreSQL ``FOR UPDATE``; SQLite
holds its write lock from ``BEGIN IMMEDIATE``), with their balances and chain heads and the id
the next ledger transaction will have. :func:`pointsbank.ledger.posting.post` takes the handle
as ``locked`` and then neither locks again nor draws an id: on PostgreSQL the whole transaction
is one more statement. ``draw=(table, label)`` draws the id of another row in the same statement
(a behaviour record that references the transaction). No module outside the ledger builds a
lock statement over ``accounts`` or selects its columns for one.
"""

from __future__ import annotations

import functools
from typing import Any, Iterable, Sequence

import sqlalchemy as sa

from pointsbank.database import dialect_name, execute, lock_for_update, next_id_column
from pointsbank.extensions import db
from pointsbank.ledger.models import Account, LedgerTransaction

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


@functools.lru_cache(maxsize=32)
def _statement(dialect: str, households: str, shop: bool, draw: tuple[sa.Table, str] | None) -> sa.Select:
    """Built once per shape: ``households`` is "none", "one" (``= :household_id``) or "many"
    (an expanding ``IN``); ``shop`` adds the shop's account by its key."""
    accounts = Account.__table__
    columns = [*locked_columns(dialect), accounts.c.household_id]
    if draw is not None:
        columns.append(next_id_column(draw[0], dialect, draw[1]))
    owners = []
    if households == "one":
        owners.append(accounts.c.household_id == sa.bindparam("household_id"))
    elif households == "many":
        owners.append(accounts.c.household_id.in_(sa.bindparam("household_ids", expanding=True)))
    if shop:
        owners.append(sa.and_(accounts.c.community_id == sa.bindparam("community_id"),
                              accounts.c.key == sa.bindparam("shop_key")))
    stmt = sa.select(*columns).where(sa.or_(*owners)).order_by(accounts.c.id)
    return lock_for_update(stmt, dialect, of=accounts)


def lock(*, household_ids: Iterable[int] = (), shop: tuple[int, int] | None = None,
         draw: tuple[sa.Table, str] | None = None) -> Locks:
    """Lock the accounts of these households and of this shop (``(community_id, shop_id)``) in
    one statement, drawing the next ledger transaction's id (and ``draw``'s, a column named
    ``draw[1]`` on every row). An account that does not exist is simply absent from the handle."""
    ids = sorted(set(household_ids))
    if not ids and shop is None:
        return Locks()  # nothing to lock: no statement
    params: dict[str, Any] = {}
    if shop is not None:
        shop_key = f"shop:{shop[1]}"
        params.update(community_id=shop[0], shop_key=shop_key)
    else:
        shop_key = None
    dialect = dialect_name()
    if len(ids) == 1:
        return Locks(execute(_statement(dialect, "one", shop is not None, draw), {**params, "household_id": ids[0]}),
                     shop_key)
    if len(ids) <= LOCK_CHUNK:
        households = "many" if ids else "none"
        return Locks(execute(_statement(dialect, households, shop is not None, draw),
                             {**params, "household_ids": ids} if ids else params), shop_key)
    if shop is not None or draw is not None:
        raise ValueError(f"a shop or a drawn id is locked with at most {LOCK_CHUNK} households")
    rows: list[Any] = []
    for start in range(0, len(ids), LOCK_CHUNK):
        rows += execute(_statement(dialect, "many", False, None), {"household_ids": ids[start:start + LOCK_CHUNK]})
    return Locks(rows)


def lock_household_accounts(household_ids: Iterable[int]) -> dict[int, Any]:
    """Lock the households' ledger accounts in id order (:func:`lock`) and return household
    id → the locked row, which ``post`` takes as ``locked`` instead of locking again."""
    return lock(household_ids=household_ids).households


@functools.lru_cache(maxsize=2)
def _by_id(dialect: str) -> sa.Select:
    accounts = Account.__table__
    stmt = (sa.select(*locked_columns(dialect))
            .where(accounts.c.id.in_(sa.bindparam("ids", expanding=True))).order_by(accounts.c.id))
    return lock_for_update(stmt, dialect, of=accounts)


def lock_by_id(account_ids: Sequence[int]) -> list[Any]:
    """Lock these accounts (ids ascending) in id order and draw the next transaction's id: what
    ``post`` sends when its caller did not :func:`lock` the accounts first. Rows as :func:`lock`'s."""
    return execute(_by_id(dialect_name()), {"ids": account_ids}).all()


@functools.lru_cache(maxsize=2)
def _heads_by_id(dialect: str) -> sa.Select:
    accounts = Account.__table__
    stmt = (sa.select(accounts.c.id, accounts.c.community_id, accounts.c.kind, accounts.c.balance,
                      accounts.c.last_hash)
            .where(accounts.c.id.in_(sa.bindparam("ids", expanding=True))).order_by(accounts.c.id))
    return lock_for_update(stmt, dialect, of=accounts)


def lock_many(account_ids: Iterable[int], chunk: int = LOCK_CHUNK) -> list[Any]:
    """Lock many accounts in id order, ``chunk`` per statement, drawing no id (``post_many``
    draws its transactions' ids at once): rows of id, community_id, kind, balance, last_hash."""
    ids = sorted(set(account_ids))
    statement = _heads_by_id(dialect_name())
    rows: list[Any] = []
    for start in range(0, len(ids), chunk):
        rows += db.session.execute(statement, {"ids": ids[start:start + chunk]})  # as the ORM session: flushes first
    return rows


@functools.lru_cache(maxsize=2)
def _accounts_by_id(dialect: str) -> sa.Select:
    accounts = Account.__table__
    return lock_for_update(sa.select(accounts.c.id).where(accounts.c.id.in_(sa.bindparam("ids", expanding=True)))
                           .order_by(accounts.c.id), dialect)


def lock_accounts(account_ids: Iterable[int]) -> None:
    """Lock these accounts in id order, whatever their owners (an offline sync holds a shop's
    accounts in several communities and many households' before it posts several transactions;
    each ``post`` then finds them already held)."""
    ids = sorted(set(account_ids))
    if ids:
        execute(_accounts_by_id(dialect_name()), {"ids": ids}).all()
