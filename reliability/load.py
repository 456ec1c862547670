"""A mixed load of point-moving calls whose every outcome is kept, and the exactly-once audit.

Threads of staff (adjustments), residents (voucher issues) and cashiers (redemptions of the
vouchers just issued) send requests, each with its own ``Idempotency-Key``. When the answer is
lost (connection refused or reset while the server is down), is a 502/503/504, or is the 409 of
the same key still in progress, the client
does what a real client must: it sends the *same* request with the *same* key again, until it
gets a definitive answer or time runs out. :func:`audit` then checks, in the database, that
every request the client saw succeed is there exactly once and that nothing was done twice.
"""

from __future__ import annotations

import http.client
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass, field

from bench.common import Client, connect
from reliability.world import World

RETRYABLE = {502, 503, 504}


@dataclass
class Outcome:
    kind: str
    key: str | None
    user_id: int
    status: int | str
    body: object = None
    attempts: int = 1
    replayed: bool = False
    seen: list = field(default_factory=list)


@dataclass
class Event:
    at: float  # when the answer (or the error) came
    kind: str
    status: int | str
    body: bytes = b""
    retry_after: str | None = None
    sent: float = 0.0  # when the request went out


class MixedLoad:
    def __init__(self, port: int, world: World, *, seconds: float | None = None, retry_for: float = 30.0,
                 kinds: tuple[str, ...] = ("adjustment", "voucher", "redemption")) -> None:
        """The load runs ``seconds``, or until :meth:`stop`; a request without a definitive
        answer is retried until ``retry_for`` seconds after the load stopped."""
        self.port, self.world, self.kinds = port, world, kinds
        self.retry_for = retry_for
        self.stop_at = time.monotonic() + (seconds if seconds is not None else 24 * 3600)
        self.give_up_at = self.stop_at + retry_for
        self.outcomes: list[Outcome] = []
        self.events: list[Event] = []
        self._lock = threading.Lock()
        self.vouchers: dict[int, queue.Queue] = {c: queue.Queue() for c in world.staff}
        with connect(world.url) as conn:
            self.households = {c: [r[0] for r in conn.execute(
                "SELECT id FROM households WHERE community_id = %s ORDER BY id", (c,))] for c in world.staff}
            rich = {r[0] for r in conn.execute(
                "SELECT a.household_id FROM accounts a JOIN communities c ON c.id = a.community_id "
                "WHERE a.household_id IS NOT NULL AND a.balance >= c.base_points + 20")}
        self.residents = [r for r in world.residents if r[1] in rich]

    # --- one request, retried with the same key until it has a definitive answer -----------

    def send(self, client: Client, kind: str, user_id: int, method: str, path: str, body: object = None,
             keyed: bool = True) -> Outcome:
        key = uuid.uuid4().hex if keyed else None
        outcome = Outcome(kind=kind, key=key, user_id=user_id, status="unsent", attempts=0)
        while True:
            outcome.attempts += 1
            sent = time.monotonic()
            try:
                status, headers, payload = client.request(method, path, body,
                                                          headers={"Idempotency-Key": key} if key else None)
            except (OSError, http.client.HTTPException) as error:
                status, headers, payload = type(error).__name__, {}, b""
            self._event(kind, status, payload, headers.get("retry-after"), sent)
            outcome.seen.append(status)
            # the same key still being processed elsewhere (a retry racing its first attempt): ask again
            in_progress = status == 409 and b'"idempotency_in_progress"' in payload
            definitive = isinstance(status, int) and status not in RETRYABLE and not in_progress
            if definitive or not keyed or time.monotonic() > self.give_up_at:
                outcome.status = status
                outcome.replayed = headers.get("idempotent-replayed") == "true"
                if isinstance(status, int) and payload:
                    try:
                        import json

                        outcome.body = json.loads(payload)
                    except ValueError:
                        outcome.body = payload[:200]
                break
            time.sleep(random.uniform(0.05, 0.25))
        with self._lock:
            self.outcomes.append(outcome)
        return outcome

    def _event(self, kind: str, status: int | str, payload: bytes, retry_after: str | None, sent: float) -> None:
        with self._lock:
            self.events.append(Event(time.monotonic(), kind, status, payload[:300], retry_after, sent))

    # --- control -------------------------------------------------------------------------------

    def stop(self) -> None:
        """No new requests from now on; those still unanswered keep being retried for ``retry_for``."""
        self.stop_at = min(self.stop_at, time.monotonic())
        self.give_up_at = self.stop_at + self.retry_for

    def successes_since(self, moment: float, kinds: tuple[str, ...] | None = None) -> int:
        """Answers of 2xx to requests sent after ``moment``."""
        with self._lock:
            return sum(1 for e in self.events if e.sent >= moment and isinstance(e.status, int)
                       and 200 <= e.status < 300 and (kinds is None or e.kind in kinds))

    def wait_for_successes(self, moment: float, count: int, timeout: float,
                           kinds: tuple[str, ...] | None = None) -> bool:
        """Block until ``count`` requests sent after ``moment`` succeeded (the load is really
        running against the server), or ``timeout`` passed; whether it happened."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.successes_since(moment, kinds) >= count:
                return True
            time.sleep(0.05)
        return False

    # --- the actors ---------------------------------------------------------------------------

    def adjuster(self, community_id: int) -> None:
        token, user_id = self.world.staff[community_id]
        client = Client(self.port, token, timeout=10)
        while time.monotonic() < self.stop_at:
            household = random.choice(self.households[community_id])
            points = random.randint(1, 10)
            self.send(client, "adjustment", user_id, "POST", f"/api/v1/households/{household}/adjustments",
                      {"points": points, "reason": f"reliability {uuid.uuid4().hex}"})
        client.close()

    def issuer(self, residents: list[tuple[str, int, int, int]]) -> None:
        clients = {r[3]: Client(self.port, r[0], timeout=10) for r in residents}
        while time.monotonic() < self.stop_at and residents:
            token, household, community_id, user_id = random.choice(residents)
            outcome = self.send(clients[user_id], "voucher", user_id, "POST", "/api/v1/vouchers", {"points": 1})
            if outcome.status == 201 and isinstance(outcome.body, dict):
                self.vouchers[community_id].put(outcome.body["token"])
        for client in clients.values():
            client.close()

    def redeemer(self, cashier: tuple[str, int, int, int]) -> None:
        token, _shop, community_id, user_id = cashier
        client = Client(self.port, token, timeout=10)
        while time.monotonic() < self.stop_at:
            try:
                code = self.vouchers[community_id].get(timeout=0.5)
            except queue.Empty:
                continue
            self.send(client, "redemption", user_id, "POST", "/api/v1/redemptions", {"code": code, "points": 1})
        client.close()

    def reader(self, resident: tuple[str, int, int, int]) -> None:
        token, household, _community, user_id = resident
        client = Client(self.port, token, timeout=10)
        while time.monotonic() < self.stop_at:
            self.send(client, "read", user_id, "GET", f"/api/v1/households/{household}", keyed=False)
            time.sleep(0.02)
        client.close()

    def threads(self, readers: int = 0) -> list[threading.Thread]:
        communities = list(self.world.staff)
        targets: list = []
        if "adjustment" in self.kinds:
            targets += [(self.adjuster, (c,)) for c in communities[:2]]
        if "voucher" in self.kinds:
            targets += [(self.issuer, (self.residents[i::2],)) for i in range(2)]
        if "redemption" in self.kinds:
            cashiers = {c: [k for k in self.world.cashiers if k[2] == c] for c in communities}
            targets += [(self.redeemer, (cashiers[c][0],)) for c in communities if cashiers[c]]
        targets += [(self.reader, (self.world.residents[i],)) for i in range(readers)]
        return [threading.Thread(target=fn, args=args, daemon=True) for fn, args in targets]

    def run(self, readers: int = 0) -> None:
        threads = self.threads(readers)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self.give_up_at - time.monotonic() + 30)

    def acknowledged(self, kind: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind == kind and isinstance(o.status, int) and 200 <= o.status < 300]


def audit(load: MixedLoad) -> list[str]:
    """Every acknowledged request is in the ledger exactly once; nothing was done twice."""
    problems: list[str] = []
    with connect(load.world.url) as conn:
        # adjustments: matched by their unique reason, then by id
        rows = conn.execute("SELECT reason, count(*), min(id), bool_and(status = 'posted') FROM adjustments "
                            "WHERE reason LIKE 'reliability %' GROUP BY reason").fetchall()
        by_reason = {r[0]: r for r in rows}
        problems += [f"adjustment done {r[1]} times: {r[0]}" for r in rows if r[1] != 1]
        postings = dict(conn.execute("SELECT reference_id, count(*) FROM ledger_transactions "
                                     "WHERE reference_type = 'adjustment' GROUP BY reference_id").fetchall())
        for o in load.acknowledged("adjustment"):
            row = by_reason.get(o.body.get("reason")) if isinstance(o.body, dict) else None
            if row is None or row[2] != o.body.get("id"):
                problems.append(f"acknowledged adjustment {o.body} is not in the database")
            elif o.body.get("status") == "posted" and postings.get(str(row[2])) != 1:
                problems.append(f"adjustment {row[2]} has {postings.get(str(row[2]), 0)} ledger transactions")
        # vouchers and redemptions: each acknowledged one is in the database with exactly one
        # ledger transaction of its kind (both reference the voucher), the one it points to
        postings_of = {}
        for kind, reference_id, transaction_ids in conn.execute(
                "SELECT kind, reference_id, array_agg(id) FROM ledger_transactions WHERE reference_type = 'voucher' "
                "AND kind IN ('voucher_issue', 'redemption') GROUP BY kind, reference_id"):
            postings_of[(kind, reference_id)] = sorted(transaction_ids)
        problems += [f"voucher {ref} has {len(ids)} {kind} transactions" for (kind, ref), ids in postings_of.items()
                     if len(ids) != 1]
        vouchers = {r[0]: r for r in conn.execute("SELECT id, points, issue_transaction_id FROM vouchers")}
        for o in load.acknowledged("voucher"):
            row = vouchers.get(o.body.get("id")) if isinstance(o.body, dict) else None
            if row is None:
                problems.append(f"acknowledged voucher {o.body} is not in the database")
            elif row[1] != o.body.get("points") or postings_of.get(("voucher_issue", row[0])) != [row[2]]:
                problems.append(f"acknowledged voucher {row[0]}: {row[1]} points, issue transaction {row[2]}, "
                                f"ledger {postings_of.get(('voucher_issue', row[0]))}")
        redemptions = {r[0]: r for r in conn.execute("SELECT id, voucher_id, transaction_id FROM redemptions")}
        for o in load.acknowledged("redemption"):
            row = redemptions.get(o.body.get("id")) if isinstance(o.body, dict) else None
            if row is None:
                problems.append(f"acknowledged redemption {o.body} is not in the database")
            elif postings_of.get(("redemption", row[1])) != [row[2]]:
                problems.append(f"acknowledged redemption {row[0]}: transaction {row[2]}, "
                                f"ledger {postings_of.get(('redemption', row[1]))}")
        # per user, objects made = Idempotency-Keys completed: nothing was done twice under two keys
        keys = dict(conn.execute("SELECT user_id, count(*) FROM idempotency_keys WHERE status_code = 201 "
                                 "GROUP BY user_id").fetchall())
        for kind, sql in (("voucher", "SELECT created_by_id, count(*) FROM vouchers GROUP BY created_by_id"),
                          ("redemption", "SELECT cashier_id, count(*) FROM redemptions GROUP BY cashier_id")):
            made = dict(conn.execute(sql).fetchall())
            for user_id in {o.user_id for o in load.outcomes if o.kind == kind}:
                if made.get(user_id, 0) != keys.get(user_id, 0):
                    problems.append(f"user {user_id}: {made.get(user_id, 0)} {kind}s but {keys.get(user_id, 0)} "
                                    "completed idempotency keys")
        acknowledged_keys = {(o.user_id, o.key) for o in load.outcomes
                             if o.key and isinstance(o.status, int) and 200 <= o.status < 300}
        stored = {(r[0], r[1]) for r in conn.execute("SELECT user_id, key FROM idempotency_keys WHERE status_code "
                                                     "BETWEEN 200 AND 299")}
        missing = acknowledged_keys - stored
        if missing:
            problems.append(f"{len(missing)} acknowledged Idempotency-Keys have no stored response")
    left = unfinished(load)
    if left:
        problems.append(f"{len(left)} requests never got a definitive answer, e.g. {left[0].kind} {left[0].seen[-5:]}")
    five_hundreds = [e for e in load.events if e.status == 500]
    if five_hundreds:
        problems.append(f"{len(five_hundreds)} answers of 500, e.g. {five_hundreds[0].body[:200]!r}")
    return problems


def unfinished(load: MixedLoad) -> list[Outcome]:
    """Point-moving requests that never got a definitive answer, however often they were retried."""
    return [o for o in load.outcomes if o.key and (not isinstance(o.status, int) or o.status in RETRYABLE
                                                   or (o.status == 409 and isinstance(o.body, dict)
                                                       and o.body.get("error", {}).get("code")
                                                       == "idempotency_in_progress"))]


def summary(load: MixedLoad) -> dict:
    statuses: dict[str, int] = {}
    for event in load.events:
        statuses[str(event.status)] = statuses.get(str(event.status), 0) + 1
    return {"requests": len(load.events), "statuses": dict(sorted(statuses.items())),
            "acknowledged": {k: len(load.acknowledged(k)) for k in ("adjustment", "voucher", "redemption", "read")},
            "retried": sum(1 for o in load.outcomes if o.attempts > 1),
            "replayed": sum(1 for o in load.outcomes if o.replayed),
            "gave_up": sum(1 for o in load.outcomes if not isinstance(o.status, int) or o.status in RETRYABLE)}
