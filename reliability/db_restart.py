"""Database restart during load: PostgreSQL is stopped mid-load (``pg_ctl stop -m immediate``:
a crash, recovered from WAL at the next start), kept down a few seconds, started again.

While it is down the app must answer 503 — the JSON error shape with ``Retry-After`` — and
never 500; when it is back the app must recover by itself (``pool_pre_ping`` throws away the
dead pooled connections) without a restart of gunicorn; and nothing acknowledged may be lost:
the same exactly-once audit as the crash test, and ``ledger verify`` clean.
"""

from __future__ import annotations

import json
import threading
import time

from bench.common import Gunicorn
from reliability.load import MixedLoad, audit, summary
from reliability.pgcluster import PgCluster
from reliability.world import World, ledger_verify

RECOVERY_LIMIT_SECONDS = 20.0


def run(world: World, cluster: PgCluster, *, down_seconds: float = 3.0, log=print) -> tuple[bool, dict]:
    server = Gunicorn(world.url).start()
    load = MixedLoad(server.port, world, seconds=2.0 + down_seconds + 5.0, retry_for=30)
    worker = threading.Thread(target=load.run, kwargs={"readers": 4}, daemon=True)
    problems: list[str] = []
    try:
        worker.start()
        time.sleep(2.0)
        down_at = time.monotonic()
        cluster.stop("immediate")
        time.sleep(down_seconds)
        cluster.start()
        up_at = time.monotonic()
        worker.join(90)
    finally:
        server.stop()
    during = [e for e in load.events if down_at + 0.5 <= e.at <= up_at]
    answered = [e for e in during if isinstance(e.status, int)]
    if not answered:
        problems.append("no answer at all while the database was down")
    for event in answered:
        if event.status != 503:
            problems.append(f"while the database was down: {event.status} {event.body[:160]!r}")
            continue
        try:
            shape = json.loads(event.body)["error"]
            assert {"code", "message", "details"} <= set(shape)
        except (ValueError, KeyError, TypeError, AssertionError):
            problems.append(f"a 503 without the JSON error shape: {event.body[:160]!r}")
        if not event.retry_after:
            problems.append("a 503 without Retry-After")
    problems = sorted(set(problems))[:20]
    after = [e for e in load.events if e.at > up_at and isinstance(e.status, int) and 200 <= e.status < 300]
    recovery = round(after[0].at - up_at, 2) if after else None
    if recovery is None or recovery > RECOVERY_LIMIT_SECONDS:
        problems.append(f"the app did not recover within {RECOVERY_LIMIT_SECONDS}s of the database's return")
    problems += audit(load)
    clean, verdict = ledger_verify(world.url)
    if not clean:
        problems.append(f"ledger verify: {verdict}")
    codes: dict[str, int] = {}
    for event in answered:
        try:
            code = json.loads(event.body)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = "?"
        codes[f"{event.status} {code}"] = codes.get(f"{event.status} {code}", 0) + 1
    stats = {**summary(load), "down_seconds": down_seconds, "answers_while_down": codes,
             "unanswered_while_down": len(during) - len(answered), "recovery_seconds": recovery,
             "ledger_verify": verdict}
    for problem in problems:
        log(f"    PROBLEM {problem}")
    return not problems, {**stats, "problems": problems}
