"""The stack's fixed cost per request: CPU in one process, against a bare Flask endpoint.

    python bench/overhead.py [--short] [--rounds 7] [--requests 200] [--json out.json] [--profile KIND]

One process, no HTTP server, no load generator: the app (``create_app``, ``POINTSBANK_ENV=production``
settings, on a scratch PostgreSQL database with a small seed from ``bench/seed.py``) is called
through Flask's test client, and so is a bare Flask app in the same process (one route answering
``{"status": "ok"}`` with ``jsonify``). For each request kind the CPU time of the process
(``time.process_time``) over ``--requests`` requests is divided by their number; that is done
``--rounds`` times, kinds interleaved, and the minimum of the rounds is the figure (the least
disturbed by the other users of the machine). Each kind's ratio is its figure divided by the bare
endpoint's, measured in the same run:

* our app's view that touches no database (``/api/v1/bench-noop``, added by this benchmark, no
  token) — what our request hooks cost on their own;
* ``GET /healthz`` — no login, one ``SELECT 1``;
* the balance read — ``GET /api/v1/households/{id}`` by a resident with a bearer token;
* the award — ``POST /api/v1/records`` by a community's staff, an ``auto`` rule, a fresh
  ``Idempotency-Key`` per request;
* the voucher issue — ``POST /api/v1/vouchers`` of one point by a resident;
* the redemption — ``POST /api/v1/redemptions`` by a partner shop's cashier, of a voucher issued
  in the same round, with its signed token.

The PostgreSQL backends' CPU is not in these figures (another process): they measure what the
Python stack costs. Next to each figure are the statements and round trips of one such request,
counted on the wire: every pooled connection is traced with libpq's ``PQtrace`` (psycopg's
``pgconn.trace``), statements are the ``Query`` and ``Execute`` messages the client sends
(``BEGIN``/``COMMIT`` included), round trips the times the client sent and then waited for the
server's answer (a run of frontend messages followed by backend ones).

``--profile KIND`` (repeatable) first prints a cProfile, in CPU time, of ``--requests`` requests of
that kind after the warm-up: where its CPU goes.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (SECRET, Figure, issue_tokens, migrate, scratch_database, sqlalchemy_url,  # noqa: E402
                          write_results)
from bench.seed import seed  # noqa: E402

#: kind → the goal of its ratio to the bare endpoint (issue 18)
GOALS = {"healthz": 2.5, "balance": 4.0, "award": 10.0, "redemption": 10.0}
LABELS = {"bare": "bare Flask endpoint", "noop": "our app, no database", "healthz": "GET /healthz", "balance": "balance read",
          "award": "award (POST /records)", "voucher": "voucher issue", "redemption": "redemption"}
RESIDENTS = 20

RULEBOOK = """\
version: "overhead-1"
effective_from: 2020-01-01
categories:
  - code: volunteer
    name: {zh: 志愿服务, en: Volunteer service}
rules:
  - code: overhead_volunteer
    category: volunteer
    name: {zh: 志愿服务（基准）, en: Volunteer service (benchmark)}
    points: 2
    approval: auto
"""


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None


def bare_app():
    from flask import Flask, jsonify

    app = Flask("bare")

    @app.get("/bare")
    def bare():
        return jsonify({"status": "ok"})

    return app


class Wire:
    """Statements and round trips on every connection of an engine, read from libpq's trace."""

    def __init__(self, engine) -> None:
        import sqlalchemy as sa

        self.directory = tempfile.mkdtemp(prefix="pointsbank_overhead_trace_")
        self.traced: list[tuple[Any, str]] = []
        self.enabled = False
        sa.event.listen(engine, "connect", self._on_connect)

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        connection = getattr(dbapi_connection, "driver_connection", dbapi_connection)
        self.traced.append([connection, None])  # type: ignore[arg-type]
        if self.enabled:
            self._start(self.traced[-1])

    def _start(self, entry: list) -> None:
        import psycopg

        path = os.path.join(self.directory, f"{id(entry[0])}-{time.monotonic_ns()}.trace")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        entry[0].pgconn.trace(fd)
        entry[0].pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        entry[1] = path

    def _stop(self, entry: list) -> list[str]:
        path = entry[1]
        if path is None:
            return []
        with contextlib.suppress(Exception):
            entry[0].pgconn.untrace()
        entry[1] = None
        lines = Path(path).read_text(errors="replace").splitlines()
        os.unlink(path)
        return lines

    @contextlib.contextmanager
    def counting(self):
        """Yields a dict filled, on exit, with the statements and round trips sent inside."""
        counts: dict[str, int] = {}
        self.enabled = True
        for entry in self.traced:
            if not entry[0].closed:
                self._start(entry)
        try:
            yield counts
        finally:
            self.enabled = False
            statements = round_trips = 0
            for entry in self.traced:
                direction = None
                for line in self._stop(entry):
                    parts = line.split("\t")
                    if len(parts) < 3:
                        continue
                    side, message = parts[0], parts[2].strip()
                    if side == "F" and message in ("Query", "Execute"):
                        statements += 1
                    if side == "B" and direction == "F":
                        round_trips += 1
                    direction = side
            counts.update(statements=statements, round_trips=round_trips)
            self.traced = [e for e in self.traced if not e[0].closed]


class World:
    """The seeded database's logins and the calls of each request kind."""

    def __init__(self, url: str, app, client) -> None:
        info = seed(url, households=400, shops=4, postings=2_000, communities=2, residents_per_community=RESIDENTS,
                    progress=False)
        community = info.communities[0]
        residents = [(uid, hid) for uid, hid, cid in info.residents if cid == community][:RESIDENTS]
        cashier = next(uid for uid, _, cid in info.cashiers if cid == community)
        staff = info.staff[community][0]
        tokens = issue_tokens(url, [staff, cashier, info.admin] + [uid for uid, _ in residents])
        self.staff = {"Authorization": f"Bearer {tokens[staff]}", "Accept": "application/json"}
        self.cashier = {"Authorization": f"Bearer {tokens[cashier]}", "Accept": "application/json"}
        self.residents = [({"Authorization": f"Bearer {tokens[uid]}", "Accept": "application/json"}, hid)
                          for uid, hid in residents]
        self.client = client
        admin = {"Authorization": f"Bearer {tokens[info.admin]}", "Content-Type": "application/yaml"}
        answer = client.post(f"/api/v1/communities/{community}/rulebooks", data=RULEBOOK.encode(), headers=admin)
        if answer.status_code not in (200, 201):
            raise SystemExit(f"publishing the rule book answered {answer.status_code}: {answer.get_data(True)[:300]}")
        self.today = date.today().isoformat()
        self.vouchers: list[str] = []
        self._top_up(app, community, [hid for _, hid in residents])

    @staticmethod
    def _top_up(app, community: int, households: list[int], points: int = 100_000) -> None:
        """Points the residents can spend on vouchers (an award's points wait out the notice period)."""
        from pointsbank.extensions import db
        from pointsbank.ledger import services as ledger

        with app.app_context():
            issuance = ledger.system_accounts(community)["issuance"]
            for household in households:
                account = ledger.household_account_id(household)
                ledger.post(community, "award", [(issuance, -points), (account, points)],
                            reference=("bench_overhead", str(household)))
            db.session.commit()

    def calls(self, kind: str, count: int) -> list[Call]:
        """``count`` requests of ``kind``, built before they are timed."""
        json_headers = {"Content-Type": "application/json"}
        if kind == "bare":
            return [Call("GET", "/bare", {"Accept": "application/json"})] * count
        if kind == "noop":
            return [Call("GET", NOOP_PATH, {"Accept": "application/json"})] * count
        if kind == "healthz":
            return [Call("GET", "/healthz", {"Accept": "application/json"})] * count
        if kind == "balance":
            return [Call("GET", f"/api/v1/households/{hid}", headers)
                    for headers, hid in (self.residents[i % len(self.residents)] for i in range(count))]
        if kind == "award":
            return [Call("POST", "/api/v1/records",
                         {**self.staff, **json_headers, "Idempotency-Key": uuid.uuid4().hex},
                         json.dumps({"household_id": self.residents[i % len(self.residents)][1],
                                     "rule_code": "overhead_volunteer", "occurred_on": self.today}).encode())
                    for i in range(count)]
        if kind == "voucher":
            return [Call("POST", "/api/v1/vouchers", {**self.residents[i % len(self.residents)][0], **json_headers},
                         b'{"points": 1}') for i in range(count)]
        if kind == "redemption":
            taken, self.vouchers = self.vouchers[:count], self.vouchers[count:]
            if len(taken) < count:
                raise SystemExit(f"only {len(taken)} vouchers left for {count} redemptions")
            return [Call("POST", "/api/v1/redemptions", {**self.cashier, **json_headers},
                         json.dumps({"code": token, "points": 1}).encode()) for token in taken]
        raise ValueError(kind)

    def expect(self, kind: str) -> Callable[[Any], None]:
        wanted = {"award": 201, "voucher": 201, "redemption": 201}.get(kind, 200)

        def check(response) -> None:
            if response.status_code != wanted:
                raise SystemExit(f"{kind}: answered {response.status_code}, not {wanted}: "
                                 f"{response.get_data(True)[:400]}")
            if kind == "voucher":
                self.vouchers.append(response.get_json()["token"])

        return check


def timed(client, calls: list[Call], check: Callable[[Any], None]) -> float:
    """CPU seconds of this process per request over ``calls`` (the answers checked afterwards)."""
    responses = []
    gc.collect()
    started = time.process_time()
    for call in calls:
        response = client.open(call.path, method=call.method, headers=call.headers, data=call.body)
        response.close()
        responses.append(response)
    spent = time.process_time() - started
    for response in responses:
        check(response)
    return spent / len(calls)


KINDS = ["bare", "noop", "healthz", "balance", "award", "voucher", "redemption"]


def profile(client, world: "World", kind: str, requests: int, top: int = 40) -> None:
    """cProfile (CPU time) of ``requests`` requests of ``kind`` (after the warm-up), the functions with the
    most CPU of their own first, then by cumulative time: where the request's CPU goes."""
    import cProfile
    import pstats

    calls = world.calls(kind, requests)
    check = world.expect(kind)
    profiler = cProfile.Profile(time.process_time)  # CPU, not the wait for the server
    responses = []
    profiler.enable()
    for call in calls:
        response = client.open(call.path, method=call.method, headers=call.headers, data=call.body)
        response.close()
        responses.append(response)
    profiler.disable()
    for response in responses:
        check(response)
    stats = pstats.Stats(profiler, stream=sys.stdout)
    print(f"--- profile of {requests} × {LABELS[kind]}: by own time")
    stats.sort_stats("tottime").print_stats(top)
    print(f"--- profile of {requests} × {LABELS[kind]}: by cumulative time")
    stats.sort_stats("cumulative").print_stats(top)


NOOP_PATH = "/api/v1/bench-noop"


def add_noop_view(app) -> None:
    """A view of our app that touches no database: what our request hooks (authentication,
    CSRF, language, headers, teardown) cost on their own. Called without a token: with one, the
    token's statement would be the request's first."""
    from flask import jsonify

    from pointsbank.auth import policy

    @policy.public
    def bench_noop():
        return jsonify({"status": "ok"})

    app.add_url_rule(NOOP_PATH, "bench_noop", bench_noop)


def measure(url: str, rounds: int, requests: int, profiled: list[str] | None = None) -> dict[str, Any]:
    from pointsbank import create_app
    from pointsbank.extensions import db

    app = create_app({"DATABASE_URL": sqlalchemy_url(url), "SECRET_KEY": SECRET, "ENV": "production"})
    add_noop_view(app)
    bare = bare_app().test_client(use_cookies=False)
    client = app.test_client(use_cookies=False)
    with app.app_context():
        engine = db.engine
    wire = Wire(engine)
    world = World(url, app, client)
    clients = {kind: (bare if kind == "bare" else client) for kind in KINDS}
    # warm-up: every kind once through, connections opened, statements compiled and cached
    for kind in KINDS:
        timed(clients[kind], world.calls(kind, 20), world.expect(kind))
    for kind in profiled or ():
        if kind == "redemption":  # vouchers to redeem
            timed(client, world.calls("voucher", requests), world.expect("voucher"))
        profile(clients[kind], world, kind, requests)
    per_round: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _ in range(rounds):
        for kind in KINDS:
            per_round[kind].append(timed(clients[kind], world.calls(kind, requests), world.expect(kind)))
    wire_counts: dict[str, dict[str, int]] = {}
    for kind in KINDS[1:]:
        calls = world.calls(kind, 1)
        with wire.counting() as counts:
            timed(client, calls, world.expect(kind))
        wire_counts[kind] = counts
    with app.app_context():
        db.engine.dispose()
    best = {kind: min(values) for kind, values in per_round.items()}
    return {"best_ms": {k: v * 1000 for k, v in best.items()},
            "rounds_ms": {k: [round(v * 1000, 4) for v in values] for k, values in per_round.items()},
            "ratio": {k: best[k] / best["bare"] for k in KINDS}, "wire": wire_counts}


def main() -> None:
    import argparse

    # no --database: this benchmark seeds its own small database (bench/run.py passes none then)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="fewer, shorter rounds")
    parser.add_argument("--json", dest="json_path", default=None, help="write the figures as JSON here")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of each kind (default 7, 3 with --short)")
    parser.add_argument("--requests", type=int, default=None,
                        help="requests of each kind per round (default 200, 60 with --short)")
    parser.add_argument("--url", default=None, help="an empty PostgreSQL database to migrate and use (kept)")
    parser.add_argument("--profile", action="append", choices=KINDS, default=[],
                        help="print a cProfile of --requests requests of this kind first (repeatable)")
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.short else 7)
    requests = args.requests or (60 if args.short else 200)
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(scratch_database("overhead"))
        migrate(url)
        result = measure(url, rounds, requests, args.profile)
    figures = []
    print(f"CPU per request in one process (minimum of {rounds} rounds of {requests}), ratio to the bare endpoint:")
    for kind in KINDS:
        wire = result["wire"].get(kind, {})
        print(f"  {LABELS[kind]:<24} {result['best_ms'][kind]:7.3f} ms  {result['ratio'][kind]:5.2f}×"
              + (f"  {wire.get('statements', 0):2d} statements, {wire.get('round_trips', 0):2d} round trips"
                 if wire else ""), flush=True)
        if kind == "bare":
            continue
        goal = {"ratio_max": GOALS[kind]} if kind in GOALS else {}
        figures.append(Figure(f"in-process CPU: {LABELS[kind]}", result["best_ms"][kind], "ms",
                              result["best_ms"]["bare"], "ms bare Flask", goal=goal,
                              details={"rounds": rounds, "requests_per_round": requests,
                                       "rounds_ms": result["rounds_ms"][kind],
                                       "bare_rounds_ms": result["rounds_ms"]["bare"], **wire}))
    write_results(args.json_path, "overhead", figures)


if __name__ == "__main__":
    main()
