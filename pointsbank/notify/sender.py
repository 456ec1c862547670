"""The sender: due SMS out through the provider, each message once in the normal course.

``send_due(now)`` claims one due message at a time (``status = pending``, ``next_attempt_at <= now``)
with ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises the
senders instead), sends it while the row is locked, marks it and commits — one unit of work per
message. So two senders never pick the same message, and a message is marked in the transaction
that locked it:

* 2xx from the gateway (or the log provider): ``sent``, ``sent_at``;
* anything else (a status, a timeout, a refused connection): ``attempts + 1``, then
  ``next_attempt_at = now + NOTIFY_RETRY_SECONDS · 2^(attempts−1)``, or ``failed`` once
  ``attempts`` reaches ``NOTIFY_MAX_ATTEMPTS``;
* a crash between the send and the commit rolls the mark back: the message is still pending and
  the next run sends it again **with the same idempotency key** (at-least-once; the gateway
  dedupes by the key — the payload's ``idempotency_key`` and the ``Idempotency-Key`` header).

The household is read again at send time: a household that opted out (or whose phone was removed)
since the message was written is not sent to — the message is closed as ``failed`` with
``last_error`` ``opted_out`` / ``no_phone`` — and a changed number is used.

A run claims messages in id order, each at most once (a message that fails waits for its next
attempt, even with no backoff). Providers (``POINTSBANK_SMS_PROVIDER``): ``log`` (default: one
app-log line, the phone masked) and ``webhook`` (JSON POST to ``POINTSBANK_SMS_WEBHOOK_URL``).
"""

from __future__ import annotations

import json
import logging
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

import sqlalchemy as sa
from flask import current_app

from pointsbank import clock
from pointsbank.community.models import Household
from pointsbank.database import lock_due, unit_of_work
from pointsbank.extensions import db
from pointsbank.notify.models import Notification
from pointsbank.notify.phones import masked
from pointsbank.notify.templates import render

log = logging.getLogger(__name__)

#: the language of an SMS (the communities' default)
SMS_LOCALE = "zh_CN"
PAUSED = "notification sent, paused before mark"


class SendFailed(Exception):
    pass


class ProviderNotConfigured(RuntimeError):
    pass


def payload(row: Notification) -> dict[str, Any]:
    """What the gateway receives: the one place the full phone number leaves the database."""
    return {"idempotency_key": row.idempotency_key, "notification_id": row.id, "community_id": row.community_id,
            "to": row.recipient_phone, "text": render(row.template, row.params, SMS_LOCALE),
            "template": row.template, "params": row.params}


def log_provider(message: dict[str, Any]) -> None:
    log.info("sms to %s [%s]: %s", masked(message["to"]), message["idempotency_key"], message["text"])


def webhook_provider(url: str, timeout: float) -> Callable[[dict[str, Any]], None]:
    def send(message: dict[str, Any]) -> None:
        request = urllib.request.Request(url, data=json.dumps(message, ensure_ascii=False).encode("utf-8"),
                                         method="POST", headers={"Content-Type": "application/json; charset=utf-8",
                                                                 "Idempotency-Key": message["idempotency_key"]})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured URL
                status = response.status
        except urllib.error.HTTPError as error:
            raise SendFailed(f"HTTP {error.code}") from error
        except (urllib.error.URLError, OSError) as error:
            raise SendFailed(str(getattr(error, "reason", error))[:200]) from error
        if not 200 <= status < 300:
            raise SendFailed(f"HTTP {status}")

    return send


def provider() -> Callable[[dict[str, Any]], None]:
    name = current_app.config["SMS_PROVIDER"]
    if name == "log":
        return log_provider
    if name == "webhook":
        url = current_app.config["SMS_WEBHOOK_URL"]
        if not url:
            raise ProviderNotConfigured("POINTSBANK_SMS_PROVIDER=webhook needs POINTSBANK_SMS_WEBHOOK_URL")
        return webhook_provider(url, float(current_app.config["SMS_WEBHOOK_TIMEOUT_SECONDS"]))
    raise ProviderNotConfigured(f"unknown POINTSBANK_SMS_PROVIDER {name!r} (log or webhook)")


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    #: not sent: the household opted out or has no phone any more
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "retrying": self.retrying, "failed": self.failed, "skipped": self.skipped}


def _claim(now: datetime, after_id: int) -> Notification | None:
    """The next due SMS after ``after_id`` that no other sender holds, locked (skipping held ones)."""
    while True:
        due = (Notification.channel == "sms", Notification.status == "pending", Notification.next_attempt_at <= now,
               Notification.id > after_id)
        found = lock_due(Notification, *due, order_by=(Notification.id,), limit=1)
        if found:
            return found[0]
        following = db.session.scalar(sa.select(Notification.id).where(*due).order_by(Notification.id).limit(1))
        if following is None:
            return None
        after_id = following  # held by another sender: the one after it


def _pause_for_tests() -> None:
    """``POINTSBANK_TEST_PAUSE_NOTIFY=<seconds>``: stop between the send and the mark, so a test
    can kill the process there. Ignored in production."""
    seconds = current_app.config.get("TEST_PAUSE_NOTIFY")
    if seconds and current_app.config.get("ENV") != "production":
        print(PAUSED, file=sys.stderr, flush=True)
        time.sleep(float(seconds))


def send_one(now: datetime, after_id: int, send: Callable[[dict[str, Any]], None]) -> tuple[int, str] | None:
    """Claim, send and mark the next due message after ``after_id`` (one unit of work):
    ``(its id, sent | retrying | failed)``, or None when nothing is due."""
    row = _claim(now, after_id)
    if row is None:
        return None
    phone, opted_out = db.session.execute(sa.select(Household.phone, Household.sms_opt_out).where(
        Household.id == row.household_id)).one()
    if opted_out or not phone:
        row.status, row.last_error = "failed", "opted_out" if opted_out else "no_phone"
        db.session.flush()
        return row.id, "skipped"
    row.recipient_phone = phone
    row.attempts += 1
    try:
        send(payload(row))
    except SendFailed as error:
        row.last_error = str(error)[:255]
        if row.attempts >= int(current_app.config["NOTIFY_MAX_ATTEMPTS"]):
            row.status, outcome = "failed", "failed"
        else:
            delay = float(current_app.config["NOTIFY_RETRY_SECONDS"]) * 2 ** (row.attempts - 1)
            row.next_attempt_at, outcome = now + timedelta(seconds=delay), "retrying"
        log.warning("sms %s attempt %d: %s (%s)", row.idempotency_key, row.attempts, error, outcome)
    else:
        _pause_for_tests()
        row.status, row.sent_at, row.last_error, outcome = "sent", now, None, "sent"
    db.session.flush()
    return row.id, outcome


def send_due(now: datetime | None = None, limit: int | None = None) -> dict[str, int]:
    """Send every due SMS once (up to ``limit``); safe to run twice and from two processes."""
    moment = now or clock.now()
    send = provider()
    report, last_id = SendReport(), 0
    while limit is None or report.sent + report.retrying + report.failed + report.skipped < limit:
        done = unit_of_work(send_one)(moment, last_id, send)
        if done is None:
            break
        last_id, outcome = done
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report.as_dict()
