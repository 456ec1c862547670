"""City-scale seeding with SQL and COPY, not the ORM: a correct, verifiable ledger.

    python bench/seed.py --database postgresql://postgres@127.0.0.1:5432/pointsbank_bench_x [--scale city]

``--scale city`` (the default): 200,000 households in 100 communities, 2,000 shops,
5,000,000 postings. ``--scale small``: 5,000 households, 50 shops, 100,000 postings.

Households, residents, shops and partnerships are generated in the database
(``generate_series``). The ledger is generated in Python and streamed with ``COPY`` in chunks
(transactions, then their postings, in one database transaction): every household's opening
transaction (its base from ``issuance``), then awards and deductions on random households in
time order. Transaction digests and the hash chain of every household account are computed
with the ledger's own functions (``transaction_digest``, ``posting_hash``), so
``pointsbank ledger verify`` checks the result exactly as it checks a ledger the app wrote.

Logins (one password for all, ``PASSWORD``): per community ``bench-staff-<n>`` and
``bench-staff2-<n>`` (staff), residents ``bench-resident-<household id>`` for the first
households of every community, a cashier ``bench-cashier-<shop id>`` per shop and one
``bench-admin``. :func:`logins` finds them again in an already seeded database.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import connect  # noqa: E402
from pointsbank.ledger.services import posting_hash, transaction_digest  # noqa: E402

PASSWORD = "bench-password-1"
SCALES = {
    "city": {"households": 200_000, "shops": 2_000, "postings": 5_000_000, "communities": 100},
    "small": {"households": 5_000, "shops": 50, "postings": 100_000, "communities": 10},
}
CHUNK = 20_000
BASE_POINTS = 100


@dataclass
class Seeded:
    communities: list[int] = field(default_factory=list)
    households: int = 0
    shops: int = 0
    transactions: int = 0
    postings: int = 0
    seconds: float = 0.0
    staff: dict[int, list[int]] = field(default_factory=dict)      # community id → [user id, user id]
    residents: list[tuple[int, int, int]] = field(default_factory=list)  # (user id, household id, community id)
    cashiers: list[tuple[int, int, int]] = field(default_factory=list)   # (user id, shop id, community id)
    admin: int | None = None


def seed(url: str, *, households: int, shops: int, postings: int, communities: int,
         residents_per_community: int = 40, rng_seed: int = 8, progress: bool = True) -> Seeded:
    started = time.perf_counter()
    rng = random.Random(rng_seed)
    info = Seeded()
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO regions (kind, code, name, path, created_at) "
                    "VALUES ('city', 'bench-city', '基准市', '/', now()) RETURNING id")
        region_id = cur.fetchone()[0]
        cur.execute("UPDATE regions SET path = '/' || id || '/' WHERE id = %s", (region_id,))
        cur.execute(
            "INSERT INTO communities (code, name, region_id, base_points, point_value_fen, voucher_ttl_hours, "
            "timezone, notice_days, adjustment_two_person_above, is_notice_public, created_at) "
            "SELECT 'bench-' || lpad(g::text, 4, '0'), '基准社区' || g, %s, %s, 100, 24, 'Asia/Shanghai', 7, 50, "
            "true, now() FROM generate_series(1, %s) g ORDER BY g RETURNING id",
            (region_id, BASE_POINTS, communities))
        info.communities = [r[0] for r in cur.fetchall()]
        cur.execute(
            "INSERT INTO accounts (community_id, kind, key, balance, created_at) "
            "SELECT c, k, k, 0, now() FROM unnest(%s::bigint[]) c, unnest(ARRAY['issuance','vouchers','settled']) k",
            (info.communities,))
        cur.execute("INSERT INTO grids (community_id, name) SELECT c, '一组' FROM unnest(%s::int[]) c",
                    (info.communities,))
        cur.execute(
            "INSERT INTO households (community_id, number, head_name, address, grid_id, created_at) "
            "SELECT c.ids[1 + (g - 1) %% c.n], 'H' || lpad(g::text, 7, '0'), '住户' || g, '基准路' || g || '号', "
            "(SELECT id FROM grids WHERE community_id = c.ids[1 + (g - 1) %% c.n]), now() "
            "FROM generate_series(1, %s) g, (SELECT %s::int[] AS ids, %s AS n) c ORDER BY g",
            (households, info.communities, communities))
        mine = (info.communities,)
        cur.execute("INSERT INTO residents (community_id, household_id, name, created_at) "
                    "SELECT community_id, id, head_name, now() FROM households WHERE community_id = ANY(%s)", mine)
        cur.execute(
            "INSERT INTO accounts (community_id, kind, key, household_id, balance, created_at) "
            "SELECT community_id, 'household', 'household:' || id, id, 0, now() FROM households "
            "WHERE community_id = ANY(%s) ORDER BY id", mine)
        cur.execute(
            "INSERT INTO shops (community_id, name, is_active, created_at) "
            "SELECT c.ids[1 + (g - 1) %% c.n], '爱心超市' || g, true, now() "
            "FROM generate_series(1, %s) g, (SELECT %s::int[] AS ids, %s AS n) c ORDER BY g",
            (shops, info.communities, communities))
        cur.execute("INSERT INTO shop_partnerships (community_id, shop_id, created_at) "
                    "SELECT community_id, id, now() FROM shops WHERE community_id = ANY(%s)", mine)
        cur.execute("INSERT INTO accounts (community_id, kind, key, shop_id, balance, created_at) "
                    "SELECT community_id, 'shop', 'shop:' || id, id, 0, now() FROM shops WHERE community_id = ANY(%s) "
                    "ORDER BY id", mine)
        info.households, info.shops = households, shops

        issuance = dict(cur.execute("SELECT community_id, id FROM accounts WHERE kind = 'issuance' "
                                    "AND community_id = ANY(%s)", mine).fetchall())
        accounts = cur.execute("SELECT id, community_id, household_id FROM accounts WHERE kind = 'household' "
                               "AND community_id = ANY(%s) ORDER BY id", mine).fetchall()
        _ledger(cur, rng, accounts, issuance, postings, info, progress)
        _logins(cur, info, residents_per_community)
        for table in ("ledger_transactions", "postings", "accounts"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    with connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    info.seconds = time.perf_counter() - started
    return info


def _ledger(cur, rng: random.Random, accounts: list[tuple[int, int, int]], issuance: dict[int, int],
            postings: int, info: Seeded, progress: bool) -> None:
    """Openings, then awards/deductions (two postings each) up to ``postings`` postings."""
    tx_id = (cur.execute("SELECT coalesce(max(id), 0) FROM ledger_transactions").fetchone()[0]) + 1
    posting_id = (cur.execute("SELECT coalesce(max(id), 0) FROM postings").fetchone()[0]) + 1
    balance = [0] * len(accounts)
    last_hash: list[str | None] = [None] * len(accounts)
    awards = max(0, (postings - 2 * len(accounts)) // 2)
    total = len(accounts) + awards
    end = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)
    start = end - timedelta(days=180)
    step = (end - start) / max(1, total)
    tx_rows: list[tuple] = []
    posting_rows: list[tuple] = []

    def flush() -> None:
        with cur.copy("COPY ledger_transactions (id, community_id, kind, reference_type, reference_id, actor_id, "
                      "reversal_of_id, memo, digest, created_at) FROM STDIN") as copy:
            for row in tx_rows:
                copy.write_row(row)
        with cur.copy("COPY postings (id, community_id, transaction_id, account_id, points, balance_after, hash, "
                      "created_at) FROM STDIN") as copy:
            for row in posting_rows:
                copy.write_row(row)
        tx_rows.clear()
        posting_rows.clear()

    for n in range(total):
        if n < len(accounts):
            index, kind, points, ref = n, "opening", BASE_POINTS, ("household", str(accounts[n][2]))
        else:
            index = rng.randrange(len(accounts))
            points = rng.choice((2, 3, 5, 5, 8, 10, 10, 20, 50, -5, -10))
            kind, ref = ("award" if points > 0 else "deduction"), ("bench_seed", str(n))
        account_id, community_id, _ = accounts[index]
        system_id = issuance[community_id]
        created_at = start + step * n
        legs = sorted([(system_id, -points), (account_id, points)])
        digest = transaction_digest(community_id, kind, ref[0], ref[1], None, None, created_at, legs)
        tx_rows.append((tx_id, community_id, kind, ref[0], ref[1], None, None, None, digest, created_at))
        balance[index] += points
        new_hash = posting_hash(last_hash[index], tx_id, digest, account_id, points, balance[index])
        last_hash[index] = new_hash
        for leg_account, leg_points in legs:
            if leg_account == account_id:
                posting_rows.append((posting_id, community_id, tx_id, account_id, points, balance[index], new_hash,
                                     created_at))
            else:
                posting_rows.append((posting_id, community_id, tx_id, leg_account, leg_points, None, None, created_at))
            posting_id += 1
        tx_id += 1
        if len(tx_rows) >= CHUNK:
            flush()
            if progress and (n + 1) % (CHUNK * 10) == 0:
                print(f"  … {n + 1:,} of {total:,} transactions", file=sys.stderr, flush=True)
    flush()
    cur.execute("CREATE TEMP TABLE bench_balances (id bigint PRIMARY KEY, balance bigint, last_hash varchar(64))")
    with cur.copy("COPY bench_balances (id, balance, last_hash) FROM STDIN") as copy:
        for (account_id, _, _), b, h in zip(accounts, balance, last_hash):
            copy.write_row((account_id, b, h))
    cur.execute("UPDATE accounts a SET balance = b.balance, last_hash = b.last_hash FROM bench_balances b "
                "WHERE a.id = b.id")
    cur.execute("DROP TABLE bench_balances")
    info.transactions, info.postings = total, 2 * total


def _logins(cur, info: Seeded, residents_per_community: int) -> None:
    from werkzeug.security import generate_password_hash

    password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    cur.execute("INSERT INTO users (username, password_hash, display_name, role, is_active, created_at) "
                "VALUES ('bench-admin', %s, 'bench admin', 'admin', true, now()) RETURNING id", (password_hash,))
    info.admin = cur.fetchone()[0]
    for tag in ("staff", "staff2"):
        cur.execute(
            "INSERT INTO users (username, password_hash, display_name, role, community_id, is_active, created_at) "
            "SELECT 'bench-' || %s || '-' || c, %s, %s, 'staff', c, true, now() FROM unnest(%s::int[]) c "
            "RETURNING id, community_id", (tag, password_hash, tag, info.communities))
        for user_id, community_id in cur.fetchall():
            info.staff.setdefault(community_id, []).append(user_id)
    cur.execute(
        "INSERT INTO users (username, password_hash, display_name, role, community_id, household_id, is_active, "
        "created_at) SELECT 'bench-resident-' || h.id, %s, h.head_name, 'resident', h.community_id, h.id, true, now() "
        "FROM (SELECT id, community_id, head_name, row_number() OVER (PARTITION BY community_id ORDER BY id) AS r "
        "FROM households WHERE community_id = ANY(%s)) h WHERE h.r <= %s ORDER BY h.id "
        "RETURNING id, household_id, community_id", (password_hash, info.communities, residents_per_community))
    info.residents = [tuple(r) for r in cur.fetchall()]
    cur.execute(
        "INSERT INTO users (username, password_hash, display_name, role, shop_id, is_active, created_at) "
        "SELECT 'bench-cashier-' || id, %s, name, 'cashier', id, true, now() FROM shops "
        "WHERE community_id = ANY(%s) ORDER BY id "
        "RETURNING id, shop_id, (SELECT community_id FROM shops s WHERE s.id = shop_id)",
        (password_hash, info.communities))
    info.cashiers = [tuple(r) for r in cur.fetchall()]


def logins(url: str) -> Seeded:
    """The logins of an already seeded database."""
    info = Seeded()
    with connect(url) as conn:
        info.communities = [r[0] for r in conn.execute(
            "SELECT id FROM communities WHERE code LIKE 'bench-%' ORDER BY id")]
        for user_id, community_id in conn.execute(
                "SELECT id, community_id FROM users WHERE username LIKE 'bench-staff%' ORDER BY username, id"):
            info.staff.setdefault(community_id, []).append(user_id)
        info.residents = [tuple(r) for r in conn.execute(
            "SELECT id, household_id, community_id FROM users WHERE username LIKE 'bench-resident-%' ORDER BY id")]
        info.cashiers = [tuple(r) for r in conn.execute(
            "SELECT u.id, u.shop_id, s.community_id FROM users u JOIN shops s ON s.id = u.shop_id "
            "WHERE u.username LIKE 'bench-cashier-%' ORDER BY u.id")]
        info.admin = conn.execute("SELECT id FROM users WHERE username = 'bench-admin'").fetchone()[0]
        info.households = conn.execute("SELECT count(*) FROM households").fetchone()[0]
        info.postings = conn.execute("SELECT count(*) FROM postings").fetchone()[0]
    return info


def seed_scale(url: str, scale: str, **overrides: int) -> Seeded:
    params = {**SCALES[scale], **{k: v for k, v in overrides.items() if v is not None}}
    return seed(url, **params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="a migrated, empty PostgreSQL database (URL)")
    parser.add_argument("--scale", choices=sorted(SCALES), default="city")
    for name in ("households", "shops", "postings", "communities"):
        parser.add_argument(f"--{name}", type=int, default=None)
    parser.add_argument("--migrate", action="store_true", help="migrate the database first")
    args = parser.parse_args()
    if args.migrate:
        from bench.common import migrate

        migrate(args.database)
    info = seed_scale(args.database, args.scale, households=args.households, shops=args.shops,
                      postings=args.postings, communities=args.communities)
    print(f"seeded {info.households:,} households, {info.shops:,} shops, {info.transactions:,} transactions, "
          f"{info.postings:,} postings in {info.seconds:.1f}s ({info.postings / info.seconds:,.0f} postings/s)")



@contextlib.contextmanager
def seeded_database(args, label: str) -> Iterator[tuple[str, Seeded]]:
    """The database a benchmark runs on: ``--database URL`` (seeded by ``bench/run.py`` or by
    hand), else a scratch ``pointsbank_bench_<label>_<pid>`` seeded here (small with ``--short``)
    and dropped afterwards."""
    if args.database:
        yield args.database, logins(args.database)
        return
    from bench.common import migrate, scratch_database

    with scratch_database(label) as url:
        migrate(url)
        info = seed_scale(url, "small" if args.short else "city")
        print(f"seeded {info.postings:,} postings in {info.seconds:.1f}s", file=sys.stderr, flush=True)
        yield url, info


if __name__ == "__main__":
    main()
