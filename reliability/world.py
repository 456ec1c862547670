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


def ledger_verify(url: str) -> tuple[bool, str]:
    """``pointsbank ledger verify`` as an operator runs it."""
    import os

    env = {**os.environ, "POINTSBANK_DATABASE_URL": sqlalchemy_url(url), "POINTSBANK_SECRET_KEY": SECRET}
    env.pop("POINTSBANK_CLOCK", None)
    result = subprocess.run([str(BIN / "pointsbank"), "ledger", "verify"], env=env, capture_output=True, text=True,
                            timeout=600, cwd=ROOT)
    last = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    return result.returncode == 0, last
