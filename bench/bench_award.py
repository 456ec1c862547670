"""Awards per second through the HTTP API under gunicorn, against pgbench's TPC-B-like TPS.

Each request is a whole use case as a client sends it: a bearer token to authenticate, an
``Idempotency-Key`` (a new one per request, so the key row is written and the response stored),
the permission and conflict-of-interest checks, the ledger transaction (household row lock,
transaction, postings, cached balance, hash chain) and the audit row, committed once.

The call is ``POST /api/v1/records`` (an ``auto`` rule of the default rule book) when the
records API exists, else ``POST /api/v1/households/{id}/adjustments`` below the community's
second-person threshold; both move points the same way. 8 clients on keep-alive connections,
each the staff of one seeded community awarding random households of it; pgbench runs with
``-c 8 -j 2`` on its own scale-10 database, in the same run.

The load comes from ``wrk`` (C) when it is installed (``bench/wrk.py``): 8 threads of one
connection each, so that a connection keeps its community (wrk's Lua does not tell
``request()`` which connection asks), with a fresh key per request (thread, counter, random).
Without wrk, 8 Python ``http.client`` threads do the same. A short warm-up run goes first; the
CPU that gunicorn and the database's backends spend in the measured run, per request, is in
the figure's details with the load generator.

    python bench/bench_award.py [--short] [--seconds 20] [--json out.json] [--database URL]
"""

from __future__ import annotations

import random
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import wrk  # noqa: E402
from bench.common import (Client, Figure, Gunicorn, connect, issue_tokens, pgbench_database, pgbench_tps,  # noqa: E402
                          run_load, standard_arguments, write_results)
from bench.seed import seeded_database  # noqa: E402

CLIENTS = 8
GOAL = {"ratio_min": 0.35}
WARMUP_SECONDS = 2

#: one connection per wrk thread: ``tid`` is the client, its community is ``DATA.clients[tid]``
AWARD_LUA = r"""
local token, households, sent
function on_init()
  local client = DATA.clients[(tid - 1) % #DATA.clients + 1]
  token, households, sent = client.token, client.households, 0
end
function request()
  sent = sent + 1
  local household = households[math.random(#households)]
  local key = string.format("wrk-%d-%d-%08x%08x", tid, sent, math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
  return wrk.format("POST", string.format(DATA.path, household),
                    {["Authorization"] = "Bearer " .. token, ["Accept"] = "application/json",
                     ["Content-Type"] = "application/json", ["Idempotency-Key"] = key},
                    string.format(DATA.body, household))
end
"""


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


def refusals_of(result) -> dict:
    """The refused answers by status and error code, and the first one's body (wrk only)."""
    if getattr(result, "refusals", None):
        return {"refusals": result.refusals, "first_refusal": result.sample}
    return {}


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

            if rule_code:
                path, body = "/api/v1/records", (f'{{"household_id": %d, "rule_code": "{rule_code}", '
                                                 f'"occurred_on": "{today}"}}')
            else:
                path, body = "/api/v1/households/%d/adjustments", '{"points": 5, "reason": "基准测试"}'
            meter = wrk.CpuMeter(server.process.pid, url)
            if wrk.available():
                data = {"path": path, "body": body,
                        "clients": [{"token": token, "households": households[community]}
                                    for community, token in zip(communities, staff_tokens)]}
                wrk.run(server.port, AWARD_LUA, data, connections=CLIENTS, seconds=WARMUP_SECONDS, threads=CLIENTS)
                meter.start()
                result = wrk.run(server.port, AWARD_LUA, data, connections=CLIENTS, seconds=seconds, threads=CLIENTS)
                load_generator = wrk.describe(CLIENTS)
            else:
                def award(client: Client, index: int, sequence: int) -> int:
                    community = communities[index % len(communities)]
                    household = random.choice(households[community])
                    headers = {"Idempotency-Key": uuid.uuid4().hex}
                    if rule_code:
                        body = {"household_id": household, "rule_code": rule_code, "occurred_on": today}
                        return client.request("POST", "/api/v1/records", body, headers)[0]
                    return client.request("POST", f"/api/v1/households/{household}/adjustments",
                                          {"points": 5, "reason": "基准测试"}, headers)[0]

                run_load(server.port, award, clients=CLIENTS, seconds=WARMUP_SECONDS, warmup=0, tokens=staff_tokens)
                meter.start()
                result = run_load(server.port, award, clients=CLIENTS, seconds=seconds, warmup=0, tokens=staff_tokens)
                load_generator = f"python http.client threads ({CLIENTS})"
            cpu = meter.stop().per_request_ms(result.requests)
        with pgbench_database() as pg:
            baseline = pgbench_tps(pg, clients=CLIENTS, threads=2, seconds=int(seconds))
    route = "POST /api/v1/records" if rule_code else "POST /api/v1/households/{id}/adjustments"
    awarded = result.statuses.get("201", 0) + result.statuses.get("200", 0)
    figure = Figure("award through HTTP", awarded / result.seconds, "req/s", baseline, "pgbench TPC-B-like tps",
                    goal=GOAL, details={"route": route, "clients": CLIENTS, "seconds": round(result.seconds, 2),
                                        "load_generator": load_generator, **cpu,
                                        "p50_ms": round(result.p50_ms, 2), "p99_ms": round(result.p99_ms, 2),
                                        "statuses": result.statuses, "ok_ratio": round(result.ok_ratio(), 4),
                                        **refusals_of(result)})
    if result.ok_ratio() < 0.99:
        print(f"warning: only {result.ok_ratio():.1%} of the awards succeeded: {result.statuses}"
              + (f"; first refusal: {result.sample}" if getattr(result, "sample", None) else ""), file=sys.stderr)
    write_results(args.json_path, "award", [figure])


if __name__ == "__main__":
    main()
