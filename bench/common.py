"""Shared plumbing of the benchmarks: scratch databases, gunicorn, a load generator, pgbench.

Every benchmark measures its figure and the raw-PostgreSQL baseline it is compared with in the
same run, on the same machine, and writes both with their ratio::

    with scratch_database("award") as url:          # CREATE DATABASE pointsbank_bench_award_<pid>
        migrate(url)
        with Gunicorn(url) as server:                # gunicorn -w 2 -k gthread --threads 8
            result = run_load(server.port, request_fn, clients=8, seconds=10)
    baseline = pgbench_tps(clients=8, seconds=10)    # TPC-B-like, on its own scratch database

Scratch databases are named ``pointsbank_bench_*`` and dropped on the way out, whatever
happens; servers are stopped the same way. Nothing here needs a package beyond the app's own:
the load generator is ``http.client`` over keep-alive connections, one thread per client
(its cost per request is tens of microseconds, against milliseconds in the server).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import platform
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: the server the scratch databases are created on (any database of it; ``postgres`` by default)
PG_ADMIN_URL = os.environ.get("POINTSBANK_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-" + secrets.token_hex(16)


# --- databases -----------------------------------------------------------------------------

def _psycopg_url(url: str) -> str:
    return re.sub(r"^postgresql\+psycopg://", "postgresql://", url)


def sqlalchemy_url(url: str) -> str:
    return re.sub(r"^postgresql://", "postgresql+psycopg://", url)


def database_url(name: str, admin_url: str = PG_ADMIN_URL) -> str:
    base, _, _ = _psycopg_url(admin_url).rpartition("/")
    return f"{base}/{name}"


def _admin(sql: str, admin_url: str = PG_ADMIN_URL) -> None:
    import psycopg

    with psycopg.connect(_psycopg_url(admin_url), autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql)


@contextlib.contextmanager
def scratch_database(label: str, admin_url: str = PG_ADMIN_URL, keep: bool = False) -> Iterator[str]:
    """A fresh database ``pointsbank_bench_<label>_<pid>``, dropped afterwards (unless ``keep``)."""
    if not re.fullmatch(r"[a-z0-9_]+", label):
        raise ValueError(f"bad label {label!r}")
    name = f"pointsbank_bench_{label}_{os.getpid()}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin_url)
    _admin(f'CREATE DATABASE "{name}"', admin_url)
    try:
        yield database_url(name, admin_url)
    finally:
        if not keep:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin_url)


def migrate(url: str) -> None:
    """Migrate to every head, the way ``pointsbank db upgrade`` does."""
    from flask_migrate import upgrade

    from pointsbank import create_app
    from pointsbank.extensions import db

    app = create_app({"DATABASE_URL": sqlalchemy_url(url), "SECRET_KEY": SECRET})
    with app.app_context():
        upgrade(revision="heads")
        db.engine.dispose()


def connect(url: str, **kwargs: Any):
    import psycopg

    return psycopg.connect(_psycopg_url(url), **kwargs)


def issue_tokens(url: str, user_ids: list[int], ttl_hours: int = 24) -> dict[int, str]:
    """API tokens for benchmark users, stored the way ``POST /auth/tokens`` stores them
    (SHA-256 of the secret). Logging in is not what the benchmarks measure, and scrypt would
    make 200 logins take longer than the benchmark itself."""
    import hashlib

    tokens = {uid: secrets.token_urlsafe(32) for uid in user_ids}
    with connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO api_tokens (user_id, token_hash, created_at, expires_at) "
            "VALUES (%s, %s, now(), now() + make_interval(hours => %s))",
            [(uid, hashlib.sha256(raw.encode()).hexdigest(), ttl_hours) for uid, raw in tokens.items()])
    return tokens


# --- gunicorn ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """``gunicorn -w 2 -k gthread --threads 8 "pointsbank:create_app()"`` on a free loopback port,
    in its own process group (so a crash test can SIGKILL master and workers together)."""

    def __init__(self, url: str, *, workers: int = 2, threads: int = 8, env: dict[str, str] | None = None,
                 log_path: Path | None = None, port: int | None = None) -> None:
        self.url, self.workers, self.threads = url, workers, threads
        self.env = env or {}
        self.port = port or free_port()
        self.log_path = log_path or Path(f"/tmp/pointsbank_bench_gunicorn_{os.getpid()}_{self.port}.log")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "Gunicorn":
        env = {**os.environ, "POINTSBANK_DATABASE_URL": sqlalchemy_url(self.url), "POINTSBANK_SECRET_KEY": SECRET,
               "POINTSBANK_ENV": "production", **self.env}
        env.pop("POINTSBANK_CLOCK", None)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.command(), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        log.close()
        self.wait_ready(timeout)
        return self

    def command(self) -> list[str]:
        return [str(BIN / "gunicorn"), "-w", str(self.workers), "-k", "gthread", "--threads", str(self.threads),
                "--bind", f"127.0.0.1:{self.port}", "--keep-alive", "30", "--backlog", "2048",
                "--log-level", "warning", "--graceful-timeout", "5", "pointsbank:create_app()"]

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout}s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL master and workers at once: a crash, not a shutdown."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> "Gunicorn":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Granian(Gunicorn):
    """The same app under granian (Rust HTTP server, WSGI interface): ``--workers`` processes of
    ``--blocking-threads`` Python threads each, like gunicorn's ``-w``/``--threads``; for
    comparing servers only (``bench/bench_servers.py``)."""

    def command(self) -> list[str]:
        return [str(BIN / "granian"), "--interface", "wsgi", "--factory", "--host", "127.0.0.1",
                "--port", str(self.port), "--workers", str(self.workers), "--blocking-threads", str(self.threads),
                "--backlog", "2048", "--log-level", "warning", "--no-access-log", "pointsbank:create_app"]


# --- HTTP ----------------------------------------------------------------------------------

class Client:
    """One keep-alive connection; reconnects after the server closed it."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 30) -> None:
        self.port, self.token, self.timeout = port, token, timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                raw: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        all_headers = {"Accept": "application/json"}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            self.conn.request(method, path, body=data, headers=all_headers)
            response = self.conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload

    def json(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        status, _, payload = self.request(method, path, body, **kwargs)
        return status, json.loads(payload) if payload else None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class LoadResult:
    clients: int
    seconds: float
    requests: int
    statuses: dict[str, int]
    errors: int
    throughput: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    offered_rate: float | None = None

    def ok_ratio(self) -> float:
        good = sum(n for s, n in self.statuses.items() if s.startswith("2"))
        return good / self.requests if self.requests else 0.0


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, int(round(fraction * len(sorted_values) + 0.5)) - 1))
    return sorted_values[index]


RequestFn = Callable[[Client, int, int], int]


def run_load(port: int, make_request: RequestFn, *, clients: int, seconds: float, warmup: float = 1.0,
             tokens: list[str] | None = None, rate: float | None = None) -> LoadResult:
    """``clients`` threads, each on its own keep-alive connection, calling
    ``make_request(client, thread_index, sequence)`` (which returns the HTTP status) until the
    time is up. Closed loop by default; with ``rate`` (requests/s for all clients together) each
    client paces its requests, and latency counts from the moment a request was *due*, so a slow
    server cannot hide its queue (no coordinated omission). Requests in the first ``warmup``
    seconds are not counted."""
    start = time.perf_counter() + 0.2
    measure_from = start + warmup
    deadline = measure_from + seconds
    latencies: list[list[float]] = [[] for _ in range(clients)]
    statuses: list[dict[str, int]] = [{} for _ in range(clients)]
    interval = clients / rate if rate else 0.0

    def worker(index: int) -> None:
        client = Client(port, tokens[index % len(tokens)] if tokens else None)
        due = start + (interval * index / clients if interval else 0.0)
        sequence = 0
        while True:
            now = time.perf_counter()
            if interval:
                if due > now:
                    time.sleep(due - now)
                began = due
                due += interval
            else:
                began = now
            if began >= deadline:
                break
            try:
                status = make_request(client, index, sequence)
                key = str(status)
            except (OSError, http.client.HTTPException) as error:
                key = type(error).__name__
            done = time.perf_counter()
            sequence += 1
            if began >= measure_from:
                latencies[index].append(done - began)
                statuses[index][key] = statuses[index].get(key, 0) + 1
        client.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + warmup + 120)
    values = sorted(v for per in latencies for v in per)
    merged: dict[str, int] = {}
    for per in statuses:
        for key, count in per.items():
            merged[key] = merged.get(key, 0) + count
    errors = sum(n for k, n in merged.items() if not k.startswith(("2", "3")))
    return LoadResult(clients=clients, seconds=seconds, requests=len(values), statuses=merged, errors=errors,
                      throughput=len(values) / seconds,
                      p50_ms=percentile(values, 0.50) * 1000, p90_ms=percentile(values, 0.90) * 1000,
                      p99_ms=percentile(values, 0.99) * 1000, max_ms=(values[-1] * 1000 if values else 0.0),
                      offered_rate=rate)


# --- pgbench -------------------------------------------------------------------------------

def _pg_args(url: str) -> list[str]:
    from urllib.parse import urlsplit

    parts = urlsplit(_psycopg_url(url))
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U", parts.username or "postgres"]
    return args + [parts.path.lstrip("/")]


def _pg_env(url: str) -> dict[str, str]:
    from urllib.parse import unquote, urlsplit

    password = urlsplit(_psycopg_url(url)).password
    return {**os.environ, **({"PGPASSWORD": unquote(password)} if password else {})}


def pgbench_init(url: str, scale: int = 10) -> None:
    subprocess.run(["pgbench", "-i", "-q", "-s", str(scale), *_pg_args(url)], check=True, env=_pg_env(url),
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)


def pgbench_tps(url: str, *, clients: int = 8, threads: int = 2, seconds: int = 10, select_only: bool = False,
                extra: list[str] | None = None) -> float:
    """Transactions per second of ``pgbench`` (TPC-B-like, or ``-S`` select-only)."""
    args = ["pgbench", "-n", "-c", str(clients), "-j", str(threads), "-T", str(seconds)]
    if select_only:
        args.append("-S")
    out = subprocess.run(args + (extra or []) + _pg_args(url), check=True, env=_pg_env(url), capture_output=True,
                         text=True, timeout=seconds + 120).stdout
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out) or re.search(
        r"tps = ([0-9.]+)", out)
    if not match:
        raise RuntimeError(f"could not read pgbench's tps from:\n{out}")
    return float(match.group(1))


@contextlib.contextmanager
def pgbench_database(scale: int = 10) -> Iterator[str]:
    with scratch_database("pgbench") as url:
        pgbench_init(url, scale)
        yield url


# --- results -------------------------------------------------------------------------------

@dataclass
class Figure:
    """One line of the results table. ``goal`` is e.g. ``{"ratio_min": 0.35}``,
    ``{"ratio_max": 1.5}``, ``{"value_max": 20}`` (ours, in its unit) or ``{"value_min": 1}``."""

    figure: str
    ours: float | None
    unit: str
    baseline: float | None = None
    baseline_label: str | None = None
    ratio: float | None = None
    goal: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ratio is None and self.ours is not None and self.baseline:
            self.ratio = self.ours / self.baseline

    @property
    def met(self) -> bool | None:
        if not self.goal or self.ours is None:
            return None
        checks = {"ratio_min": lambda g: self.ratio is not None and self.ratio >= g,
                  "ratio_max": lambda g: self.ratio is not None and self.ratio <= g,
                  "value_min": lambda g: self.ours >= g, "value_max": lambda g: self.ours <= g}
        return all(checks[kind](value) for kind, value in self.goal.items())

    def goal_text(self) -> str:
        words = {"ratio_min": "ratio ≥ {}", "ratio_max": "ratio ≤ {}", "value_min": "≥ {} " + self.unit,
                 "value_max": "≤ {} " + self.unit}
        return ", ".join(words[k].format(v) for k, v in self.goal.items()) or "—"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "goal_text": self.goal_text(), "met": self.met}


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform(),
                            #: 1, 5 and 15 minutes: the machine is shared, so the figures come with its load
                            "load_average": [round(x, 2) for x in os.getloadavg()]}
    with contextlib.suppress(OSError):
        model = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
        info["cpu"] = model.group(1) if model else None
    with contextlib.suppress(OSError):
        mem = re.search(r"MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text())
        info["memory_gib"] = round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None
    with contextlib.suppress(Exception):
        with connect(PG_ADMIN_URL, connect_timeout=5) as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    return info


def print_figures(figures: list[Figure]) -> None:
    for f in figures:
        base = f"{f.baseline:,.1f} ({f.baseline_label})" if f.baseline is not None else "—"
        ratio = f"{f.ratio:.3f}" if f.ratio is not None else "—"
        met = {True: "met", False: "MISSED", None: ""}[f.met]
        ours = f"{f.ours:,.2f} {f.unit}" if f.ours is not None else "n/a"
        print(f"  {f.figure}: {ours} | baseline {base} | ratio {ratio} | goal {f.goal_text()} {met}", flush=True)


def write_results(path: str | None, benchmark: str, figures: list[Figure], **extra: Any) -> None:
    """The JSON every ``bench_*.py`` writes with ``--json PATH`` (``bench/run.py`` reads it)."""
    print_figures(figures)
    if path:
        Path(path).write_text(json.dumps({"benchmark": benchmark, "machine": machine(),
                                          "figures": [f.as_dict() for f in figures], **extra},
                                         indent=2, ensure_ascii=False) + "\n")


def standard_arguments(description: str):
    """``--short``, ``--seconds``, ``--json PATH`` and ``--scale``: the options ``bench/run.py`` passes."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--short", action="store_true", help="a quick run (small seed, short measurements)")
    parser.add_argument("--seconds", type=float, default=None, help="length of each measurement")
    parser.add_argument("--json", dest="json_path", default=None, help="write the figures as JSON here")
    parser.add_argument("--database", default=None,
                        help="use this already seeded database (from bench/seed.py) instead of seeding one")
    return parser
