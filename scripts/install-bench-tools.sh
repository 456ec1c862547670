#!/usr/bin/env bash
# Installs the benchmarks' HTTP load generator from Debian's packages: wrk (C, scripted in Lua),
# so the load on the server comes from a C client like pgbench's, not from Python threads on
# the same cores (bench/wrk.py). Idempotent: returns at once when wrk is already there.
# Without it the benchmarks still run, on the Python client, and say so in their results.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-bench-tools: wrk is missing: run as root, or apt-get install wrk yourself" \
       "(the benchmarks fall back to the Python client until then)" >&2
  exit 1
fi
echo "install-bench-tools: installing wrk"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends wrk >/dev/null
wrk --version | head -1 || true
