"""Rule-book versions: publish one, read the one in force, find the one that scores a record.

Invariants:

* a published version never changes: (community, version) is unique and nothing updates a
  ``RuleBookVersion``; publishing the same version again answers 409;
* the version in force on day D is the one with the latest ``effective_from`` ≤ D (when two
  share a day, the later published wins); records keep the id of the version that scored them;
* a community that never published a book uses the shipped default: it is published
  automatically (``published_by_id`` NULL, with an audit row) the first time a record, a dry
  run or a read needs a book — a community that publishes its own first never gets it.

Example: a book published with ``effective_from: 2026-04-01`` scores records dated from April
on; a record dated 2026-03-31 is scored by the version before it, or refused
(``before_rulebook``) when there is none.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community.models import Community
from pointsbank.database import execute, is_postgresql
from pointsbank.extensions import db
from pointsbank.rules.errors import (BeforeRuleBook, NoRuleBookInForce, RuleBookInvalid, RuleBookVersionExists,
                                     UnsupportedMediaType)
from pointsbank.rules.models import RuleBookVersion
from pointsbank.rules.rulebook import RuleBook, RuleBookError, default_rulebook_text, parse_rulebook

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
MAX_RULEBOOK_BYTES = 512 * 1024


@dataclass(frozen=True)
class BookVersion:
    """A published version with its parsed book."""

    id: int
    version: str
    effective_from: date
    book: RuleBook


@functools.lru_cache(maxsize=256)
def parsed(source: str) -> RuleBook:
    """Parse once per distinct text: published versions never change, so their parse never does."""
    return parse_rulebook(source)


def _insert_version(community_id: int, book: RuleBook, source: str, actor_id: int | None) -> int | None:
    """The new version's id, or None when (community, version) exists (also under a race)."""
    insert = (postgresql.insert if is_postgresql() else sqlite.insert)(RuleBookVersion)
    return db.session.execute(insert.values(
        community_id=community_id, version=book.version, effective_from=book.effective_from, source=source,
        published_by_id=actor_id, published_at=clock.now(),
    ).on_conflict_do_nothing().returning(RuleBookVersion.id)).scalar()


def publish(actor: User, community_id: int, body: bytes, content_type: str | None) -> dict[str, Any]:
    """Check a YAML rule book and publish it as a new, immutable version of the community's book."""
    community = policy.community_for(actor, community_id, "admin", "staff")
    if (content_type or "").split(";")[0].strip().lower() not in YAML_TYPES:
        raise UnsupportedMediaType()
    if len(body) > MAX_RULEBOOK_BYTES:
        raise RuleBookInvalid(count=1, details={"problems": [
            {"line": None, "field": "", "message": f"a rule book may be at most {MAX_RULEBOOK_BYTES // 1024} KB"}]})
    try:
        book = parse_rulebook(body)
    except RuleBookError as error:
        raise RuleBookInvalid(count=len(error.problems), details={"problems": [
            {"line": p.line, "field": p.field, "message": p.message} for p in error.problems]}) from None
    source = body.decode("utf-8")
    version_id = _insert_version(community.id, book, source, actor.id)
    if version_id is None:
        raise RuleBookVersionExists(version=book.version)
    version = db.session.get(RuleBookVersion, (version_id, community.id))
    audit.record(actor, "rulebook.publish", community_id=community.id, target=version,
                 data={"version": book.version, "effective_from": book.effective_from.isoformat(),
                       "rules": len(book.rules)})
    return view(version, book)


def _publish_default(community_id: int) -> None:
    source = default_rulebook_text()
    book = parsed(source)
    version_id = _insert_version(community_id, book, source, None)
    if version_id is not None:
        audit.record(None, "rulebook.publish", community_id=community_id, target_type="rulebook_version",
                     target_id=version_id, data={"version": book.version, "automatic": True,
                                                 "effective_from": book.effective_from.isoformat()})


def _ensure_published(community_id: int) -> None:
    if db.session.scalar(sa.select(RuleBookVersion.id).where(RuleBookVersion.community_id == community_id)
                         .limit(1)) is None:
        _publish_default(community_id)


def _book_version(row: Any) -> BookVersion:
    return BookVersion(row.id, row.version, row.effective_from, parsed(row.source))


@functools.lru_cache(maxsize=1)
def _version_statement() -> sa.Select:
    """Built once: it runs on every record."""
    versions = RuleBookVersion.__table__
    return (sa.select(versions.c.id, versions.c.version, versions.c.effective_from, versions.c.source)
            .where(versions.c.community_id == sa.bindparam("community_id"),
                   versions.c.effective_from <= sa.bindparam("day", type_=versions.c.effective_from.type))
            .order_by(versions.c.effective_from.desc(), versions.c.id.desc()).limit(1))


def version_for(community_id: int, day: date) -> BookVersion:
    """The version that scores a record dated ``day``; :class:`BeforeRuleBook` when none had begun."""
    params = {"community_id": community_id, "day": day}
    row = execute(_version_statement(), params).first()
    if row is None:  # none in force: the community may have no book yet (one query on the hot path, not two)
        _ensure_published(community_id)
        row = execute(_version_statement(), params).first()
    if row is None:
        first = db.session.scalar(sa.select(sa.func.min(RuleBookVersion.effective_from))
                                  .where(RuleBookVersion.community_id == community_id))
        raise BeforeRuleBook(occurred_on=day.isoformat(), effective_from=first.isoformat(),
                             details={"effective_from": first.isoformat()})
    return _book_version(row)


def all_versions(community_id: int) -> list[BookVersion]:
    """Every version of the community, oldest in force first (for bulk imports)."""
    _ensure_published(community_id)
    rows = db.session.execute(
        sa.select(RuleBookVersion.id, RuleBookVersion.version, RuleBookVersion.effective_from, RuleBookVersion.source)
        .where(RuleBookVersion.community_id == community_id)
        .order_by(RuleBookVersion.effective_from, RuleBookVersion.id))
    return [_book_version(row) for row in rows]


def pick(versions: list[BookVersion], day: date) -> BookVersion | None:
    """The version in force on ``day`` among ``all_versions`` (None before the first)."""
    found = None
    for candidate in versions:
        if candidate.effective_from <= day:
            found = candidate
    return found


def book_of(version_id: int) -> RuleBook:
    source = db.session.scalar(sa.select(RuleBookVersion.source).where(RuleBookVersion.id == version_id))
    return parsed(source)


def current(actor: User, community_id: int) -> dict[str, Any]:
    """The version in force today in the community's time zone, with its categories and rules."""
    community = policy.community_for(actor, community_id, "admin", "staff", "grid_worker", "resident")
    today = clock.today_in(community.timezone)
    try:
        found = version_for(community.id, today)
    except BeforeRuleBook:
        raise NoRuleBookInForce(day=today.isoformat()) from None
    return view(db.session.get(RuleBookVersion, (found.id, community.id)), found.book)


def list_versions(actor: User, community_id: int) -> list[dict[str, Any]]:
    """Every published version, newest effective date first, marking the one in force today."""
    community: Community = policy.community_for(actor, community_id, "admin", "staff", "grid_worker", "resident")
    _ensure_published(community.id)
    versions = list(db.session.scalars(sa.select(RuleBookVersion).where(
        RuleBookVersion.community_id == community.id).order_by(RuleBookVersion.effective_from.desc(),
                                                               RuleBookVersion.id.desc())))
    today = clock.today_in(community.timezone)
    in_force = next((v.id for v in versions if v.effective_from <= today), None)
    return [_summary(v) | {"in_force": v.id == in_force} for v in versions]


def _summary(version: RuleBookVersion) -> dict[str, Any]:
    return {"id": version.id, "community_id": version.community_id, "version": version.version,
            "effective_from": version.effective_from, "published_at": version.published_at,
            "published_by_id": version.published_by_id}


def view(version: RuleBookVersion, book: RuleBook) -> dict[str, Any]:
    content = book.to_dict()
    rules = [rule | {"public": book.rule(rule["code"]).is_public} for rule in content["rules"]]
    return _summary(version) | {"categories": content["categories"], "rules": rules}
