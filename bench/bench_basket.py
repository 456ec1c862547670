"""A basket of three shelf items rung up through the HTTP API, next to a typed-points redemption and pgbench.

    python bench/bench_basket.py [--vouchers 1500] [--rounds 3] [--clients 8] [--short] [--json out.json]

1. creates the bench database (``--url``, default ``pointsbank_bench_basket`` on the local
   server), migrates it and seeds one community through the services: households with points,
   ``--shops`` partner shops with a cashier each and three items each on their shelf — soap
   (10 points, stock counted), rice (60 points, stock counted, a household limit of 1,000 a year,
   so the limit is summed on every basket without refusing one) and oil (30 points, unlimited) —
   and twice ``--vouchers`` vouchers of 100 points, issued through the services (not measured);
2. starts ``gunicorn -w 2 -k gthread --threads 8 "pointsbank:create_app()"`` on 127.0.0.1 and
   warms both paths up;
3. in ``--rounds`` alternating rounds (so that a change of load on the shared machine hits both
   alike), redeems a slice of the vouchers by typed points (``POST /api/v1/redemptions``
   ``{code, points: 100}``) and a slice by basket (``{code, items: [soap, rice, oil]}`` = 100
   points), from ``--clients`` keep-alive connections, measuring the CPU that gunicorn and the
   bench database's PostgreSQL backends spent on each kind;
4. checks the ledger, the stock (every item's cached stock equals the sum of its movements, and
   what left the shelf equals the baskets answered 201) and one redemption per 201;
5. runs ``pgbench -i -s 10`` and ``pgbench -c 8 -j 2 -T 10`` (TPC-B-like) on a scratch database
   of the same server in the same run.

Figures: baskets per second (÷ pgbench TPC-B tps), and the CPU per basket (gunicorn + PostgreSQL)
÷ the CPU per typed-points redemption (goal: ≤ 1.25). A basket does what a typed redemption does
and locks its three items (one statement), sums the household's takings of the limited item
(two statements), writes three stock movements, updates two cached stocks and writes three lines.
"""

from __future__ import annotations

import argparse
import random
import secrets
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import wrk  # noqa: E402
from bench.bench_redeem import drop, phase, recreate, verify_ledger  # noqa: E402
from bench.common import (SECRET, Client, Figure, Gunicorn, issue_tokens, migrate, pgbench_init,  # noqa: E402
                          pgbench_tps, scratch_database, sqlalchemy_url, write_results)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/pointsbank_bench_basket"
VOUCHER_POINTS = 100
PER_HOUSEHOLD = 10
WARMUP = 60
STOCK = 1_000_000


def seed(url: str, vouchers: int, shops: int) -> dict[str, Any]:
    """The community, its shops and shelves, and ``vouchers`` open vouchers of 100 points."""
    from pointsbank import create_app
    from pointsbank.auth.services import create_user
    from pointsbank.community import services as community
    from pointsbank.extensions import db
    from pointsbank.ledger import services as ledger
    from pointsbank.redeem import shops as shop_services
    from pointsbank.redeem import vouchers as voucher_services
    from pointsbank.shelf.services import catalogue

    app = create_app({"DATABASE_URL": sqlalchemy_url(url), "SECRET_KEY": SECRET,
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        village = community.create_community(None, code="bench", name="压测村", base_points=100, point_value_fen=100)
        admin = create_user(None, role="admin", username="bench-admin", password=secrets.token_hex(8))
        staff = create_user(None, role="staff", username="bench-staff", password=secrets.token_hex(8),
                            community_code="bench")
        issuance = ledger.system_accounts(village.id)["issuance"]
        households = []
        for i in range(-(-vouchers // PER_HOUSEHOLD)):
            household = community.create_household(None, village.id, number=f"H-{i:05d}", head_name=f"户主{i}")
            points = 100 + VOUCHER_POINTS * PER_HOUSEHOLD
            ledger.post(village.id, "award", [(issuance, -points), (ledger.household_account_id(household["id"]),
                                                                      points)], reference=("bench", i))
            households.append(household["id"])
        cashiers, shelves = [], []
        for i in range(shops):
            shop = shop_services.create_shop(admin, village.id, name=f"积分超市{i}")
            cashiers.append(create_user(None, role="cashier", username=f"c{i}", password=secrets.token_hex(8),
                                        shop_id=shop["id"]).id)
            shelf = [catalogue.create_item(staff, shop["id"], name={"zh": "肥皂", "en": "Soap"}, points=10, stock=STOCK),
                     catalogue.create_item(staff, shop["id"], name={"zh": "大米", "en": "Rice"}, points=60, stock=STOCK,
                                           limit={"period": "year", "count": 1000}),
                     catalogue.create_item(staff, shop["id"], name={"zh": "食用油", "en": "Oil"}, points=30)]
            shelves.append([item["id"] for item in shelf])
        db.session.commit()
        codes = []
        for i in range(vouchers):
            voucher = voucher_services.issue_voucher(staff, points=VOUCHER_POINTS,
                                                     household_id=households[i // PER_HOUSEHOLD])
            codes.append(voucher["token"])
            if i % 500 == 499:
                db.session.commit()
        db.session.commit()
        db.engine.dispose()
    return {"cashiers": cashiers, "shelves": shelves, "codes": codes}


def check_stock(url: str) -> tuple[str, int]:
    """``stock verify``'s answer, and how many units left the counted shelves."""
    from pointsbank import create_app
    from pointsbank.extensions import db
    from pointsbank.shelf.services.stock import verify_stock

    app = create_app({"DATABASE_URL": sqlalchemy_url(url), "SECRET_KEY": SECRET})
    with app.app_context():
        report = verify_stock()
        import sqlalchemy as sa

        from pointsbank.shelf.models import ShelfItem

        taken = int(db.session.scalar(sa.select(sa.func.sum(STOCK - ShelfItem.stock)).where(
            ShelfItem.stock.is_not(None))) or 0)
        db.engine.dispose()
    return ("OK" if report.ok else f"{len(report.differences)} difference(s): {report.differences[0]}"), taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--url", default=DEFAULT_URL, help="the bench database (created, then dropped)")
    parser.add_argument("--vouchers", type=int, default=None, help="redemptions of each kind (default 1500)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating typed/basket rounds")
    parser.add_argument("--seconds", type=float, default=None, help="time limit of each phase (default 60)")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--shops", type=int, default=5)
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--short", action="store_true", help="300 redemptions of each kind, pgbench -T 5")
    parser.add_argument("--json", dest="json_path", default=None, help="write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    per_kind = args.vouchers or (300 if args.short else 1500)
    seconds = args.seconds or (20 if args.short else 60)
    pgbench_seconds = 5 if args.short and args.pgbench_seconds == 10 else args.pgbench_seconds
    rounds = max(1, args.rounds)

    recreate(args.url)
    try:
        migrate(args.url)
        seeded = seed(args.url, 2 * per_kind + 2 * WARMUP, args.shops)
        tokens = issue_tokens(args.url, seeded["cashiers"])
        cashiers = [tokens[uid] for uid in seeded["cashiers"]]
        codes = seeded["codes"]
        random.Random(42).shuffle(codes)
        shelves = seeded["shelves"]

        def typed(client: Client, job: tuple[int, str]) -> tuple[int, Any]:
            shop, code = job
            client.token = cashiers[shop]
            return client.json("POST", "/api/v1/redemptions", {"code": code, "points": VOUCHER_POINTS})

        def basket(client: Client, job: tuple[int, str]) -> tuple[int, Any]:
            shop, code = job
            client.token = cashiers[shop]
            return client.json("POST", "/api/v1/redemptions", {"code": code, "items": [
                {"item_id": shelves[shop][0], "quantity": 1}, {"item_id": shelves[shop][1], "quantity": 1},
                {"item_id": shelves[shop][2], "quantity": 1}]})

        jobs = [(i % args.shops, code) for i, code in enumerate(codes)]
        warm, jobs = jobs[:2 * WARMUP], jobs[2 * WARMUP:]
        typed_jobs, basket_jobs = jobs[0::2], jobs[1::2]
        totals = {kind: {"done": 0, "sent": 0, "seconds": 0.0, "app_s": 0.0, "db_s": 0.0, "refused": {},
                         "p50_ms": [], "p99_ms": []} for kind in ("typed", "basket")}
        with Gunicorn(args.url) as server:
            print(f"{len(codes)} vouchers, {args.shops} shops with 3 items each; gunicorn -w {server.workers} "
                  f"-k gthread --threads {server.threads}; {args.clients} client threads", flush=True)
            phase("warm-up, typed", warm[0::2], typed, port=server.port, clients=args.clients, seconds=seconds)
            phase("warm-up, basket", warm[1::2], basket, port=server.port, clients=args.clients, seconds=seconds)
            for r in range(rounds):
                for kind, send, pool in (("typed", typed, typed_jobs), ("basket", basket, basket_jobs)):
                    chunk = pool[r::rounds]
                    meter = wrk.CpuMeter(server.process.pid, args.url).start()
                    result = phase(f"round {r + 1}, {kind}", chunk, send, port=server.port, clients=args.clients,
                                   seconds=seconds)
                    meter.stop()
                    total = totals[kind]
                    for key in ("done", "sent", "seconds"):
                        total[key] += result[key]
                    total["app_s"] += meter.app_s
                    total["db_s"] += meter.db_s
                    total["p50_ms"].append(result["p50_ms"])
                    total["p99_ms"].append(result["p99_ms"])
                    for code, n in result["refused"].items():
                        total["refused"][code] = total["refused"].get(code, 0) + n
        for kind, total in totals.items():
            sent = max(total["sent"], 1)
            total.update(per_second=total["done"] / total["seconds"] if total["seconds"] else 0.0,
                         app_cpu_ms=round(total["app_s"] / sent * 1000, 3), db_cpu_ms=round(total["db_s"] / sent * 1000, 3))
            total["cpu_ms"] = round(total["app_cpu_ms"] + total["db_cpu_ms"], 3)
            print(f"{kind}: {total['done']} of {total['sent']} = {total['per_second']:.1f}/s; CPU per request "
                  f"{total['app_cpu_ms']:.2f} ms gunicorn + {total['db_cpu_ms']:.2f} ms PostgreSQL"
                  + (f"; refused {total['refused']}" if total["refused"] else ""), flush=True)
        verified = verify_ledger(args.url)
        stock, taken = check_stock(args.url)
        baskets_201 = totals["basket"]["done"] + WARMUP
        print(f"ledger verify: {verified}; stock verify: {stock}; units taken from the counted shelves: {taken} "
              f"(baskets answered 201, warm-up included: {baskets_201}, two counted items each)", flush=True)
        if taken != 2 * baskets_201:
            print(f"warning: {taken} units left the shelves for {baskets_201} baskets", file=sys.stderr)
        with scratch_database("basket_pgbench") as pg:
            pgbench_init(pg, scale=10)
            tps = pgbench_tps(pg, clients=8, threads=2, seconds=pgbench_seconds)
        print(f"pgbench TPC-B-like (-i -s 10; -c 8 -j 2 -T {pgbench_seconds}): {tps:.1f} tps", flush=True)
    finally:
        if not args.keep:
            drop(args.url)

    common = {"clients": args.clients, "shops": args.shops, "rounds": rounds, "per_kind": per_kind,
              "load_generator": f"python http.client threads ({args.clients})", "ledger_verify": verified,
              "stock_verify": stock}
    basket_total, typed_total = totals["basket"], totals["typed"]
    figures = [
        Figure("basket of 3 items through HTTP", basket_total["per_second"], "req/s", tps, "pgbench TPC-B-like tps",
               details={**common, **{k: v for k, v in basket_total.items() if k not in ("app_s", "db_s")}}),
        Figure("typed-points redemption through HTTP (same run)", typed_total["per_second"], "req/s", tps,
               "pgbench TPC-B-like tps",
               details={**common, **{k: v for k, v in typed_total.items() if k not in ("app_s", "db_s")}}),
        Figure("CPU per basket vs typed-points redemption", basket_total["cpu_ms"], "ms", typed_total["cpu_ms"],
               "ms per typed-points redemption", goal={"ratio_max": 1.25},
               details={"basket_app_cpu_ms": basket_total["app_cpu_ms"], "basket_db_cpu_ms": basket_total["db_cpu_ms"],
                        "typed_app_cpu_ms": typed_total["app_cpu_ms"], "typed_db_cpu_ms": typed_total["db_cpu_ms"]}),
    ]
    write_results(args.json_path, "basket", figures)


if __name__ == "__main__":
    main()
