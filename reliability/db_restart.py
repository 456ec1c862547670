"""Database restart during load: PostgreSQL is stopped mid-load (``pg_ctl stop -m immediate``:
a crash, recovered from WAL at the next start), kept down a few seconds, started again.

* While it is down the app must answer 503 — the JSON error shape with ``Retry-After`` — and
  never 500 (nor hang: every request gets an answer).
* When it is back the app must recover by itself, without a restart of gunicorn: every request
  sent after PostgreSQL accepts connections again must succeed. A pooled connection left over
  from before the restart would fail its first statement (``pool_pre_ping`` throws such
  connections away at checkout), so a single 503 after the return is a failure.
* The same once more with the app idle across a quick restart: its pools then still hold the
  dead connections (under load the failing requests empty them), and the reads that follow must
  all succeed.
* Nothing acknowledged may be lost: the same exactly-once audit as the crash test, and
  ``ledger verify`` clean.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from bench.common import Gunicorn
from reliability.load import MixedLoad, audit, summary
from reliability.pgcluster import PgCluster
from reliability.world import World, ledger_verify

RECOVERY_LIMIT_SECONDS = 20.0
WARM = 10
WARM_TIMEOUT = 60.0


def run(world: World, cluster: PgCluster, *, down_seconds: float = 3.0, log_path: Path | None = None,
        log=print, server_class: type[Gunicorn] = Gunicorn) -> tuple[bool, dict]:
    server = server_class(world.url, log_path=log_path).start()
    load = MixedLoad(server.port, world, retry_for=45)
    worker = threading.Thread(target=load.run, kwargs={"readers": 4}, daemon=True)
    problems: list[str] = []
    try:
        began = time.monotonic()
        worker.start()
        if not load.wait_for_successes(began, WARM, WARM_TIMEOUT):
            problems.append(f"the load made no progress within {WARM_TIMEOUT}s before the restart")
        down_at = time.monotonic()
        cluster.stop("immediate")
        stopped_at = time.monotonic()
        time.sleep(down_seconds)
        starting_at = time.monotonic()  # it may accept connections before pg_ctl notices
        cluster.start()
        up_at = time.monotonic()
        recovered = load.wait_for_successes(up_at, WARM, RECOVERY_LIMIT_SECONDS,
                                            kinds=("adjustment", "voucher", "redemption"))
        if recovered:
            time.sleep(1.0)  # some more load on the recovered app: stale connections would show here
        load.stop()
        worker.join(load.retry_for + 60)
        quiet = _quiet_restart(server.port, world, cluster)
    finally:
        load.stop()
        server.stop()
    if worker.is_alive():
        problems.append("the load did not finish its retries")
    # sent once the database was surely gone and answered before it could be back
    during = [e for e in load.events if e.sent >= stopped_at and e.at <= starting_at]
    answered = [e for e in during if isinstance(e.status, int)]
    if not answered:
        problems.append("no answer at all while the database was down")
    down_problems: set[str] = set()
    for event in answered:
        if event.status != 503:
            down_problems.add(f"while the database was down: {event.status} {event.kind} sent "
                              f"{event.sent - stopped_at:+.3f}s after the stop, answered {event.at - stopped_at:+.3f}s: "
                              f"{event.body[:100]!r}")
            continue
        try:
            shape = json.loads(event.body)["error"]
            assert {"code", "message", "details"} <= set(shape) and shape["code"] == "database_unavailable"
        except (ValueError, KeyError, TypeError, AssertionError):
            down_problems.add(f"a 503 without the JSON error shape: {event.body[:160]!r}")
        if not event.retry_after:
            down_problems.add("a 503 without Retry-After")
    unanswered = [e for e in during if not isinstance(e.status, int)]
    if unanswered:
        down_problems.add(f"{len(unanswered)} requests got no answer while the database was down "
                          f"(e.g. {unanswered[0].status})")
    problems += sorted(down_problems)[:20]
    # sent after the database was back: every one must succeed (or be a domain refusal, never 5xx)
    after = [e for e in load.events if e.sent >= up_at]
    failed_after = [e for e in after if not isinstance(e.status, int) or e.status >= 500]
    if not recovered:
        problems.append(f"the app did not recover within {RECOVERY_LIMIT_SECONDS}s of the database's return")
    if failed_after:
        problems.append(f"{len(failed_after)} of {len(after)} requests sent after the database was back failed "
                        f"(stale pooled connections?), e.g. {failed_after[0].status} {failed_after[0].body[:160]!r}")
    quiet_failed = [e for e in quiet.events if e.status != 200]
    if not quiet.events or quiet_failed:
        problems.append(f"after a restart while the app was idle, {len(quiet_failed)} of {len(quiet.events)} reads "
                        f"failed (stale pooled connections), e.g. "
                        f"{(quiet_failed[0].status, quiet_failed[0].body[:160]) if quiet_failed else 'no reads'}")
    successes_after = sorted(e.at for e in after if isinstance(e.status, int) and 200 <= e.status < 300)
    recovery = round(successes_after[0] - up_at, 2) if successes_after else None
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
    stats = {**summary(load), "down_seconds": round(up_at - down_at, 2),
             "start_seconds": round(up_at - starting_at, 2), "answers_while_down": codes,
             "unanswered_while_down": len(unanswered), "requests_after_return": len(after),
             "failed_after_return": len(failed_after), "reads_after_idle_restart": len(quiet.events),
             "failed_after_idle_restart": len(quiet_failed), "first_success_after_return_seconds": recovery,
             "ledger_verify": verdict}
    for problem in problems:
        log(f"    PROBLEM {problem}")
    log(f"    down {stats['down_seconds']}s: {codes}; after the return {len(after)} requests, "
        f"{len(failed_after)} failed, first success after {recovery}s; acknowledged {stats['acknowledged']}; "
        f"after an idle restart {len(quiet.events)} reads, {len(quiet_failed)} failed; {verdict}")
    return not problems, {**stats, "problems": problems}


def _quiet_restart(port: int, world: World, cluster: PgCluster) -> MixedLoad:
    """PostgreSQL restarted while the app is idle: its pools still hold the connections of the
    load, now dead, and nothing has touched them. The reads that follow must all succeed — each
    stale connection is found out at checkout (``pool_pre_ping``), not by a failed request.
    (Under load the failed requests themselves empty the pool, so only this shows the ping.)"""
    cluster.stop("immediate")
    cluster.start()
    quiet = MixedLoad(port, world, seconds=2.0, retry_for=0, kinds=())
    quiet.run(readers=12)
    return quiet
