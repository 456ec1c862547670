"""Accounts, transactions and postings.

Invariants (checked by ``pointsbank ledger verify``):

* the postings of a transaction sum to zero, e.g. an award of 6 points is
  ``issuance −6, household:12 +6``;
* a household or shop account's cached ``balance`` equals the sum of its postings;
* every posting on a household or shop account carries ``hash =
  sha256(prev_hash | transaction.digest | account | points | balance_after)`` where
  ``transaction.digest`` covers the whole transaction (all legs); system accounts
  (``issuance``, ``vouchers``, ``settled``) are not chained, so they never serialise awards;
* postings and transactions are append-only (PostgreSQL triggers refuse UPDATE/DELETE); a
  mistake is undone by a new transaction with ``reversal_of_id`` set, at most once.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pointsbank.database import BigId, UTCDateTime, tenant_community_id, tenant_id, utcnow
from pointsbank.extensions import db
from pointsbank.tenancy import tenant_key

ACCOUNT_KINDS = ("household", "shop", "issuance", "vouchers", "settled")
CHAINED_KINDS = ("household", "shop")


class Account(db.Model):
    __tablename__ = "accounts"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "key"),
        sa.CheckConstraint(sa.text("kind IN ('household','shop','issuance','vouchers','settled')"), name="kind"),
        # the region dashboard's points outstanding: the household balances of a community, index only
        sa.Index("ix_accounts_community_id_kind", "community_id", "kind", postgresql_include=["balance"]),
        tenant_key("household_id", "households"),
        sa.UniqueConstraint("community_id", "household_id"),
    )

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id()
    kind: Mapped[str] = mapped_column(sa.String(16))
    #: "household:12", "shop:3", "issuance", "vouchers", "settled"
    key: Mapped[str] = mapped_column(sa.String(48))
    household_id: Mapped[int | None] = mapped_column()
    shop_id: Mapped[int | None] = mapped_column(sa.ForeignKey("shops.id"), index=True)
    #: cached on household and shop accounts only (system accounts keep 0 here)
    balance: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    last_hash: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerTransaction(db.Model):
    __tablename__ = "ledger_transactions"
    __table_args__ = (
        sa.Index("ix_ledger_transactions_community_id_reference", "community_id", "reference_type", "reference_id"),
        tenant_key("reversal_of_id", "ledger_transactions"),
        sa.UniqueConstraint("community_id", "reversal_of_id"),
    )

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id()
    #: opening, award, deduction, adjustment, reversal, voucher_issue, redemption, voucher_return, settlement, reset, expiry
    kind: Mapped[str] = mapped_column(sa.String(24))
    reference_type: Mapped[str | None] = mapped_column(sa.String(24))
    reference_id: Mapped[str | None] = mapped_column(sa.String(64))
    actor_id: Mapped[int | None] = mapped_column()
    reversal_of_id: Mapped[int | None] = mapped_column(BigId)
    memo: Mapped[str | None] = mapped_column(sa.String(255))
    digest: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Posting(db.Model):
    __tablename__ = "postings"
    __table_args__ = (
        sa.Index("ix_postings_account_id_id", "account_id", "id"),
        sa.CheckConstraint("points <> 0", name="points_nonzero"),
        tenant_key("transaction_id", "ledger_transactions"),
        tenant_key("account_id", "accounts"),
    )

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id()
    transaction_id: Mapped[int] = mapped_column(BigId, index=True)
    account_id: Mapped[int] = mapped_column(BigId)
    points: Mapped[int] = mapped_column(sa.BigInteger)
    #: chained accounts only
    balance_after: Mapped[int | None] = mapped_column(sa.BigInteger)
    hash: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyKey(db.Model):
    """One per (caller, key): the request's fingerprint and the first response, replayed on repeats."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(sa.String(255))
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int | None] = mapped_column()
    response_body: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Adjustment(db.Model):
    """A manual correction by staff; above the community's threshold it waits for a second staff member."""

    __tablename__ = "adjustments"
    __table_args__ = (
        sa.CheckConstraint(sa.text("status IN ('pending','posted','rejected')"), name="status"),
        sa.CheckConstraint("points <> 0", name="points_nonzero"),
        tenant_key("household_id", "households"),
        tenant_key("transaction_id", "ledger_transactions"),
    )

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id(index=True)
    household_id: Mapped[int] = mapped_column(index=True)
    points: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str] = mapped_column(sa.String(500))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    requested_by_id: Mapped[int] = mapped_column()
    approved_by_id: Mapped[int | None] = mapped_column()
    transaction_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
