"""The data the reliability checks run on, in a database of the throwaway cluster.

* the demo community (``pointsbank demo``'s seed: one login per role, two shops), logged in
  through the real ``POST /api/v1/auth/tokens``;
* a small city from ``bench/seed.py`` (its ledger verifies) whose staff, residents and
  cashiers carry the mixed load of the crash and restart checks.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import BIN, SECRET, Client, issue_tokens, migrate, sqlalchemy_url  # noqa: E402
from bench.seed import seed  # noqa: E402

DEMO_PASSWORDS = {"admin": "admin-demo-1", "staff": "staff-demo-1", "staff2": "staff-demo-2", "grid": "grid-demo-1",
                  "resident": "resident-demo-1", "cashier": "cashier-demo-1"}


@dataclass
class World:
    url: str
    #: demo username → {"token", "user": {...}}
    demo: dict[str, dict] = field(default_factory=dict)
    #: community id → (token, user id) of a city staff member
    staff: dict[int, tuple[str, int]] = field(default_factory=dict)
    #: (token, household id, community id, user id) of city residents
    residents: list[tuple[str, int, int, int]] = field(default_factory=list)
    #: (token, shop id, community id, user id) of city cashiers
    cashiers: list[tuple[str, int, int, int]] = field(default_factory=list)


def prepare(url: str) -> World:
    """Migrate, seed the demo and a small city; returns the world without tokens (see :func:`login`)."""
    migrate(url)
    from pointsbank import create_app
    from pointsbank.database import unit_of_work
    from pointsbank.demo import seed as demo_seed
    from pointsbank.extensions import db

    app = create_app({"DATABASE_URL": sqlalchemy_url(url), "SECRET_KEY": SECRET})
    with app.app_context():
        unit_of_work(demo_seed)()
        db.engine.dispose()
    info = seed(url, households=600, shops=12, postings=12_000, communities=3, residents_per_community=30,
                progress=False)
    world = World(url=url)
    communities = info.communities
    staff_ids = {c: info.staff[c][0] for c in communities}
    resident_rows = info.residents
    cashier_rows = info.cashiers
    tokens = issue_tokens(url, list(staff_ids.values()) + [r[0] for r in resident_rows] + [c[0] for c in cashier_rows])
    world.staff = {c: (tokens[uid], uid) for c, uid in staff_ids.items()}
    world.residents = [(tokens[uid], household, community, uid) for uid, household, community in resident_rows]
    world.cashiers = [(tokens[uid], shop, community, uid) for uid, shop, community in cashier_rows]
    return world


def login(world: World, port: int) -> None:
    """One token per demo login, through the API as a client gets it."""
    for username, password in DEMO_PASSWORDS.items():
        client = Client(port)
        status, body = client.json("POST", "/api/v1/auth/tokens", {"username": username, "password": password})
        client.close()
        if status != 201:
            raise RuntimeError(f"demo login {username} answered {status}: {body}")
        world.demo[username] = body


#: the smallest valid PNG: a 1×1 transparent pixel
PNG_1X1 = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000005000100e2b4f5950000000049454e44ae426082")


def demo_objects(world: World, port: int) -> dict[str, list]:
    """Give the demo community one of each object the API serves by id — vouchers (one
    redeemed), an evidence photo, an objection, adjustments approved and waiting —
    made through the API by the demo logins, so that schemathesis' id parameters can point at
    real objects (see :mod:`reliability.schemathesis_check`). Returns what was made."""
    made: dict[str, list] = {"adjustments": [], "vouchers": [], "redemptions": [], "evidence": [], "objections": []}
    household = world.demo["resident"]["user"]["household_id"]

    def call(user: str, method: str, path: str, body: object = None, *, raw: bytes | None = None,
             headers: dict[str, str] | None = None, expect: int = 201) -> dict:
        client = Client(port, world.demo[user]["token"])
        status, _, payload = client.request(method, path, body, raw=raw, headers=headers)
        client.close()
        if status != expect:
            raise RuntimeError(f"{user} {method} {path} answered {status}: {payload[:300]!r}")
        import json

        return json.loads(payload)

    grant = call("staff2", "POST", f"/api/v1/households/{household}/adjustments",
                 {"points": 50, "reason": "reliability: points to spend on vouchers"})
    if grant["status"] == "pending":  # over the community's limit for one staff member
        grant = call("staff", "POST", f"/api/v1/adjustments/{grant['id']}/approve", expect=200)
    made["adjustments"].append(grant)
    for points in (5, 6, 7):
        made["vouchers"].append(call("resident", "POST", "/api/v1/vouchers", {"points": points}))
    made["redemptions"].append(call("cashier", "POST", "/api/v1/redemptions",
                                    {"code": made["vouchers"][0]["token"], "points": 3}))
    boundary = "reliability-boundary"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + PNG_1X1 + f"\r\n--{boundary}--\r\n".encode()
    made["evidence"].append(call("resident", "POST", "/api/v1/evidence", raw=form,
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}))
    records = call("resident", "GET", f"/api/v1/records?household_id={household}&open_to_objection=true",
                   expect=200)["items"]
    if not records:
        raise RuntimeError("the demo resident's household has no record open to objection")
    made["objections"].append(call("resident", "POST", f"/api/v1/records/{records[0]['id']}/objections",
                                   {"reason": "reliability: this was not us"}))
    made["adjustments"].append(call("staff2", "POST", f"/api/v1/households/{household}/adjustments",
                                    {"points": 500, "reason": "reliability: a large correction"}))
    return made


def ledger_verify(url: str) -> tuple[bool, str]:
    """``pointsbank ledger verify`` as an operator runs it."""
    import os

    env = {**os.environ, "POINTSBANK_DATABASE_URL": sqlalchemy_url(url), "POINTSBANK_SECRET_KEY": SECRET}
    env.pop("POINTSBANK_CLOCK", None)
    result = subprocess.run([str(BIN / "pointsbank"), "ledger", "verify"], env=env, capture_output=True, text=True,
                            timeout=600, cwd=ROOT)
    last = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    return result.returncode == 0, last
