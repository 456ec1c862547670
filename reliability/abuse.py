"""Abuse: each limit met with its documented answer, and nothing moved.

* a cashier guessing short codes: refused (404/422) until the guess throttle answers 429 with
  ``Retry-After``, and from then on only 429;
* a resident walking household ids: 404 for every household but its own;
* a token used again after logout (``DELETE /auth/tokens/current``): 401;
* failed logins: 401 until the login throttle answers 429 with ``Retry-After``;
* a body over ``MAX_CONTENT_LENGTH``: 413 ``payload_too_large``;
* malformed bodies (broken JSON, wrong types, a JSON list, bad UTF-8, a wrong content type) on
  every call that moves points: 400, never 5xx;
* every error in the one JSON shape; the ledger (postings) untouched by any of it.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Callable

from bench.common import Client, connect
from reliability.world import World

Check = tuple[str, bool, str]


def _error_code(payload: bytes) -> str | None:
    try:
        body = json.loads(payload)
        return body["error"]["code"] if {"code", "message", "details"} <= set(body["error"]) else None
    except (ValueError, KeyError, TypeError):
        return None


def _postings(url: str) -> int:
    with connect(url) as conn:
        return conn.execute("SELECT count(*) FROM postings").fetchone()[0]


def _paths(port: int) -> set[str]:
    client = Client(port)
    status, spec = client.json("GET", "/api/v1/openapi.json")
    client.close()
    return set(spec.get("paths", {})) if status == 200 else set()


def guess_short_codes(port: int, world: World, limit: int = 60) -> Check:
    from pointsbank.redeem import shortcode

    client = Client(port, world.demo["cashier"]["token"])
    statuses: list[int] = []
    retry_after = None
    for _ in range(limit):
        status, headers, payload = client.request("POST", "/api/v1/redemptions",
                                                  {"code": shortcode.format(shortcode.generate()), "points": 1})
        statuses.append(status)
        if status == 429:
            retry_after = headers.get("retry-after")
    client.close()
    first = statuses.index(429) if 429 in statuses else None
    ok = (first is not None and first <= 31 and all(s == 429 for s in statuses[first:])
          and all(s in (404, 422) for s in statuses[:first]) and retry_after is not None)
    return "cashier guessing short codes → 429", ok, (
        f"first 429 at guess {first + 1 if first is not None else '—'} of {limit}, Retry-After {retry_after}; "
        f"before it: {sorted(set(statuses[:first or limit]))}")


def walk_household_ids(port: int, world: World, span: int = 200) -> Check:
    resident = world.demo["resident"]
    own = resident["user"]["household_id"]
    client = Client(port, resident["token"])
    seen: dict[str, int] = {}
    wrong: list[str] = []
    for household_id in range(1, span + 1):
        for path in (f"/api/v1/households/{household_id}", f"/api/v1/households/{household_id}/postings"):
            status, _, payload = client.request("GET", path)
            expected = 200 if household_id == own else 404
            seen[str(status)] = seen.get(str(status), 0) + 1
            if status != expected or (status == 404 and _error_code(payload) != "not_found"):
                wrong.append(f"{path} → {status}")
    client.close()
    return "resident walking household ids → 404 but its own", not wrong, (
        f"{span} ids × 2 routes: {seen}" + (f"; wrong: {wrong[:5]}" if wrong else ""))


def reuse_after_logout(port: int, world: World) -> Check:
    from reliability.world import DEMO_PASSWORDS

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


def failed_logins(port: int, world: World, attempts: int = 8) -> Check:
    client = Client(port)
    statuses, retry_after = [], None
    for _ in range(attempts):
        status, headers, _ = client.request("POST", "/api/v1/auth/tokens", {"username": "staff2", "password": "wrong-1234"})
        statuses.append(status)
        retry_after = retry_after or headers.get("retry-after")
    client.close()
    first = statuses.index(429) if 429 in statuses else None
    ok = first is not None and all(s == 401 for s in statuses[:first]) and all(
        s == 429 for s in statuses[first:]) and retry_after is not None
    return "failed logins → 429", ok, f"{statuses}, Retry-After {retry_after}"


def _raw_post(port: int, path: str, token: str | None, length: int) -> tuple[int | str, bytes]:
    """Send ``length`` bytes of body the way a client that ignores the limit would, then read the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\nAccept: application/json\r\n"
            + (f"Authorization: Bearer {token}\r\n" if token else "") + "\r\n").encode()
    try:
        sock.sendall(head)
        chunk = b" " * 65536
        sent = 0
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
    for path, token in (("/api/v1/auth/tokens", None),
                        (f"/api/v1/households/{world.demo['resident']['user']['household_id']}/adjustments",
                         world.demo["staff2"]["token"])):
        status, payload = _raw_post(port, path, token, max_length + 1)
        results.append((path, status, _error_code(payload)))
    ok = all(status == 413 and code == "payload_too_large" for _, status, code in results)
    return "oversized bodies → 413", ok, "; ".join(f"{p} → {s} {c}" for p, s, c in results)


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
    before = _postings(world.url)
    checks: list[Callable[[], Check]] = [
        lambda: walk_household_ids(port, world, span=80 if short else 300),
        lambda: reuse_after_logout(port, world),
        lambda: failed_logins(port, world),
        lambda: oversized_bodies(port, world, max_length),
        lambda: malformed_bodies(port, world, paths),
    ]
    if "/api/v1/redemptions" in paths:
        checks.insert(0, lambda: guess_short_codes(port, world))
    results = [check() for check in checks]
    moved = _postings(world.url) - before
    results.append(("nothing moved by any of it", moved == 0, f"{moved} new postings"))
    for name, ok, detail in results:
        log(f"    {'ok  ' if ok else 'FAIL'} {name}: {detail}")
    return all(ok for _, ok, _ in results), results
