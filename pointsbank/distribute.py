"""Laying the migrated schema out on Citus: ``pointsbank db distribute``.

The classes come from :mod:`pointsbank.tenancy` (never a second list); everything else — the
tables, their keys, their foreign keys, their triggers, what Citus already holds — is read from
the database's own catalogs, so the order is the foreign keys' order, not one kept by hand:

1. the schema must be the newest migration's, every table of it must have a class, and the keys must be shaped for it (a distributed
   table's primary and unique keys include ``community_id``; a foreign key between distributed
   tables includes it on both sides; no foreign key from a distributed table to a local one, nor
   from a reference or local table to a distributed one). Any problem refuses the whole run before
   anything changes, naming every table and constraint at fault;
2. row triggers on distributed tables (the ledger's append-only ones) need
   ``citus.enable_unsafe_triggers``: set for this session and, for the migrations that run
   later, for the database (``ALTER DATABASE … SET``). The triggers then run on every shard;
3. the reference tables, referred tables first (``create_reference_table``), with
   ``citus.enable_local_reference_table_foreign_keys`` off for the session: otherwise Citus turns
   every table that refers to a new reference table into a provisional "citus local" table, and
   then cannot distribute one that another such table refers to (``cannot create foreign key
   constraint since foreign keys from reference tables and local tables to distributed tables are
   not supported``, seen on Citus 13.2);
4. the distributed tables by ``community_id``, referred tables first, all colocated with the
   first one (``create_distributed_table(…, colocate_with => …)``), so a join or a foreign key
   on ``community_id`` stays on one shard. Tables that a later migration created on a laid-out
   cluster are provisional local ones already (Citus did step 3's conversion at CREATE TABLE);
   the keys between them are set aside and made again around their distribution, in one
   transaction;
5. the coordinator-local tables tied to a reference table by foreign keys (``users`` →
   ``communities``, and ``api_tokens`` … → ``users``) are added to Citus's metadata, one group of
   tied tables per call (``citus_add_local_table_to_metadata(…, cascade_via_foreign_keys =>
   true)``), so those keys hold; the others stay plain tables.

Each step looks at what Citus already has, so a second run changes nothing and says so.
:func:`plan` is pure (a :class:`Catalog` in, the steps out); :func:`read_catalog` and
:func:`distribute` are the database's side.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterable

import sqlalchemy as sa

from pointsbank import tenancy

COLUMN = tenancy.DISTRIBUTION_COLUMN

#: the oldest Citus whose catalog (``citus_tables``, ``citus_is_coordinator()``) this reads
MIN_CITUS_MAJOR = 11


class Refused(Exception):
    """The run stops before changing anything; ``problems`` says why, one line each."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclasses.dataclass(frozen=True)
class ForeignKey:
    name: str
    table: str
    columns: tuple[str, ...]
    referred: str
    referred_columns: tuple[str, ...]
    #: ``pg_get_constraintdef``: what re-creates it
    definition: str = ""


@dataclasses.dataclass(frozen=True)
class CitusTable:
    """A row of Citus's metadata: ``kind`` is ``citus_tables``' type (distributed, reference,
    local); ``automatic`` a local table Citus added on its own and may take out again."""

    kind: str
    column: str | None = None
    colocation_id: int = 0
    automatic: bool = False


@dataclasses.dataclass(frozen=True)
class Catalog:
    tables: frozenset[str]
    foreign_keys: tuple[ForeignKey, ...] = ()
    #: table → its primary key and unique indexes: (name, key columns)
    unique_keys: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = dataclasses.field(default_factory=dict)
    #: tables that have user-defined triggers
    triggered: frozenset[str] = frozenset()
    #: what Citus already holds, by table
    citus: dict[str, CitusTable] = dataclasses.field(default_factory=dict)
    #: ``citus.enable_unsafe_triggers`` as a new session of this database sees it
    unsafe_triggers: bool = False
    database: str = "postgres"


@dataclasses.dataclass(frozen=True)
class Step:
    """One line of the run: ``sql`` to execute (``None``: nothing to do) and what to print;
    ``phase`` is database, reference, distributed or local (the order they run in)."""

    table: str
    sql: str | None
    message: str
    phase: str = "database"
    #: consecutive steps marked so run in one transaction (a key dropped and made again around them)
    together: bool = False


# --- the plan (pure) --------------------------------------------------------------------------


def problems(catalog: Catalog) -> list[str]:
    """Why this schema cannot be laid out as pointsbank.tenancy says, one line each (empty: it can)."""
    found: list[str] = []
    classes: dict[str, str] = {}
    for table in sorted(catalog.tables):
        try:
            classes[table] = tenancy.table_class(table)
        except KeyError:
            found.append(f"table {table} has no class in pointsbank.tenancy (DISTRIBUTED, REFERENCE or LOCAL)")
    for table, kind in sorted(classes.items()):
        if kind == "distributed":
            for name, columns in catalog.unique_keys.get(table, ()):
                if COLUMN not in columns:
                    found.append(f"{table}: key {name} ({', '.join(columns)}) leaves {COLUMN} out")
        held = catalog.citus.get(table)
        if held is not None and not _held_as(held, kind):
            found.append(f"{table} is already a Citus {held.kind} table"
                         + (f" by {held.column}" if held.column and held.column != "<none>" else "")
                         + f", but pointsbank.tenancy makes it {kind}")
    for key in catalog.foreign_keys:
        source, target = classes.get(key.table), classes.get(key.referred)
        if source is None or target is None or key.table == key.referred:
            continue
        where = f"{key.table}.{key.name} -> {key.referred}"
        if source == "distributed" and target == "local":
            found.append(f"{where}: a distributed table cannot refer to a coordinator-local one (drop the key)")
        elif source != "distributed" and target == "distributed":
            found.append(f"{where}: a {source} table cannot refer to a distributed one (drop the key)")
        elif source == target == "distributed" and not _pairs_community(key):
            found.append(f"{where}: a key between distributed tables must pair {COLUMN} with {COLUMN}")
    return found


def _held_as(held: CitusTable, kind: str) -> bool:
    if kind == "distributed":
        return held.kind == "local" and held.automatic or held.kind == "distributed" and held.column == COLUMN
    if kind == "reference":
        return held.kind == "reference" or held.kind == "local" and held.automatic
    return held.kind == "local"


def _pairs_community(key: ForeignKey) -> bool:
    return (COLUMN in key.columns and COLUMN in key.referred_columns
            and key.referred_columns[key.columns.index(COLUMN)] == COLUMN)


def dependency_order(tables: Iterable[str], foreign_keys: Iterable[ForeignKey]) -> list[str]:
    """``tables`` with every referred table before the tables that refer to it (keys to tables
    outside the set and a table's keys to itself do not count); ties in name order. A cycle is
    refused: Citus could create neither table first."""
    members = set(tables)
    waiting: dict[str, set[str]] = {table: set() for table in members}
    for key in foreign_keys:
        if key.table in members and key.referred in members and key.table != key.referred:
            waiting[key.table].add(key.referred)
    ordered: list[str] = []
    while waiting:
        ready = sorted(table for table, needs in waiting.items() if not needs)
        if not ready:
            raise Refused([f"foreign keys form a cycle among {', '.join(sorted(waiting))}"])
        for table in ready:
            ordered.append(table)
            del waiting[table]
        for needs in waiting.values():
            needs.difference_update(ready)
    return ordered


def tied_to_reference(catalog: Catalog) -> list[list[str]]:
    """The groups of local tables that foreign keys between local tables tie together (either way,
    as Citus follows them) and that refer to a reference table: Citus keeps each group in its
    metadata. Each group in :func:`dependency_order`; the groups by their first table."""
    local = {t for t in catalog.tables if t in tenancy.LOCAL}
    reference = {t for t in catalog.tables if t in tenancy.REFERENCE}
    neighbours: dict[str, set[str]] = {t: set() for t in local}
    for key in catalog.foreign_keys:
        if key.table in local and key.referred in local and key.table != key.referred:
            neighbours[key.table].add(key.referred)
            neighbours[key.referred].add(key.table)
    refers = {k.table for k in catalog.foreign_keys if k.table in local and k.referred in reference}
    groups, seen = [], set()
    for start in sorted(local):
        if start in seen:
            continue
        group, todo = set(), [start]
        while todo:
            table = todo.pop()
            if table not in group:
                group.add(table)
                todo.extend(neighbours[table] - group)
        seen |= group
        if group & refers:
            groups.append(dependency_order(group, catalog.foreign_keys))
    return sorted(groups)


def plan(catalog: Catalog) -> list[Step]:
    """The steps that lay ``catalog`` out (each ``sql`` ``None`` when already done); raises
    :class:`Refused` with every problem first."""
    found = problems(catalog)
    if found:
        raise Refused(found)
    steps: list[Step] = []
    by_class = {kind: [t for t in catalog.tables if tenancy.table_class(t) == kind]
                for kind in ("reference", "distributed", "local")}
    distributed = dependency_order(by_class["distributed"], catalog.foreign_keys)
    triggered = sorted(t for t in distributed if t in catalog.triggered)
    if triggered:  # Citus refuses to distribute a table with triggers unless told they are safe
        if catalog.unsafe_triggers:
            message = "citus.enable_unsafe_triggers: already on for this database"
            sql = None
        else:
            message = "citus.enable_unsafe_triggers: set on for this database"
            quoted = '"' + catalog.database.replace('"', '""') + '"'
            sql = f"ALTER DATABASE {quoted} SET citus.enable_unsafe_triggers = on"
        steps.append(Step("(database)", sql, f"{message} (row triggers on {', '.join(triggered)})"))
    for table in dependency_order(by_class["reference"], catalog.foreign_keys):
        if _done(catalog, table, "reference"):
            steps.append(Step(table, None, f"{table}: already a reference table", "reference"))
        else:
            steps.append(Step(table, f"SELECT create_reference_table({_regclass(table)})",
                              f"{table}: reference table created (a copy on every node)", "reference"))
    anchor = next((t for t in distributed if _done(catalog, t, "distributed")), distributed[0] if distributed else None)
    anchor_group = catalog.citus[anchor].colocation_id if anchor and _done(catalog, anchor, "distributed") else None
    pending = [t for t in distributed if not _done(catalog, t, "distributed")]
    # A table Citus made a provisional local one on its own (a migration created it referring to a
    # reference table) can be distributed, but not while another such table refers to it: Citus
    # re-creates that key from a local table to a distributed one and refuses. Those keys are
    # dropped and made again around the tables, in one transaction.
    automatic = any(catalog.citus.get(t, CitusTable("none")).automatic for t in pending)
    detached = [k for k in catalog.foreign_keys if automatic and k.table in pending and k.referred in pending
                and k.table != k.referred]
    for key in detached:
        steps.append(Step(key.table, f'ALTER TABLE "{key.table}" DROP CONSTRAINT "{key.name}"',
                          f"{key.table}: key {key.name} set aside while its tables are distributed",
                          "distributed", together=True))
    for table in distributed:
        if _done(catalog, table, "distributed"):
            held = catalog.citus[table]
            if anchor_group is not None and held.colocation_id != anchor_group:
                raise Refused([f"{table} is distributed by {COLUMN} but not colocated with {anchor} "
                               f"(colocation {held.colocation_id}, not {anchor_group}): "
                               f"SELECT update_distributed_table_colocation('{table}', colocate_with => '{anchor}')"])
            steps.append(Step(table, None, f"{table}: already distributed by {COLUMN}", "distributed"))
        elif table == anchor:
            steps.append(Step(table, f"SELECT create_distributed_table({_regclass(table)}, '{COLUMN}')",
                              f"{table}: distributed by {COLUMN}", "distributed", together=bool(detached)))
        else:
            steps.append(Step(table, f"SELECT create_distributed_table({_regclass(table)}, '{COLUMN}', "
                                     f"colocate_with => '{anchor}')",
                              f"{table}: distributed by {COLUMN}, colocated with {anchor}", "distributed",
                              together=bool(detached)))
    for key in detached:
        steps.append(Step(key.table, f'ALTER TABLE "{key.table}" ADD CONSTRAINT "{key.name}" {key.definition}',
                          f"{key.table}: key {key.name} made again between the distributed tables",
                          "distributed", together=True))
    groups = tied_to_reference(catalog)
    tied = {table for group in groups for table in group}
    for table in dependency_order(set(by_class["local"]) - tied, catalog.foreign_keys):
        steps.append(Step(table, None, f"{table}: stays a plain table on the coordinator "
                                       "(no foreign key ties it to a reference table)", "local"))
    for group in groups:
        if all(_done(catalog, table, "local") for table in group):
            steps.extend(Step(t, None, f"{t}: already a local table in Citus's metadata", "local") for t in group)
            continue
        first, *others = group
        steps.append(Step(first, f"SELECT citus_add_local_table_to_metadata({_regclass(first)}, "
                                 "cascade_via_foreign_keys => true)",
                          f"{first}: local table added to Citus's metadata"
                          + (f" with {', '.join(others)}" if others else "")
                          + f" (so {'their' if others else 'its'} foreign keys to reference tables hold)", "local"))
        steps.extend(Step(t, None, f"{t}: local table added to Citus's metadata with {first}", "local")
                     for t in others)
    return steps


def _done(catalog: Catalog, table: str, kind: str) -> bool:
    held = catalog.citus.get(table)
    return (held is not None and held.kind == kind and (kind != "distributed" or held.column == COLUMN)
            and not (kind == "local" and held.automatic))


def _regclass(table: str) -> str:
    return f"format('%I.%I', current_schema(), '{table}')::regclass"


# --- the database's side ----------------------------------------------------------------------


def citus_refusal(connection: sa.Connection) -> str | None:
    """Why this PostgreSQL database is not a Citus coordinator (``None``: it is one)."""
    version = connection.scalar(sa.text("SELECT extversion FROM pg_extension WHERE extname = 'citus'"))
    database = connection.scalar(sa.text("SELECT current_database()"))
    if version is None:
        return (f"the database {database} has no citus extension: pointsbank db distribute needs a Citus "
                f"coordinator (Citus {MIN_CITUS_MAJOR}+ in shared_preload_libraries, CREATE EXTENSION citus, "
                "the workers added with citus_add_node)")
    if int(version.split(".")[0]) < MIN_CITUS_MAJOR:
        return f"Citus {version} is too old: pointsbank db distribute needs Citus {MIN_CITUS_MAJOR} or later"
    if not connection.scalar(sa.text("SELECT citus_is_coordinator()")):
        return (f"the database {database} is not a Citus coordinator (run pointsbank db distribute on the "
                "coordinator, after citus_set_coordinator_host and citus_add_node)")
    return None


def migration_refusal(connection: sa.Connection) -> str | None:
    """Why the schema is not the newest revision's (``None``: it is): laying out a schema that a
    later migration still reshapes would leave that migration to run on distributed tables."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from pointsbank import MIGRATIONS_DIR

    heads = set(ScriptDirectory(MIGRATIONS_DIR).get_heads())
    current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        return (f"the database is at revision {', '.join(sorted(current)) or '(none)'}, not the newest "
                f"({', '.join(sorted(heads))}): run pointsbank db upgrade first")
    return None


def read_catalog(connection: sa.Connection, with_citus: bool = True) -> Catalog:
    """The current schema's tables, keys, foreign keys and triggers from PostgreSQL's catalogs,
    and (``with_citus``) what Citus holds of them. Citus's shards on the coordinator are left out."""
    shard = "AND NOT pg_catalog.relation_is_a_known_shard(c.oid)" if with_citus else ""
    relations = (f"SELECT c.oid FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
                 f"AND c.relkind IN ('r', 'p') AND NOT c.relispartition {shard}")
    tables = frozenset(connection.scalars(sa.text(
        f"SELECT c.relname FROM pg_class c WHERE c.oid IN ({relations})")))
    keys = connection.execute(sa.text(f"""
        SELECT k.conname, c.relname, r.relname, pg_get_constraintdef(k.oid),
               array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
                     JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i),
               array(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY u(n, i)
                     JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i)
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid
        WHERE k.contype = 'f' AND k.conrelid IN ({relations}) ORDER BY c.relname, k.conname"""))
    foreign_keys = tuple(ForeignKey(name, table, tuple(cols), referred, tuple(rcols), definition)
                         for name, table, referred, definition, cols, rcols in keys)
    unique: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for table, name, columns in connection.execute(sa.text(f"""
            SELECT c.relname, i.relname,
                   array(SELECT a.attname FROM unnest(x.indkey[0:x.indnkeyatts - 1]) u(n)
                         JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = u.n)
            FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indisunique AND x.indrelid IN ({relations}) ORDER BY c.relname, i.relname""")):
        unique.setdefault(table, []).append((name, tuple(columns)))
    triggered = frozenset(connection.scalars(sa.text(f"""
        SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE NOT t.tgisinternal AND t.tgrelid IN ({relations})""")))
    citus: dict[str, CitusTable] = {}
    unsafe = False
    if with_citus:
        for table, kind, column, colocation, automatic in connection.execute(sa.text(f"""
                SELECT c.relname, t.citus_table_type, t.distribution_column, t.colocation_id,
                       coalesce(p.autoconverted, false)
                FROM citus_tables t JOIN pg_class c ON c.oid = t.table_name
                LEFT JOIN pg_dist_partition p ON p.logicalrelid = t.table_name
                WHERE t.table_name IN ({relations})""")):
            citus[table] = CitusTable(kind, column, colocation, automatic)
        unsafe = connection.scalar(sa.text("""
            SELECT coalesce(bool_or(s = 'citus.enable_unsafe_triggers=on'), false)
            FROM pg_db_role_setting d, unnest(d.setconfig) s
            WHERE d.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND d.setrole = 0"""))
    database = connection.scalar(sa.text("SELECT current_database()"))
    return Catalog(tables, foreign_keys, {t: tuple(k) for t, k in unique.items()}, triggered, citus, bool(unsafe),
                   database)


def distribute(connection: sa.Connection, echo: Callable[[str], None]) -> list[Step]:
    """Lay the schema out on this Citus coordinator (``connection`` in autocommit: each table is
    its own step, and a run stopped half-way is finished by the next). Prints one line per step
    and returns them; raises :class:`Refused` before any change when it cannot."""
    refusal = citus_refusal(connection) or migration_refusal(connection)
    if refusal:
        raise Refused([refusal])
    steps = plan(read_catalog(connection))
    connection.execute(sa.text("SET citus.enable_unsafe_triggers = on"))
    connection.execute(sa.text("SET citus.enable_local_reference_table_foreign_keys = off"))
    done: list[Step] = []
    for step in steps:
        if step.phase == "local":
            connection.execute(sa.text("RESET citus.enable_local_reference_table_foreign_keys"))
        if step.together:
            done.append(step)
            continue
        _run(connection, done, echo)
        if step.sql is not None:
            connection.execute(sa.text(step.sql))
        echo(step.message)
    _run(connection, done, echo)
    return steps


def _run(connection: sa.Connection, together: list[Step], echo: Callable[[str], None]) -> None:
    """Run ``together`` in one transaction (then print them), and empty it."""
    if not together:
        return
    connection.exec_driver_sql("BEGIN")
    try:
        for step in together:
            connection.execute(sa.text(step.sql))
    except BaseException:
        connection.exec_driver_sql("ROLLBACK")
        raise
    connection.exec_driver_sql("COMMIT")
    for step in together:
        echo(step.message)
    together.clear()


def summary(connection: sa.Connection) -> list[str]:
    """``citus_tables`` for this schema, one line per table, and the nodes."""
    rows = connection.execute(sa.text("""
        SELECT c.relname, t.citus_table_type, t.distribution_column, t.colocation_id, t.shard_count
        FROM citus_tables t JOIN pg_class c ON c.oid = t.table_name
        WHERE c.relnamespace = current_schema()::regnamespace
        ORDER BY t.citus_table_type, c.relname""")).all()
    lines = [f"  {name:24} {kind:12} {column:14} colocation {colocation:<4} shards {shards}"
             for name, kind, column, colocation, shards in rows]
    counts = {kind: sum(1 for r in rows if r[1] == kind) for kind in ("distributed", "reference", "local")}
    workers = connection.scalar(sa.text(
        "SELECT count(*) FROM pg_dist_node WHERE noderole = 'primary' AND groupid <> 0 AND isactive"))
    lines.append(f"citus_tables: {counts['distributed']} distributed, {counts['reference']} reference, "
                 f"{counts['local']} local; {workers} worker node(s)")
    return lines
