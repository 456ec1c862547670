"""QR images per second through ``GET /api/v1/vouchers/{id}/qr.png``: the first request
(rendered) against the following ones (served from the cache).

Residents of the seed create vouchers (``POST /api/v1/vouchers``); each voucher's image is
requested once (that request renders it: its latency is the "first render" figure), then 8
clients ask for the images again and again (keep-alive, authenticated, the voucher checked in
the database each time — only the rendering is cached), and once more with ``If-None-Match``
(the phone's cache revalidating: 304, no body). The baseline is rendering the same tokens
in-process with ``pointsbank.redeem.qr.render_png`` and no cache: the goal is that a cached
image through the whole HTTP stack comes faster than a bare render (ratio ≥ 1).

    python bench/bench_qr.py [--short] [--seconds 10] [--json out.json] [--database URL]
"""

from __future__ import annotations

import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (Client, Figure, Gunicorn, connect, issue_tokens, percentile, run_load,  # noqa: E402
                          standard_arguments, write_results)
from bench.seed import seeded_database  # noqa: E402

CLIENTS = 8
VOUCHERS = 24


def rich_residents(url: str, count: int) -> list[tuple[int, int]]:
    """(user id, household id) of resident logins whose household has redeemable points."""
    with connect(url) as conn:
        return [tuple(r) for r in conn.execute(
            "SELECT u.id, u.household_id FROM users u JOIN accounts a ON a.household_id = u.household_id "
            "JOIN communities c ON c.id = u.community_id WHERE u.role = 'resident' AND u.username LIKE 'bench-%%' "
            "AND a.balance >= c.base_points + 2 ORDER BY u.id LIMIT %s", (count,))]


def render_baseline(tokens: list[str], seconds: float) -> float:
    from pointsbank.redeem import qr

    done, deadline = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        qr.render_png(tokens[done % len(tokens)])
        done += 1
    return done / (time.perf_counter() - started)


def main() -> None:
    args = standard_arguments(__doc__.split("\n\n")[0]).parse_args()
    seconds = args.seconds or (5 if args.short else 15)
    with seeded_database(args, "qr") as (url, _info):
        residents = rich_residents(url, VOUCHERS)
        tokens = issue_tokens(url, [user_id for user_id, _ in residents])
        with Gunicorn(url) as server:
            probe = Client(server.port, tokens[residents[0][0]])
            status, spec = probe.json("GET", "/api/v1/openapi.json")
            if "/api/v1/vouchers/{voucher_id}/qr.png" not in spec.get("paths", {}):
                probe.close()
                print("the voucher QR route does not exist yet: nothing to measure", file=sys.stderr)
                write_results(args.json_path, "qr", [Figure("QR images from cache (HTTP)", None, "images/s",
                                                            details={"skipped": "no /vouchers/{id}/qr.png"})])
                return
            vouchers: list[tuple[str, str, str]] = []  # (voucher id, token, resident's api token)
            for user_id, _household in residents:
                client = Client(server.port, tokens[user_id])
                status, body = client.json("POST", "/api/v1/vouchers", {"points": 1},
                                           headers={"Idempotency-Key": uuid.uuid4().hex})
                client.close()
                if status == 201:
                    vouchers.append((body["id"], body["token"], tokens[user_id]))
            if not vouchers:
                raise SystemExit("no voucher could be created")
            first: list[float] = []
            etags: dict[str, str] = {}
            for voucher_id, _token, api_token in vouchers:
                client = Client(server.port, api_token)
                began = time.perf_counter()
                status, headers, _ = client.request("GET", f"/api/v1/vouchers/{voucher_id}/qr.png")
                first.append(time.perf_counter() - began)
                etags[voucher_id] = headers.get("etag", "")
                client.close()
            per_client = [vouchers[i % len(vouchers)] for i in range(CLIENTS)]

            def cached(client: Client, index: int, sequence: int) -> int:
                voucher_id = per_client[index][0]
                return client.request("GET", f"/api/v1/vouchers/{voucher_id}/qr.png")[0]

            def revalidate(client: Client, index: int, sequence: int) -> int:
                voucher_id = per_client[index][0]
                return client.request("GET", f"/api/v1/vouchers/{voucher_id}/qr.png",
                                      headers={"If-None-Match": etags[voucher_id]})[0]

            client_tokens = [v[2] for v in per_client]
            hot = run_load(server.port, cached, clients=CLIENTS, seconds=seconds, tokens=client_tokens)
            conditional = run_load(server.port, revalidate, clients=CLIENTS, seconds=seconds, tokens=client_tokens)
            probe.close()
        baseline = render_baseline([v[1] for v in vouchers], min(seconds, 5))
    first_sorted = sorted(first)
    figures = [
        Figure("QR first request (renders)", percentile(first_sorted, 0.5) * 1000, "ms",
               1000 / baseline, "bare render ms", details={"vouchers": len(vouchers),
                                                        "p90_ms": round(percentile(first_sorted, 0.9) * 1000, 2)}),
        Figure("QR images from cache (HTTP)", hot.throughput, "images/s", baseline, "bare renders/s, no cache",
               goal={"ratio_min": 1.0}, details={"clients": CLIENTS, "p50_ms": round(hot.p50_ms, 2),
                                                 "p99_ms": round(hot.p99_ms, 2), "statuses": hot.statuses}),
        Figure("QR revalidations (304, If-None-Match)", conditional.throughput, "req/s", baseline,
               "bare renders/s, no cache", details={"statuses": conditional.statuses,
                                                    "p50_ms": round(conditional.p50_ms, 2)}),
    ]
    if "304" not in conditional.statuses:
        print(f"warning: If-None-Match did not answer 304: {conditional.statuses}", file=sys.stderr)
    write_results(args.json_path, "qr", figures)


if __name__ == "__main__":
    random.seed(8)
    main()
