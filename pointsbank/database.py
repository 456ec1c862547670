"""Database plumbing shared by every package: column types, engine setup, the unit of work.

* Timestamps are stored in UTC and always come back timezone-aware (:class:`UTCDateTime`).
* SQLite is a real embedded database here: WAL, foreign keys on, and every transaction
  begins ``IMMEDIATE`` so concurrent writers queue on the lock instead of failing late.
* :func:`unit_of_work` is the edge of a use case (a request, a command, a job): it commits
  once, rolls back on any error, and re-runs the whole use case a bounded number of times on
  PostgreSQL serialisation failures and deadlocks (40001, 40P01), then answers 503; and once
  more when its connection was lost before the commit (nothing was committed).
* No ping before each checkout: a pooled connection the server closed is refused at checkout by
  looking at its socket (:func:`_refuse_closed_by_server`, no round trip).
"""

from __future__ import annotations

import collections
import functools
import logging
import random
import select
import time
import weakref
from datetime import datetime, timezone
from typing import Any, Callable, Sequence, TypeVar

import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context
from sqlalchemy import event, exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import mapped_column
from sqlalchemy.schema import CreateColumn, PrimaryKeyConstraint

from pointsbank.errors import DomainError, ServiceBusy
from pointsbank.extensions import db

log = logging.getLogger(__name__)

#: 64-bit ids on PostgreSQL; SQLite only autoincrements ``INTEGER PRIMARY KEY``.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: the primary key of every distributed table (:mod:`pointsbank.tenancy`)
TENANT_KEY = ("id", "community_id")


def tenant_id(type_: Any = BigId) -> Any:
    """The ``id`` of a distributed table: the first column of its primary key ``(id,
    community_id)``, drawn by the database (PostgreSQL: the column's sequence, as for every id;
    SQLite: see :func:`_sqlite_tenant_key`)."""
    return mapped_column(type_, primary_key=True, server_default=sa.FetchedValue())


def tenant_community_id(**options: Any) -> Any:
    """The ``community_id`` of a distributed table: the second column of its primary key."""
    return mapped_column(sa.ForeignKey("communities.id"), primary_key=True, **options)


@compiles(PrimaryKeyConstraint, "sqlite")
def _sqlite_tenant_key(constraint: PrimaryKeyConstraint, compiler: Any, **kw: Any) -> str:
    """SQLite draws an id only for an ``INTEGER PRIMARY KEY`` of one column (the rowid), and no
    SQLite database is ever distributed: there a distributed table's key ``(id, community_id)`` is
    written as ``id … PRIMARY KEY`` (:func:`_sqlite_tenant_id_column`) and a unique key of the same
    name on ``(id, community_id)`` — the key the composite foreign keys of :mod:`pointsbank.tenancy`
    refer to. Every other primary key is written as usual."""
    if tuple(column.name for column in constraint.columns) != TENANT_KEY:
        return compiler.visit_primary_key_constraint(constraint, **kw)
    name = f"CONSTRAINT {compiler.preparer.format_constraint(constraint)} " if constraint.name else ""
    return f"{name}UNIQUE (id, community_id)"


def autogenerate_includes(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's ``include_object``: what autogenerate compares. On SQLite the tenant key is
    written as a unique key named like the primary key (:func:`_sqlite_tenant_key`): that reflected
    unique key *is* the model's primary key, not a constraint the models lack."""
    if (type_ == "unique_constraint" and reflected and compare_to is None and name
            and tuple(column.name for column in obj.columns) == TENANT_KEY and name == f"pk_{obj.table.name}"):
        return False
    return True


@compiles(CreateColumn, "sqlite")
def _sqlite_tenant_id_column(element: CreateColumn, compiler: Any, **kw: Any) -> str:
    text = compiler.visit_create_column(element, **kw)
    column = element.element
    if column.name == "id" and tuple(c.name for c in column.table.primary_key.columns) == TENANT_KEY:
        text += " PRIMARY KEY"
    return text

RETRYABLE_SQLSTATES = {"40001", "40P01"}
CONNECTION_SQLSTATE_PREFIXES = ("08", "57P")  # connection exceptions, admin shutdown


class UTCDateTime(sa.types.TypeDecorator):
    """A timezone-aware UTC timestamp on every backend."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    """Callable default for ``*_at`` columns: the application clock, evaluated per row."""
    from pointsbank import clock

    return clock.now()


def configure_engine(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            _configure_sqlite(engine)
        else:
            for each in db.engines.values():  # the primary, and the replica if there is one
                event.listen(each.pool, "checkout", _refuse_closed_by_server)
                event.listen(each.pool, "connect", _keep_prepared_statements)
    # registered after Flask-SQLAlchemy's own teardown, so it runs first (Flask runs them in reverse)
    app.teardown_appcontext(close_session)
    app.teardown_request(_end_read_only)


#: statements psycopg keeps prepared per connection (its default, 100, is fewer than the app's hot statements)
PREPARED_MAX = 512


def _keep_prepared_statements(dbapi_connection: Any, _record: Any) -> None:
    if hasattr(dbapi_connection, "prepared_max"):
        dbapi_connection.prepared_max = PREPARED_MAX


def _refuse_closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Instead of a ping (a round trip before every request's first statement): an idle pooled
    connection has nothing to read, so a socket that is readable at checkout carries the server's
    goodbye — a restart or a terminated backend sends its FATAL error and closes. Such a
    connection is refused here (one ``poll`` system call, no round trip) and SQLAlchemy checks out
    or opens another. A connection that dies after this check fails its statement instead, and
    :func:`unit_of_work` runs the use case again."""
    try:
        fileno = dbapi_connection.fileno()
    except Exception as error:  # closed already
        raise sa_exc.DisconnectionError("the pooled connection is closed") from error
    poller = select.poll()
    poller.register(fileno, select.POLLIN | select.POLLERR | select.POLLHUP)
    if poller.poll(0):
        raise sa_exc.DisconnectionError("the server closed the pooled connection")


def close_session(_error: BaseException | None) -> None:
    """Close the request's session, tolerating a connection that died since its last statement.

    The rollback that ends every request fails when the database went away after the answer was
    computed (a restart, a failover); SQLAlchemy has then already invalidated that connection and
    dropped it from the pool. Letting the error escape the teardown would turn a finished answer
    into a bare 500 from the WSGI server, so it is logged and the session is closed again — the
    second close finds no transaction left and ends cleanly. A request that never used the
    session (or whose session holds no transaction) has nothing to close."""
    if not db.session.registry.has() or not db.session().in_transaction():
        return
    try:
        db.session.close()
    except sa_exc.DBAPIError as error:
        if not is_connection_error(error):
            raise
        log.warning("the connection was lost before the end of the request: %s", str(error).splitlines()[0])
        db.session.close()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # let SQLAlchemy's "begin" event emit BEGIN IMMEDIATE itself
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def sqlstate(error: BaseException) -> str | None:
    orig = getattr(error, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, sa_exc.DBAPIError) and sqlstate(error) in RETRYABLE_SQLSTATES


def is_connection_error(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    state = sqlstate(error)
    if state:
        return state.startswith(CONNECTION_SQLSTATE_PREFIXES)
    return isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)) and (
        "connect" in str(error).lower() or "server closed" in str(error).lower())


F = TypeVar("F", bound=Callable[..., Any])

#: how many retries the current process has made (read by the concurrency tests and benchmarks)
retry_counter = {"retries": 0}


def unit_of_work(fn: F) -> F:
    """Run ``fn`` as one use case: commit once on success, roll back on failure, retry
    serialisation failures and deadlocks with jittered backoff, then answer 503."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        attempts = int(current_app.config.get("DB_RETRIES", 5)) + 1
        for attempt in range(attempts):
            committing = False
            try:
                result = fn(*args, **kwargs)
                committing = True
                db.session.commit()
                _wrote()
                return result
            except DomainError as error:
                if error.keeps_changes:
                    db.session.commit()
                    _wrote()
                else:
                    db.session.rollback()
                raise
            except sa_exc.DBAPIError as error:
                _rollback_after(error)
                # lost before the commit: nothing was committed, so the use case can run again on
                # another connection; lost during the commit: it may have been, so it is not re-run
                lost = is_connection_error(error) and not committing
                if not (is_retryable(error) or lost) or attempt == attempts - 1:
                    if is_retryable(error):
                        log.warning("giving up after %d attempts: %s", attempts, sqlstate(error))
                        raise ServiceBusy(retry_after=1) from error
                    raise
                retry_counter["retries"] += 1
                if lost:
                    log.info("connection lost before the commit, running the use case again: %s",
                             str(error).splitlines()[0])
                    continue
                time.sleep(random.uniform(0, 0.01 * 2 ** attempt))
            except BaseException:
                db.session.rollback()
                raise
        raise AssertionError("unreachable")

    return wrapper  # type: ignore[return-value]


def _wrote() -> None:
    """Note that this request's login wrote (:mod:`pointsbank.replicas`: it reads its own writes)."""
    if has_request_context():
        g.pb_wrote = True


def _rollback_after(error: sa_exc.DBAPIError) -> None:
    """Roll the session back after ``error``; on a lost connection the rollback itself can fail
    (SQLAlchemy has invalidated the connection by then), and the session is closed instead."""
    try:
        db.session.rollback()
    except sa_exc.DBAPIError as again:
        if not is_connection_error(again):
            raise
        db.session.close()


def is_unique_violation(error: sa_exc.IntegrityError) -> bool:
    return sqlstate(error) == "23505" or "UNIQUE constraint failed" in str(getattr(error, "orig", error))


def insert_or_conflict(row: Any, conflict: DomainError) -> None:
    """Add and flush ``row``, whose unique key the caller has just found free. On PostgreSQL a
    concurrent request can take the key between that check and this insert (both saw it free);
    the unique constraint then refuses this insert, and the answer is the same ``conflict`` the
    check raises — not a 500. (SQLite's ``BEGIN IMMEDIATE`` makes check and insert one.)"""
    db.session.add(row)
    try:
        db.session.flush()
    except sa_exc.IntegrityError as error:
        if not is_unique_violation(error):
            raise
        raise conflict from error


def lock_for_update(stmt: sa.Select, dialect: str | None = None, **options: Any) -> sa.Select:
    """``SELECT … FOR UPDATE`` on PostgreSQL (``options``: ``of=``, ``skip_locked=``); SQLite's
    IMMEDIATE transaction already holds the write lock. The one FOR UPDATE helper: a statement
    built once per dialect (an ``lru_cache``d builder) passes its ``dialect``; otherwise the
    engine's is asked."""
    if (dialect or dialect_name()) == "postgresql":
        return stmt.with_for_update(**options)
    return stmt


def read_only(fn: F) -> F:
    """Mark a view that only reads (a balance, the health check). On PostgreSQL its request runs
    without a transaction — each statement commits on its own (autocommit) — which saves the
    ``BEGIN`` and ``ROLLBACK`` round trips, a third of a balance read's. Only for views whose
    statements need no common snapshot and that never write."""
    fn._pb_read_only = True  # type: ignore[attr-defined]
    return fn


def start_read_only() -> None:
    """Begin the request's session on an autocommit connection (PostgreSQL; a no-op elsewhere,
    or when the session has already begun). The session is closed when the request ends
    (:func:`_end_read_only`), even where the app context outlives it (tests, scripts): the
    autocommit connection must never carry over into a use case that writes."""
    if is_postgresql() and not db.session().in_transaction():
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        g.pb_read_only = True


def _end_read_only(_error: BaseException | None) -> None:
    if g.pop("pb_read_only", False):
        close_session(None)


def ping() -> None:
    """``SELECT 1`` on a pooled connection, outside the ORM session (the health check): on
    PostgreSQL straight on the driver's connection in autocommit, so neither a transaction nor
    the session's machinery is paid for a statement that needs neither. The connection goes back
    to the pool transactional, as it came."""
    raw = db.engine.raw_connection()
    try:
        driver = raw.driver_connection
        if is_postgresql():
            try:
                driver.autocommit = True
                driver.execute("SELECT 1")
                driver.autocommit = False
            except db.engine.dialect.loaded_dbapi.OperationalError as error:
                # what SQLAlchemy would do on its own path: drop the connection, answer 503
                raw.invalidate(error)
                raise sa_exc.OperationalError("SELECT 1", None, error, connection_invalidated=True) from error
        else:
            cursor = raw.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            raw.rollback()
    finally:
        raw.close()


def execute(statement: Any, params: Any = None) -> Any:
    """Run a Core statement on the session's connection, in the session's transaction, without
    the ORM session's execute layer: on the hot paths (awards, redemptions, balance reads) that
    layer cost about a fifth of each statement's CPU. Only for Core statements on tables (no
    ORM entities to load, nothing to autoflush first).

    On PostgreSQL a statement seen a second time runs straight on the driver's cursor
    (:class:`_Plan`: compiled once, its rows fetched at once): SQLAlchemy's execution context and
    result cost three times what psycopg itself costs for these short statements (100 against
    25 µs for the token's). The answer offers what the callers use (``first``, ``all``,
    ``scalar``, ``scalar_one``, ``one``, iteration, ``rowcount``); errors are SQLAlchemy's, as on
    its own path (a lost connection invalidated, ``DBAPIError`` raised). SQLAlchemy's own path
    is kept for SQLite, for many parameter sets, for statements with Python-side defaults or
    expanding parameters, and whenever a listener watches the connection's statements (tests,
    tracing), so that it sees every one."""
    connection = db.session.connection()
    if isinstance(params, list) and len(params) == 1:  # one row: the same statement, not an executemany
        params = params[0]
    if params is None or isinstance(params, dict):
        plan = _plan_for(statement, connection, params or {})
        if plan is not None:
            return plan.run(connection, params or {})
    return connection.execute(statement, params)


#: statement → its plans by the columns an INSERT or UPDATE is given (None: SQLAlchemy's path); weak, so
#: statements built per call leave with their call
_PLANS: "weakref.WeakKeyDictionary[Any, dict[tuple[str, ...] | None, _Plan | None]]" = weakref.WeakKeyDictionary()
#: statements seen once (a statement built per call is never compiled twice by us)
_SEEN: "weakref.WeakKeyDictionary[Any, bool]" = weakref.WeakKeyDictionary()


def _plan_for(statement: Any, connection: sa.Connection, params: dict[str, Any]) -> "_Plan | None":
    if connection._has_events or connection.engine._has_events or connection.dialect.name != "postgresql":
        return None
    # an INSERT or UPDATE without .values() is compiled for the columns its parameters name
    columns = tuple(params) if isinstance(statement, (sa.Insert, sa.Update)) else None
    try:
        plans = _PLANS[statement]
    except KeyError:
        if statement not in _SEEN:
            _SEEN[statement] = True
            return None
        plans = _PLANS[statement] = {}
    except TypeError:  # not weak-referenceable: SQLAlchemy's path
        return None
    try:
        return plans[columns]
    except KeyError:
        plan = plans[columns] = _Plan.of(statement, connection.dialect, columns)
        return plan


class _Plan:
    """A statement compiled once for the driver: its SQL, how its parameters are made, how its
    rows are read."""

    __slots__ = ("compiled", "sql", "bind_processors", "row_type", "result_processors")

    @classmethod
    def of(cls, statement: Any, dialect: Any, columns: tuple[str, ...] | None) -> "_Plan | None":
        if not isinstance(statement, (sa.Select, sa.Insert, sa.Update, sa.Delete, sa.TextClause)):
            return None
        compiled = statement.compile(dialect=dialect, column_keys=list(columns) if columns is not None else None)
        if (compiled.insert_prefetch or compiled.update_prefetch or compiled.post_compile_params
                or compiled.literal_execute_params or compiled.escaped_bind_names
                or dialect.paramstyle != "pyformat"):
            return None
        plan = cls()
        plan.compiled, plan.sql = compiled, str(compiled)
        plan.bind_processors = {name: process for name, process in compiled._bind_processors.items() if process}
        # the plan must not hold its statement (the key of a weak mapping): only binds and columns are read
        compiled.statement = compiled.compile_state = None
        plan.row_type = None
        plan.result_processors = None
        keys = [entry[0] for entry in compiled._result_columns]
        if keys:
            try:
                plan.row_type = collections.namedtuple("Row", keys)  # type: ignore[misc]
            except ValueError:  # names a namedtuple cannot hold: SQLAlchemy's path
                return None
        return plan

    def run(self, connection: sa.Connection, params: dict[str, Any]) -> "_Rows":
        values = self.compiled.construct_params(params, escape_names=False)
        for name, process in self.bind_processors.items():
            if name in values:
                values[name] = process(values[name])
        fairy = connection.connection
        cursor = fairy.info.get("pb_cursor")
        if cursor is None or cursor.closed:
            cursor = fairy.info["pb_cursor"] = fairy.driver_connection.cursor()
        try:
            cursor.execute(self.sql, values)
            # no cursor.description unless needed: psycopg builds a Column per column on every call
            if self.row_type is not None:
                rows = cursor.fetchall()
            elif cursor.description is not None:  # a textual statement's rows, its columns not declared
                rows = _undeclared_rows(cursor)
            else:
                rows = []
        except Exception as error:  # SQLAlchemy's translation: DBAPIError, a lost connection invalidated
            connection._handle_dbapi_exception(error, self.sql, values, cursor, None)
            raise
        if rows and self.row_type is not None:
            processors = self.result_processors
            if processors is None:
                processors = self.result_processors = self._result_processors(connection.dialect, cursor.description)
            make = self.row_type._make
            if any(processors):
                rows = [make([p(v) if p else v for p, v in zip(processors, row)]) for row in rows]
            else:
                rows = [make(row) for row in rows]
        return _Rows(rows, cursor.rowcount)

    def _result_processors(self, dialect: Any, description: Any) -> list[Any]:
        return [entry[3]._cached_result_processor(dialect, column.type_code)
                for entry, column in zip(self.compiled._result_columns, description)]


def _undeclared_rows(cursor: Any) -> list[Any]:
    """Rows of a statement whose columns SQLAlchemy was not told (a ``text()``): named by the
    server's column names, as SQLAlchemy's rows would be, plain tuples where those cannot name a tuple."""
    names = [column.name for column in cursor.description]
    try:
        make = collections.namedtuple("Row", names)._make  # type: ignore[misc]
    except ValueError:
        make = tuple
    return [make(row) for row in cursor.fetchall()]


class _Rows:
    """The rows of a statement run by :class:`_Plan`, all fetched."""

    __slots__ = ("rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self.rows, self.rowcount = rows, rowcount

    def __iter__(self) -> Any:
        return iter(self.rows)

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    def all(self) -> list[Any]:
        return list(self.rows)

    def one(self) -> Any:
        if len(self.rows) != 1:
            raise sa_exc.NoResultFound("No row was found") if not self.rows else sa_exc.MultipleResultsFound(
                "Multiple rows were found when exactly one was required")
        return self.rows[0]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalars(self) -> list[Any]:
        return [row[0] for row in self.rows]


def next_ids(table: sa.Table, count: int) -> list[int]:
    """``count`` ids of ``table`` before its rows exist, ascending: from the sequence on
    PostgreSQL; after the current maximum on SQLite (its write lock is held: BEGIN IMMEDIATE).
    A row can then be referenced (a digest, a posting) before it is inserted, and inserted once."""
    if is_postgresql():
        sequence = sa.func.pg_get_serial_sequence(table.name, "id")
        return sorted(db.session.execute(sa.select(sa.func.nextval(sequence)).select_from(
            sa.func.generate_series(1, count))).scalars())
    first = int(db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0)))) + 1
    return list(range(first, first + count))


def next_id_column(table: sa.Table, dialect: str, name: str) -> sa.Label:
    """:func:`next_ids` for one id as a column of another statement (a lock, say), drawn once per
    execution: ``nextval`` in an InitPlan on PostgreSQL, max + 1 under SQLite's write lock."""
    if dialect == "postgresql":
        drawn = sa.select(sa.func.nextval(sa.func.pg_get_serial_sequence(table.name, "id")))
    else:
        drawn = sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0) + 1)
    return drawn.scalar_subquery().label(name)


def row_by_id(model: Any, id_: Any, community_id: int | None = None) -> Any:
    """A row of a distributed table (:mod:`pointsbank.tenancy`) by its id, or None. With the
    ``community_id`` it belongs to, by its whole key — one shard on Citus, and the session's identity
    map. Without (a URL names a voucher, a device … before its community is known; an admin's
    login has none), by the id alone: ids are drawn from one sequence per table, so an id names at
    most one row, but on Citus the lookup asks every shard; the caller then checks the community
    the row belongs to, as it checked it before."""
    if community_id is not None:
        return db.session.get(model, (id_, community_id))
    return db.session.scalars(sa.select(model).where(model.id == id_)).one_or_none()


_citus: "weakref.WeakKeyDictionary[Engine, bool]" = weakref.WeakKeyDictionary()


def is_citus() -> bool:
    """Whether the primary is a Citus coordinator (the ``citus`` extension is installed): asked
    once per engine, then remembered. Where Citus runs a statement differs from plain PostgreSQL
    (``pointsbank.ledger.posting._draws_in_lock``)."""
    engine = db.engine
    known = _citus.get(engine)
    if known is None:
        known = is_postgresql() and execute(sa.text(
            "SELECT 1 FROM pg_extension WHERE extname = 'citus'")).scalar() is not None
        _citus[engine] = known
    return known


def lock_row(model: Any, id_: Any, community_id: int | None = None) -> Any:
    """A distributed table's row by id, locked (``FOR UPDATE`` on PostgreSQL) until the unit of
    work ends and re-read, so its state is the committed one; or None. The lock names the row's
    community: Citus locks rows of one shard per statement and refuses a ``FOR UPDATE`` that could
    reach several. Without ``community_id`` it is read first, by the id alone (unlocked)."""
    if community_id is None:
        community_id = db.session.scalar(sa.select(model.community_id).where(model.id == id_))
        if community_id is None:
            return None
    stmt = sa.select(model).where(model.community_id == community_id, model.id == id_)
    return db.session.scalar(lock_for_update(stmt).execution_options(populate_existing=True))


def lock_due(model: Any, *conditions: Any, order_by: Sequence[Any], limit: int) -> list[Any]:
    """Up to ``limit`` rows of a distributed table that meet ``conditions`` (the first by
    ``order_by``), locked ``FOR UPDATE SKIP LOCKED`` — what a job takes (expired vouchers, due
    messages): a row another transaction holds is left to it. The candidates are read unlocked
    (on Citus from every shard), then locked community by community, each lock on one shard
    (Citus refuses a ``FOR UPDATE`` over several); a candidate that changed meanwhile no longer
    meets ``conditions`` and is not taken."""
    candidates = db.session.execute(sa.select(model.community_id, model.id).where(*conditions)
                                    .order_by(*order_by).limit(limit)).all()
    found: list[Any] = []
    for community_id in sorted({row.community_id for row in candidates}):
        ids = [row.id for row in candidates if row.community_id == community_id]
        stmt = lock_for_update(sa.select(model).where(model.community_id == community_id, model.id.in_(ids),
                                                      *conditions).order_by(*order_by), skip_locked=True)
        found += db.session.scalars(stmt.execution_options(populate_existing=True)).all()
    return found


def dialect_name() -> str:
    """The engine's dialect ("postgresql" or "sqlite"): the one place the package asks. A module
    that builds a dialect-specific statement keys its cache on this, or calls :func:`is_postgresql`."""
    return db.engine.dialect.name


def is_postgresql() -> bool:
    return dialect_name() == "postgresql"
