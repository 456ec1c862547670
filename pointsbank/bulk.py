"""Writing many rows at once into any table: ``COPY`` on PostgreSQL, executemany elsewhere.

Generic (it knows nothing of the ledger): the ledger's :func:`pointsbank.ledger.posting.post_many`,
the record import and the settlement's statements write through it.
"""

from __future__ import annotations

import itertools
import json
from typing import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from pointsbank.database import is_postgresql
from pointsbank.extensions import db

#: rows per executemany batch where there is no COPY
BATCH_ROWS = 2000


def insert_rows(table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Rows (tuples of values in the order of ``columns``, as Python gives them: aware
    datetimes, None for NULL, lists for JSON) into ``table``, in the session's transaction.
    PostgreSQL: one ``COPY``, each row sent as ``rows`` yields it, so a generator's work overlaps
    the server's; elsewhere: executemany in batches of :data:`BATCH_ROWS`."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    rows = itertools.chain((first,), rows)
    if not is_postgresql():
        statement = sa.insert(table)
        while batch := [dict(zip(columns, row)) for row in itertools.islice(rows, BATCH_ROWS)]:
            db.session.execute(statement, batch)
        return
    import psycopg
    from psycopg import sql

    as_json = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, sa.JSON)]
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    connection = db.session.connection().connection.dbapi_connection
    try:
        with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
            write = copy.write_row
            if not as_json:
                for row in rows:
                    write(row)
                return
            for row in rows:
                row = list(row)
                for i in as_json:
                    if row[i] is not None:
                        row[i] = json.dumps(row[i])
                write(row)
    except psycopg.Error as error:  # as SQLAlchemy would raise it: IntegrityError, OperationalError …
        raise sa_exc.DBAPIError.instance(copy_sql.as_string(connection), None, error, psycopg.Error) from error
