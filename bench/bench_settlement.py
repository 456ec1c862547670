"""Settling a quarter: the product's settlement against a plain ``GROUP BY`` over the same rows.

    python bench/bench_settlement.py [--short] [--redemptions 1000000] [--repeat 3] [--json out.json]

1. creates a scratch database (``pointsbank_bench_settlement_<pid>``), migrates it and seeds,
   with set-based SQL (``INSERT … SELECT generate_series``), 100 communities of 20 shops each
   (2,000 shops; ``--short``: 10 communities, 200 shops) with a cashier per shop, and
   ``--redemptions`` redeemed vouchers in the last closed quarter (1,000,000; ``--short``:
   50,000) spread over the shops, plus 5 % outside the quarter (the quarter before, after it,
   and exactly on its bounds, in Asia/Shanghai) and 1 % reversed inside it. Every community
   changes its point value once or twice during the quarter, so each redemption carries the
   fen value in force at its own moment (as ``redeem()`` stores it);
2. **baseline**: ``SELECT community_id, shop_id, count(*), sum(points), sum(value_fen) FROM
   redemptions WHERE created_at in the quarter AND reversed_at IS NULL GROUP BY 1, 2``;
3. **ours**: ``pointsbank.reports.statements.run_settlement(admin, "<quarter>")`` in one unit
   of work, as ``POST /api/v1/settlements`` runs it (the run guard per community, draft
   statements, their lines, their totals, the audit row, the commit);
4. checks that every statement equals its ``GROUP BY`` row (count, points, fen), that the fen
   equal Σ points × the point value of the bench's own schedule at each redemption's moment
   (and differ from points × the community's current value: the change mid-quarter matters),
   and that every settled redemption has exactly one line — the benchmark fails otherwise;
5. repeats 2–4 ``--repeat`` times (the settlement's tables emptied in between) and reports the
   medians; drops the database whatever happens, and gives up after ``--timeout`` seconds.

The ledger side of the redemptions is not seeded (settlement never reads it): every voucher
and redemption refers to one placeholder transaction of its community.
"""

from __future__ import annotations

import signal
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (SECRET, Figure, connect, migrate, scratch_database, sqlalchemy_url,  # noqa: E402
                          write_results)

TZ = "Asia/Shanghai"
SHOPS_PER_COMMUNITY = 20
HOUSEHOLDS_PER_COMMUNITY = 50
GOAL = {"ratio_max": 1.5}
SCALES = {"full": {"communities": 100, "redemptions": 1_000_000},
          "short": {"communities": 10, "redemptions": 50_000}}

#: GROUP BY over the rows the settlement reads: the quarter's redemptions not reversed
BASELINE_SQL = ("SELECT community_id, shop_id, count(*), sum(points), sum(value_fen) FROM redemptions "
                "WHERE created_at >= %(start)s AND created_at < %(end)s AND reversed_at IS NULL "
                "GROUP BY community_id, shop_id")


def quarter_to_settle(now: datetime):
    from pointsbank.reports import periods

    return periods.last_closed("quarter", TZ, now)


def seed(url: str, *, communities: int, redemptions: int, start: datetime, end: datetime, now: datetime) -> dict:
    """Communities, shops, cashiers, households, a point-value schedule and the redemptions."""
    span = (end - start).total_seconds()
    extra = max(3 * communities, redemptions // 20)
    started = time.perf_counter()
    with connect(url) as conn, conn.cursor() as cur:
        # the data is consistent by construction; skip the row-by-row foreign-key triggers while loading
        cur.execute("SET session_replication_role = replica")
        cur.execute("SELECT setseed(0.8)")
        cur.execute("INSERT INTO regions (kind, code, name, path, created_at) "
                    "VALUES ('city', 'bench-settle', '结算基准市', '/', now()) RETURNING id")
        region = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO communities (code, name, region_id, base_points, point_value_fen, voucher_ttl_hours, "
            "timezone, notice_days, adjustment_two_person_above, is_notice_public, created_at) "
            "SELECT 'settle-' || lpad(g::text, 4, '0'), '结算社区' || g, %s, 100, 100, 24, %s, 7, 50, true, "
            "%s FROM generate_series(1, %s) g ORDER BY g", (region, TZ, start - timedelta(days=400), communities))
        cur.execute("CREATE TABLE bench_c AS SELECT row_number() OVER (ORDER BY id) - 1 AS ci, id FROM communities")
        cur.execute("INSERT INTO accounts (community_id, kind, key, balance, created_at) "
                    "SELECT id, k, k, 0, now() FROM bench_c, unnest(ARRAY['issuance','vouchers','settled']) k")
        cur.execute("INSERT INTO shops (community_id, name, is_active, created_at) "
                    "SELECT c.id, '爱心超市' || c.ci || '-' || s, true, now() "
                    "FROM bench_c c, generate_series(0, %s - 1) s ORDER BY c.ci, s", (SHOPS_PER_COMMUNITY,))
        cur.execute("INSERT INTO shop_partnerships (community_id, shop_id, created_at) "
                    "SELECT community_id, id, now() FROM shops")
        cur.execute("INSERT INTO accounts (community_id, kind, key, shop_id, balance, created_at) "
                    "SELECT community_id, 'shop', 'shop:' || id, id, 0, now() FROM shops")
        cur.execute("INSERT INTO users (username, password_hash, display_name, role, shop_id, is_active, created_at) "
                    "SELECT 'settle-cashier-' || id, '!', name, 'cashier', id, true, now() FROM shops")
        cur.execute("CREATE TABLE bench_s AS SELECT c.ci, row_number() OVER (PARTITION BY s.community_id "
                    "ORDER BY s.id) - 1 AS si, s.id AS shop_id, u.id AS cashier_id FROM shops s "
                    "JOIN bench_c c ON c.id = s.community_id JOIN users u ON u.shop_id = s.id")
        cur.execute("INSERT INTO households (community_id, number, head_name, address, created_at) "
                    "SELECT c.id, 'S' || c.ci || '-' || h, '户主' || h, '结算路' || h || '号', now() "
                    "FROM bench_c c, generate_series(0, %s - 1) h ORDER BY c.ci, h", (HOUSEHOLDS_PER_COMMUNITY,))
        cur.execute("CREATE TABLE bench_h AS SELECT c.ci, row_number() OVER (PARTITION BY h.community_id "
                    "ORDER BY h.id) - 1 AS hi, h.id AS household_id FROM households h JOIN bench_c c "
                    "ON c.id = h.community_id")
        cur.execute("INSERT INTO users (username, password_hash, display_name, role, is_active, created_at) "
                    "VALUES ('settle-admin', '!', 'settlement admin', 'admin', true, now()) RETURNING id")
        admin = cur.fetchone()[0]
        cur.execute("INSERT INTO ledger_transactions (community_id, kind, reference_type, reference_id, memo, "
                    "digest, created_at) SELECT id, 'redemption', 'bench', 'placeholder', "
                    "'placeholder of the settlement benchmark', repeat('0', 64), %s FROM bench_c", (start,))
        cur.execute("CREATE TABLE bench_t AS SELECT c.ci, t.id AS transaction_id FROM ledger_transactions t "
                    "JOIN bench_c c ON c.id = t.community_id")
        # the point value in force: from 100–120 fen, changed on a day of the quarter that differs
        # per community, and for every other community changed once more in its last month
        cur.execute(
            "CREATE TABLE bench_pv (ci int, valid_from timestamptz, valid_to timestamptz, fen int)")
        for sql in ("INSERT INTO bench_pv SELECT ci, '-infinity', %(start)s + make_interval(days => (10 + ci %% 50)::int), "
                    "100 + (ci %% 3) * 10 FROM bench_c",
                    "INSERT INTO bench_pv SELECT ci, %(start)s + make_interval(days => (10 + ci %% 50)::int), "
                    "CASE WHEN ci %% 2 = 0 THEN %(start)s + make_interval(days => 75) ELSE 'infinity' END, "
                    "125 + (ci %% 4) * 5 FROM bench_c",
                    "INSERT INTO bench_pv SELECT ci, %(start)s + make_interval(days => 75), 'infinity', 90 + ci %% 7 "
                    "FROM bench_c WHERE ci %% 2 = 0"):
            cur.execute(sql, {"start": start})
        cur.execute("UPDATE communities c SET point_value_fen = p.fen FROM bench_pv p JOIN bench_c b ON b.ci = p.ci "
                    "WHERE c.id = b.id AND p.valid_to = 'infinity'")
        # the plan: g ≤ redemptions inside the quarter (the first communities' rows on its first
        # instant and its last microsecond), the rest outside it (the last communities' exactly on its end)
        cur.execute(
            "CREATE UNLOGGED TABLE bench_plan AS SELECT g, g %% %(c)s AS ci, (g / %(c)s) %% %(s)s AS si, "
            "(g / %(c)s) %% %(h)s AS hi, 1 + floor(random() * 50)::int AS points, "
            "CASE WHEN g <= %(c)s THEN %(start)s "
            "     WHEN g <= 2 * %(c)s THEN %(end)s - interval '1 microsecond' "
            "     WHEN g <= %(n)s THEN %(start)s + random() * %(span)s * interval '1 second' "
            "     WHEN g <= %(n)s + %(c)s THEN %(end)s "
            "     WHEN g %% 2 = 0 THEN %(start)s - interval '1 microsecond' - random() * interval '80 days' "
            "     ELSE %(end)s + random() * (%(now)s - %(end)s) END AS created_at, "
            "g <= %(n)s AND random() < 0.01 AS reversed "
            "FROM generate_series(1, %(n)s + %(extra)s) g",
            {"c": communities, "s": SHOPS_PER_COMMUNITY, "h": HOUSEHOLDS_PER_COMMUNITY, "start": start, "end": end,
             "n": redemptions, "span": span, "extra": extra, "now": min(now, end + timedelta(days=80))})
        cur.execute(
            "INSERT INTO vouchers (id, community_id, household_id, points, short_code, kid, status, expires_at, "
            "issue_transaction_id, closing_transaction_id, created_at, closed_at) "
            "SELECT md5('settle' || p.g), c.id, h.household_id, p.points + 5, lpad(p.g::text, 13, '0'), 'bench', "
            "'redeemed', p.created_at + interval '1 day', t.transaction_id, t.transaction_id, "
            "p.created_at - interval '1 hour', p.created_at "
            "FROM bench_plan p JOIN bench_c c USING (ci) JOIN bench_h h USING (ci, hi) JOIN bench_t t USING (ci)")
        cur.execute(
            "INSERT INTO redemptions (community_id, voucher_id, shop_id, cashier_id, points, returned_points, "
            "point_value_fen, value_fen, transaction_id, created_at, reversed_at, reversal_transaction_id) "
            "SELECT c.id, md5('settle' || p.g), s.shop_id, s.cashier_id, p.points, 5, v.fen, p.points * v.fen, "
            "t.transaction_id, p.created_at, CASE WHEN p.reversed THEN p.created_at + interval '1 hour' END, "
            "CASE WHEN p.reversed THEN t.transaction_id END "
            "FROM bench_plan p JOIN bench_c c USING (ci) JOIN bench_s s USING (ci, si) JOIN bench_t t USING (ci) "
            "JOIN bench_pv v ON v.ci = p.ci AND p.created_at >= v.valid_from AND p.created_at < v.valid_to "
            "ORDER BY p.created_at")
        cur.execute("SELECT count(*) FILTER (WHERE created_at >= %s AND created_at < %s), count(*) FROM redemptions",
                    (start, end))
        inside, total = cur.fetchone()
        cur.execute("DROP TABLE bench_plan, bench_s, bench_h, bench_t")
        cur.execute("SET session_replication_role = DEFAULT")
    if inside != redemptions or total != redemptions + extra:
        raise SystemExit(f"seeding went wrong: {inside} redemptions in the quarter (wanted {redemptions}), "
                         f"{total} in all")
    with connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {"admin": admin, "redemptions": total, "in_quarter": inside, "seconds": time.perf_counter() - started}


def group_by(url: str, start: datetime, end: datetime) -> tuple[float, dict[tuple[int, int], tuple[int, int, int]]]:
    with connect(url) as conn:
        began = time.perf_counter()
        rows = conn.execute(BASELINE_SQL, {"start": start, "end": end}).fetchall()
        seconds = time.perf_counter() - began
    return seconds, {(c, s): (int(n), int(p), int(f)) for c, s, n, p, f in rows}


def settle(app, admin_id: int, period_key: str) -> tuple[float, dict]:
    from pointsbank.auth.models import User
    from pointsbank.database import unit_of_work
    from pointsbank.extensions import db
    from pointsbank.reports.statements import run_settlement

    with app.app_context():
        admin = db.session.get(User, admin_id)
        began = time.perf_counter()
        result = unit_of_work(run_settlement)(admin, period_key)
        seconds = time.perf_counter() - began
        db.session.remove()
    outcomes = {r["outcome"] for r in result["runs"]}
    if outcomes != {"completed"}:
        raise SystemExit(f"the settlement did not run: {outcomes}")
    return seconds, result


def check(url: str, expected: dict[tuple[int, int], tuple[int, int, int]], start: datetime, end: datetime,
          period_key: str) -> dict:
    """The statements against the GROUP BY, the fen against the schedule, one line per redemption."""
    with connect(url) as conn:
        statements = {(c, s): (int(n), int(p), int(f), int(a)) for c, s, n, p, f, a in conn.execute(
            "SELECT community_id, shop_id, count, points, amount_fen, adjustment_count FROM settlement_statements "
            "WHERE period = %s", (period_key,))}
        by_schedule, at_current, settled = conn.execute(
            "SELECT sum(r.points * v.fen), sum(r.points * c.point_value_fen), count(*) FROM redemptions r "
            "JOIN bench_c b ON b.id = r.community_id JOIN communities c ON c.id = r.community_id "
            "JOIN bench_pv v ON v.ci = b.ci AND r.created_at >= v.valid_from AND r.created_at < v.valid_to "
            "WHERE r.created_at >= %s AND r.created_at < %s AND r.reversed_at IS NULL", (start, end)).fetchone()
        # a statement's redemption lines are derived (reports/settlement.py): its shop's redemptions in
        # [starts_at, ends_at) not reversed when it was built
        lines, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT r.id) FROM redemptions r JOIN settlement_statements s "
            "ON s.community_id = r.community_id AND s.shop_id = r.shop_id AND r.created_at >= s.starts_at "
            "AND r.created_at < s.ends_at AND (r.reversed_at IS NULL OR r.reversed_at > s.built_at) "
            "WHERE s.period = %s", (period_key,)).fetchone()
    problems = []
    if {k: v[:3] for k, v in statements.items()} != expected:
        wrong = [k for k in set(statements) | set(expected) if statements.get(k, (None,) * 3)[:3] != expected.get(k)]
        problems.append(f"{len(wrong)} statement(s) differ from the GROUP BY, e.g. {wrong[0]}: "
                        f"{statements.get(wrong[0])} vs {expected.get(wrong[0])}")
    if any(v[3] for v in statements.values()):
        problems.append("adjustment lines where none were due")
    fen = sum(v[2] for v in statements.values())
    if fen != by_schedule:
        problems.append(f"fen owed {fen} ≠ Σ points × point value in force {by_schedule}")
    if by_schedule == at_current:
        problems.append("the point value did not change within the quarter: the seed does not exercise it")
    if lines != settled or distinct != settled:
        problems.append(f"{lines} lines ({distinct} distinct) for {settled} settled redemptions")
    return {"statements": len(statements), "redemptions": settled, "fen": fen,
            "fen_at_current_value": int(at_current), "problems": problems}


def reset(url: str) -> None:
    with connect(url) as conn:
        conn.execute("TRUNCATE settlement_lines, settlement_statements, job_runs")


def main() -> None:
    from bench.common import standard_arguments

    parser = standard_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--redemptions", type=int, default=None, help="redemptions inside the quarter "
                                                                       "(default 1,000,000; 50,000 with --short)")
    parser.add_argument("--communities", type=int, default=None, help="communities of 20 shops (default 100; 10 "
                                                                       "with --short)")
    parser.add_argument("--repeat", type=int, default=3, help="measure settlement and GROUP BY this many times")
    parser.add_argument("--timeout", type=int, default=2400, help="give up (and drop the database) after this")
    args = parser.parse_args()
    scale = SCALES["short" if args.short else "full"]
    communities = args.communities or scale["communities"]
    redemptions = args.redemptions or scale["redemptions"]

    def give_up(*_):
        raise TimeoutError(f"bench_settlement took longer than {args.timeout}s")

    signal.signal(signal.SIGALRM, give_up)
    signal.alarm(args.timeout)
    now = datetime.now(timezone.utc)
    period = quarter_to_settle(now)
    start, end = period.bounds(TZ)
    ours, theirs, checks = [], [], []
    with scratch_database("settlement") as url:
        migrate(url)
        info = seed(url, communities=communities, redemptions=redemptions, start=start, end=end, now=now)
        print(f"seeded {communities * SHOPS_PER_COMMUNITY:,} shops, {info['redemptions']:,} redemptions "
              f"({info['in_quarter']:,} in {period.key}) in {info['seconds']:.1f}s", flush=True)
        from pointsbank import create_app

        app = create_app({"DATABASE_URL": sqlalchemy_url(url), "SECRET_KEY": SECRET})
        for attempt in range(args.repeat):
            if attempt:
                reset(url)
            baseline_seconds, expected = group_by(url, start, end)
            seconds, result = settle(app, info["admin"], period.key)
            verdict = check(url, expected, start, end, period.key)
            theirs.append(baseline_seconds)
            ours.append(seconds)
            checks.append(verdict)
            print(f"  run {attempt + 1}: settlement {seconds:.3f}s, GROUP BY {baseline_seconds:.3f}s "
                  f"(×{seconds / baseline_seconds:.2f}); {verdict['statements']:,} statements, "
                  f"{verdict['redemptions']:,} redemptions, {verdict['fen']:,} fen "
                  f"({verdict['fen_at_current_value']:,} at today's point values)"
                  + ("; " + "; ".join(verdict["problems"]) if verdict["problems"] else "; totals exact"),
                  flush=True)
            if verdict["problems"]:
                break
        with app.app_context():
            from pointsbank.extensions import db

            db.engine.dispose()
    signal.alarm(0)
    problems = [p for v in checks for p in v["problems"]]
    settled = checks[-1]["redemptions"]
    ours_s, base_s = statistics.median(ours), statistics.median(theirs)
    figures = [Figure(f"settlement of a quarter ({settled:,} redemptions, {checks[-1]['statements']:,} shops)",
                      ours_s, "s", base_s, "plain GROUP BY s", ratio=ours_s / base_s, goal=GOAL,
                      details={"period": period.key, "runs_s": [round(s, 3) for s in ours],
                               "group_by_runs_s": [round(s, 3) for s in theirs], "redemptions_seeded":
                               info["redemptions"], "seed_seconds": round(info["seconds"], 1),
                               "redemptions_per_second": round(settled / ours_s), "fen": checks[-1]["fen"],
                               "totals_exact": not problems})]
    write_results(args.json_path, "settlement", figures)
    if problems:
        print("error: " + "; ".join(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
