"""``pointsbank ledger verify``: postings checked per second, and the memory it takes.

The verifier runs in a child process (``--child``) so its peak resident memory
(``resource.getrusage``'s ``ru_maxrss``) is its own: it streams the ledger with server-side
cursors, so the peak must not grow with the number of postings (compare a ``--short`` run with
a full one). The baseline is PostgreSQL alone streaming the same rows in the same order to a
client that throws them away (``COPY (the verifier's three queries) TO STDOUT``): what reading
the ledger costs before any hash is computed.

    python bench/bench_verify.py [--short] [--json out.json] [--database URL]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Figure, connect, sqlalchemy_url, standard_arguments, write_results  # noqa: E402

RSS_GOAL_MIB = 256
#: the rows the verifier reads, in its order (pointsbank/ledger/verify.py)
SCANS = [
    "SELECT transaction_id, sum(points) FROM postings GROUP BY transaction_id HAVING sum(points) <> 0",
    "SELECT t.id, t.community_id, t.kind, t.reference_type, t.reference_id, t.reversal_of_id, t.actor_id, "
    "t.created_at, t.digest, p.account_id, p.points FROM ledger_transactions t JOIN postings p "
    "ON p.transaction_id = t.id ORDER BY t.id, p.account_id",
    "SELECT a.id, a.balance, a.last_hash, p.id, p.points, p.balance_after, p.hash, p.transaction_id, t.digest "
    "FROM accounts a JOIN postings p ON p.account_id = a.id JOIN ledger_transactions t ON t.id = p.transaction_id "
    "WHERE a.kind IN ('household', 'shop') ORDER BY a.id, p.id",
]


def child(url: str) -> None:
    from pointsbank import create_app
    from pointsbank.ledger.verify import verify

    app = create_app({"DATABASE_URL": sqlalchemy_url(url), "SECRET_KEY": "bench"})
    with app.app_context():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        report = verify()
        elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"postings": report.postings, "transactions": report.transactions, "ok": report.ok,
                      "differences": len(report.differences), "seconds": elapsed,
                      "rss_before_kib": before, "rss_peak_kib": peak}))


def raw_scan_seconds(url: str) -> float:
    started = time.perf_counter()
    with connect(url) as conn, conn.cursor() as cur:
        for sql in SCANS:
            with cur.copy(f"COPY ({sql}) TO STDOUT") as copy:
                for _ in copy:
                    pass
    return time.perf_counter() - started


def main() -> None:
    parser = standard_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--child", default=None, help=argparse_hidden())
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    from bench.seed import seeded_database

    with seeded_database(args, "verify") as (url, _info):
        raw = raw_scan_seconds(url)
        process = subprocess.Popen([sys.executable, __file__, "--child", url], stdout=subprocess.PIPE, text=True)
        out, _ = process.communicate(timeout=3600)
        if process.returncode != 0:
            raise SystemExit(f"the verifier failed (exit {process.returncode})")
        result = json.loads(out.strip().splitlines()[-1])
    rate = result["postings"] / result["seconds"]
    baseline = result["postings"] / raw
    peak_mib = result["rss_peak_kib"] / 1024
    figures = [
        Figure("ledger verify", rate, "postings/s", baseline, "same rows streamed raw (COPY) postings/s",
               details={"postings": result["postings"], "transactions": result["transactions"],
                        "seconds": round(result["seconds"], 2), "clean": result["ok"]}),
        Figure("ledger verify peak RSS", peak_mib, "MiB", result["rss_before_kib"] / 1024,
               "RSS before verifying (MiB)", goal={"value_max": RSS_GOAL_MIB},
               details={"postings": result["postings"]}),
    ]
    if not result["ok"]:
        print(f"error: the seeded ledger does not verify ({result['differences']} differences)", file=sys.stderr)
    write_results(args.json_path, "verify", figures)
    if not result["ok"]:
        sys.exit(1)


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
