"""Bulk import of behaviour records: rows per second with scoring and posting, against a raw
``COPY`` of the same rows in the same run.

    python bench/bench_import.py [--rows 100000] [--database-url URL] [--json out.json] [--short]
    python bench/bench_import.py --database URL     # an already migrated database (bench/run.py)

Steps: create the database (``--database-url``; default: the server of
``POINTSBANK_BENCH_PG_URL``, database ``pointsbank_bench``; a database that already exists is
never touched — pass another name), migrate it to every head, create a community with 2,000
households through the household-register import, publish a rule book (hourly volunteering
with a monthly cap, awards, deductions, a yearly count cap) and generate ``--rows`` record rows
over the households and the last ten months. Then, timed:

* **ours** — ``pointsbank.rules.importer.import_records(post=True)`` on the CSV, one unit of
  work as ``pointsbank import records --post`` runs it: parse, batched lookups, every row
  checked, caps row by row, records inserted in batches, each posted through ``ledger.post``
  (its own transaction, postings, balance and hash chain);
* **baseline** — the same rows as ``behaviour_records`` rows, ``COPY``'d with psycopg into a
  scratch table shaped like ``behaviour_records`` (its indexes included), then dropped.

Afterwards ``ledger verify`` must be clean. The database is dropped on the way out (with
``--database`` only the scratch table is; the community stays, as postings are append-only).
The run is bounded by ``--timeout`` seconds.
"""

from __future__ import annotations

import io
import os
import random
import re
import signal
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (Figure, _admin, connect, migrate, sqlalchemy_url, standard_arguments,  # noqa: E402
                          write_results)

HOUSEHOLDS = 2_000
STAFF = f"bench-import-{os.getpid()}"
RULEBOOK = """\
version: "bench-1"
effective_from: 2020-01-01
categories:
  - code: volunteer
    name: {zh: 志愿服务, en: Volunteer service}
  - code: civic
    name: {zh: 遵守公德, en: Public morality}
rules:
  - code: volunteer_hour
    category: volunteer
    name: {zh: 志愿服务（每小时）, en: "Volunteer service, per hour"}
    points: 2
    unit: hour
    max_quantity: 8
    caps:
      - {period: month, points: 40}
  - code: clean_up
    category: volunteer
    name: {zh: 环境整治, en: Environment clean-up}
    points: 5
    caps:
      - {period: quarter, points: 60}
  - code: good_deed
    category: civic
    name: {zh: 好人好事, en: A good deed}
    points: 10
  - code: litter
    category: civic
    name: {zh: 乱扔垃圾, en: Littering}
    points: -5
  - code: model_family
    category: civic
    name: {zh: 评为文明家庭, en: Named a model family}
    points: 50
    caps:
      - {period: year, count: 1}
"""
RULES = [("volunteer_hour", 4), ("clean_up", 2), ("good_deed", 2), ("litter", 1), ("model_family", 1)]


def _default_url() -> str:
    server = os.environ.get("POINTSBANK_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    return sqlalchemy_url(server.rpartition("/")[0] + "/pointsbank_bench")


def _split(url: str) -> tuple[str, str]:
    """(admin URL on the same server, database name)."""
    base, _, name = sqlalchemy_url(url).rpartition("/")
    name = name.split("?")[0]
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise SystemExit(f"refusing database name {name!r}")
    return re.sub(r"^postgresql\+psycopg://", "postgresql://", base) + "/postgres", name


def create_database(url: str) -> None:
    admin, name = _split(url)
    with connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            raise SystemExit(f"database {name} already exists; pass --database-url with a name that does not "
                             "(it is created and dropped here), or --database to use a migrated one")
    _admin(f'CREATE DATABASE "{name}"', admin)


def drop_database(url: str) -> None:
    admin, name = _split(url)
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin)


def generate(rows: int, numbers: list[str], today: date, seed: int = 7) -> bytes:
    """The CSV the import reads: rows over every household, dated within the last 300 days."""
    rng = random.Random(seed)
    weighted = [code for code, weight in RULES for _ in range(weight)]
    out = io.StringIO()
    out.write("household_number,rule_code,occurred_on,quantity,note\n")
    for i in range(rows):
        code = rng.choice(weighted)
        day = today - timedelta(days=rng.randrange(300))
        quantity = rng.randint(1, 8) if code == "volunteer_hour" else 1
        out.write(f"{rng.choice(numbers)},{code},{day.year}/{day.month}/{day.day},{quantity},第{i}行\n")
    return out.getvalue().encode()


def raw_copy_seconds(url: str, community_id: int, data: bytes) -> float:
    """COPY the same rows, as behaviour_records rows, into a scratch table shaped like it."""
    import csv
    import hashlib
    import json

    with connect(url) as conn:
        households = dict(conn.execute("SELECT number, id FROM households WHERE community_id = %s",
                                       (community_id,)).fetchall())
        recorder, version = conn.execute(
            "SELECT (SELECT id FROM users WHERE username = %s), "
            "(SELECT id FROM rulebook_versions WHERE community_id = %s ORDER BY id DESC LIMIT 1)",
            (STAFF, community_id)).fetchone()
    now = datetime.now(timezone.utc)
    points = {"volunteer_hour": 2, "clean_up": 5, "good_deed": 10, "litter": -5, "model_family": 50}
    reader = csv.reader(io.StringIO(data.decode()))
    next(reader)
    rows = []
    for i, (number, code, day, quantity, note) in enumerate(reader):
        y, m, d = (int(p) for p in day.split("/"))
        rows.append((community_id, households[number], version, code, "volunteer" if code in ("volunteer_hour",
                     "clean_up") else "civic", date(y, m, d), f"{y:04d}-{m:02d}", f"{y:04d}Q{(m - 1) // 3 + 1}",
                     f"{y:04d}", int(quantity), note, "posted", points[code] * int(quantity),
                     points[code] * int(quantity), 0, json.dumps([]), False,
                     hashlib.sha256(f"raw{i}".encode()).hexdigest(), recorder, now, now))
    columns = ("community_id, household_id, rulebook_version_id, rule_code, category, occurred_on, month_key, "
               "quarter_key, year_key, quantity, note, status, points, requested_points, approvals_required, "
               "reasons, is_claim, import_key, recorded_by_id, created_at, posted_at")
    with connect(url) as conn:
        conn.execute("CREATE TABLE bench_import_raw (LIKE behaviour_records INCLUDING DEFAULTS "
                     "INCLUDING CONSTRAINTS INCLUDING INDEXES)")
        conn.commit()
        try:
            started = time.perf_counter()
            with conn.cursor() as cur:
                with cur.copy(f"COPY bench_import_raw ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            conn.commit()
            return time.perf_counter() - started
        finally:
            conn.rollback()
            conn.execute("DROP TABLE IF EXISTS bench_import_raw")
            conn.commit()


def prepare(app, households: int) -> tuple[int, list[str]]:
    """A community with its staff login, households (through the register import) and rule book."""
    from pointsbank.auth.services import create_user
    from pointsbank.community import services as community
    from pointsbank.database import unit_of_work
    from pointsbank.community import household_import
    from pointsbank.rules import services as books

    code = f"bench_import_{os.getpid()}"
    created = unit_of_work(community.create_community)(None, code=code, name="导入基准村", base_points=100)
    community_id = created.id
    register = "number,head_name,grid,members\n" + "".join(
        f"BI-{i:05d},户主{i},{i % 20}组,户主{i} 家人{i}\n" for i in range(households))
    started = time.perf_counter()
    report = unit_of_work(household_import.import_households)(None, community_id, register.encode())
    print(f"  {report['created']:,} households registered in {time.perf_counter() - started:.1f}s",
          file=sys.stderr, flush=True)
    app.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:1000"
    staff = unit_of_work(create_user)(None, role="staff", username=STAFF, password="bench-password-1",
                                      community_id=community_id)
    unit_of_work(books.publish)(staff, community_id, RULEBOOK.encode(), "application/yaml")
    return community_id, [f"BI-{i:05d}" for i in range(households)]


def run(url: str, rows: int, households: int) -> tuple[list[Figure], dict]:
    from pointsbank import clock, create_app
    from pointsbank.auth.models import User
    from pointsbank.database import unit_of_work
    from pointsbank.extensions import db
    from pointsbank.ledger.verify import verify
    from pointsbank.rules import importer

    import sqlalchemy as sa

    app = create_app({"DATABASE_URL": sqlalchemy_url(url), "SECRET_KEY": "bench"})
    with app.app_context():
        community_id, numbers = prepare(app, households)
        staff = db.session.scalar(sa.select(User).where(User.username == STAFF))
        data = generate(rows, numbers, clock.today_in("Asia/Shanghai"))
        started = time.perf_counter()
        report = unit_of_work(importer.import_records)(staff, community_id, data, "bench.csv", post=True,
                                                       progress=_progress)
        seconds = time.perf_counter() - started
        print(file=sys.stderr)
        verified = verify(community_id)
        db.engine.dispose()
    raw = raw_copy_seconds(url, community_id, data)
    details = {"rows": rows, "households": households, "posted": report["posted"], "invalid": report["invalid"],
               "points": report["points"], "seconds": round(seconds, 2), "raw_seconds": round(raw, 3),
               "ledger_verify_clean": verified.ok}
    figure = Figure("records import (check, score, post)", rows / seconds, "rows/s", rows / raw,
                    "COPY of the same rows rows/s", goal={"ratio_min": 0.3}, details=details)
    return [figure], details


def _progress(phase: str, done: int, total: int) -> None:
    print(f"\r  {phase}: {done:,}/{total:,}", end="", file=sys.stderr, flush=True)


def _table(figures: list[Figure]) -> str:
    rows = [("figure", "ours", "baseline (COPY)", "ratio")]
    rows += [(f.figure, f"{f.ours:,.0f} {f.unit}", f"{f.baseline:,.0f} {f.unit}", f"{f.ratio:.4f}")
             for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    parser = standard_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=None, help="record rows to import (default 100,000; "
                                                                 "5,000 with --short)")
    parser.add_argument("--households", type=int, default=HOUSEHOLDS)
    parser.add_argument("--database-url", default=None, help="the database to create, use and drop "
                                                             "(default: pointsbank_bench on POINTSBANK_BENCH_PG_URL's server)")
    parser.add_argument("--timeout", type=int, default=3600, help="give up (and clean up) after this many seconds")
    args = parser.parse_args()
    rows = args.rows or (5_000 if args.short else 100_000)

    def give_up(*_):
        raise TimeoutError(f"bench_import took longer than {args.timeout}s")

    signal.signal(signal.SIGALRM, give_up)
    signal.alarm(args.timeout)
    if args.database:
        figures, details = run(args.database, rows, args.households)
    else:
        url = args.database_url or _default_url()
        create_database(url)
        try:
            migrate(url)
            figures, details = run(url, rows, args.households)
        finally:
            drop_database(url)
    signal.alarm(0)
    write_results(args.json_path, "import", figures)
    print(_table(figures))
    print(f"{details['rows']:,} rows, {details['posted']:,} posted, {details['points']:,} points, "
          f"{details['seconds']}s (COPY {details['raw_seconds']}s); ledger verify "
          f"{'clean' if details['ledger_verify_clean'] else 'NOT CLEAN'}")
    if not details["ledger_verify_clean"] or details["invalid"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
