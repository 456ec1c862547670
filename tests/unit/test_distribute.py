"""``pointsbank db distribute``'s plan, from a hand-made catalog: the order the foreign keys
allow, colocation, idempotency, and the refusals (the database's side: tests/integration)."""

from __future__ import annotations

import dataclasses

import pytest

from pointsbank.distribute import (Catalog, CitusTable, ForeignKey, Refused, dependency_order, plan, problems,
                                   tied_to_reference)


def fk(table: str, columns: str, referred: str, referred_columns: str) -> ForeignKey:
    cols, rcols = tuple(columns.split(",")), tuple(referred_columns.split(","))
    definition = f"FOREIGN KEY ({', '.join(cols)}) REFERENCES {referred}({', '.join(rcols)})"
    return ForeignKey(f"fk_{table}_{cols[0]}_{referred}", table, cols, referred, rcols, definition)


#: a small but real-shaped schema: every name has a class in pointsbank.tenancy
CATALOG = Catalog(
    tables=frozenset({"regions", "communities", "shops", "households", "accounts", "ledger_transactions",
                      "postings", "users", "api_tokens", "throttle_events", "alembic_version"}),
    foreign_keys=(
        fk("regions", "parent_id", "regions", "id"),
        fk("communities", "region_id", "regions", "id"),
        fk("shops", "community_id", "communities", "id"),
        fk("households", "community_id", "communities", "id"),
        fk("accounts", "household_id,community_id", "households", "id,community_id"),
        fk("accounts", "shop_id", "shops", "id"),
        fk("ledger_transactions", "community_id", "communities", "id"),
        fk("postings", "transaction_id,community_id", "ledger_transactions", "id,community_id"),
        fk("postings", "account_id,community_id", "accounts", "id,community_id"),
        fk("users", "community_id", "communities", "id"),
        fk("api_tokens", "user_id", "users", "id"),
    ),
    unique_keys={
        "households": (("pk_households", ("id", "community_id")),),
        "accounts": (("pk_accounts", ("id", "community_id")), ("uq_accounts_household_id", ("community_id", "household_id"))),
        "postings": (("pk_postings", ("id", "community_id")),),
        "users": (("pk_users", ("id",)), ("uq_users_username", ("username",))),
    },
    triggered=frozenset({"postings", "ledger_transactions"}),
    database="pointsbank",
)

LAID_OUT = {
    **{t: CitusTable("reference", "<none>", 1) for t in ("regions", "communities", "shops")},
    **{t: CitusTable("distributed", "community_id", 2) for t in ("households", "accounts", "ledger_transactions",
                                                                 "postings")},
    **{t: CitusTable("local", "<none>", 0) for t in ("users", "api_tokens")},
}


def _tables(steps, word: str) -> list[str]:
    return [s.table for s in steps if s.sql and word in s.sql]


def test_reference_tables_come_first_each_after_the_tables_it_refers_to():
    steps = plan(CATALOG)
    assert _tables(steps, "create_reference_table") == ["regions", "communities", "shops"]
    first_distributed = next(i for i, s in enumerate(steps) if s.sql and "create_distributed_table" in s.sql)
    assert all(i < first_distributed for i, s in enumerate(steps) if s.sql and "create_reference_table" in s.sql)


def test_distributed_tables_follow_their_foreign_keys_and_are_colocated_with_the_first():
    steps = plan(CATALOG)
    order = _tables(steps, "create_distributed_table")
    assert sorted(order) == ["accounts", "households", "ledger_transactions", "postings"]
    for key in CATALOG.foreign_keys:
        if key.table in order and key.referred in order:
            assert order.index(key.referred) < order.index(key.table), key.name
    anchor, *rest = [s for s in steps if s.sql and "create_distributed_table" in s.sql]
    assert "colocate_with" not in anchor.sql and "'community_id'" in anchor.sql
    assert all(f"colocate_with => '{anchor.table}'" in s.sql for s in rest)


def test_local_tables_tied_to_a_reference_table_join_the_metadata_as_one_group_and_the_others_stay_plain():
    steps = {s.table: s for s in plan(CATALOG)}
    assert tied_to_reference(CATALOG) == [["users", "api_tokens"]]  # api_tokens through users
    assert steps["users"].sql == ("SELECT citus_add_local_table_to_metadata(format('%I.%I', current_schema(), "
                                  "'users')::regclass, cascade_via_foreign_keys => true)")
    assert steps["users"].message.startswith("users: local table added to Citus's metadata with api_tokens")
    assert steps["api_tokens"].sql is None and steps["api_tokens"].message.endswith("with users")
    assert steps["throttle_events"].sql is None and "stays a plain table" in steps["throttle_events"].message
    assert steps["alembic_version"].sql is None
    assert [s.phase for s in plan(CATALOG)] == sorted((s.phase for s in plan(CATALOG)),
                                                      key=["database", "reference", "distributed", "local"].index)


def test_row_triggers_on_distributed_tables_turn_unsafe_triggers_on_for_the_database():
    first = plan(CATALOG)[0]
    assert first.sql == 'ALTER DATABASE "pointsbank" SET citus.enable_unsafe_triggers = on'
    assert "ledger_transactions, postings" in first.message
    untriggered = dataclasses.replace(CATALOG, triggered=frozenset({"users"}))  # a local table's trigger needs nothing
    assert all("enable_unsafe_triggers" not in (s.sql or "") for s in plan(untriggered))


def test_a_second_run_over_a_laid_out_schema_has_nothing_to_do_and_says_so_per_table():
    steps = plan(dataclasses.replace(CATALOG, citus=LAID_OUT, unsafe_triggers=True))
    assert [s.sql for s in steps] == [None] * len(steps)
    messages = {s.table: s.message for s in steps}
    assert messages["postings"] == "postings: already distributed by community_id"
    assert messages["shops"] == "shops: already a reference table"
    assert messages["users"] == "users: already a local table in Citus's metadata"
    assert messages["(database)"].startswith("citus.enable_unsafe_triggers: already on")


def test_a_run_stopped_half_way_creates_only_what_is_missing_colocated_with_what_exists():
    held = {t: LAID_OUT[t] for t in ("regions", "communities", "shops", "households", "accounts")}
    held["users"] = CitusTable("local", "<none>", 0, automatic=True)  # Citus's own provisional add
    held["api_tokens"] = CitusTable("local", "<none>", 0)
    steps = {s.table: s for s in plan(dataclasses.replace(CATALOG, citus=held))}
    assert steps["accounts"].sql is None and steps["households"].sql is None
    assert "colocate_with => 'households'" in steps["ledger_transactions"].sql  # the first held
    assert "colocate_with => 'households'" in steps["postings"].sql
    assert "citus_add_local_table_to_metadata" in steps["users"].sql  # made permanent


def test_tables_citus_made_provisional_local_ones_are_distributed_with_their_keys_set_aside_in_one_transaction():
    """A migration on a laid-out cluster creates tables that refer to a reference table: Citus makes
    them provisional local tables, and cannot distribute one while another such table refers to it."""
    held = {**LAID_OUT, "postings": CitusTable("local", "<none>", 0, automatic=True),
            "ledger_transactions": CitusTable("local", "<none>", 0, automatic=True)}
    steps = plan(dataclasses.replace(CATALOG, citus=held, unsafe_triggers=True))
    together = [s for s in steps if s.together]
    assert [s.sql.split(" (")[0].split(" ADD CONSTRAINT")[0] if s.sql else None for s in together] == [
        'ALTER TABLE "postings" DROP CONSTRAINT "fk_postings_transaction_id_ledger_transactions"',
        "SELECT create_distributed_table(format('%I.%I', current_schema(), 'ledger_transactions')::regclass, "
        "'community_id', colocate_with => 'households')",
        "SELECT create_distributed_table(format('%I.%I', current_schema(), 'postings')::regclass, "
        "'community_id', colocate_with => 'households')",
        'ALTER TABLE "postings"',
    ]
    assert together[-1].sql.endswith('ADD CONSTRAINT "fk_postings_transaction_id_ledger_transactions" '
                                      "FOREIGN KEY (transaction_id, community_id) REFERENCES "
                                      "ledger_transactions(id, community_id)")
    # the key to accounts (already distributed) stays; nothing else runs in the transaction
    assert all("fk_postings_account_id" not in (s.sql or "") for s in steps)
    assert [s for s in steps if s.sql and not s.together] == []


def test_a_distributed_table_outside_the_first_ones_colocation_is_refused_with_the_fix():
    held = {**LAID_OUT, "postings": CitusTable("distributed", "community_id", 7)}
    with pytest.raises(Refused) as refused:
        plan(dataclasses.replace(CATALOG, citus=held, unsafe_triggers=True))
    assert "update_distributed_table_colocation('postings'" in refused.value.problems[0]


def test_a_table_without_a_class_is_refused_by_name_before_anything_is_planned():
    catalog = dataclasses.replace(CATALOG, tables=CATALOG.tables | {"scratch_notes"})
    with pytest.raises(Refused) as refused:
        plan(catalog)
    assert refused.value.problems == [
        "table scratch_notes has no class in pointsbank.tenancy (DISTRIBUTED, REFERENCE or LOCAL)"]


def test_keys_that_citus_would_refuse_are_all_named():
    catalog = dataclasses.replace(
        CATALOG,
        foreign_keys=CATALOG.foreign_keys + (
            fk("postings", "recorded_by_id", "users", "id"),
            fk("users", "household_id", "households", "id"),
            fk("ledger_transactions", "reversal_of_id", "postings", "id")),
        unique_keys={**CATALOG.unique_keys, "households": (("pk_households", ("id",)),)})
    assert problems(catalog) == [
        "households: key pk_households (id) leaves community_id out",
        "postings.fk_postings_recorded_by_id_users -> users: a distributed table cannot refer to a "
        "coordinator-local one (drop the key)",
        "users.fk_users_household_id_households -> households: a local table cannot refer to a distributed one "
        "(drop the key)",
        "ledger_transactions.fk_ledger_transactions_reversal_of_id_postings -> postings: a key between distributed "
        "tables must pair community_id with community_id",
    ]


def test_a_table_citus_holds_in_another_class_is_refused():
    held = {**LAID_OUT, "shops": CitusTable("distributed", "community_id", 2)}
    assert problems(dataclasses.replace(CATALOG, citus=held)) == [
        "shops is already a Citus distributed table by community_id, but pointsbank.tenancy makes it reference"]


def test_the_order_ignores_keys_to_itself_and_refuses_a_cycle():
    assert dependency_order(["regions"], [fk("regions", "parent_id", "regions", "id")]) == ["regions"]
    assert dependency_order(["b", "a", "c"], [fk("a", "x", "c", "id")]) == ["b", "c", "a"]
    with pytest.raises(Refused, match="cycle among a, b"):
        dependency_order(["a", "b"], [fk("a", "x", "b", "id"), fk("b", "y", "a", "id")])
