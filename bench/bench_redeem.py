"""Redemptions per second through the HTTP API under gunicorn on PostgreSQL, next to pgbench.

    python bench/bench_redeem.py [--vouchers 2000] [--seconds 60] [--clients 16] [--short] [--json out.json]

1. creates the bench database (``--url``, default ``pointsbank_bench_redeem`` on the local
   server), migrates it and seeds one community through the services: households with points,
   ``--shops`` partner shops with a cashier each, a resident per household;
2. starts ``gunicorn -w 2 -k gthread --threads 8 "pointsbank:create_app()"`` on 127.0.0.1;
3. issues ``--vouchers`` vouchers (``POST /api/v1/vouchers``, five per household), then redeems
   every one of them once (``POST /api/v1/redemptions`` with the token, as a scanned QR gives
   it; one in ten by typed short code) at the shops, from ``--clients`` threads, each on its
   own keep-alive connection (``http.client``); a phase stops at ``--seconds``;
4. prints vouchers and redemptions per second with p50/p99 latency, and checks the ledger;
5. runs ``pgbench -i -s 10`` and ``pgbench -c 8 -j 2 -T 10`` (TPC-B-like, as for the award
   figure) on a scratch database of the same server in the same run, and prints its TPS and
   the ratio (goal: ≥ 0.25);
6. stops gunicorn and drops its databases, whatever happened (``--keep`` keeps the bench one).

A redemption is a heavier use case than a TPC-B transaction: token signature check, partner
check, voucher row lock, a three-leg ledger transaction (escrow, shop, household: two locked
accounts, two hash chains), the redemption row, the voucher update and the audit row — about
fifteen statements against pgbench's five.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (SECRET, Client, Figure, Gunicorn, _admin, issue_tokens, migrate, pgbench_init,  # noqa: E402
                          pgbench_tps, scratch_database, sqlalchemy_url, write_results)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/pointsbank_bench_redeem"
PER_HOUSEHOLD = 5


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


def seed(url: str, households: int, shops: int) -> dict[str, list[int]]:
    """One community: ``households`` with 250 redeemable points and a resident each, ``shops``
    partner shops with a cashier each. Returns the user ids of residents and cashiers."""
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
            ledger.post(village.id, "award", [(issuance, -250), (account, 250)], reference=("bench", i))
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

    households = -(-vouchers // PER_HOUSEHOLD)
    recreate(args.url)
    try:
        migrate(args.url)
        users = seed(args.url, households, args.shops)
        tokens = issue_tokens(args.url, users["residents"] + users["cashiers"])
        residents = [tokens[uid] for uid in users["residents"]]
        cashiers = [tokens[uid] for uid in users["cashiers"]]
        rng = random.Random(42)
        with Gunicorn(args.url) as server:
            print(f"{households} households, {args.shops} shops; gunicorn -w {server.workers} -k gthread "
                  f"--threads {server.threads} on 127.0.0.1:{server.port}; {args.clients} client threads", flush=True)

            def issue(client: Client, job: tuple[str, int]) -> tuple[int, Any]:
                client.token = job[0]
                return client.json("POST", "/api/v1/vouchers", {"points": job[1]})

            wanted = [(residents[i // PER_HOUSEHOLD], rng.randint(1, 50)) for i in range(vouchers)]
            issued = phase("vouchers issued", wanted, issue, port=server.port, clients=args.clients, seconds=seconds)
            plan = [(body, cashiers[i % args.shops], rng.randint(1, body["points"]), i % 10 == 0)
                    for i, body in enumerate(b for b in issued["bodies"] if b and "token" in b)]
            rng.shuffle(plan)

            def redeem(client: Client, job: tuple[dict, str, int, bool]) -> tuple[int, Any]:
                voucher, client.token, points, typed = job
                code = voucher["short_code"] if typed else voucher["token"]
                return client.json("POST", "/api/v1/redemptions", {"code": code, "points": points})

            redeemed = phase("redemptions", plan, redeem, port=server.port, clients=args.clients, seconds=seconds)
        print(f"ledger verify: {verify_ledger(args.url)}", flush=True)
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
