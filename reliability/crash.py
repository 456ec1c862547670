"""Crash test: gunicorn killed with SIGKILL (master and workers at once) at random moments
during a mixed load of adjustments, voucher issues and redemptions, restarted, K times.

Afterwards ``pointsbank ledger verify`` must be clean, and every request the client saw
succeed must be in the database exactly once (:func:`reliability.load.audit`). Requests whose
answer was lost in a crash are retried with the same Idempotency-Key, as a client would: each
of them ends done once — replayed if the first attempt had committed, done now if it had not.
"""

from __future__ import annotations

import random
import threading
import time

from bench.common import Gunicorn
from reliability.load import MixedLoad, audit, summary
from reliability.world import World, ledger_verify


def run(world: World, *, kills: int, seed: int = 8, log=print) -> tuple[bool, dict]:
    rng = random.Random(seed)
    server = Gunicorn(world.url).start()
    gaps = [rng.uniform(0.4, 2.0) for _ in range(kills)]
    load = MixedLoad(server.port, world, seconds=sum(gaps) + 2.0, retry_for=30)
    worker = threading.Thread(target=load.run, daemon=True)
    restarts: list[float] = []
    try:
        worker.start()
        time.sleep(0.5)
        for gap in gaps:
            time.sleep(gap)
            server.kill()
            began = time.monotonic()
            time.sleep(rng.uniform(0.05, 0.4))
            server.start()
            restarts.append(round(time.monotonic() - began, 2))
        worker.join(90)
    finally:
        server.stop()
    problems = audit(load)
    clean, verdict = ledger_verify(world.url)
    if not clean:
        problems.append(f"ledger verify: {verdict}")
    stats = {**summary(load), "kills": kills, "restart_seconds": restarts, "ledger_verify": verdict}
    acknowledged = stats["acknowledged"]
    if not acknowledged["adjustment"] or not acknowledged["voucher"] or not acknowledged["redemption"]:
        problems.append(f"the load did too little to prove anything: {acknowledged}")
    for problem in problems:
        log(f"    PROBLEM {problem}")
    return not problems, {**stats, "problems": problems}
