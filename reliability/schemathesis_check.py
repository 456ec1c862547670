"""schemathesis against the app's own OpenAPI document, authenticated as each role.

For every role of the demo (admin, staff, grid_worker, resident, cashier) one run of
``schemathesis run http://…/api/v1/openapi.json -H "Authorization: Bearer …"`` with the
checks ``not_a_server_error`` (no 5xx), ``response_schema_conformance`` (every response body
matches the schema documented for its status — errors the documented error shape) and
``content_type_conformance``; positive and negative inputs (schemathesis' ``--mode all``).
``DELETE /auth/tokens/current`` is left out: it would log the run out of its own token.
The short mode bounds examples per operation and time per role.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from bench.common import BIN
from reliability.world import World

ROLES = {"admin": "admin", "staff": "staff", "grid_worker": "grid", "resident": "resident", "cashier": "cashier"}
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"


def run_role(port: int, role: str, token: str, *, max_examples: int, max_time: int, report_dir: Path,
             phases: str) -> tuple[bool, str, str]:
    report = report_dir / f"schemathesis-{role}.xml"
    command = [str(BIN / "schemathesis"), "--no-color", "run", f"http://127.0.0.1:{port}/api/v1/openapi.json",
               "-H", f"Authorization: Bearer {token}", "--checks", CHECKS, "--max-examples", str(max_examples),
               "--max-time", str(max_time), "--phases", phases, "--seed", "8", "--workers", "2",
               "--exclude-path", "/api/v1/auth/tokens/current", "--request-timeout", "30",
               "--generation-deterministic", "--suppress-health-check", "all",
               "--report", "junit", "--report-junit-path", str(report)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=max_time + 600)
        output, code = result.stdout + result.stderr, result.returncode
    except subprocess.TimeoutExpired as error:
        output, code = str(error.stdout or ""), -1
    (report_dir / f"schemathesis-{role}.log").write_text(output)
    summary = _summary(output)
    return code == 0, summary, output


def _summary(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    tail = [line for line in lines if re.search(r"\b(passed|failed|errors?|skipped|operations?|cases?)\b", line,
                                                re.I)]
    return " | ".join(tail[-3:])[:400] if tail else (lines[-1][:300] if lines else "(no output)")


def run(port: int, world: World, *, short: bool, report_dir: Path, log=print) -> tuple[bool, dict]:
    report_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for role, username in ROLES.items():
        token = world.demo[username]["token"]
        ok, summary, output = run_role(port, role, token, max_examples=5 if short else 50,
                                       max_time=45 if short else 600, report_dir=report_dir,
                                       phases="examples,coverage,fuzzing" if short else
                                       "examples,coverage,fuzzing,stateful")
        results[role] = {"ok": ok, "summary": summary, "log": str(report_dir / f"schemathesis-{role}.log")}
        log(f"    {'ok  ' if ok else 'FAIL'} schemathesis as {role}: {summary}")
        if not ok:
            failures = [line for line in output.splitlines() if re.search(r"^\s*(_+ |\d+\. |- )", line)][:12]
            for line in failures:
                log(f"         {line.strip()[:200]}")
    return all(r["ok"] for r in results.values()), results
