"""Redemptions per second through the HTTP API under gunicorn on PostgreSQL, next to pgbench.

    python bench/bench_redeem.py [--vouchers 2000] [--seconds 60] [--clients 16] [--short] [--json out.json]

1. creates the bench database (``--url``, default ``pointsbank_bench_redeem`` on the local
   server), migrates it and seeds one community through the services: households with points,
   ``--shops`` partner shops with a cashier each, a resident per household;
2. starts ``gunicorn -w 2 -k gthread --threads 8 "pointsbank:create_app()"`` on 127.0.0.1;
3. issues vouchers (``POST /api/v1/vouchers`` by the residents), then redeems every one of them
   once (``POST /api/v1/redemptions`` by a shop's cashier with the token, as a scanned QR gives
   it; one in ten by typed short code), from ``--clients`` keep-alive connections; a phase
   stops at ``--seconds`` or when its jobs are done;
4. prints vouchers and redemptions per second (answers 201 ÷ the time the phase sent) with
   p50/p99 latency, and checks the ledger and that the database holds one redemption per 201;
5. runs ``pgbench -i -s 10`` and ``pgbench -c 8 -j 2 -T 10`` (TPC-B-like, as for the award
   figure) on a scratch database of the same server in the same run, and prints its TPS and
   the ratio (goal: ≥ 0.25);
6. stops gunicorn and drops its databases, whatever happened (``--keep`` keeps the bench one).

With ``wrk`` installed (``bench/wrk.py``) the load comes from it (C, 2 threads, ``--clients``
connections), and each phase follows a short warm-up run on jobs of its own. The issue phase
runs for the whole ``--seconds`` on a pool of jobs that cannot run dry (1,500 a second of
``--seconds``, at least ``--vouchers``; up to fifty vouchers per household, households seeded
with the points for them, jobs interleaved across households); each 201's token, short code and
points are captured by the Lua ``response()`` into a file per wrk thread and become the
redemption phase's jobs. The faster of the redemption warm-up and the issue phase tells how fast redemption may
go; when the vouchers issued would not last the measured phase (one and a half times what that rate redeems
in ``--seconds``), more are issued first, from where the issue phase stopped, not measured.
Each wrk thread works through its own slice of the jobs and stops when it is done (the details
say ``cut_short`` when the vouchers ran out before the time). Without wrk, ``--clients`` Python
``http.client`` threads issue ``--vouchers`` vouchers (five per household) and redeem them, as
before, without a warm-up. Each figure's details name the load generator and the CPU per
request of gunicorn and of the PostgreSQL backends of the bench database.

A redemption is a heavier use case than a TPC-B transaction: token signature check, partner
check, voucher row lock, a three-leg ledger transaction (escrow, shop, household: two locked
accounts, two hash chains), the redemption row, the voucher update and the audit row — about
fifteen statements against pgbench's five.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import sys
import threading
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import wrk  # noqa: E402
from bench.common import (SECRET, Client, Figure, Gunicorn, _admin, connect, issue_tokens, migrate,  # noqa: E402
                          pgbench_init, pgbench_tps, scratch_database, sqlalchemy_url, write_results)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/pointsbank_bench_redeem"
PER_HOUSEHOLD = 5
#: with wrk: vouchers per household, and issue jobs per second of ``--seconds`` the pool holds
#: (well above what two cores issue, so the timed issue phase never runs dry)
WRK_PER_HOUSEHOLD = 50
WRK_POOL_PER_SECOND = 1500
WARMUP_JOBS = 100
WARMUP_SECONDS = 2
WRK_THREADS = 2
MAX_VOUCHER_POINTS = 50

#: each thread works through DATA.jobs[k] for k = tid, tid + nthreads, … (or from DATA.start[tid]; at
#: most DATA.limit of them): {bearer token, JSON body}; with DATA.out, each 201's token, short
#: code and points go to the file DATA.out .. tid, one voucher per line
JOBS_LUA = r"""
local out, taken
function on_init()
  cursor = DATA.start and DATA.start[tid] or tid
  taken = 0
  if DATA.out then
    out = io.open(DATA.out .. tid, "a")
    out:setvbuf("line")
  end
end
function request()
  local job = DATA.jobs[cursor]
  if not job or (DATA.limit and taken >= DATA.limit) then return stop_when_idle() end
  cursor = cursor + nthreads
  taken = taken + 1
  return wrk.format("POST", DATA.path, {["Authorization"] = "Bearer " .. job[1], ["Accept"] = "application/json",
                                        ["Content-Type"] = "application/json"}, job[2])
end
function on_response(status, headers, body)
  if out and status == 201 then
    local token = string.match(body, '"token"%s*:%s*"([^"]+)"')
    local code = string.match(body, '"short_code"%s*:%s*"([^"]+)"')
    local points = string.match(body, '"points"%s*:%s*(%d+)')
    out:write(string.format("%s\t%s\t%s\n", token or "", code or "", points or ""))
  end
end
"""


def recreate(url: str) -> None:
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    _admin(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)', admin)
    _admin(f'CREATE DATABASE "{parsed.database}"', admin)


def drop(url: str) -> None:
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    _admin(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)', admin)


def seed(url: str, households: int, shops: int, points: int = 250) -> dict[str, list[int]]:
    """One community: ``households`` with ``points`` points (the community keeps 100 of them
    unspendable) and a resident each, ``shops`` partner shops with a cashier each. Returns the
    user ids of residents and cashiers."""
    from pointsbank import create_app
    from pointsbank.auth.services import create_user
    from pointsbank.community import services as community
    from pointsbank.extensions import db
    from pointsbank.ledger import services as ledger
    from pointsbank.redeem import shops as shop_services

    app = create_app({"DATABASE_URL": sqlalchemy_url(url), "SECRET_KEY": SECRET,
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        village = community.create_community(None, code="bench", name="压测村", base_points=100, point_value_fen=100)
        admin = create_user(None, role="admin", username="bench-admin", password=secrets.token_hex(8))
        issuance = ledger.system_accounts(village.id)["issuance"]
        residents, cashiers = [], []
        for i in range(households):
            household = community.create_household(None, village.id, number=f"H-{i:05d}", head_name=f"户主{i}")
            account = ledger.household_account_id(household["id"])
            ledger.post(village.id, "award", [(issuance, -points), (account, points)], reference=("bench", i))
            residents.append(create_user(None, role="resident", username=f"r{i}", password=secrets.token_hex(8),
                                         household_id=household["id"]).id)
        for i in range(shops):
            shop = shop_services.create_shop(admin, village.id, name=f"爱心超市{i}")
            cashiers.append(create_user(None, role="cashier", username=f"c{i}", password=secrets.token_hex(8),
                                        shop_id=shop["id"]).id)
        db.session.commit()
        db.engine.dispose()
    return {"residents": residents, "cashiers": cashiers}


def verify_ledger(url: str) -> str:
    from pointsbank import create_app
    from pointsbank.extensions import db
    from pointsbank.ledger.verify import verify

    app = create_app({"DATABASE_URL": sqlalchemy_url(url), "SECRET_KEY": SECRET})
    with app.app_context():
        report = verify()
        db.engine.dispose()
    return "OK" if report.ok else f"{len(report.differences)} difference(s), first: {report.differences[0]}"


def phase(name: str, jobs: list[Any], send: Callable[[Client, Any], tuple[int, Any]], *, port: int, clients: int,
          seconds: float) -> dict[str, Any]:
    """Every job once, from ``clients`` threads on keep-alive connections, until done or out of time."""
    lock = threading.Lock()
    queue = list(reversed(jobs))
    outcomes: list[tuple[int, Any, float]] = []
    deadline = time.monotonic() + seconds

    def worker(_: int) -> None:
        client = Client(port)
        while time.monotonic() < deadline:
            with lock:
                if not queue:
                    break
                job = queue.pop()
            started = time.perf_counter()
            status, body = send(client, job)
            with lock:
                outcomes.append((status, body, time.perf_counter() - started))
        client.close()

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    elapsed = time.monotonic() - started
    latencies = sorted(o[2] * 1000 for o in outcomes)
    refused: dict[str, int] = {}
    for status, body, _ in outcomes:
        if status != 201:
            key = f"{status} {((body or {}).get('error') or {}).get('code', '')}".strip()
            refused[key] = refused.get(key, 0) + 1
    done = sum(1 for o in outcomes if o[0] == 201)
    summary = {"name": name, "done": done, "sent": len(outcomes), "seconds": round(elapsed, 2),
               "per_second": done / elapsed if elapsed else 0.0,
               "p50_ms": statistics.median(latencies) if latencies else 0.0,
               "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0,
               "refused": refused, "bodies": [o[1] for o in outcomes]}
    print(f"{name}: {done} of {len(outcomes)} in {elapsed:.1f} s = {summary['per_second']:.1f}/s; "
          f"p50 {summary['p50_ms']:.1f} ms, p99 {summary['p99_ms']:.1f} ms" + (f"; refused {refused}" if refused else ""),
          flush=True)
    return summary


def run_jobs(server: Gunicorn, jobs: list[tuple[str, str]], path: str, *, clients: int, seconds: float,
             out: str | None = None, start: list[int] | None = None, limit: int | None = None) -> wrk.WrkResult:
    """The jobs (bearer token, JSON body) from ``clients`` wrk connections, each thread its own
    slice (from ``start``, at most ``limit`` jobs a thread), until done or out of time."""
    data = {"path": path, "out": out, "start": start, "limit": limit, "jobs": [list(job) for job in jobs]}
    return wrk.run(server.port, JOBS_LUA, data, connections=clients, seconds=seconds, threads=WRK_THREADS)


def summarize(name: str, result: wrk.WrkResult, cpu: dict[str, float], jobs: int) -> dict[str, Any]:
    """The phase's figures: 201s per second of sending, latency, refusals by error code, CPU."""
    done = result.count(201)
    summary = {"name": name, "done": done, "sent": result.requests, "seconds": round(result.seconds, 2),
               "per_second": done / result.seconds if result.seconds else 0.0,
               "p50_ms": result.p50_ms, "p90_ms": result.p90_ms, "p99_ms": result.p99_ms,
               "refused": result.refusals or {}, "first_refusal": result.sample, "jobs": jobs,
               "cut_short": result.stopped_early, "socket_errors": result.socket_errors or {},
               "load_generator": wrk.describe(result.threads), **cpu}
    print(f"{name}: {done} of {result.requests} in {result.seconds:.1f} s = {summary['per_second']:.1f}/s; "
          f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms"
          + (f"; refused {result.refusals}, first: {result.sample}" if result.refusals else "")
          + ("; ran out of jobs before the time" if result.stopped_early else ""), flush=True)
    return summary


def measured(server: Gunicorn, url: str, jobs: list[tuple[str, str]], path: str, *, clients: int, seconds: float,
             out: str | None = None) -> tuple[wrk.WrkResult, dict[str, float]]:
    """:func:`run_jobs` with the CPU it cost gunicorn and the database's backends, per request."""
    meter = wrk.CpuMeter(server.process.pid, url).start()
    result = run_jobs(server, jobs, path, clients=clients, seconds=seconds, out=out)
    return result, meter.stop().per_request_ms(result.requests)


def redemption_jobs(vouchers: list[dict[str, Any]], cashiers: list[str], rng: random.Random) -> list[tuple[str, str]]:
    """Each voucher once, at the shops in turn, one in ten by typed short code, for 1 to all its points."""
    return [(cashiers[i % len(cashiers)],
             json.dumps({"code": v["short_code"] if i % 10 == 0 else v["token"], "points": rng.randint(1, v["points"])}))
            for i, v in enumerate(vouchers)]


def captured(prefix: str) -> list[dict[str, Any]]:
    """The vouchers the issue phase's ``response()`` wrote, one file per wrk thread."""
    found = []
    for path in sorted(Path(prefix).parent.glob(Path(prefix).name + "*")):
        for line in path.read_text().splitlines():
            token, short_code, points = line.split("\t")
            if token and short_code and points:
                found.append({"token": token, "short_code": short_code, "points": int(points)})
    return found


def count_rows(url: str, table: str) -> int:
    with connect(url) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--url", default=DEFAULT_URL, help="the bench database (created, then dropped)")
    parser.add_argument("--vouchers", type=int, default=None, help="vouchers to issue and redeem (default 2000)")
    parser.add_argument("--seconds", type=float, default=None, help="time limit of each phase (default 60)")
    parser.add_argument("--clients", type=int, default=16, help="client threads")
    parser.add_argument("--shops", type=int, default=10)
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--short", action="store_true", help="300 vouchers, 20 s phases, pgbench -T 5")
    parser.add_argument("--json", dest="json_path", default=None, help="write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    vouchers = args.vouchers or (300 if args.short else 2000)
    seconds = args.seconds or (20 if args.short else 60)
    pgbench_seconds = 5 if args.short and args.pgbench_seconds == 10 else args.pgbench_seconds

    use_wrk = wrk.available()
    if use_wrk:
        pool = max(vouchers, int(WRK_POOL_PER_SECOND * seconds)) + WARMUP_JOBS
        households = -(-pool // WRK_PER_HOUSEHOLD)
        points = 100 + MAX_VOUCHER_POINTS * WRK_PER_HOUSEHOLD
    else:
        households = -(-vouchers // PER_HOUSEHOLD)
        points = 250
    recreate(args.url)
    try:
        migrate(args.url)
        users = seed(args.url, households, args.shops, points)
        tokens = issue_tokens(args.url, users["residents"] + users["cashiers"])
        residents = [tokens[uid] for uid in users["residents"]]
        cashiers = [tokens[uid] for uid in users["cashiers"]]
        rng = random.Random(42)
        with Gunicorn(args.url) as server:
            print(f"{households} households, {args.shops} shops; gunicorn -w {server.workers} -k gthread "
                  f"--threads {server.threads} on 127.0.0.1:{server.port}; {args.clients} "
                  + (f"wrk connections ({wrk.describe(WRK_THREADS)})" if use_wrk else "client threads"), flush=True)
            if use_wrk:
                issue_jobs = [(residents[i % households],
                               json.dumps({"points": rng.randint(1, MAX_VOUCHER_POINTS)})) for i in range(pool)]
                warm_issue, issue_pool = issue_jobs[:WARMUP_JOBS], issue_jobs[WARMUP_JOBS:]
                with tempfile.TemporaryDirectory(prefix="pb_redeem_") as tmp:
                    out = f"{tmp}/issued."
                    run_jobs(server, warm_issue, "/api/v1/vouchers", clients=args.clients, seconds=WARMUP_SECONDS,
                             out=out)
                    result, cpu = measured(server, args.url, issue_pool, "/api/v1/vouchers", clients=args.clients,
                                           seconds=seconds, out=out)
                    issued = summarize("vouchers issued", result, cpu, len(issue_pool))
                    ready = captured(out)
                    rng.shuffle(ready)
                    # how fast redemption may go (its warm-up, cold, or issuing, the lighter use case):
                    # issue more (not measured) until the measured phase has half as many vouchers
                    # again as that rate redeems in its time
                    warm = run_jobs(server, redemption_jobs(ready[:WARMUP_JOBS], cashiers, rng),
                                    "/api/v1/redemptions", clients=args.clients, seconds=WARMUP_SECONDS)
                    warm_rate = max(warm.count(201) / warm.seconds if warm.seconds else 0.0, issued["per_second"])
                    wanted_more = int(1.5 * warm_rate * seconds) - (len(ready) - WARMUP_JOBS)
                    if wanted_more > 0:
                        topped = time.monotonic()
                        limit = -(-wanted_more // WRK_THREADS)
                        top_up = run_jobs(server, issue_pool, "/api/v1/vouchers", clients=args.clients, out=out,
                                          seconds=min(4 * seconds, 5 + 2 * wanted_more / max(issued["per_second"], 1)),
                                          start=result.cursors, limit=limit)
                        known = {v["token"] for v in ready}
                        more = [v for v in captured(out) if v["token"] not in known]
                        rng.shuffle(more)
                        ready += more
                        print(f"issued {len(more)} more vouchers in {time.monotonic() - topped:.1f} s (not measured; "
                              f"expecting up to {warm_rate:.0f} redemptions/s)"
                              + (f"; refused {top_up.refusals}" if top_up.refusals else ""), flush=True)
                redeem_jobs = redemption_jobs(ready, cashiers, rng)[WARMUP_JOBS:]
                result, cpu = measured(server, args.url, redeem_jobs, "/api/v1/redemptions", clients=args.clients,
                                       seconds=seconds)
                redeemed = summarize("redemptions", result, cpu, len(redeem_jobs))
                answered_201 = redeemed["done"] + warm.count(201)
                in_database = count_rows(args.url, "redemptions")
                redeemed["redemptions_in_database"] = in_database
                print(f"redemptions in the database: {in_database} (answered 201: {answered_201})", flush=True)
                # the requests in flight when the time ran out (one per connection at most) were
                # redeemed without wrk reading the answer
                if not answered_201 <= in_database <= answered_201 + args.clients:
                    print(f"warning: the database holds {in_database} redemptions, the answers said 201 "
                          f"{answered_201} times", file=sys.stderr)
                vouchers = len(ready)
            else:
                def issue(client: Client, job: tuple[str, int]) -> tuple[int, Any]:
                    client.token = job[0]
                    return client.json("POST", "/api/v1/vouchers", {"points": job[1]})

                wanted = [(residents[i // PER_HOUSEHOLD], rng.randint(1, 50)) for i in range(vouchers)]
                meter = wrk.CpuMeter(server.process.pid, args.url).start()
                issued = phase("vouchers issued", wanted, issue, port=server.port, clients=args.clients,
                               seconds=seconds)
                issued.update(meter.stop().per_request_ms(issued["sent"]))
                plan = [(body, cashiers[i % args.shops], rng.randint(1, body["points"]), i % 10 == 0)
                        for i, body in enumerate(b for b in issued["bodies"] if b and "token" in b)]
                rng.shuffle(plan)

                def redeem(client: Client, job: tuple[dict, str, int, bool]) -> tuple[int, Any]:
                    voucher, client.token, points, typed = job
                    code = voucher["short_code"] if typed else voucher["token"]
                    return client.json("POST", "/api/v1/redemptions", {"code": code, "points": points})

                meter = wrk.CpuMeter(server.process.pid, args.url).start()
                redeemed = phase("redemptions", plan, redeem, port=server.port, clients=args.clients,
                                 seconds=seconds)
                redeemed.update(meter.stop().per_request_ms(redeemed["sent"]))
                generator = f"python http.client threads ({args.clients})"
                issued["load_generator"] = redeemed["load_generator"] = generator
        verified = verify_ledger(args.url)
        redeemed["ledger_verify"] = verified
        print(f"ledger verify: {verified}", flush=True)
        with scratch_database("redeem_pgbench") as pg:
            pgbench_init(pg, scale=10)
            tps = pgbench_tps(pg, clients=8, threads=2, seconds=pgbench_seconds)
        print(f"pgbench TPC-B-like (-i -s 10; -c 8 -j 2 -T {pgbench_seconds}): {tps:.1f} tps", flush=True)
        print(f"ratio redemptions/s ÷ pgbench tps: {redeemed['per_second'] / tps:.3f}", flush=True)
    finally:
        if not args.keep:
            drop(args.url)

    details = {k: v for k, v in redeemed.items() if k not in ("bodies", "name")}
    figures = [
        Figure("redemption through HTTP", redeemed["per_second"], "req/s", tps, "pgbench TPC-B-like tps",
               goal={"ratio_min": 0.25},
               details={**details, "clients": args.clients, "vouchers": vouchers, "shops": args.shops}),
        Figure("voucher issue through HTTP", issued["per_second"], "req/s", tps, "pgbench TPC-B-like tps",
               details={k: v for k, v in issued.items() if k not in ("bodies", "name")}),
    ]
    write_results(args.json_path, "redeem", figures)


if __name__ == "__main__":
    main()
