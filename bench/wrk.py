"""The HTTP load generator of the benchmarks: ``wrk`` (C, event loop), scripted in Lua.

pgbench, the baseline, is a C client; the load on our server should come from a client of the
same kind, or the Python of the client competes with the Python of the server for the same two
cores (``http.client`` threads cost 0.2–0.4 ms of CPU and a share of one GIL per request).
So the HTTP benchmarks drive the server with ``wrk`` when it is installed
(``scripts/install-bench-tools.sh``, which ``make bench`` runs) and fall back to the Python
threads of :func:`bench.common.run_load` otherwise, saying so in the results.

A benchmark gives :func:`run` a Lua ``request()`` function (and optionally ``delay()``, the
milliseconds a connection waits before each request, and ``on_init()``/``on_response()``) and
the data it draws from — a Python value turned into a Lua table ``DATA`` (tokens, household
ids, prepared bodies …). Each wrk thread sees ``DATA``, its own number ``tid`` (1-based) and the
count ``nthreads``; statuses (and 4xx/5xx answers by error code) are counted per thread and
merged in ``done()``, which prints one JSON line that :func:`run` reads back::

    result = wrk.run(port, REQUEST_LUA, data, connections=8, seconds=20)
    result.throughput, result.statuses, result.count(201), result.p99_ms

A phase with a fixed set of jobs (each voucher redeemed once) gives each thread its own slice
(``DATA[k]`` for ``k = tid, tid + nthreads, …``); when a thread's slice is done its
``request()`` returns ``stop_when_idle()``, and the thread stops once its last answer is in.
wrk would sleep out ``-d`` anyway: :func:`run` sends it SIGINT once every thread has stopped,
and the Lua notes when the threads really sent and stopped (a monotonic clock through LuaJIT's
ffi), so the result's ``seconds`` is that span. A script that keeps its position in a global
``cursor`` gets it back per thread (``WrkResult.cursors``), to go on where a run left off.

Latency, as wrk measures it, runs from the moment the request is written (after any
``delay()``) to the last byte of the answer: service time plus the server's queueing, not the
time a request waited to be due. wrk adds its own coordinated-omission correction to the
histogram (synthetic samples for answers slower than twice a connection's mean interval).

:class:`CpuMeter` adds up the CPU time the server's processes (gunicorn's process group) and
the database's backends spent during a measurement, so a figure comes with "milliseconds of CPU
per request, app and PostgreSQL": a number that moves far less with the machine's load than the
throughput does.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import LoadResult, connect

COMMON_LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } pb_timespec;
int clock_gettime(int clock_id, pb_timespec *tp);
]]
local pb_ts = ffi.new("pb_timespec")
function now_us()  -- CLOCK_MONOTONIC, the clock wrk's own timings use
  ffi.C.clock_gettime(1, pb_ts)
  return tonumber(pb_ts.tv_sec) * 1000000 + math.floor(tonumber(pb_ts.tv_nsec) / 1000)
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local function json_string(text)
  return '"' .. string.gsub(text, '[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function init(args)
  statuses, refusals = {}, {}
  inflight, idle = 0, false
  nthreads = tonumber(os.getenv("PB_WRK_THREADS"))
  math.randomseed(tid * 7919 + os.time())
  DATA = dofile(os.getenv("PB_WRK_DATA"))
  if on_init then on_init() end
  -- wrk calls the first thread's request() once before it starts, only to count the requests in
  -- the string (pipelining): answer that call without taking a job the thread would never send
  local verifying = tid == 1
  local script_request = request
  request = function()
    if verifying then
      verifying = false
      return wrk.format("GET", "/")
    end
    local r = script_request()
    if #r > 0 then
      inflight = inflight + 1
      if not first_us then first_us = now_us() end
    end
    return r
  end
end

-- A script's request() returns stop_when_idle() once its thread has nothing left to send: the
-- connection goes quiet ("" sends nothing), and the thread stops when its last answer is in.
-- wrk itself still waits out -d, so done() reports when the threads really stopped.
local function stop_thread()
  stopped_us = now_us()
  local marker = io.open(os.getenv("PB_WRK_STOPPED") .. tid, "w")
  if marker then marker:close() end
  wrk.thread:stop()
end

function stop_when_idle()
  idle = true
  if inflight == 0 and not stopped_us then stop_thread() end
  return ""
end

function response(status, headers, body)
  inflight = inflight - 1
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 400 then
    local key = status .. " " .. (string.match(body or "", '"code"%s*:%s*"([^"]*)"') or "")
    refusals[key] = (refusals[key] or 0) + 1
    if not sample then sample = status .. " " .. string.sub(body or "", 1, 300) end
  end
  if on_response then on_response(status, headers, body) end
  if idle and inflight == 0 and not stopped_us then stop_thread() end
end

function done(summary, latency, requests)
  local merged, refused = {}, {}
  local first, last, all_stopped, sample_text, cursors = nil, nil, true, nil, {}
  for _, t in ipairs(threads) do
    table.insert(cursors, tostring(t:get("cursor") or "null"))
    for code, n in pairs(t:get("statuses")) do merged[code] = (merged[code] or 0) + n end
    for key, n in pairs(t:get("refusals")) do refused[key] = (refused[key] or 0) + n end
    local f, s = t:get("first_us"), t:get("stopped_us")
    if f and (not first or f < first) then first = f end
    if s then
      if not last or s > last then last = s end
    else
      all_stopped = false
    end
    sample_text = sample_text or t:get("sample")
  end
  local parts, rparts = {}, {}
  for code, n in pairs(merged) do table.insert(parts, string.format('"%d": %d', code, n)) end
  for key, n in pairs(refused) do table.insert(rparts, string.format('%s: %d', json_string(key), n)) end
  local active = summary.duration
  if all_stopped and first and last then active = math.min(active, last - first) end
  local e = summary.errors
  io.write(string.format(
    'PBWRK {"requests": %d, "duration_us": %d, "active_us": %d, "stopped_early": %s, ' ..
    '"connect": %d, "read": %d, "write": %d, "timeout": %d, "statuses": {%s}, "refusals": {%s}, ' ..
    '"sample": %s, "cursors": [%s], "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, active, tostring(all_stopped), e.connect, e.read, e.write, e.timeout,
    table.concat(parts, ", "), table.concat(rparts, ", "), sample_text and json_string(sample_text) or "null",
    table.concat(cursors, ", "),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def available() -> bool:
    """wrk is on the PATH, and ``POINTSBANK_BENCH_CLIENT`` does not ask for the Python client
    (``=python``, to compare the two load generators)."""
    return os.environ.get("POINTSBANK_BENCH_CLIENT", "wrk") != "python" and shutil.which("wrk") is not None


_PLAIN = re.compile(r'[ !#-\[\]-~]*')  # printable ASCII but " and \\


def lua_string(text: str) -> str:
    """A Lua string literal of ``text``'s UTF-8 bytes: printable ASCII as is, every other byte as a
    decimal escape ``\\ddd`` (LuaJIT, which wrk embeds, rejects JSON's ``\\uXXXX``)."""
    if _PLAIN.fullmatch(text):
        return '"' + text + '"'
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        out.append(char if 32 <= byte < 127 and char not in '"\\' else f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def lua_value(value: Any) -> str:
    """A Python value (None, bool, int, float, str, list, dict) as a Lua expression."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no Lua literal")
        return repr(value)
    if isinstance(value, str):
        return lua_string(value)
    if isinstance(value, (list, tuple)):
        return "{" + ",".join(lua_value(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"[{lua_value(k)}]={lua_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as Lua")


#: items per generated Lua function: LuaJIT allows 65,536 constants in one function, and a
#: city-scale job list (a token and a body per voucher) has far more than that
LUA_CHUNK = 1000


def lua_module(value: Any) -> str:
    """A Lua chunk that returns ``value``: small values as one literal, large lists and dicts
    filled by many small functions, so no function exceeds LuaJIT's constant limit."""
    lines = ["local V"]
    _emit("V", value, lines)
    lines.append("return V")
    return "\n".join(lines) + "\n"


def _emit(target: str, value: Any, lines: list[str]) -> None:
    items = (list(enumerate(value, 1)) if isinstance(value, (list, tuple))
             else list(value.items()) if isinstance(value, dict) else None)
    if items is None or len(items) <= LUA_CHUNK and all(
            not isinstance(v, (list, tuple, dict)) or len(v) <= LUA_CHUNK for _, v in items):
        lines.append(f"{target} = {lua_value(value)}")
        return
    lines.append(f"{target} = {{}}")
    small = [(k, v) for k, v in items if not isinstance(v, (list, tuple, dict)) or len(v) <= LUA_CHUNK]
    for start in range(0, len(small), LUA_CHUNK):
        body = " ".join(f"{target}[{lua_value(k)}] = {lua_value(v)}" for k, v in small[start:start + LUA_CHUNK])
        lines.append(f"do local function fill() {body} end fill() end")
    for k, v in items:
        if isinstance(v, (list, tuple, dict)) and len(v) > LUA_CHUNK:
            _emit(f"{target}[{lua_value(k)}]", v, lines)


@dataclass
class WrkResult(LoadResult):
    """What one wrk run did. ``seconds``/``duration_s`` is how long the threads sent (shorter
    than ``-d`` when every thread ran out of jobs: ``stopped_early``); ``refusals`` counts the
    4xx/5xx answers by ``"<status> <error code>"``, ``sample`` is the first such answer (300 bytes)."""

    duration_s: float = 0.0
    socket_errors: dict[str, int] | None = None
    refusals: dict[str, int] | None = None
    sample: str | None = None
    stopped_early: bool = False
    threads: int = 0
    #: each thread's global ``cursor`` when it ended (``None`` where a script keeps none)
    cursors: list[int | None] | None = None

    def count(self, *statuses: int) -> int:
        return sum(self.statuses.get(str(s), 0) for s in statuses)


def version() -> str:
    """``4.1`` for Debian's ``wrk debian/4.1.0-3``."""
    out = subprocess.run(["wrk", "--version"], check=False, capture_output=True, text=True, errors="replace").stdout
    found = re.search(r"(\d+\.\d+)", out)
    return found.group(1) if found else "?"


def describe(threads: int) -> str:
    """The ``load_generator`` of a figure's details."""
    return f"wrk {version()} (C), {threads} thread{'s' if threads != 1 else ''}"


def run(port: int, request_lua: str, data: Any, *, connections: int, seconds: float, threads: int = 2,
        timeout_s: int = 30, path: str = "/") -> WrkResult:
    """``wrk -t threads -c connections -d seconds`` against ``127.0.0.1:port`` with the script.
    ``throughput`` counts every answered request per second of sending; use
    :meth:`WrkResult.count` for the ones that did what was asked. The script's ``request()``
    may end its thread early with ``return stop_when_idle()``."""
    threads = max(1, min(threads, connections))
    with tempfile.TemporaryDirectory(prefix="pb_wrk_") as tmp:
        data_file, script = Path(tmp) / "data.lua", Path(tmp) / "script.lua"
        data_file.write_text(lua_module(data), encoding="utf-8")
        script.write_text(COMMON_LUA + "\n" + request_lua + "\n", encoding="utf-8")
        stopped = Path(tmp) / "stopped"
        stopped.mkdir()
        env = {**os.environ, "PB_WRK_DATA": str(data_file), "PB_WRK_THREADS": str(threads),
               "PB_WRK_STOPPED": f"{stopped}/"}
        command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
                   "--timeout", f"{timeout_s}s", "-s", str(script), f"http://127.0.0.1:{port}{path}"]
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as stdout, \
                tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as stderr:
            process = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)
            deadline = time.monotonic() + seconds + timeout_s + 60
            while process.poll() is None:
                # wrk sleeps out -d even when every thread has stopped; SIGINT ends that sleep
                if sum(1 for _ in stopped.iterdir()) >= threads:
                    process.send_signal(signal.SIGINT)
                    break
                if time.monotonic() > deadline:
                    process.kill()
                    break
                time.sleep(0.1)
            returncode = process.wait(timeout_s + 60)
            stdout.seek(0)
            stderr.seek(0)
            out = subprocess.CompletedProcess(command, returncode, stdout.read(), stderr.read())
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("PBWRK ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    found = json.loads(line[len("PBWRK "):])
    duration = found["active_us"] / 1e6
    socket_errors = {k: found[k] for k in ("connect", "read", "write", "timeout") if found[k]}
    statuses = dict(found["statuses"])
    statuses.update({f"socket_{k}": v for k, v in socket_errors.items()})
    answered = sum(found["statuses"].values())
    errors = sum(n for k, n in statuses.items() if not k.startswith(("2", "3")))
    return WrkResult(clients=connections, seconds=duration, requests=answered, statuses=statuses, errors=errors,
                     throughput=answered / duration if duration else 0.0, p50_ms=found["p50_us"] / 1000,
                     p90_ms=found["p90_us"] / 1000, p99_ms=found["p99_us"] / 1000, max_ms=found["max_us"] / 1000,
                     duration_s=duration, socket_errors=socket_errors, refusals=found["refusals"],
                     sample=found["sample"], stopped_early=found["stopped_early"], threads=threads,
                     cursors=found["cursors"])


# --- CPU accounting ------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float:
    """utime + stime of a process, in seconds (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                fields = Path(f"/proc/{entry.name}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


class CpuMeter:
    """CPU seconds spent by gunicorn (its process group) and by the PostgreSQL backends connected
    to ``database`` between :meth:`start` and :meth:`stop`."""

    def __init__(self, gunicorn_pgid: int, database_url: str) -> None:
        self.pgid, self.url = gunicorn_pgid, database_url
        self.before: dict[str, dict[int, float]] = {}
        self.app_s = self.db_s = 0.0

    def _backends(self) -> list[int]:
        with connect(self.url) as conn:
            return [r[0] for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]

    def _sample(self) -> dict[str, dict[int, float]]:
        return {"app": {p: _cpu_of(p) for p in _group_members(self.pgid)},
                "db": {p: _cpu_of(p) for p in self._backends()}}

    def start(self) -> CpuMeter:
        self.before = self._sample()
        return self

    def stop(self) -> CpuMeter:
        after = self._sample()
        self.app_s = sum(v - self.before["app"].get(p, 0.0) for p, v in after["app"].items())
        self.db_s = sum(v - self.before["db"].get(p, 0.0) for p, v in after["db"].items())
        return self

    def per_request_ms(self, requests: int) -> dict[str, float]:
        if not requests:
            return {}
        return {"app_cpu_ms": round(self.app_s / requests * 1000, 3),
                "db_cpu_ms": round(self.db_s / requests * 1000, 3)}
