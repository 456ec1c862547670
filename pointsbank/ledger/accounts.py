"""The ledger's accounts: a community's system accounts, a household's and a shop's account,
and their balances and history (reads). Opening a household's account posts its base, so it is
in :mod:`pointsbank.ledger.posting` beside the other writes."""

from __future__ import annotations

import sqlalchemy as sa

from pointsbank.errors import NotFound
from pointsbank.extensions import db
from pointsbank.ledger.models import Account, LedgerTransaction, Posting

SYSTEM_KINDS = ("issuance", "vouchers", "settled")


class LedgerError(RuntimeError):
    """A programming error: unbalanced legs, accounts of another community. Never user input."""


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


def new_household_account(household_id: int, community_id: int) -> Account:
    """The household's account, empty (:func:`pointsbank.ledger.posting.open_household_account`
    also posts its base)."""
    account = Account(community_id=community_id, kind="household", key=f"household:{household_id}",
                      household_id=household_id, balance=0)
    db.session.add(account)
    db.session.flush()
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


def household_account_id(household_id: int, *, community_id: int | None = None) -> int:
    """The household's ledger account; the use cases name its community (one shard on Citus)."""
    stmt = sa.select(Account.id).where(Account.household_id == household_id)
    if community_id is not None:
        stmt = stmt.where(Account.community_id == community_id)
    account_id = db.session.scalar(stmt)
    if account_id is None:
        raise NotFound()
    return account_id


def household_balance(household_id: int, *, community_id: int | None = None) -> int:
    stmt = sa.select(Account.balance).where(Account.household_id == household_id)
    if community_id is not None:
        stmt = stmt.where(Account.community_id == community_id)
    balance = db.session.scalar(stmt)
    return int(balance or 0)


def account_balance(account_id: int) -> int:
    """Sum of postings: the truth for any account, system accounts included."""
    return int(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Posting.points), 0)).where(
        Posting.account_id == account_id)) or 0)


def household_postings(community_id: int, account_id: int, *, limit: int, before_id: int | None) -> list[sa.Row]:
    """A household's history, newest first: each posting with its transaction's kind and reference."""
    stmt = (sa.select(Posting.id, Posting.points, Posting.balance_after, Posting.created_at,
                      LedgerTransaction.id.label("transaction_id"), LedgerTransaction.kind,
                      LedgerTransaction.reference_type, LedgerTransaction.reference_id, LedgerTransaction.memo,
                      LedgerTransaction.reversal_of_id)
            .join(LedgerTransaction, sa.and_(LedgerTransaction.id == Posting.transaction_id,
                                             LedgerTransaction.community_id == Posting.community_id))
            .where(Posting.community_id == community_id, Posting.account_id == account_id)
            .order_by(Posting.id.desc()).limit(limit))
    if before_id is not None:
        stmt = stmt.where(Posting.id < before_id)
    return list(db.session.execute(stmt))
