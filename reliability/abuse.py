"""Abuse: each limit met exactly where it is documented (README, settings table), with the
documented answer, and nothing moved.

* a cashier guessing short codes: ``404 voucher_not_found`` for the first
  ``REDEEM_GUESSES_PER_CASHIER`` (10) wrong guesses, then ``429 too_many_attempts`` with
  ``Retry-After`` and only that; a scanned QR of a real voucher still redeems (QR tokens are
  never throttled);
* a resident walking household ids: 404 ``not_found`` for every household but its own, on the
  household, its postings and its vouchers;
* a token used again after logout (``DELETE /auth/tokens/current``): 401;
* failed logins: 401 for the first ``LOGIN_MAX_FAILURES`` (5) of one username, then 429 with
  ``Retry-After`` — even for the right password; and per client address
  (``LOGIN_MAX_FAILURES_PER_ADDRESS``, 30, the failures of the other checks included) across
  usernames, likewise;
* a body of exactly ``MAX_CONTENT_LENGTH`` is read (and refused for what it says, 400), one byte
  more is ``413 payload_too_large``; an evidence file over its 5 MB is ``413 evidence_too_large``;
* malformed bodies (broken JSON, wrong types, a JSON list, bad UTF-8, a wrong content type) on
  every call that moves points: 400, never 5xx;
* every error in the one JSON shape; the ledger untouched by any of it (the one QR redemption
  aside, which is checked to be exactly its voucher's issue and redemption).
"""

from __future__ import annotations

import http.client
import json
import socket
import uuid
from typing import Callable

from bench.common import Client, connect
from pointsbank.config import SETTINGS
from reliability.world import DEMO_PASSWORDS, PNG_1X1, World

Check = tuple[str, bool, str]

GUESSES_PER_CASHIER = SETTINGS["REDEEM_GUESSES_PER_CASHIER"][0]
LOGIN_MAX_FAILURES = SETTINGS["LOGIN_MAX_FAILURES"][0]
LOGIN_MAX_FAILURES_PER_ADDRESS = SETTINGS["LOGIN_MAX_FAILURES_PER_ADDRESS"][0]
EVIDENCE_MAX_BYTES = 5 * 1024 * 1024


def _error_code(payload: bytes) -> str | None:
    try:
        body = json.loads(payload)
        return body["error"]["code"] if {"code", "message", "details"} <= set(body["error"]) else None
    except (ValueError, KeyError, TypeError):
        return None


def _ledger(url: str, excluding: set[str] = frozenset()) -> tuple[int, int]:
    """(transactions, postings) in the ledger, leaving out those of the given vouchers."""
    with connect(url) as conn:
        return conn.execute(
            "SELECT count(DISTINCT t.id), count(p.id) FROM ledger_transactions t JOIN postings p "
            "ON p.transaction_id = t.id WHERE NOT (t.reference_type = 'voucher' AND t.reference_id = ANY(%s))",
            (list(excluding),)).fetchone()


def _paths(port: int) -> set[str]:
    client = Client(port)
    status, spec = client.json("GET", "/api/v1/openapi.json")
    client.close()
    return set(spec.get("paths", {})) if status == 200 else set()


def _until_throttled(statuses: list[int], codes: list[str | None], limit: int, refused: set[str]) -> tuple[bool, str]:
    """``limit`` refusals with one of ``refused`` codes, then only 429 too_many_attempts."""
    ok = (len(statuses) > limit and all(c in refused for c in codes[:limit])
          and all(s == 429 and c == "too_many_attempts" for s, c in zip(statuses[limit:], codes[limit:])))
    first = statuses.index(429) + 1 if 429 in statuses else None
    return ok, f"first 429 at attempt {first} (documented: {limit + 1}); before it {sorted(set(codes[:limit]))}"


def guess_short_codes(port: int, world: World, used: set[str], attempts: int | None = None) -> Check:
    from pointsbank.redeem import shortcode

    attempts = attempts or GUESSES_PER_CASHIER + 5
    client = Client(port, world.demo["cashier"]["token"])
    statuses, codes, retry_after = [], [], None
    for _ in range(attempts):
        status, headers, payload = client.request("POST", "/api/v1/redemptions",
                                                  {"code": shortcode.format(shortcode.generate()), "points": 1})
        statuses.append(status)
        codes.append(_error_code(payload))
        retry_after = headers.get("retry-after") or retry_after
    ok, detail = _until_throttled(statuses, codes, GUESSES_PER_CASHIER, {"voucher_not_found"})
    # the QR of a real voucher is never throttled: the same cashier, now locked out of guessing, redeems it
    resident = Client(port, world.demo["resident"]["token"])
    issued_status, voucher = resident.json("POST", "/api/v1/vouchers", {"points": 1})
    resident.close()
    scanned = None
    if issued_status == 201:
        used.add(voucher["id"])
        scanned = client.request("POST", "/api/v1/redemptions", {"code": voucher["token"], "points": 1})[0]
    client.close()
    ok = ok and retry_after is not None and scanned == 201
    return "cashier guessing short codes → 429 (QR still redeems)", ok, (
        f"{detail}; Retry-After {retry_after}; a real QR scanned afterwards → {scanned}")


def walk_household_ids(port: int, world: World, span: int = 200) -> Check:
    resident = world.demo["resident"]
    own = resident["user"]["household_id"]
    client = Client(port, resident["token"])
    seen: dict[str, int] = {}
    wrong: list[str] = []
    routes = ("/api/v1/households/{}", "/api/v1/households/{}/postings", "/api/v1/households/{}/vouchers")
    for household_id in range(1, span + 1):
        for route in routes:
            path = route.format(household_id)
            status, _, payload = client.request("GET", path)
            expected = 200 if household_id == own else 404
            seen[str(status)] = seen.get(str(status), 0) + 1
            if status != expected or (status == 404 and _error_code(payload) != "not_found"):
                wrong.append(f"{path} → {status}")
    client.close()
    return "resident walking household ids → 404 but its own", not wrong, (
        f"{span} ids × {len(routes)} routes: {seen}" + (f"; wrong: {wrong[:5]}" if wrong else ""))


def reuse_after_logout(port: int, world: World) -> Check:
    client = Client(port)
    status, body = client.json("POST", "/api/v1/auth/tokens", {"username": "grid", "password": DEMO_PASSWORDS["grid"]})
    if status != 201:
        return "token reused after logout → 401", False, f"login answered {status}"
    client.token = body["token"]
    before = client.request("GET", "/api/v1/me")[0]
    logout = client.request("DELETE", "/api/v1/auth/tokens/current")[0]
    after, _, payload = client.request("GET", "/api/v1/me")
    again = client.request("DELETE", "/api/v1/auth/tokens/current")[0]
    client.close()
    ok = before == 200 and logout == 204 and after == 401 and again == 401 and _error_code(payload) is not None
    return "token reused after logout → 401", ok, f"/me {before}, logout {logout}, /me again {after}, logout again {again}"


def _login(client: Client, username: str, password: str) -> tuple[int, str | None, str | None]:
    status, headers, payload = client.request("POST", "/api/v1/auth/tokens",
                                              {"username": username, "password": password})
    return status, _error_code(payload), headers.get("retry-after")


def failed_logins(port: int, world: World) -> Check:
    client = Client(port)
    answers = [_login(client, "staff2", "wrong-1234") for _ in range(LOGIN_MAX_FAILURES + 3)]
    right = _login(client, "staff2", DEMO_PASSWORDS["staff2"])
    client.close()
    statuses, codes = [a[0] for a in answers], [a[1] for a in answers]
    ok, detail = _until_throttled(statuses, codes, LOGIN_MAX_FAILURES, {"invalid_credentials"})
    ok = ok and all(a[2] for a in answers[LOGIN_MAX_FAILURES:]) and right[:2] == (429, "too_many_attempts")
    return "failed logins of one username → 429", ok, f"{detail}; then the right password → {right[0]} {right[1]}"


def failed_logins_per_address(port: int, world: World) -> Check:
    """Last of the checks: it locks every login from this address for the window. The failures
    this address already has in the window (the other checks') count towards the limit."""
    with connect(world.url) as conn:
        earlier = conn.execute("SELECT count(*) FROM throttle_events WHERE scope = 'login:addr' AND key = '127.0.0.1' "
                               "AND created_at > now() - make_interval(mins => %s)",
                               (SETTINGS["LOGIN_WINDOW_MINUTES"][0],)).fetchone()[0]
    left = LOGIN_MAX_FAILURES_PER_ADDRESS - earlier
    client = Client(port)
    answers = [_login(client, f"nobody-{uuid.uuid4().hex[:8]}", "wrong-1234") for _ in range(max(left, 0) + 2)]
    right = _login(client, "cashier", DEMO_PASSWORDS["cashier"])
    client.close()
    statuses, codes = [a[0] for a in answers], [a[1] for a in answers]
    ok, detail = _until_throttled(statuses, codes, left, {"invalid_credentials"})
    ok = ok and left > 0 and right[:2] == (429, "too_many_attempts")
    return "failed logins from one address → 429", ok, (
        f"{earlier} failures already counted, {LOGIN_MAX_FAILURES_PER_ADDRESS} allowed; {detail}; "
        f"then a right password → {right[0]} {right[1]}")


def _raw_post(port: int, path: str, token: str | None, length: int, content_type: str = "application/json",
              body: bytes | None = None) -> tuple[int | str, bytes]:
    """Send ``length`` bytes of body (``body`` padded with spaces) the way a client that ignores
    the limit would, then read the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {length}\r\nAccept: application/json\r\n"
            + (f"Authorization: Bearer {token}\r\n" if token else "") + "\r\n").encode()
    try:
        sock.sendall(head)
        if body:
            sock.sendall(body)
        sent = len(body or b"")
        chunk = b" " * 65536
        while sent < length:
            piece = chunk[:min(len(chunk), length - sent)]
            sock.sendall(piece)
            sent += len(piece)
    except OSError:
        pass  # the server answered and closed early: read what it said
    try:
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__, b""
    finally:
        sock.close()


def oversized_bodies(port: int, world: World, max_length: int) -> Check:
    results = []
    household = world.demo["resident"]["user"]["household_id"]
    for path, token in (("/api/v1/auth/tokens", None),
                        (f"/api/v1/households/{household}/adjustments", world.demo["staff2"]["token"])):
        at_limit, payload = _raw_post(port, path, token, max_length)  # read, and refused for what it says
        results.append((f"{path} at the limit", (at_limit, _error_code(payload) is not None), (400, True)))
        over, payload = _raw_post(port, path, token, max_length + 1)
        results.append((f"{path} one byte over", (over, _error_code(payload)), (413, "payload_too_large")))
    boundary = "reliability-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + PNG_1X1
    tail = f"\r\n--{boundary}--\r\n".encode()
    photo = head + b"\0" * (EVIDENCE_MAX_BYTES + 1 - len(PNG_1X1)) + tail
    status, payload = _raw_post(port, "/api/v1/evidence", world.demo["resident"]["token"], len(photo),
                                f"multipart/form-data; boundary={boundary}", photo)
    results.append(("an evidence photo of 5 MB + 1 byte", (status, _error_code(payload)), (413, "evidence_too_large")))
    ok = all(got == expected for _, got, expected in results)
    return "oversized bodies → 413", ok, "; ".join(f"{name} → {got[0]} {got[1]}" for name, got, _ in results)


MALFORMED: list[tuple[bytes, str]] = [
    (b"{not json", "application/json"),
    (b"[]", "application/json"),
    (b'"a string"', "application/json"),
    (b"\xff\xfe\xfa", "application/json"),
    (b'{"points": "many", "reason": 7, "code": [], "household_id": {}}', "application/json"),
    (b'{"points": 1e400, "code": null}', "application/json"),
    (b'{"points": 5, "reason": "x"}', "text/plain"),
    (b"", "application/json"),
]


def malformed_bodies(port: int, world: World, paths: set[str]) -> Check:
    household = world.demo["resident"]["user"]["household_id"]
    targets = [("staff2", f"/api/v1/households/{household}/adjustments"), (None, "/api/v1/auth/tokens")]
    if "/api/v1/vouchers" in paths:
        targets.append(("resident", "/api/v1/vouchers"))
    if "/api/v1/redemptions" in paths:
        targets.append(("cashier", "/api/v1/redemptions"))
    if "/api/v1/records" in paths:
        targets.append(("staff2", "/api/v1/records"))
    wrong: list[str] = []
    seen: dict[str, int] = {}
    for user, path in targets:
        client = Client(port, world.demo[user]["token"] if user else None)
        for body, content_type in MALFORMED:
            status, _, payload = client.request("POST", path, raw=body, headers={"Content-Type": content_type})
            seen[str(status)] = seen.get(str(status), 0) + 1
            if status != 400 or _error_code(payload) is None:
                wrong.append(f"{path} {body[:20]!r} {content_type} → {status} {payload[:80]!r}")
        client.close()
    return "malformed bodies → 400", not wrong, f"{len(targets)} calls × {len(MALFORMED)} bodies: {seen}" + (
        f"; wrong: {wrong[:6]}" if wrong else "")


def run(port: int, world: World, *, max_length: int, short: bool = False, log=print) -> tuple[bool, list[Check]]:
    paths = _paths(port)
    scanned: set[str] = set()  # vouchers legitimately issued and redeemed by the checks
    before = _ledger(world.url)
    checks: list[Callable[[], Check]] = [
        lambda: guess_short_codes(port, world, scanned),
        lambda: walk_household_ids(port, world, span=80 if short else 300),
        lambda: reuse_after_logout(port, world),
        lambda: failed_logins(port, world),
        lambda: oversized_bodies(port, world, max_length),
        lambda: malformed_bodies(port, world, paths),
        lambda: failed_logins_per_address(port, world),  # last: it locks this address out of logging in
    ]
    results = [check() for check in checks]
    after = _ledger(world.url, excluding=scanned)
    with connect(world.url) as conn:
        kinds = sorted(r[0] for r in conn.execute(
            "SELECT kind FROM ledger_transactions WHERE reference_type = 'voucher' AND reference_id = ANY(%s)",
            (list(scanned),)))
    moved = (after[0] - before[0], after[1] - before[1])
    ok = moved == (0, 0) and kinds == ["redemption", "voucher_issue"]
    results.append(("nothing moved by any of it", ok,
                    f"{moved[0]} new transactions, {moved[1]} new postings besides the scanned voucher's {kinds}"))
    for name, passed, detail in results:
        log(f"    {'ok  ' if passed else 'FAIL'} {name}: {detail}")
    return all(passed for _, passed, _ in results), results
