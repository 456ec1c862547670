"""Every table's class on distributed PostgreSQL (Citus), in one place.

A community is the unit of isolation today and the sharding key when one PostgreSQL server is
outgrown (DESIGN.md, "Tenants and replicas"). Each table is of exactly one class:

* **distributed** by ``community_id``: its primary key, every unique key and every foreign key to
  another distributed table include ``community_id``, so that one community's rows live on one
  shard and a statement naming one ``community_id`` is routed to it. Foreign keys to reference
  tables are plain. The hot paths (award, voucher issue, redemption, balance, history, import)
  name one ``community_id`` in every statement on these tables
  (``tests/integration/test_tenancy.py`` captures them).
* **reference**: small and read-mostly, copied to every node, so any shard joins it locally.
* **coordinator-local**: stays on the coordinator, for the reason given.

Columns of a distributed table that name a coordinator-local row (who recorded, approved,
cashiered …: ``users.id``) are plain integers, not foreign keys: Citus cannot enforce a key from
a distributed table to a local one. Logins are never deleted (they are deactivated), so these
columns do not dangle.

``tests/integration/test_tenancy.py`` checks these lists against the migrated schema's own
metadata: a table without a class, or a distributed table whose key leaves ``community_id`` out,
fails it. ``pointsbank db distribute`` lays the schema out from them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

DISTRIBUTION_COLUMN = "community_id"


def tenant_key(columns: str | list[str], table: str, **options: Any) -> sa.ForeignKeyConstraint:
    """A foreign key from a distributed table to another, through ``community_id``:
    ``(household_id, community_id) -> households (id, community_id)``. A row can only name a row of
    its own community, and Citus can check the key inside one shard."""
    names = [columns] if isinstance(columns, str) else list(columns)
    return sa.ForeignKeyConstraint([*names, DISTRIBUTION_COLUMN], [f"{table}.id", f"{table}.{DISTRIBUTION_COLUMN}"],
                                   **options)

#: one community's rows, sharded by ``community_id`` (in no particular order: the layout orders
#: them by their foreign keys)
DISTRIBUTED: frozenset[str] = frozenset({
    "accounts",
    "adjustments",
    "behaviour_records",
    "devices",
    "evidence_files",
    "grids",
    "household_cards",
    "household_proxies",
    "household_stars",
    "households",
    "ledger_transactions",
    "notice_boards",
    "notifications",
    "objections",
    "offline_redemptions",
    "offline_settings",
    "postings",
    "record_approvals",
    "redemption_lines",
    "redemptions",
    "reservation_lines",
    "reservations",
    "residents",
    "rulebook_versions",
    "settlement_lines",
    "settlement_statements",
    "shelf_items",
    "shelf_settings",
    "shop_partnerships",
    "spot_check_items",
    "spot_checks",
    "stock_movements",
    "user_grids",
    "vouchers",
})

#: copied to every node, with the reason
REFERENCE: dict[str, str] = {
    "regions": "the county/town tree: a few thousand rows, read by every region query, rarely written",
    "communities": "one row per village: read by nearly every request (its settings, its region), "
                   "rarely written; every distributed table's community_id refers to it",
    "shops": "a shop partners with several communities (shop_partnerships), so it belongs to no "
             "single shard; a few rows per community, read at every redemption",
    "signing_keys": "looked up by kid alone when a voucher or card token is verified (the token names "
                    "its key, and the key names the community); a few rows per community, written "
                    "only when a key is rotated",
}

#: kept on the coordinator, with the reason
LOCAL: dict[str, str] = {
    "users": "logins are looked up by username or token before any community is known, and an "
             "admin's login belongs to no community",
    "api_tokens": "read by token hash on every request, before the community is known",
    "throttle_events": "failed-login counters keyed by username or address, not by community",
    "idempotency_keys": "keyed by the caller's login and key, written before the use case knows "
                        "its community",
    "job_runs": "the scheduler's own bookkeeping (one row per job, community and period), read "
                "only by the job runner on the coordinator",
    "audit_events": "region-level actions (an admin's, a town's spot check) have no community "
                    "(community_id is NULL), which a distributed table cannot hold",
    "alembic_version": "the migrations' own version row",
}


def table_class(name: str) -> str:
    """``"distributed"``, ``"reference"`` or ``"local"``; ``KeyError`` for a table without a class."""
    if name in DISTRIBUTED:
        return "distributed"
    if name in REFERENCE:
        return "reference"
    if name in LOCAL:
        return "local"
    raise KeyError(f"table {name!r} has no class in pointsbank.tenancy")
