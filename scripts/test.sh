#!/usr/bin/env bash
# Runs the suite on SQLite and on PostgreSQL. Arguments: which halves (default: both).
# PostgreSQL is used when it answers at POINTSBANK_TEST_PG_URL; with CI set it must answer.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export POINTSBANK_TEST_PG_URL=${POINTSBANK_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
halves=("${@:-sqlite postgresql}")
halves=(${halves[*]})
workers=${PYTEST_WORKERS:-2}
status=0

run_half() {
  local backend=$1
  echo "=== pytest on $backend ==="
  POINTSBANK_TEST_DB=$backend "$PY" -m pytest -p no:cacheprovider -n "$workers" ${PYTEST_ARGS:-}
  local rc=$?
  if [ $rc -eq 5 ]; then
    echo "error: pytest collected no tests on $backend (exit 5): the suite or its filter is wrong" >&2
    return 5
  fi
  return $rc
}

pg_up() {
  "$PY" - <<'PYEOF'
import os, sys
import sqlalchemy as sa
url = sa.engine.make_url(os.environ["POINTSBANK_TEST_PG_URL"]).set(database="postgres")
try:
    sa.create_engine(url, connect_args={"connect_timeout": 5}).connect().close()
except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
    print(f"PostgreSQL not reachable: {error}", file=sys.stderr)
    sys.exit(1)
PYEOF
}

for backend in "${halves[@]}"; do
  if [ "$backend" = postgresql ]; then
    if ! pg_up; then
      if [ -n "${CI:-}" ]; then
        echo "error: CI is set and PostgreSQL does not answer at $POINTSBANK_TEST_PG_URL" >&2
        status=1
        continue
      fi
      echo "=== PostgreSQL not reachable: skipping the PostgreSQL half (set CI=1 to make this an error) ==="
      continue
    fi
  fi
  run_half "$backend" || status=1
done
exit $status
