"""schemathesis against the app's own OpenAPI document, authenticated as each role.

For every role of the demo (admin, staff, grid_worker, resident, cashier) one run of
``schemathesis run http://…/api/v1/openapi.json -H "Authorization: Bearer …"`` with the
checks ``not_a_server_error`` (no 5xx), ``response_schema_conformance`` (every response body
matches the schema documented for its status — errors the documented error shape) and
``content_type_conformance``; positive and negative inputs (``--mode all``).

* Id parameters in paths (``community_id``, ``household_id``, ``voucher_id`` …) are drawn half
  of the time from the ids that exist — the demo community's objects first (see
  :func:`reliability.world.demo_objects`), a few of other communities — and half of the time
  generated, so that 200 answers of real objects are checked against their schemas too, not
  only the 404s of random ids.
* ``DELETE /auth/tokens/current`` is left out: it would log the run out of its own token. The
  token is checked before and after each role's run (``GET /me`` answers 200), so a run cannot
  silently degrade into a sweep of 401s.
* Two roles run at a time, as separate processes with one worker each (schemathesis' threads
  trip a CPython 3.11 race in ``ast`` — "AST constructor recursion depth mismatch" — that
  reports tool errors, not findings).
* Each role takes the operations it may call in depth (examples, coverage — boundary and
  negative values of every parameter — and fuzzing); the others, which answer 403 before
  reading anything, get two fuzzed requests each (their 403 is checked against the error shape).
* The short mode draws 8 examples per operation; the full mode 100, and adds the stateful phase
  (sequences of calls following the links between operations).
"""

from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import BIN, Client, connect
from reliability.world import World

ROLES = {"admin": "admin", "staff": "staff", "grid_worker": "grid", "resident": "resident", "cashier": "cashier"}
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"

#: path parameter → (table, id column, community column) of the objects it names
ID_PARAMETERS = {
    "community_id": ("communities", "id", "id"),
    "household_id": ("households", "id", "community_id"),
    "shop_id": ("shops", "id", "community_id"),
    "voucher_id": ("vouchers", "id", "community_id"),
    "redemption_id": ("redemptions", "id", "community_id"),
    "record_id": ("behaviour_records", "id", "community_id"),
    "objection_id": ("objections", "id", "community_id"),
    "adjustment_id": ("adjustments", "id", "community_id"),
    "evidence_id": ("evidence_files", "id", "community_id"),
    "statement_id": ("settlement_statements", "id", "community_id"),
}


def id_dictionaries(url: str, *, own: int = 8, others: int = 2) -> dict[str, list]:
    """For each id parameter, up to ``own`` ids of the demo community and ``others`` of others."""
    found: dict[str, list] = {}
    with connect(url) as conn:
        demo = conn.execute("SELECT id FROM communities WHERE code = 'qingfeng'").fetchone()[0]
        for name, (table, column, community) in ID_PARAMETERS.items():
            ids = [r[0] for r in conn.execute(
                f"SELECT {column} FROM {table} WHERE {community} = %s ORDER BY {column} DESC LIMIT %s", (demo, own))]
            ids += [r[0] for r in conn.execute(
                f"SELECT {column} FROM {table} WHERE {community} <> %s ORDER BY {column} LIMIT %s", (demo, others))]
            if ids:
                found[name] = ids
        regions = [r[0] for r in conn.execute("SELECT id FROM regions ORDER BY id LIMIT %s", (own,))]
        if regions:
            found["region_id"] = regions
    return found


def role_operations(port: int) -> dict[str, set[str]]:
    """Operation names (``"GET /api/v1/me"``) by the roles the document says may call them
    ("Roles: admin, staff." in each description; an operation without it is open to all)."""
    client = Client(port)
    status, spec = client.json("GET", "/api/v1/openapi.json")
    client.close()
    if status != 200:
        raise RuntimeError(f"GET /api/v1/openapi.json answered {status}")
    allowed: dict[str, set[str]] = {role: set() for role in ROLES}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            found = re.search(r"Roles: ([a-z_, ]+)\.", operation.get("description", ""))
            roles = [r.strip() for r in found.group(1).split(",")] if found else list(ROLES)
            for role in roles:
                allowed.setdefault(role, set()).add(f"{method.upper()} {path}")
    return allowed


def write_config(path: Path, dictionaries: dict[str, list], *, max_examples: int, stateful: bool,
                 refused: set[str], probability: float = 0.5) -> Path:
    """The run's ``schemathesis.toml``: examples per operation, phases, the id dictionaries, and
    for the operations the role may not call (each answers 403 before reading anything) a light
    touch — a couple of fuzzed requests, whose 403 must still be the documented error shape."""
    lines = ["[generation]", f"max-examples = {max_examples}", 'mode = "all"', 'database = "none"', "",
             "[phases.examples]", "enabled = true", "[phases.coverage]", "enabled = true",
             "[phases.fuzzing]", "enabled = true", "[phases.stateful]", f"enabled = {str(stateful).lower()}", ""]
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    lines += [f'"path.{name}" = {{ dictionary = "{name}", probability = {probability} }}' for name in dictionaries]
    if refused:
        lines += ["", "[[operations]]", f"include-name = {json.dumps(sorted(refused), ensure_ascii=False)}",
                  "generation = { max-examples = 2 }",
                  "phases = { examples = { enabled = false }, coverage = { enabled = false }, "
                  "stateful = { enabled = false } }"]
    path.write_text("\n".join(lines) + "\n")
    return path


def token_works(port: int, token: str) -> bool:
    client = Client(port, token)
    try:
        return client.request("GET", "/api/v1/me")[0] == 200
    finally:
        client.close()


def run_role(port: int, role: str, token: str, *, config: Path, timeout: float,
             report_dir: Path) -> tuple[bool, str, str]:
    report = report_dir / f"schemathesis-{role}.xml"
    command = [str(BIN / "schemathesis"), "--config-file", str(config), "--no-color", "run",
               f"http://127.0.0.1:{port}/api/v1/openapi.json",
               "-H", f"Authorization: Bearer {token}", "--checks", CHECKS, "--seed", "8", "--workers", "1",
               "--exclude-path", "/api/v1/auth/tokens/current", "--request-timeout", "30",
               "--suppress-health-check", "all", "--report", "junit", "--report-junit-path", str(report)]
    if not token_works(port, token):
        return False, "the role's token did not work before the run", ""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=report_dir)
        output, code = result.stdout + result.stderr, result.returncode
    except subprocess.TimeoutExpired as error:
        output = (error.stdout or b"").decode() if isinstance(error.stdout, bytes) else str(error.stdout or "")
        output, code = output + f"\n(stopped after {timeout:.0f}s)", -1
    (report_dir / f"schemathesis-{role}.log").write_text(output)
    summary = _summary(output)
    if code == 0 and not token_works(port, token):
        return False, summary + " | the role's token stopped working during the run", output
    return code == 0, summary, output


def _summary(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    cases = next((line for line in reversed(lines) if re.search(r"\d+ generated", line)), "")
    verdict = next((line.strip("= ") for line in reversed(lines) if re.search(r" in [\d.]+s\b", line)), "")
    return " | ".join(x for x in (cases, verdict) if x) or (lines[-1][:300] if lines else "(no output)")


def _findings(output: str) -> list[str]:
    """The headings of failures and errors, and the failed checks, from schemathesis' report."""
    found = [line.strip() for line in output.splitlines()
             if re.match(r"^_{3,} .+ _{3,}$", line.strip()) or re.match(r"^\s*- [A-Z]{2}\d{3} ", line)
             or "Runtime Error" in line or line.strip().startswith("❌")]
    return list(dict.fromkeys(found))[:20]


def run(port: int, world: World, *, short: bool, report_dir: Path, log=print) -> tuple[bool, dict]:
    report_dir.mkdir(parents=True, exist_ok=True)
    dictionaries = id_dictionaries(world.url)
    allowed = role_operations(port)
    every = set().union(*allowed.values())
    max_examples, stateful, timeout = (8, False, 900) if short else (100, True, 5400)
    log(f"    {len(every)} operations; id parameters drawn from real objects half of the time: "
        + ", ".join(f"{k} ({len(v)})" for k, v in dictionaries.items()))

    def one(role: str) -> tuple[str, tuple[bool, str, str]]:
        config = write_config(report_dir / f"schemathesis-{role}.toml", dictionaries, max_examples=max_examples,
                              stateful=stateful, refused=every - allowed[role])
        return role, run_role(port, role, world.demo[ROLES[role]]["token"], config=config, report_dir=report_dir,
                              timeout=timeout)

    results: dict[str, dict] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for role, (ok, summary, output) in pool.map(one, ROLES):
            results[role] = {"ok": ok, "summary": summary, "operations_allowed": len(allowed[role]),
                             "log": str(report_dir / f"schemathesis-{role}.log")}
            log(f"    {'ok  ' if ok else 'FAIL'} schemathesis as {role} ({len(allowed[role])} of its operations in "
                f"depth): {summary}")
            if not ok:
                for line in _findings(output):
                    log(f"         {line[:200]}")
    return all(r["ok"] for r in results.values()), {
        "id_parameters": {k: len(v) for k, v in dictionaries.items()}, "max_examples": max_examples,
        "phases": "examples,coverage,fuzzing" + (",stateful" if stateful else ""), "roles": results}
