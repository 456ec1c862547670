"""Balance reads under load: ``GET /api/v1/households/{id}`` by 200 residents at once.

Two measurements on the same server (gunicorn ``-w 2 -k gthread --threads 8``):

1. **throughput**: 200 clients (each a resident with its own token and keep-alive connection,
   reading its own household) as fast as the server answers; compared with pgbench
   select-only (``-S -c 8 -j 2``) on its own scale-10 database in the same run.
2. **latency at 200 concurrent clients**: the same 200 clients, now each pacing its reads so
   that together they offer the goal's rate (0.05 × pgbench select-only TPS) — the load a city's
   phones put on the server, not a closed loop where every client waits for the last answer;
   latency counts from the moment a read was due, so queueing shows (no coordinated omission).
   p50 and p99 are reported; the goal is p99 under 20 ms. When the server cannot take the
   goal's rate, the offered rate is capped at 80 % of the measured throughput instead, and the
   table says so.
3. **context**: the same 200 clients on ``GET /healthz`` (no authentication, one ``SELECT 1``):
   the most this HTTP stack and this load generator do on this machine, for reading the ratio.

    python bench/bench_balance.py [--short] [--seconds 20] [--json out.json] [--database URL]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (Client, Figure, Gunicorn, issue_tokens, pgbench_database, pgbench_tps,  # noqa: E402
                          run_load, standard_arguments, write_results)
from bench.seed import seeded_database  # noqa: E402

CLIENTS = 200
GOAL_RATIO = 0.05
GOAL_P99_MS = 20.0


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

        with Gunicorn(url) as server:
            closed = run_load(server.port, read, clients=CLIENTS, seconds=seconds, tokens=client_tokens, warmup=2)
            goal_rate = GOAL_RATIO * baseline
            rate = goal_rate if closed.throughput >= goal_rate else 0.8 * closed.throughput
            paced = run_load(server.port, read, clients=CLIENTS, seconds=seconds, tokens=client_tokens, warmup=2,
                             rate=rate)
            floor = run_load(server.port, lambda client, index, sequence: client.request("GET", "/healthz")[0],
                             clients=CLIENTS, seconds=seconds, warmup=2)
    capped = rate < goal_rate
    figures = [
        Figure("balance read throughput (200 clients)", closed.throughput, "req/s", baseline,
               "pgbench select-only tps", goal={"ratio_min": GOAL_RATIO},
               details={"clients": CLIENTS, "seconds": seconds, "p50_ms": round(closed.p50_ms, 2),
                        "p99_ms": round(closed.p99_ms, 2), "statuses": closed.statuses}),
        Figure(f"balance read p99 at 200 clients, {rate:,.0f} req/s" + (" (capped)" if capped else ""),
               paced.p99_ms, "ms", None, None, goal={"value_max": GOAL_P99_MS},
               details={"p50_ms": round(paced.p50_ms, 2), "p90_ms": round(paced.p90_ms, 2),
                        "max_ms": round(paced.max_ms, 2), "offered_rate": round(rate, 1),
                        "goal_rate": round(goal_rate, 1), "achieved_rate": round(paced.throughput, 1),
                        "statuses": paced.statuses, "capped_below_goal_rate": capped}),
        Figure("balance read p50 at 200 clients", paced.p50_ms, "ms", details={"offered_rate": round(rate, 1)}),
        Figure("(context) GET /healthz, no auth, 200 clients", floor.throughput, "req/s", baseline,
               "pgbench select-only tps", details={"p50_ms": round(floor.p50_ms, 2), "p99_ms": round(floor.p99_ms, 2),
                                                   "statuses": floor.statuses,
                                                   "why": "the ceiling of gunicorn + Flask + one SELECT 1 on "
                                                          "this machine, with the same load generator"}),
    ]
    write_results(args.json_path, "balance", figures)


if __name__ == "__main__":
    main()
