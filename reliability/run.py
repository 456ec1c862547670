"""``make check-reliability``: abuse, crash, database restart and schemathesis checks, on a
throwaway PostgreSQL cluster of their own.

    python reliability/run.py             # full: more kills, more examples
    python reliability/run.py --short     # CI: a few minutes
    python reliability/run.py --only crash,db_restart

Steps, in this order (each prints ok/FAIL and why; the exit code is non-zero if any failed):

1. a cluster is initialised in a temp dir and started on 127.0.0.1:55432 (or a free port);
   one database is migrated and seeded (demo community + a small city, reliability/world.py);
2. **abuse** (reliability/abuse.py) against gunicorn (``--server granian``: every step under granian);
3. **crash**: SIGKILL of the server (master and workers) during a mixed load, K times (reliability/crash.py);
4. **db_restart**: the cluster stopped and started during load (reliability/db_restart.py);
5. **schemathesis** as each role (reliability/schemathesis_check.py);
6. ``pointsbank ledger verify`` once more over everything the steps did.

Reports (schemathesis JUnit XML and logs, results.json) go to ``--report-dir``
(default ``artifacts/reliability``); the cluster is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Granian, Gunicorn  # noqa: E402
from reliability import abuse, crash, db_restart, schemathesis_check  # noqa: E402
from reliability.pgcluster import PgCluster  # noqa: E402
from reliability.world import demo_objects, ledger_verify, login, prepare  # noqa: E402

STEPS = ("abuse", "crash", "db_restart", "schemathesis")
MAX_CONTENT_LENGTH = 16 * 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="bounded to a few minutes (CI)")
    parser.add_argument("--only", default=None, help=f"comma-separated steps of {', '.join(STEPS)}")
    parser.add_argument("--kills", type=int, default=None, help="SIGKILLs in the crash test (default 3 short, 10 full)")
    parser.add_argument("--report-dir", default=str(ROOT / "artifacts" / "reliability"))
    parser.add_argument("--server", choices=("gunicorn", "granian"), default="gunicorn",
                        help="the WSGI server every step runs against (default gunicorn, production's)")
    args = parser.parse_args()
    server_class = Granian if args.server == "granian" else Gunicorn
    server_name = args.server
    # a CI timeout's SIGTERM unwinds like Ctrl-C: gunicorn stopped, the throwaway cluster removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    steps = [s for s in STEPS if not args.only or s in args.only.split(",")]
    report_dir = Path(args.report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    started = time.monotonic()

    def step(name: str, fn) -> None:
        print(f"--- {name}", flush=True)
        began = time.monotonic()
        try:
            ok, detail = fn()
        except Exception as error:  # noqa: BLE001 - a step that blows up is a failed step, reported
            import traceback

            traceback.print_exc()
            ok, detail = False, {"exception": repr(error)}
        results[name] = {"ok": ok, "seconds": round(time.monotonic() - began, 1), "detail": detail}
        print(f"--- {name}: {'ok' if ok else 'FAILED'} ({results[name]['seconds']}s)", flush=True)

    with PgCluster() as cluster:
        print(f"throwaway PostgreSQL cluster on port {cluster.port} in {cluster.root}", flush=True)
        url = cluster.create_database("pointsbank_reliability")
        world = prepare(url)
        print(f"server: {server_name}", flush=True)
        with server_class(url, log_path=report_dir / f"{server_name}-abuse.log") as server:
            login(world, server.port)
            made = demo_objects(world, server.port)
            print("demo community: " + ", ".join(f"{len(v)} {k}" for k, v in made.items()) + " made through the API",
                  flush=True)
            if "abuse" in steps:
                step("abuse", lambda: _checks(abuse.run(server.port, world, max_length=MAX_CONTENT_LENGTH,
                                                        short=args.short)))
        if "crash" in steps:
            step("crash", lambda: crash.run(world, kills=args.kills or (4 if args.short else 25),
                                            log_path=report_dir / f"{server_name}-crash.log", server_class=server_class))
        if "db_restart" in steps:
            step("db_restart", lambda: db_restart.run(world, cluster, down_seconds=3.0 if args.short else 8.0,
                                                      log_path=report_dir / f"{server_name}-db_restart.log",
                                                      server_class=server_class))
        if "schemathesis" in steps:
            with server_class(url, log_path=report_dir / f"{server_name}-schemathesis.log") as server:
                step("schemathesis", lambda: schemathesis_check.run(server.port, world, short=args.short,
                                                                    report_dir=report_dir))
        step("ledger verify after everything", lambda: _verdict(ledger_verify(url)))
    (report_dir / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    print("\n== reliability" + (" (short)" if args.short else "") + f", {server_name}")
    for name, result in results.items():
        print(f"  {'ok    ' if result['ok'] else 'FAILED'} {name} ({result['seconds']}s)")
    failed = [n for n, r in results.items() if not r["ok"]]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed in {time.monotonic() - started:.0f}s; "
          f"details in {report_dir / 'results.json'}")
    return 1 if failed else 0


def _checks(outcome: tuple[bool, list]) -> tuple[bool, dict]:
    ok, checks = outcome
    return ok, {name: {"ok": passed, "detail": detail} for name, passed, detail in checks}


def _verdict(outcome: tuple[bool, str]) -> tuple[bool, dict]:
    ok, verdict = outcome
    print(f"    {verdict}")
    return ok, {"verdict": verdict}


if __name__ == "__main__":
    sys.exit(main())
