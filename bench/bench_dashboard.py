"""The county dashboard: ``pointsbank.regions.dashboard`` against plain ``GROUP BY``s over the same rows.

    python bench/bench_dashboard.py [--short] [--repeat 3] [--explain PATH] [--json out.json]

1. creates a scratch database (``pointsbank_bench_dashboard_<pid>``), migrates it and seeds a
   county of 50 towns and 1,000 villages with 500,000 households (``--short``: 5 towns, 100
   villages, 20,000 households) — regions, villages, households, their accounts (balances
   between 60 and 400 points, base 100) and the redemptions with ``INSERT … SELECT
   generate_series``; the behaviour records (about one and a half per household over the
   four quarters that end with the last closed one; 1 in 20 a deduction, 1 in 50 reversed) are
   generated in Python and streamed with ``COPY``;
2. **baseline**: the same figure families as plain ``GROUP BY`` statements over the same rows
   (households; the counted records of the four quarters by community and quarter; their
   redemptions by community and quarter; the household balances above the base), with no
   region, no join, one fixed time zone;
3. **ours**: ``dashboard(admin, county, quarter)`` in an app context, as ``GET
   /api/v1/regions/{id}/dashboard`` runs it — the subtree by the regions' path, one statement
   per figure family, plus the trend of four quarters (two more statements);
4. checks that every village's figures equal the baseline's rows (the benchmark fails
   otherwise), repeats 2–4 ``--repeat`` times and reports the medians; with ``--explain PATH``
   writes the ``EXPLAIN (ANALYZE, BUFFERS)`` of each statement the dashboard ran (for
   bench/RESULTS.md). The goal: under 2 s.

The ledger is not seeded (the dashboard reads the cached balances, never the postings): each
village's vouchers and redemptions refer to one placeholder transaction of its village.
"""

from __future__ import annotations

import random
import signal
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (SECRET, Figure, connect, migrate, scratch_database, sqlalchemy_url,  # noqa: E402
                          write_results)

TZ = "Asia/Shanghai"
GOAL = {"value_max": 2.0}
SCALES = {"full": {"towns": 50, "communities": 1_000, "households": 500_000, "redemptions": 200_000},
          "short": {"towns": 5, "communities": 100, "households": 20_000, "redemptions": 10_000}}
COUNTED = ("posted", "objected", "upheld")

#: the same rows as the dashboard reads (the four quarters of the trend), grouped plainly: no region,
#: no join, no time zone per community, no two-step count of households
BASELINE = {
    "households": "SELECT community_id, count(*) FROM households GROUP BY community_id",
    "records": "SELECT community_id, quarter_key, count(DISTINCT household_id), "
               "coalesce(sum(CASE WHEN points > 0 THEN points ELSE 0 END), 0), "
               "coalesce(sum(CASE WHEN points < 0 THEN -points ELSE 0 END), 0) FROM behaviour_records "
               "WHERE quarter_key = ANY(%(quarters)s) AND status IN ('posted', 'objected', 'upheld') "
               "GROUP BY community_id, quarter_key",
    "redemptions": "SELECT community_id, date_trunc('quarter', created_at AT TIME ZONE 'Asia/Shanghai'), count(*), "
                   "sum(points) FROM redemptions WHERE created_at >= %(first)s AND created_at < %(end)s "
                   "AND reversed_at IS NULL GROUP BY 1, 2",
    "outstanding": "SELECT community_id, sum(greatest(balance - 100, 0)) FROM accounts WHERE kind = 'household' "
                   "GROUP BY community_id",
}


def seed(url: str, *, towns: int, communities: int, households: int, redemptions: int, quarters: list) -> dict:
    started = time.perf_counter()
    rng = random.Random(17)
    per_village = households // communities
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # consistent by construction: no FK triggers
        cur.execute("SELECT setseed(0.17)")
        cur.execute("INSERT INTO regions (kind, code, name, path, created_at) "
                    "VALUES ('county', 'bench-county', '基准县', '/', now()) RETURNING id")
        county = cur.fetchone()[0]
        cur.execute("UPDATE regions SET path = '/' || id || '/' WHERE id = %s", (county,))
        cur.execute("INSERT INTO regions (kind, code, name, parent_id, path, created_at) "
                    "SELECT 'town', 'bench-town-' || g, '基准镇' || g, %s, '', now() FROM generate_series(1, %s) g",
                    (county, towns))
        cur.execute("UPDATE regions SET path = '/' || %s || '/' || id || '/' WHERE parent_id = %s", (county, county))
        cur.execute("CREATE TABLE bench_t AS SELECT row_number() OVER (ORDER BY id) - 1 AS ti, id FROM regions "
                    "WHERE parent_id = %s", (county,))
        cur.execute(
            "INSERT INTO communities (code, name, region_id, base_points, point_value_fen, voucher_ttl_hours, "
            "timezone, notice_days, adjustment_two_person_above, is_notice_public, created_at) "
            "SELECT 'bench-v-' || lpad(g::text, 5, '0'), '基准村' || g, t.id, 100, 10 + g %% 5 * 10, 24, %s, 7, 50, "
            "true, now() FROM generate_series(0, %s - 1) g JOIN bench_t t ON t.ti = g %% %s ORDER BY g",
            (TZ, communities, towns))
        cur.execute("CREATE TABLE bench_c AS SELECT row_number() OVER (ORDER BY id) - 1 AS ci, id FROM communities")
        cur.execute("INSERT INTO users (username, password_hash, display_name, role, is_active, created_at) "
                    "VALUES ('bench-dashboard-admin', '!', 'county admin', 'admin', true, now()) RETURNING id")
        admin = cur.fetchone()[0]
        cur.execute("INSERT INTO rulebook_versions (community_id, version, effective_from, source, published_at) "
                    "SELECT id, 'bench', '2020-01-01', 'bench', now() FROM bench_c")
        cur.execute("CREATE TABLE bench_rb AS SELECT c.ci, r.id AS rulebook_id FROM rulebook_versions r "
                    "JOIN bench_c c ON c.id = r.community_id")
        cur.execute("INSERT INTO households (community_id, number, head_name, address, created_at) "
                    "SELECT c.id, 'D' || c.ci || '-' || h, '户主' || h, '看板路' || h || '号', now() "
                    "FROM bench_c c, generate_series(0, %s - 1) h ORDER BY c.ci, h", (per_village,))
        cur.execute("INSERT INTO accounts (community_id, kind, key, household_id, balance, created_at) "
                    "SELECT community_id, 'household', 'household:' || id, id, 60 + floor(random() * 341)::int, "
                    "now() FROM households ORDER BY id")
        cur.execute("INSERT INTO shops (community_id, name, is_active, created_at) "
                    "SELECT id, '积分超市' || ci, true, now() FROM bench_c")
        cur.execute("INSERT INTO users (username, password_hash, display_name, role, shop_id, is_active, created_at) "
                    "SELECT 'dash-cashier-' || id, '!', name, 'cashier', id, true, now() FROM shops")
        cur.execute("CREATE TABLE bench_s AS SELECT c.ci, s.id AS shop_id, u.id AS cashier_id FROM shops s "
                    "JOIN bench_c c ON c.id = s.community_id JOIN users u ON u.shop_id = s.id")
        cur.execute("INSERT INTO ledger_transactions (community_id, kind, reference_type, reference_id, memo, "
                    "digest, created_at) SELECT id, 'redemption', 'bench', 'placeholder', "
                    "'placeholder of the dashboard benchmark', repeat('0', 64), now() FROM bench_c")
        cur.execute("CREATE TABLE bench_tx AS SELECT c.ci, t.id AS transaction_id FROM ledger_transactions t "
                    "JOIN bench_c c ON c.id = t.community_id")
        first, last = quarters[0].bounds(TZ)[0], quarters[-1].bounds(TZ)[1]
        cur.execute(
            "CREATE UNLOGGED TABLE bench_plan AS SELECT g, g %% %(c)s AS ci, 1 + floor(random() * 40)::int AS points, "
            "%(first)s + random() * (%(last)s - %(first)s) AS created_at, random() < 0.01 AS reversed "
            "FROM generate_series(1, %(n)s) g", {"c": communities, "first": first, "last": last, "n": redemptions})
        cur.execute("CREATE TABLE bench_h AS SELECT c.ci, min(h.id) AS household_id FROM households h "
                    "JOIN bench_c c ON c.id = h.community_id GROUP BY c.ci")
        cur.execute("INSERT INTO vouchers (id, community_id, household_id, points, short_code, kid, status, "
                    "expires_at, issue_transaction_id, closing_transaction_id, created_at, closed_at) "
                    "SELECT md5('dash' || p.g), c.id, h.household_id, "
                    "p.points, lpad(p.g::text, 13, '0'), 'bench', 'redeemed', p.created_at + interval '1 day', "
                    "t.transaction_id, t.transaction_id, p.created_at - interval '1 hour', p.created_at "
                    "FROM bench_plan p JOIN bench_c c USING (ci) JOIN bench_h h USING (ci) JOIN bench_tx t USING (ci)")
        cur.execute("INSERT INTO redemptions (community_id, voucher_id, shop_id, cashier_id, points, returned_points, "
                    "point_value_fen, value_fen, transaction_id, created_at, reversed_at) "
                    "SELECT c.id, md5('dash' || p.g), s.shop_id, s.cashier_id, p.points, 0, 10, p.points * 10, "
                    "t.transaction_id, p.created_at, CASE WHEN p.reversed THEN p.created_at + interval '1 hour' END "
                    "FROM bench_plan p JOIN bench_c c USING (ci) JOIN bench_s s USING (ci) JOIN bench_tx t USING (ci) "
                    "ORDER BY p.created_at")
        # the behaviour records, streamed with COPY
        rows = cur.execute("SELECT h.id, h.community_id, r.rulebook_id FROM households h JOIN bench_c c "
                           "ON c.id = h.community_id JOIN bench_rb r ON r.ci = c.ci ORDER BY h.id").fetchall()
        count = 0
        with cur.copy("COPY behaviour_records (community_id, household_id, rulebook_version_id, rule_code, category, "
                      "occurred_on, month_key, quarter_key, year_key, quantity, status, points, requested_points, "
                      "approvals_required, reasons, is_claim, recorded_by_id, created_at, posted_at) "
                      "FROM STDIN") as copy:
            for household_id, community_id, rulebook_id in rows:
                for _ in range(rng.choice((0, 0, 1, 1, 2, 3, 3))):
                    quarter = rng.choice(quarters)
                    day = quarter.first_day() + timedelta(days=rng.randrange(88))
                    deduction = rng.random() < 0.05
                    points = -rng.choice((5, 10)) if deduction else rng.choice((2, 5, 10, 20))
                    status = "reversed" if rng.random() < 0.02 else "posted"
                    moment = datetime(day.year, day.month, day.day, 2, tzinfo=timezone.utc)
                    copy.write_row((community_id, household_id, rulebook_id, "fine" if deduction else "point",
                                    "public_morality" if deduction else "volunteer", day, f"{day:%Y-%m}",
                                    quarter.key, str(day.year), abs(points), status, points, points, 0, "[]", False,
                                    admin, moment, moment))
                    count += 1
        cur.execute("DROP TABLE bench_plan, bench_s, bench_tx, bench_rb, bench_h, bench_c, bench_t")
        cur.execute("SET session_replication_role = DEFAULT")
    with connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {"admin": admin, "county": county, "records": count, "seconds": time.perf_counter() - started}


def baseline(url: str, quarter, quarters: list) -> tuple[float, dict]:
    start, end = quarter.bounds(TZ)
    params = {"quarters": [q.key for q in quarters], "first": quarters[0].bounds(TZ)[0], "end": end}
    results = {}
    with connect(url) as conn:
        began = time.perf_counter()
        for name, sql in BASELINE.items():
            results[name] = conn.execute(sql, params).fetchall()
        seconds = time.perf_counter() - began
    local_start = start.astimezone(ZoneInfo(TZ)).replace(tzinfo=None)
    return seconds, {
        "households": {r[0]: r[1:] for r in results["households"]},
        "records": {r[0]: r[2:] for r in results["records"] if r[1] == quarter.key},
        "redemptions": {r[0]: r[2:] for r in results["redemptions"] if r[1] == local_start},
        "outstanding": {r[0]: r[1:] for r in results["outstanding"]},
    }


def ours(app, admin_id: int, region_id: int, quarter_key: str, statements: list | None = None) -> tuple[float, dict]:
    import sqlalchemy as sa

    from pointsbank.auth.models import User
    from pointsbank.extensions import db
    from pointsbank.regions.dashboard import dashboard

    with app.app_context():
        admin = db.session.get(User, admin_id)
        seen: list = []

        def record(conn, cursor, statement, parameters, context, executemany):
            seen.append((statement, parameters))

        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            began = time.perf_counter()
            view = dashboard(admin, region_id, quarter_key)
            seconds = time.perf_counter() - began
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
        if statements is not None:
            statements.extend(seen)
        db.session.remove()
    return seconds, view


def check(view: dict, expected: dict) -> list[str]:
    problems = []
    for c in view["communities"]:
        cid = c["community_id"]
        records = expected["records"].get(cid, (0, 0, 0))
        redemptions = expected["redemptions"].get(cid, (0, 0))
        want = (expected["households"].get(cid, (0,))[0], records[0], records[1], records[2], redemptions[0],
                redemptions[1] or 0, expected["outstanding"].get(cid, (0,))[0])
        got = (c["households"], c["participants"], c["points_awarded"], c["points_deducted"], c["redemptions"],
               c["redemption_points"], c["points_outstanding"])
        if tuple(int(x) for x in want) != got:
            problems.append(f"{c['code']}: dashboard {got} ≠ GROUP BY {want}")
    if len(view["communities"]) != len(expected["households"]):
        problems.append(f"{len(view['communities'])} villages on the dashboard, {len(expected['households'])} seeded")
    return problems


def explain(app, statements: list, path: str) -> None:
    from pointsbank.extensions import db

    with app.app_context():
        with db.engine.connect() as conn, open(path, "w") as out:
            for statement, parameters in statements:
                if not statement.lstrip().upper().startswith("SELECT") or "FROM users" in statement:
                    continue
                plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).fetchall()
                out.write(statement.strip() + "\n\n" + "\n".join(row[0] for row in plan) + "\n\n---\n\n")
        db.engine.dispose()


def main() -> None:
    from bench.common import standard_arguments
    from pointsbank.regions.dashboard import trend_quarters
    from pointsbank.reports import periods

    parser = standard_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="measure the dashboard and the GROUP BYs this many times")
    parser.add_argument("--explain", default=None, help="write EXPLAIN (ANALYZE, BUFFERS) of the dashboard here")
    parser.add_argument("--timeout", type=int, default=2400, help="give up (and drop the database) after this")
    args = parser.parse_args()
    scale = SCALES["short" if args.short else "full"]

    def give_up(*_):
        raise TimeoutError(f"bench_dashboard took longer than {args.timeout}s")

    signal.signal(signal.SIGALRM, give_up)
    signal.alarm(args.timeout)
    quarter = periods.last_closed("quarter", TZ, datetime.now(timezone.utc))
    mine, theirs, problems = [], [], []
    with scratch_database("dashboard") as url:
        migrate(url)
        info = seed(url, towns=scale["towns"], communities=scale["communities"], households=scale["households"],
                    redemptions=scale["redemptions"], quarters=trend_quarters(quarter))
        print(f"seeded {scale['communities']:,} villages in {scale['towns']} towns, {scale['households']:,} "
              f"households, {info['records']:,} records, {scale['redemptions']:,} redemptions "
              f"in {info['seconds']:.1f}s", flush=True)
        from pointsbank import create_app

        app = create_app({"DATABASE_URL": sqlalchemy_url(url), "SECRET_KEY": SECRET})
        statements: list = []
        for attempt in range(args.repeat):
            base_seconds, expected = baseline(url, quarter, trend_quarters(quarter))
            seconds, view = ours(app, info["admin"], info["county"], quarter.key,
                                 statements if attempt == args.repeat - 1 else None)
            problems = check(view, expected)
            mine.append(seconds)
            theirs.append(base_seconds)
            print(f"  run {attempt + 1}: dashboard {seconds:.3f}s, GROUP BYs {base_seconds:.3f}s "
                  f"(×{seconds / base_seconds:.2f}); " + ("; ".join(problems[:3]) if problems else "figures equal"),
                  flush=True)
            if problems:
                break
        if args.explain and not problems:
            explain(app, statements, args.explain)
            print(f"EXPLAIN ANALYZE written to {args.explain}", flush=True)
        with app.app_context():
            from pointsbank.extensions import db

            db.engine.dispose()
    signal.alarm(0)
    ours_s, base_s = statistics.median(mine), statistics.median(theirs)
    figures = [Figure(f"county dashboard ({scale['communities']:,} villages, {scale['households']:,} households)",
                      ours_s, "s", base_s, "plain GROUP BYs s", ratio=ours_s / base_s, goal=GOAL,
                      details={"period": quarter.key, "runs_s": [round(s, 3) for s in mine],
                               "group_by_runs_s": [round(s, 3) for s in theirs], "records": info["records"],
                               "seed_seconds": round(info["seconds"], 1), "figures_equal": not problems})]
    write_results(args.json_path, "dashboard", figures)
    if problems:
        print("error: " + "; ".join(problems[:5]), file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
