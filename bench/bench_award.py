"""Awards per second through the HTTP API under gunicorn, against pgbench's TPC-B-like TPS.

Each request is a whole use case as a client sends it: a bearer token to authenticate, an
``Idempotency-Key`` (a new one per request, so the key row is written and the response stored),
the permission and conflict-of-interest checks, the ledger transaction (household row lock,
transaction, postings, cached balance, hash chain) and the audit row, committed once.

The call is ``POST /api/v1/records`` (an ``auto`` rule of the default rule book) when the
records API exists, else ``POST /api/v1/households/{id}/adjustments`` below the community's
second-person threshold; both move points the same way. 8 client threads, keep-alive, on
random households of the seeded communities; pgbench runs with ``-c 8 -j 2`` on its own
scale-10 database, in the same run.

    python bench/bench_award.py [--short] [--seconds 20] [--json out.json] [--database URL]
"""

from __future__ import annotations

import random
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (Client, Figure, Gunicorn, connect, issue_tokens, pgbench_database, pgbench_tps,  # noqa: E402
                          run_load, standard_arguments, write_results)
from bench.seed import seeded_database  # noqa: E402

CLIENTS = 8
GOAL = {"ratio_min": 0.35}


def households_by_community(url: str, communities: list[int]) -> dict[int, list[int]]:
    with connect(url) as conn:
        rows = conn.execute("SELECT community_id, id FROM households WHERE community_id = ANY(%s) "
                            "AND id NOT IN (SELECT household_id FROM users WHERE role = 'staff' "
                            "AND household_id IS NOT NULL)", (communities,)).fetchall()
    found: dict[int, list[int]] = {}
    for community_id, household_id in rows:
        found.setdefault(community_id, []).append(household_id)
    return found


def records_route(client: Client) -> bool:
    status, spec = client.json("GET", "/api/v1/openapi.json")
    return status == 200 and "/api/v1/records" in spec.get("paths", {})


BENCH_RULEBOOK = """\
version: "bench-1"
effective_from: 2020-01-01
categories:
  - code: volunteer
    name: {zh: 志愿服务, en: Volunteer service}
rules:
  - code: bench_volunteer
    category: volunteer
    name: {zh: 志愿服务（基准）, en: Volunteer service (benchmark)}
    points: 2
    approval: auto
"""


def prepare_records(client: Client, communities: list[int]) -> str | None:
    """Publish a one-rule book (an ``auto`` rule without caps, so every record posts points) in
    every benchmark community, as the seeded admin; the rule's code, or ``None`` when the
    records API refuses it (then the benchmark falls back to adjustments)."""
    for community_id in communities:
        status, _, body = client.request("POST", f"/api/v1/communities/{community_id}/rulebooks",
                                         raw=BENCH_RULEBOOK.encode(), headers={"Content-Type": "application/yaml"})
        if status not in (200, 201, 409):
            print(f"note: publishing the benchmark rule book answered {status} {body[:300]!r}; "
                  "using adjustments", file=sys.stderr)
            return None
    return "bench_volunteer"


def main() -> None:
    args = standard_arguments(__doc__.split("\n\n")[0]).parse_args()
    seconds = args.seconds or (5 if args.short else 20)
    with seeded_database(args, "award") as (url, info):
        communities = info.communities[:CLIENTS]
        staff_ids = [info.staff[c][0] for c in communities]
        tokens = issue_tokens(url, staff_ids + ([info.admin] if info.admin else []))
        staff_tokens = [tokens[uid] for uid in staff_ids]
        households = households_by_community(url, communities)
        with Gunicorn(url) as server:
            admin = Client(server.port, tokens.get(info.admin))
            rule_code = prepare_records(admin, communities) if records_route(admin) else None
            admin.close()
            today = None
            if rule_code:
                from datetime import date

                today = date.today().isoformat()

            def award(client: Client, index: int, sequence: int) -> int:
                community = communities[index % len(communities)]
                household = random.choice(households[community])
                headers = {"Idempotency-Key": uuid.uuid4().hex}
                if rule_code:
                    body = {"household_id": household, "rule_code": rule_code, "occurred_on": today}
                    return client.request("POST", "/api/v1/records", body, headers)[0]
                return client.request("POST", f"/api/v1/households/{household}/adjustments",
                                      {"points": 5, "reason": "基准测试"}, headers)[0]

            result = run_load(server.port, award, clients=CLIENTS, seconds=seconds, tokens=staff_tokens)
        with pgbench_database() as pg:
            baseline = pgbench_tps(pg, clients=CLIENTS, threads=2, seconds=int(seconds))
    route = "POST /api/v1/records" if rule_code else "POST /api/v1/households/{id}/adjustments"
    figure = Figure("award through HTTP", result.throughput, "req/s", baseline, "pgbench TPC-B-like tps",
                    goal=GOAL, details={"route": route, "clients": CLIENTS, "seconds": seconds,
                                        "p50_ms": round(result.p50_ms, 2), "p99_ms": round(result.p99_ms, 2),
                                        "statuses": result.statuses, "ok_ratio": round(result.ok_ratio(), 4)})
    if result.ok_ratio() < 0.99:
        print(f"warning: only {result.ok_ratio():.1%} of the awards succeeded: {result.statuses}", file=sys.stderr)
    write_results(args.json_path, "award", [figure])


if __name__ == "__main__":
    main()
