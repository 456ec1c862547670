"""The WSGI server, by measurement: gunicorn's gthread against granian on the same app, in one run.

Both serve ``pointsbank:create_app`` with 2 worker processes of 8 threads (gunicorn ``-w 2 -k
gthread --threads 8``; granian ``--interface wsgi --workers 2 --blocking-threads 8``) on the same
seeded database. wrk (2 threads, 64 keep-alive connections) drives, for each server in turn and
twice in alternating order (gunicorn, granian, granian, gunicorn — so a drift of the machine's
load during the run falls on both): ``GET /healthz`` (the stack's floor) and the balance read
(a resident's ``GET /api/v1/households/{id}`` with a bearer token). Each figure is requests per
second (the better of its two measurements) with the CPU per request of the server's processes
and of PostgreSQL's backends; the ratio is granian ÷ gunicorn. Granian is kept out of production
unless it is clearly better (README, "Production").

    python bench/bench_servers.py [--short] [--seconds 10] [--json out.json] [--database URL]
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import wrk  # noqa: E402
from bench.bench_balance import HEALTHZ_LUA, READ_LUA  # noqa: E402
from bench.common import BIN, Figure, Granian, Gunicorn, issue_tokens, standard_arguments, write_results  # noqa: E402
from bench.seed import seeded_database  # noqa: E402

CONNECTIONS = 64
WRK_THREADS = 2
WARMUP_SECONDS = 2


def main() -> None:
    args = standard_arguments(__doc__.split("\n\n")[0]).parse_args()
    seconds = args.seconds or (5 if args.short else 15)
    if not wrk.available():
        raise SystemExit("bench_servers needs wrk (scripts/install-bench-tools.sh)")
    if not (BIN / "granian").exists() and not shutil.which("granian"):
        raise SystemExit("bench_servers needs granian (pip install -e '.[test]')")
    with seeded_database(args, "servers") as (url, info):
        residents = info.residents[:CONNECTIONS]
        tokens = issue_tokens(url, [user_id for user_id, _, _ in residents])
        data = {"residents": [[tokens[user_id], household] for user_id, household, _ in residents]}
        best: dict[tuple[str, str], tuple[float, dict]] = {}
        for name in ("gunicorn", "granian", "granian", "gunicorn"):
            server_class = Gunicorn if name == "gunicorn" else Granian
            with server_class(url) as server:
                for request, lua, lua_data in (("healthz", HEALTHZ_LUA, {}), ("balance", READ_LUA, data)):
                    wrk.run(server.port, lua, lua_data, connections=CONNECTIONS, seconds=WARMUP_SECONDS,
                            threads=WRK_THREADS)
                    meter = wrk.CpuMeter(server.process.pid, url).start()
                    result = wrk.run(server.port, lua, lua_data, connections=CONNECTIONS, seconds=seconds,
                                     threads=WRK_THREADS)
                    cpu = meter.stop().per_request_ms(result.requests)
                    ok = result.ok_ratio()
                    print(f"  {name:<8} {request:<8} {result.throughput:8.1f} req/s  p50 {result.p50_ms:6.1f} ms  "
                          f"p99 {result.p99_ms:6.1f} ms  ok {ok:.1%}  {cpu}", flush=True)
                    if ok < 0.99:
                        print(f"warning: {name} {request}: {result.statuses}", file=sys.stderr)
                    previous = best.get((name, request))
                    if previous is None or result.throughput > previous[0]:
                        best[(name, request)] = (result.throughput, {**cpu, "p50_ms": round(result.p50_ms, 2),
                                                                     "p99_ms": round(result.p99_ms, 2),
                                                                     "statuses": result.statuses})
    figures = []
    for request, label in (("healthz", "GET /healthz"), ("balance", "balance read")):
        gunicorn, granian = best[("gunicorn", request)], best[("granian", request)]
        figures.append(Figure(f"{label} under granian (vs gunicorn gthread)", granian[0], "req/s", gunicorn[0],
                              "req/s gunicorn gthread",
                              details={"connections": CONNECTIONS, "seconds": seconds, "granian": granian[1],
                                       "gunicorn": gunicorn[1], "workers": 2, "threads": 8,
                                       "load_generator": wrk.describe(WRK_THREADS)}))
    write_results(args.json_path, "servers", figures)


if __name__ == "__main__":
    main()
