"""The SMS sender against a real webhook receiver (``http.server`` on 127.0.0.1 in a thread):
retries with backoff after 500s, each message sent once, a crash between send and mark re-sends
with the same idempotency key (at-least-once), two senders at once never send one message twice."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest
import sqlalchemy as sa

from pointsbank import clock
from pointsbank.community.models import Household
from pointsbank.database import unit_of_work
from pointsbank.notify import sender
from pointsbank.notify.models import Notification
from pointsbank.notify.services import Event, enqueue
from tests.conftest import NOW
from pointsbank.database import row_by_id


class Receiver:
    """A gateway: answers each key with its scripted statuses (then 200), records every arrival."""

    def __init__(self, delay: float = 0.0) -> None:
        self.script: dict[str, list[int]] = {}
        self.arrivals: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.delay = delay
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    receiver.arrivals.append({**body, "header_key": self.headers["Idempotency-Key"]})
                    statuses = receiver.script.get(body["idempotency_key"]) or []
                    status = statuses.pop(0) if statuses else 200
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def keys(self) -> Counter:
        with self.lock:
            return Counter(a["idempotency_key"] for a in self.arrivals)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    made.thread.start()
    yield made
    made.server.shutdown()
    made.server.server_close()


def _messages(app: Any, world: Any, db: Any, count: int = 3) -> list[str]:
    """``count`` SMS for a1, a2, a3 (each with a phone), committed; their keys."""
    for name, phone in (("a1", "13800000001"), ("a2", "13800000002"), ("a3", "13800000003")):
        row_by_id(Household, world[name]).phone = phone
    db.session.commit()
    names = ["a1", "a2", "a3"]
    events = [Event(world[names[i % 3]], "card_blocked", f"test:{i}", {"card_id": i}) for i in range(count)]
    unit_of_work(enqueue)(world["alpha"], events)
    return [f"test:{i}:sms" for i in range(count)]


def _rows(db: Any) -> dict[str, Any]:
    """The SMS rows as plain rows, the transaction ended (on SQLite a transaction left open would
    hold the write lock: ``BEGIN IMMEDIATE``)."""
    rows = {r.idempotency_key: r for r in db.session.execute(sa.select(
        Notification.idempotency_key, Notification.status, Notification.attempts, Notification.sent_at,
        Notification.last_error, Notification.next_attempt_at).where(Notification.channel == "sms"))}
    db.session.rollback()
    return rows


def _webhook(app: Any, receiver: Receiver, **settings: Any) -> None:
    app.config.update(SMS_PROVIDER="webhook", SMS_WEBHOOK_URL=receiver.url, SMS_WEBHOOK_TIMEOUT_SECONDS=5,
                      NOTIFY_RETRY_SECONDS=30, NOTIFY_MAX_ATTEMPTS=5, **settings)


def test_a_message_answered_500_twice_arrives_three_times_with_one_key_and_is_marked_sent_once(app, world, db,
                                                                                               receiver):
    keys = _messages(app, world, db)
    receiver.script[keys[0]] = [500, 500]
    _webhook(app, receiver)
    now = clock.now()

    first = sender.send_due(now)
    too_early = sender.send_due(now + timedelta(seconds=29))  # the first retry waits 30 s
    second = sender.send_due(now + timedelta(seconds=30))     # then 60 s more
    still_early = sender.send_due(now + timedelta(seconds=89))
    third = sender.send_due(now + timedelta(seconds=90))
    later = [sender.send_due(now + timedelta(days=d)) for d in (1, 2)]

    assert first == {"sent": 2, "retrying": 1, "failed": 0, "skipped": 0}
    assert too_early == still_early == {"sent": 0, "retrying": 0, "failed": 0, "skipped": 0}
    assert second == {"sent": 0, "retrying": 1, "failed": 0, "skipped": 0}
    assert third == {"sent": 1, "retrying": 0, "failed": 0, "skipped": 0}
    assert later == [{"sent": 0, "retrying": 0, "failed": 0, "skipped": 0}] * 2
    assert receiver.keys() == {keys[0]: 3, keys[1]: 1, keys[2]: 1}
    retried = [a for a in receiver.arrivals if a["idempotency_key"] == keys[0]]
    assert {a["header_key"] for a in retried} == {keys[0]} and len({a["notification_id"] for a in retried}) == 1
    assert retried[0]["to"] == "13800000001" and "积分卡" in retried[0]["text"]
    rows = _rows(db)
    assert (rows[keys[0]].status, rows[keys[0]].attempts, rows[keys[0]].sent_at) == (
        "sent", 3, now + timedelta(seconds=90))
    assert [(rows[k].status, rows[k].attempts) for k in keys[1:]] == [("sent", 1), ("sent", 1)]


def test_a_message_the_gateway_keeps_refusing_is_failed_after_the_last_attempt_and_never_sent_again(app, world, db,
                                                                                                    receiver):
    (key,) = _messages(app, world, db, count=1)
    receiver.script[key] = [503] * 10
    _webhook(app, receiver)
    app.config.update(NOTIFY_MAX_ATTEMPTS=3, NOTIFY_RETRY_SECONDS=0)
    now = clock.now()

    reports = [sender.send_due(now + timedelta(minutes=m)) for m in range(5)]

    assert [r["failed"] for r in reports] == [0, 0, 1, 0, 0]
    assert receiver.keys() == {key: 3}
    row = _rows(db)[key]
    assert (row.status, row.attempts, row.last_error) == ("failed", 3, "HTTP 503")


def test_a_gateway_that_does_not_answer_counts_as_a_failed_attempt(app, world, db):
    (key,) = _messages(app, world, db, count=1)
    app.config.update(SMS_PROVIDER="webhook", SMS_WEBHOOK_URL="http://127.0.0.1:9/sms", NOTIFY_RETRY_SECONDS=60)

    report = sender.send_due(clock.now())

    assert report == {"sent": 0, "retrying": 1, "failed": 0, "skipped": 0}
    row = _rows(db)[key]
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, clock.now() + timedelta(seconds=60))


def test_the_sender_reads_the_household_again_an_opt_out_since_is_not_sent_and_a_new_number_is_used(app, world, db,
                                                                                                  receiver):
    keys = _messages(app, world, db, count=2)  # for a1 and a2
    row_by_id(Household, world["a1"]).sms_opt_out = True
    row_by_id(Household, world["a2"]).phone = "13900000002"
    db.session.commit()
    _webhook(app, receiver)

    report = sender.send_due(clock.now())

    assert report == {"sent": 1, "retrying": 0, "failed": 0, "skipped": 1}
    assert [(a["idempotency_key"], a["to"]) for a in receiver.arrivals] == [(keys[1], "13900000002")]
    rows = _rows(db)
    assert (rows[keys[0]].status, rows[keys[0]].last_error, rows[keys[0]].attempts) == ("failed", "opted_out", 0)
    assert sender.send_due(clock.now() + timedelta(days=1))["skipped"] == 0


def test_the_log_provider_writes_the_message_with_the_phone_masked(app, world, db, caplog, monkeypatch):
    (key,) = _messages(app, world, db, count=1)
    # the migrations' logging.config (alembic's fileConfig) disables loggers imported before they ran
    monkeypatch.setattr(sender.log, "disabled", False)
    caplog.set_level("INFO", logger="pointsbank.notify.sender")

    assert sender.send_due(clock.now()) == {"sent": 1, "retrying": 0, "failed": 0, "skipped": 0}

    (line,) = [r.getMessage() for r in caplog.records if r.name == "pointsbank.notify.sender"]
    assert "138****0001" in line and "13800000001" not in line and key in line
    assert _rows(db)[key].status == "sent"


def test_the_schedulers_once_pass_tells_expiring_vouchers_and_sends_due_sms(app, world, db, receiver):
    from pointsbank.jobs.scheduler import RoundScheduler
    from pointsbank.redeem import vouchers
    from tests.integration.helpers_ledger import award
    from tests.integration.helpers_round import user

    (key,) = _messages(app, world, db, count=1)
    award(world["alpha"], world["a1"], 20)
    voucher = vouchers.issue_voucher(user(world, "resident_a1"), points=20)  # valid 24 hours
    db.session.commit()
    _webhook(app, receiver)
    moment = clock.now() + timedelta(hours=20)
    scheduler = RoundScheduler(app, now=lambda: moment)
    scheduler.configure()

    scheduler.run_once()
    scheduler.run_once()

    assert "notifications" in {j.id for j in scheduler.scheduler.get_jobs()}
    assert receiver.keys() == {key: 1, f"voucher_expiring:{voucher['id']}:sms": 1}
    assert {r.status for r in _rows(db).values()} == {"sent"}


# --- real processes ----------------------------------------------------------------------------------


def _env(app: Any, receiver: Receiver, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POINTSBANK_")}
    env.update(POINTSBANK_DATABASE_URL=app.config["DATABASE_URL"], POINTSBANK_CLOCK=NOW,
               POINTSBANK_SECRET_KEY="test-secret", POINTSBANK_SMS_PROVIDER="webhook",
               POINTSBANK_SMS_WEBHOOK_URL=receiver.url, PYTHONPATH=os.pathsep.join(sys.path), **extra)
    return env


def _send_command() -> list[str]:
    return [sys.executable, "-c", "from pointsbank.cli import main; main()", "notifications", "send"]


def _read_lines(stream: Any, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)


def test_a_sender_killed_between_send_and_mark_leaves_the_message_pending_and_the_next_run_resends_it(app, world,
                                                                                                       db, receiver):
    (key,) = _messages(app, world, db, count=1)
    db.session.remove()

    paused = subprocess.Popen(_send_command(), env=_env(app, receiver, POINTSBANK_TEST_PAUSE_NOTIFY="120"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(paused.stderr, lines), daemon=True)
    reader.start()
    try:
        while sender.PAUSED not in lines.get(timeout=120):  # sent, not yet marked
            pass
        assert receiver.keys() == {key: 1}
    finally:
        os.kill(paused.pid, signal.SIGKILL)
        paused.wait(timeout=30)
        reader.join(timeout=30)
        paused.stderr.close()

    assert paused.returncode == -signal.SIGKILL
    row = _rows(db)[key]
    assert (row.status, row.attempts, row.sent_at) == ("pending", 0, None)

    rerun = subprocess.run(_send_command(), env=_env(app, receiver), capture_output=True, text=True, timeout=120)
    again = subprocess.run(_send_command(), env=_env(app, receiver), capture_output=True, text=True, timeout=120)

    assert rerun.returncode == 0, rerun.stderr
    assert "sent 1, retrying 0, failed 0, skipped 0" in rerun.stdout and "sent 0, retrying 0, failed 0, skipped 0" in again.stdout
    assert receiver.keys() == {key: 2}
    assert [a["header_key"] for a in receiver.arrivals] == [key, key]
    assert len({a["notification_id"] for a in receiver.arrivals}) == 1
    row = _rows(db)[key]
    assert (row.status, row.attempts) == ("sent", 1)


@pytest.mark.postgres_only
def test_two_senders_at_once_never_send_one_message_twice(app, world, db, receiver):
    keys = _messages(app, world, db, count=40)
    receiver.delay = 0.05  # each send holds its row a while: the two runs overlap
    db.session.remove()

    processes = [subprocess.Popen(_send_command(), env=_env(app, receiver), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=180) for p in processes]

    assert [p.returncode for p in processes] == [0, 0], outputs
    assert receiver.keys() == {key: 1 for key in keys}
    sent = [int(out.split()[1].rstrip(",")) for out, _ in outputs]
    assert sum(sent) == 40, outputs
    assert {r.status for r in _rows(db).values()} == {"sent"}
