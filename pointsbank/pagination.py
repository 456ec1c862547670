"""Keyset pagination: ``?limit=50&cursor=…`` in, ``{"items": [...], "next_cursor": …}`` out.

A cursor is the last id seen (opaque to clients), so pages stay stable while rows are added
and a deep page costs the same as the first.
"""

from __future__ import annotations

from typing import Any, Sequence

import marshmallow as ma
import sqlalchemy as sa
from marshmallow import validate

from pointsbank.extensions import db


class CursorArgsSchema(ma.Schema):
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = ma.fields.String(load_default=None, validate=validate.Regexp(r"^\d{1,19}$"),
                              metadata={"description": "`next_cursor` of the previous page"})


def page_schema(item: type[ma.Schema], name: str) -> type[ma.Schema]:
    return ma.Schema.from_dict(
        {"items": ma.fields.List(ma.fields.Nested(item), required=True),
         "next_cursor": ma.fields.String(allow_none=True, required=True)},
        name=name,
    )


def keyset_page(stmt: sa.Select, id_column: Any, *, limit: int, cursor: str | None,
                descending: bool = True) -> dict[str, Any]:
    """Run ``stmt`` (a select of ORM objects or rows) one page at a time by ``id_column``."""
    if cursor is not None:
        stmt = stmt.where(id_column < int(cursor) if descending else id_column > int(cursor))
    stmt = stmt.order_by(id_column.desc() if descending else id_column.asc()).limit(limit + 1)
    rows: Sequence[Any] = list(db.session.scalars(stmt)) if _is_entity(stmt) else list(db.session.execute(stmt))
    return page_of(rows, limit, lambda row: row.id)


def page_of(rows: Sequence[Any], limit: int, key: Any) -> dict[str, Any]:
    more = len(rows) > limit
    items = list(rows[:limit])
    return {"items": items, "next_cursor": str(key(items[-1])) if more and items else None}


def _is_entity(stmt: sa.Select) -> bool:
    descriptions = stmt.column_descriptions
    return len(descriptions) == 1 and descriptions[0].get("entity") is not None and descriptions[0].get("expr") is descriptions[0].get("entity")
