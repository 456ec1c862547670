"""Run every ``bench/bench_*.py`` (and ``bench/overhead.py``) against one seeded database and print one table.

    python bench/run.py            # city scale: 200,000 households, 2,000 shops, 5,000,000 postings
    python bench/run.py --short    # 5,000 households, 50 shops, 100,000 postings; short measurements
    python bench/run.py --only award,balance --seconds 30
    python bench/run.py --database postgresql://…/pointsbank_city   # reuse a seeded database (kept)

The database (``pointsbank_bench_run_<pid>``) is created, migrated and seeded once
(``bench/seed.py``), handed to each benchmark with ``--database`` (a benchmark that does not
take it prepares its own data), and dropped at the end. Each benchmark runs as a subprocess
with ``--json PATH`` (and ``--short``/``--seconds`` when it takes them: its ``--help`` says),
bounded by a timeout. The table — figure, ours, baseline, ratio, goal — is printed and written
to ``bench/results.json`` with the machine it ran on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, migrate, scratch_database  # noqa: E402
from bench.seed import SCALES, Seeded, seed_scale  # noqa: E402

HERE = Path(__file__).resolve().parent
#: benchmarks that only read go first, on the pristine seed; the ones that write follow
ORDER = ["overhead", "verify", "balance", "dashboard", "servers", "qr", "award", "redeem", "basket", "import", "settlement"]


def name_of(script: Path) -> str:
    """``bench_award.py`` → ``award``; ``overhead.py`` (its own scratch database) → ``overhead``."""
    return script.stem.removeprefix("bench_")


def benchmarks(only: set[str] | None) -> list[Path]:
    found = sorted([*HERE.glob("bench_*.py"), HERE / "overhead.py"],
                   key=lambda p: (ORDER.index(name_of(p)) if name_of(p) in ORDER else len(ORDER), p.stem))
    return [p for p in found if only is None or name_of(p) in only]


def options_of(script: Path) -> str:
    try:
        return subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                              timeout=60, cwd=HERE.parent).stdout
    except subprocess.TimeoutExpired:
        return ""


def run_one(script: Path, url: str, args: argparse.Namespace, timeout: float) -> dict:
    name = name_of(script)
    help_text = options_of(script)
    with tempfile.NamedTemporaryFile(prefix=f"pointsbank_bench_{name}_", suffix=".json", delete=False) as tmp:
        json_path = tmp.name
    command = [sys.executable, str(script)]
    if "--json" in help_text:
        command += ["--json", json_path]
    if "--database" in help_text:
        command += ["--database", url]
    if args.short and "--short" in help_text:
        command.append("--short")
    if args.seconds and "--seconds" in help_text:
        command += ["--seconds", str(args.seconds)]
    print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
    load_before = [round(x, 2) for x in os.getloadavg()]
    started = time.perf_counter()
    log_path = Path(tempfile.gettempdir()) / f"pointsbank_bench_{name}_{os.getpid()}.log"
    try:
        with open(log_path, "w") as log:
            process = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, text=True, timeout=timeout,
                                     cwd=HERE.parent)
        output, code = process.stdout, process.returncode
    except subprocess.TimeoutExpired as error:
        output, code = (error.stdout or b"").decode() if isinstance(error.stdout, bytes) else (error.stdout or ""), None
    print(output.rstrip(), flush=True)
    result = {"benchmark": name, "exit_code": code, "seconds": round(time.perf_counter() - started, 1),
              "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
              "log": str(log_path), "figures": []}
    try:
        data = json.loads(Path(json_path).read_text())
        result["figures"] = data.get("figures", [])
    except (OSError, ValueError):
        result["stdout_tail"] = output.strip().splitlines()[-10:]
    finally:
        Path(json_path).unlink(missing_ok=True)
    if code != 0:
        print(f"!!! {name} exited with {code if code is not None else 'a timeout'}; its log: {log_path}", flush=True)
    return result


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}"
    return str(value)


def table(results: list[dict]) -> str:
    rows = [("figure", "ours", "baseline", "ratio", "goal", "", "load")]
    for result in results:
        before, after = result.get("load_average_before"), result.get("load_average_after")
        load = f"{before[0]:.1f}→{after[0]:.1f}" if before and after else ""
        if not result["figures"]:
            rows.append((result["benchmark"], "no figures", "", "", "",
                         "FAILED" if result["exit_code"] != 0 else "", load))
        for f in result["figures"]:
            ours = f"{_fmt(f.get('ours'), 2 if f.get('unit') in ('ms', 'MiB', 's') else 1)} {f.get('unit', '')}".strip()
            digits = 3 if f.get("unit") == "s" else 1
            baseline = f"{_fmt(f.get('baseline'), digits)} {f.get('baseline_label') or ''}".strip() \
                if f.get("baseline") is not None else "—"
            met = {True: "met", False: "MISSED", None: ""}[f.get("met")]
            if result["exit_code"] != 0:
                met = (met + " FAILED").strip()
            rows.append((f["figure"], ours, baseline, _fmt(f.get("ratio"), 3), f.get("goal_text") or "—", met, load))
            load = ""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="small seed and short measurements (CI, a first look)")
    parser.add_argument("--scale", choices=sorted(SCALES), default=None, help="seed size (default: city, small with --short)")
    parser.add_argument("--seconds", type=float, default=None, help="length of each measurement")
    parser.add_argument("--only", default=None, help="comma-separated benchmark names (award,balance,…)")
    parser.add_argument("--json", dest="json_path", default=str(HERE / "results.json"))
    parser.add_argument("--keep-database", action="store_true", help="do not drop the seeded database")
    parser.add_argument("--database", default=None,
                        help="an already seeded database (bench/seed.py --migrate) to use and keep instead of seeding")
    args = parser.parse_args()
    scale = args.scale or ("small" if args.short else "city")
    only = set(args.only.split(",")) if args.only else None
    timeout = 900 if args.short else 3600
    started = time.perf_counter()
    results: list[dict] = []
    with contextlib.ExitStack() as stack:
        if args.database:
            url = args.database
            from bench.seed import logins

            found = logins(url)
            info = Seeded(households=found.households, postings=found.postings, shops=len(found.cashiers))
            print(f"using {url}: {info.households:,} households, {info.shops:,} shops, {info.postings:,} postings",
                  flush=True)
        else:
            url = stack.enter_context(scratch_database("run", keep=args.keep_database))
            migrate(url)
            print(f"seeding ({scale}: {SCALES[scale]}) …", flush=True)
            info = seed_scale(url, scale)
            print(f"seeded {info.households:,} households, {info.shops:,} shops, {info.postings:,} postings in "
                  f"{info.seconds:.1f}s", flush=True)
        for script in benchmarks(only):
            results.append(run_one(script, url, args, timeout))
        if args.keep_database:
            print(f"kept the database: {url}")
    report = {"command": " ".join(["python", "bench/run.py", *sys.argv[1:]]), "scale": scale,
              "seed": SCALES[scale] if not args.database else {"households": info.households, "shops": info.shops,
                                                              "postings": info.postings}, "seed_seconds": round(info.seconds, 1), "machine": machine(),
              "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "seconds": round(time.perf_counter() - started, 1), "benchmarks": results}
    Path(args.json_path).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print("\n" + table(results))
    print(f"\n{report['machine'].get('cpus')} cores, {report['machine'].get('cpu', '?')}, PostgreSQL "
          f"{report['machine'].get('postgresql', '?')}; load: the 1-minute load average before→after each "
          f"benchmark (the machine is shared); written to {args.json_path}")
    failed = [r["benchmark"] for r in results if r["exit_code"] != 0]
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
