"""Crash test: gunicorn killed with SIGKILL (master and workers at once) at random moments
during a mixed load of adjustments, voucher issues and redemptions, restarted, K times.

Each round waits until the load is really running against the fresh server (a few requests
sent after the restart have succeeded: readiness, not a fixed sleep), lets it run a random
while longer, then kills. Afterwards ``pointsbank ledger verify`` must be clean, and every
request the client saw succeed must be in the database exactly once
(:func:`reliability.load.audit`). Requests whose answer was lost in a crash are retried with the
same Idempotency-Key, as a client would: each of them ends done once — replayed if the first
attempt had committed, done now if it had not.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from pathlib import Path

from bench.common import Gunicorn
from reliability.load import MixedLoad, audit, summary
from reliability.world import World, ledger_verify

#: successes to see on a fresh server before the next kill may come
WARM = 6
#: how long the load may take to get them (a restart under load on 2 shared cores is slow)
WARM_TIMEOUT = 60.0


def run(world: World, *, kills: int, seed: int = 8, log_path: Path | None = None, log=print,
        server_class: type[Gunicorn] = Gunicorn) -> tuple[bool, dict]:
    rng = random.Random(seed)
    server = server_class(world.url, log_path=log_path).start()
    load = MixedLoad(server.port, world, retry_for=45)
    worker = threading.Thread(target=load.run, daemon=True)
    restarts: list[float] = []
    in_flight: list[int] = []
    problems: list[str] = []
    try:
        worker.start()
        up_since = time.monotonic()
        for round_ in range(kills):
            if not load.wait_for_successes(up_since, WARM, WARM_TIMEOUT):
                problems.append(f"round {round_ + 1}: the load made no progress within {WARM_TIMEOUT}s of a start")
            time.sleep(rng.uniform(0.0, 1.5))
            killed_at = time.monotonic()
            server.kill()
            time.sleep(rng.uniform(0.05, 0.5))
            server.start()
            up_since = time.monotonic()
            restarts.append(round(up_since - killed_at, 2))
            in_flight.append(_lost_in(load, killed_at))
        if not load.wait_for_successes(up_since, WARM, WARM_TIMEOUT):
            problems.append("the load made no progress after the last restart")
        load.stop()
        worker.join(load.retry_for + 60)
    finally:
        load.stop()
        server.stop()
    if worker.is_alive():
        problems.append("the load did not finish its retries")
    problems += audit(load)
    clean, verdict = ledger_verify(world.url)
    if not clean:
        problems.append(f"ledger verify: {verdict}")
    stats = {**summary(load), "kills": kills, "restart_seconds": restarts, "answers_lost_per_kill": in_flight,
             "ledger_verify": verdict}
    acknowledged = stats["acknowledged"]
    if min(acknowledged["adjustment"], acknowledged["voucher"], acknowledged["redemption"]) < kills:
        problems.append(f"the load did too little to prove anything: {acknowledged}")
    if not any(in_flight):
        problems.append("no kill caught a request in flight: the crashes proved nothing")
    for problem in problems:
        log(f"    PROBLEM {problem}")
    log(f"    {kills} kills, {stats['requests']} requests, acknowledged {acknowledged}, answers lost in a kill "
        f"{in_flight}, retried {stats['retried']}, replayed {stats['replayed']}; {verdict}")
    return not problems, {**stats, "problems": problems}


def _lost_in(load: MixedLoad, killed_at: float) -> int:
    """Requests sent before the kill whose answer never came: the connection broke under them
    (counted after the restart, by when every client has long seen its connection reset)."""
    broken = (ConnectionResetError.__name__, http.client.RemoteDisconnected.__name__,
              http.client.IncompleteRead.__name__, BrokenPipeError.__name__)
    with load._lock:
        return sum(1 for e in load.events if e.sent < killed_at <= e.at and e.status in broken)
