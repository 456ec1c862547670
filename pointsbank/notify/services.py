"""Notifications: enqueue in the event's transaction, the resident's inbox, the SMS opt-out.

Who calls what (callers import this module; it imports only models and the database layer):

| event | caller | template | key |
| --- | --- | --- | --- |
| a record posted with points (award, deduction) | ``rules.records``, ``rules.importer`` | ``points_awarded`` / ``points_deducted`` + objection deadline | ``record:<id>`` |
| a manual adjustment posted | ``ledger.adjustments`` | ``points_adjusted`` | ``adjustment:<id>`` |
| an objection upheld against a record (reversal) | ``rules.objections`` | ``points_reversed`` | ``reversal:<record id>`` |
| a voucher or reservation about to expire | ``notify.jobs.enqueue_expiring`` | ``voucher_expiring`` / ``reservation_expiring`` | ``voucher_expiring:<id>`` … |
| a household card blocked | the cards package: :func:`card_blocked` | ``card_blocked`` | ``card_blocked:<card>:<uuid>`` |

Each event writes an ``inbox`` row (delivered at once: status ``sent``) and, when the household
has a phone and has not opted out, an ``sms`` row (``pending`` for the sender). The stored key
is ``<key>:inbox`` / ``<key>:sms``, unique per community: enqueueing an event twice writes nothing
the second time (``ON CONFLICT DO NOTHING``). The insert is one Core statement in the caller's
transaction, so a rolled-back event leaves no message.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth.models import User
from pointsbank.community.models import Community, Household
from pointsbank.database import dialect_name, execute, row_by_id
from pointsbank.errors import NotFound
from pointsbank.extensions import db
from pointsbank.notify.models import Notification
from pointsbank.notify.templates import render
from pointsbank.pagination import page_of

#: the households read per statement when many events are enqueued at once (imports)
CHUNK = 500


@dataclass(frozen=True)
class Event:
    """One thing to tell a household. Datetime params are shown in the community's time zone."""

    household_id: int
    template: str
    key: str
    params: dict[str, Any] = field(default_factory=dict)
    #: add ``deadline``: now + the community's ``notice_days`` (the end of the objection period)
    with_deadline: bool = False


#: what :func:`enqueue` reads of a household (a ``known`` row must carry all of it)
HOUSEHOLD_FIELDS = ("id", "number", "phone", "sms_opt_out", "notice_days", "timezone")


def enqueue(community_id: int, events: Iterable[Event], now: datetime | None = None,
            known: Iterable[Any] = ()) -> int:
    """Write the events' messages in the caller's transaction; how many rows were offered.
    ``known``: household rows the caller has read already (each with :data:`HOUSEHOLD_FIELDS`,
    e.g. ``policy.HouseholdRef``): they are not read again (an award's household)."""
    events = list(events)
    if not events:
        return 0
    moment = now or clock.now()
    rows: list[dict[str, Any]] = []
    info: dict[int, Any] = {row.id: row for row in known if all(hasattr(row, f) for f in HOUSEHOLD_FIELDS)}
    ids = sorted({e.household_id for e in events} - set(info))
    for start in range(0, len(ids), CHUNK):
        info.update({r.id: r for r in execute(_households_statement(), {
            "community_id": community_id, "ids": ids[start:start + CHUNK]})})
    for event in events:
        household = info.get(event.household_id)
        if household is None:
            continue
        zone = ZoneInfo(household.timezone)
        params = {"number": household.number}
        if event.with_deadline:
            params["deadline"] = f"{(moment + timedelta(days=household.notice_days)).astimezone(zone):%Y-%m-%d %H:%M}"
        for name, value in event.params.items():
            params[name] = f"{value.astimezone(zone):%Y-%m-%d %H:%M}" if isinstance(value, datetime) else value
        common = dict(community_id=community_id, household_id=event.household_id, recipient_user_id=None,
                      template=event.template, params=params, attempts=0, last_error=None, created_at=moment,
                      read_at=None)
        rows.append(common | dict(channel="inbox", recipient_phone=None, status="sent", next_attempt_at=None,
                                  sent_at=moment, idempotency_key=f"{event.key}:inbox"))
        if household.phone and not household.sms_opt_out:
            rows.append(common | dict(channel="sms", recipient_phone=household.phone, status="pending",
                                      next_attempt_at=moment, sent_at=None, idempotency_key=f"{event.key}:sms"))
    if rows:
        execute(_insert(dialect_name()), rows)
    return len(rows)


@functools.lru_cache(maxsize=1)
def _households_statement() -> sa.Select:
    households, communities = Household.__table__, Community.__table__
    return (sa.select(households.c.id, households.c.number, households.c.phone, households.c.sms_opt_out,
                      communities.c.notice_days, communities.c.timezone)
            .join(communities, communities.c.id == households.c.community_id)
            .where(households.c.community_id == sa.bindparam("community_id"),
                   households.c.id.in_(sa.bindparam("ids", expanding=True))))


@functools.lru_cache(maxsize=2)
def _insert(dialect: str) -> Any:
    table = Notification.__table__
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_nothing(index_elements=["community_id", "idempotency_key"])


# --- the events -----------------------------------------------------------------------------


def record_event(household_id: int, record_id: int, points: int, rule: str) -> Event:
    return Event(household_id, "points_awarded" if points > 0 else "points_deducted", f"record:{record_id}",
                 {"points": points, "rule": rule}, with_deadline=True)


def record_posted(community_id: int, household_id: int, record_id: int, points: int, rule: str,
                  posted_at: datetime | None = None, household: Any = None) -> None:
    """A record's points posted (award or deduction): the message carries the objection deadline
    (posted + the community's ``notice_days``). ``household``: the row the caller read (see
    :func:`enqueue`'s ``known``)."""
    if points:
        enqueue(community_id, [record_event(household_id, record_id, points, rule)], posted_at,
                known=(household,) if household is not None else ())


def records_posted(community_id: int, records: list[tuple[int, int, int, str]],
                   posted_at: datetime | None = None) -> None:
    """:func:`record_posted` for many records of one community: ``(household, record, points, rule)``."""
    if not records:
        return
    enqueue(community_id, [record_event(h, r, p, rule) for h, r, p, rule in records if p], posted_at)


def adjustment_posted(community_id: int, household_id: int, adjustment_id: int, points: int, reason: str) -> None:
    enqueue(community_id, [Event(household_id, "points_adjusted", f"adjustment:{adjustment_id}",
                                 {"points": points, "rule": reason})])


def record_reversed(community_id: int, household_id: int, record_id: int, points: int, rule: str) -> None:
    enqueue(community_id, [Event(household_id, "points_reversed", f"reversal:{record_id}",
                                 {"points": points, "rule": rule})])


def card_blocked(community_id: int, household_id: int, card_id: int) -> None:
    """A household card was blocked (the fifth wrong PIN in a row): tell the household, in the
    caller's transaction (the block and its message commit or roll back together). Each block is
    its own message (a card unblocked and blocked again is told again)."""
    enqueue(community_id, [Event(household_id, "card_blocked", f"card_blocked:{card_id}:{uuid.uuid4().hex[:16]}",
                                 {"card_id": card_id})])


# --- the inbox -------------------------------------------------------------------------------


class NotificationNotFound(NotFound):
    code = "not_found"
    message = _l("No such notification.")


def _own_household(actor: User) -> int:
    if actor.household_id is None:
        raise NotFound()
    return actor.household_id


def inbox_view(row: Notification) -> dict[str, Any]:
    """The shape the API and /home show: the text in the reader's language, never a phone."""
    return {"id": row.id, "template": row.template, "text": render(row.template, row.params),
            "params": row.params, "is_read": row.status == "read", "created_at": row.created_at,
            "read_at": row.read_at}


def _inbox_statement(household_id: int) -> sa.Select:
    return sa.select(Notification).where(Notification.household_id == household_id, Notification.channel == "inbox")


def inbox(actor: User, *, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    """The actor's household's inbox, newest first (keyset pages like every list)."""
    stmt = _inbox_statement(_own_household(actor))
    if cursor is not None:
        stmt = stmt.where(Notification.id < int(cursor))
    rows = list(db.session.scalars(stmt.order_by(Notification.id.desc()).limit(limit + 1)))
    page = page_of(rows, limit, lambda row: row.id)
    page["items"] = [inbox_view(row) for row in page["items"]]
    page["unread"] = unread_count(actor)
    return page


def unread_count(actor: User) -> int:
    if actor.household_id is None:
        return 0
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.household_id == actor.household_id, Notification.channel == "inbox",
        Notification.status != "read")) or 0)


def mark_read(actor: User, notification_id: int) -> dict[str, Any]:
    """Mark one of the household's inbox messages read (reading it again changes nothing)."""
    row = db.session.scalar(_inbox_statement(_own_household(actor)).where(Notification.id == notification_id))
    if row is None:
        raise NotificationNotFound()
    if row.status != "read":
        row.status, row.read_at = "read", clock.now()
        db.session.flush()
    return inbox_view(row)


def mark_all_read(actor: User) -> int:
    household_id = _own_household(actor)
    result = db.session.execute(sa.update(Notification).where(
        Notification.household_id == household_id, Notification.channel == "inbox",
        Notification.status != "read").values(status="read", read_at=clock.now()))
    return int(result.rowcount or 0)


def set_own_sms_opt_out(actor: User, opt_out: bool) -> bool:
    """The resident's own choice on /home (staff set it with ``PATCH /households/{id}``)."""
    household = row_by_id(Household, _own_household(actor), actor.community_id)
    if household is None:
        raise NotFound()
    if household.sms_opt_out != opt_out:
        household.sms_opt_out = opt_out
        audit.record(actor, "household.sms_opt_out", community_id=household.community_id, target=household,
                     data={"sms_opt_out": opt_out})
        db.session.flush()
    return household.sms_opt_out
