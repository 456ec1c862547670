"""The ledger's public API, in one import: ``from pointsbank.ledger import services as ledger``.

The code lives in two modules, and this one only re-exports them:

* :mod:`pointsbank.ledger.accounts` — system, household and shop accounts, balances, history;
* :mod:`pointsbank.ledger.posting` — the one entry point that locks a transaction's accounts and
  draws its id (:func:`lock`, :func:`lock_accounts`, :func:`lock_household_accounts`), and
  :func:`post`, :func:`post_many` (one core: checks, digests, hash chains) that take its handle,
  :func:`reverse`, :func:`open_household_account`.

The generic bulk writer ``insert_rows`` moved to :mod:`pointsbank.bulk`; it is re-exported here
for one release so that code written against ``ledger.insert_rows`` keeps working (new code
imports it from :mod:`pointsbank.bulk`).
"""

from __future__ import annotations

from pointsbank.bulk import insert_rows  # noqa: F401 (moved to pointsbank.bulk; kept here for one release)
from pointsbank.ledger.accounts import (  # noqa: F401
    SYSTEM_KINDS, LedgerError, account_balance, ensure_system_accounts, household_account_id, household_balance,
    household_postings, new_household_account, shop_account, system_accounts)
from pointsbank.ledger.posting import (  # noqa: F401
    Locks, lock, lock_accounts, lock_household_accounts, locked_columns, next_transaction_id,
    BULK_CHUNK, POSTING_COLUMNS, TRANSACTION_COLUMNS, AlreadyReversed, Entry, InsufficientPoints, Posted,
    open_household_account, post, post_many, posting_hash, reverse, transaction_digest)
