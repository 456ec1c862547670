"""Moved: the one entry point that locks a ledger transaction's accounts and draws its id is
:func:`pointsbank.ledger.posting.lock`, beside the ``post`` that takes its handle (what a lock
statement selects is what ``post`` checks and advances). Re-exported here for one release; new
code calls ``ledger.lock`` through :mod:`pointsbank.ledger.services`."""

from __future__ import annotations

from pointsbank.ledger.posting import (  # noqa: F401 (moved to pointsbank.ledger.posting)
    LOCK_CHUNK, Locks, lock, lock_accounts, lock_by_id, lock_household_accounts, lock_many, locked_columns,
    next_transaction_id)
