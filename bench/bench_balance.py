"""Balance reads under load: ``GET /api/v1/households/{id}`` by 200 residents at once.

Three measurements on the same server (gunicorn ``-w 2 -k gthread --threads 8``), each after a
short warm-up run:

1. **throughput**: 200 clients (keep-alive connections, each read a resident's own household
   with that resident's token) as fast as the server answers; compared with pgbench
   select-only (``-S -c 8 -j 2``) on its own scale-10 database in the same run.
2. **latency at 200 concurrent clients**: the same 200 clients, now pacing their reads so that
   together they offer the goal's rate (0.05 × pgbench select-only TPS) — the load a city's
   phones put on the server, not a closed loop where every client waits for the last answer
   (that would measure the queue of 200 clients, not the service). p50 and p99 are reported;
   the goal is p99 under 20 ms. When the server cannot take the goal's rate, the offered rate
   is capped at 80 % of the measured throughput instead, and the table says so.
3. **context**: the same 200 clients on ``GET /healthz`` (no authentication, one ``SELECT 1``):
   the most this HTTP stack and this load generator do on this machine, for reading the ratio.

The load comes from ``wrk`` (C, 2 threads, 200 connections; ``bench/wrk.py``) when it is
installed: each request is a resident drawn at random reading its own household with its own
token. Pacing is wrk's ``delay()``: before each request a connection waits 200 / rate seconds
(uniform jitter ±50 %), so the 200 connections offer about ``rate`` (a little less, by the
answers' own time; the achieved rate is reported). wrk's latency counts from the send, so the
p99 is per-request service time plus queueing under that offered load.

Without wrk, 200 Python ``http.client`` threads (one resident each) do the same; their pacing
counts latency from the moment a read was due (no coordinated omission). The figures' details
name the load generator and the CPU per request of gunicorn and of PostgreSQL's backends.

    python bench/bench_balance.py [--short] [--seconds 20] [--json out.json] [--database URL]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import wrk  # noqa: E402
from bench.common import (Client, Figure, Gunicorn, issue_tokens, pgbench_database, pgbench_tps,  # noqa: E402
                          run_load, standard_arguments, write_results)
from bench.seed import seeded_database  # noqa: E402

CLIENTS = 200
GOAL_RATIO = 0.05
GOAL_P99_MS = 20.0
WARMUP_SECONDS = 2
WRK_THREADS = 2

#: a resident drawn at random reads its own household with its own token
READ_LUA = r"""
function request()
  local resident = DATA.residents[math.random(#DATA.residents)]
  return wrk.format("GET", "/api/v1/households/" .. resident[2],
                    {["Authorization"] = "Bearer " .. resident[1], ["Accept"] = "application/json"})
end
"""
#: each connection waits 200 / rate seconds (±50 %) before each request
PACED_LUA = READ_LUA + r"""
function delay()
  return DATA.interval_ms * (0.5 + math.random())
end
"""
HEALTHZ_LUA = r"""
function request()
  return wrk.format("GET", "/healthz", {["Accept"] = "application/json"})
end
"""


def main() -> None:
    args = standard_arguments(__doc__.split("\n\n")[0]).parse_args()
    seconds = args.seconds or (5 if args.short else 20)
    with seeded_database(args, "balance") as (url, info):
        with pgbench_database() as pg:
            baseline = pgbench_tps(pg, clients=8, threads=2, seconds=int(seconds), select_only=True)
        residents = info.residents[:CLIENTS]
        if len(residents) < CLIENTS:
            raise SystemExit(f"the seed has {len(residents)} resident logins; {CLIENTS} are needed")
        tokens = issue_tokens(url, [user_id for user_id, _, _ in residents])
        client_tokens = [tokens[user_id] for user_id, _, _ in residents]
        own = [household_id for _, household_id, _ in residents]

        def read(client: Client, index: int, sequence: int) -> int:
            return client.request("GET", f"/api/v1/households/{own[index]}")[0]

        def healthz(client: Client, index: int, sequence: int) -> int:
            return client.request("GET", "/healthz")[0]

        with Gunicorn(url) as server:
            meter = wrk.CpuMeter(server.process.pid, url)
            if wrk.available():
                data = {"residents": [[token, household] for token, household in zip(client_tokens, own)]}

                def measure(lua: str, data: dict, rate: float | None = None):
                    if rate:
                        data = {**data, "interval_ms": CLIENTS / rate * 1000}
                    wrk.run(server.port, lua, data, connections=CLIENTS, seconds=WARMUP_SECONDS, threads=WRK_THREADS)
                    meter.start()
                    result = wrk.run(server.port, lua, data, connections=CLIENTS, seconds=seconds, threads=WRK_THREADS)
                    result.offered_rate = rate
                    return result, meter.stop().per_request_ms(result.requests)

                closed, closed_cpu = measure(READ_LUA, data)
                goal_rate = GOAL_RATIO * baseline
                rate = goal_rate if closed.throughput >= goal_rate else 0.8 * closed.throughput
                paced, paced_cpu = measure(PACED_LUA, data, rate)
                floor, floor_cpu = measure(HEALTHZ_LUA, {})
                load_generator = wrk.describe(WRK_THREADS)
                latency_from = ("the send (wrk): per-request service time plus queueing under the offered load; "
                                "each connection waits 200/rate s ±50 % before each request")
            else:
                def measure(request_fn, tokens: list[str] | None, rate: float | None = None):
                    run_load(server.port, request_fn, clients=CLIENTS, seconds=WARMUP_SECONDS, tokens=tokens, warmup=0)
                    meter.start()
                    result = run_load(server.port, request_fn, clients=CLIENTS, seconds=seconds, tokens=tokens,
                                      warmup=0, rate=rate)
                    return result, meter.stop().per_request_ms(result.requests)

                closed, closed_cpu = measure(read, client_tokens)
                goal_rate = GOAL_RATIO * baseline
                rate = goal_rate if closed.throughput >= goal_rate else 0.8 * closed.throughput
                paced, paced_cpu = measure(read, client_tokens, rate)
                floor, floor_cpu = measure(healthz, None)
                load_generator = f"python http.client threads ({CLIENTS})"
                latency_from = "the moment a read was due (no coordinated omission)"
    capped = rate < goal_rate
    figures = [
        Figure("balance read throughput (200 clients)", closed.throughput, "req/s", baseline,
               "pgbench select-only tps", goal={"ratio_min": GOAL_RATIO},
               details={"clients": CLIENTS, "seconds": seconds, "load_generator": load_generator, **closed_cpu,
                        "p50_ms": round(closed.p50_ms, 2), "p99_ms": round(closed.p99_ms, 2),
                        "statuses": closed.statuses, "ok_ratio": round(closed.ok_ratio(), 4)}),
        Figure(f"balance read p99 at 200 clients, {rate:,.0f} req/s" + (" (capped)" if capped else ""),
               paced.p99_ms, "ms", None, None, goal={"value_max": GOAL_P99_MS},
               details={"load_generator": load_generator, **paced_cpu, "latency_counts_from": latency_from,
                        "p50_ms": round(paced.p50_ms, 2), "p90_ms": round(paced.p90_ms, 2),
                        "max_ms": round(paced.max_ms, 2), "offered_rate": round(rate, 1),
                        "goal_rate": round(goal_rate, 1), "achieved_rate": round(paced.throughput, 1),
                        "statuses": paced.statuses, "ok_ratio": round(paced.ok_ratio(), 4),
                        "capped_below_goal_rate": capped}),
        Figure("balance read p50 at 200 clients", paced.p50_ms, "ms",
               details={"offered_rate": round(rate, 1), "load_generator": load_generator,
                        "latency_counts_from": latency_from}),
        Figure("(context) GET /healthz, no auth, 200 clients", floor.throughput, "req/s", baseline,
               "pgbench select-only tps", details={"load_generator": load_generator, **floor_cpu,
                                                   "p50_ms": round(floor.p50_ms, 2), "p99_ms": round(floor.p99_ms, 2),
                                                   "statuses": floor.statuses,
                                                   "why": "the ceiling of gunicorn + Flask + one SELECT 1 on "
                                                          "this machine, with the same load generator"}),
    ]
    for name, result in (("throughput", closed), ("paced", paced), ("healthz", floor)):
        if result.ok_ratio() < 0.99:
            print(f"warning: only {result.ok_ratio():.1%} of the {name} reads succeeded: {result.statuses}"
                  + (f"; first refusal: {result.sample}" if getattr(result, "sample", None) else ""), file=sys.stderr)
    write_results(args.json_path, "balance", figures)


if __name__ == "__main__":
    main()
