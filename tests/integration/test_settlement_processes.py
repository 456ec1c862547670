"""Real processes: two schedulers at once, a settlement killed before it commits, a rerun.

The commands run as subprocesses against the test's database (what the test wrote is
committed first), with ``POINTSBANK_CLOCK`` moved past the end of 2026Q2.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from pointsbank.jobs.models import JobRun
from pointsbank.reports.models import NoticeBoard, SettlementStatement
from pointsbank.reports.statements import statement_lines
from tests.integration.helpers_redeem import new_shop
from tests.integration.helpers_round import AFTER_Q2, redeem, statements_of
from pointsbank.database import row_by_id

PAUSED = "settlement paused before commit"


def _env(app: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POINTSBANK_")}
    env.update(POINTSBANK_DATABASE_URL=app.config["DATABASE_URL"], POINTSBANK_CLOCK=AFTER_Q2,
               POINTSBANK_SECRET_KEY="test-secret", PYTHONPATH=os.pathsep.join(sys.path), **extra)
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from pointsbank.cli import main; main()", *args]


def _snapshot(db: Any) -> list[tuple]:
    db.session.expire_all()
    rows = db.session.execute(sa.select(
        SettlementStatement.id, SettlementStatement.community_id, SettlementStatement.shop_id,
        SettlementStatement.period, SettlementStatement.count, SettlementStatement.points,
        SettlementStatement.amount_fen, SettlementStatement.status, SettlementStatement.built_at,
    ).order_by(SettlementStatement.id)).all()
    lines = [len(statement_lines(row_by_id(SettlementStatement, row[0]))) for row in rows]
    db.session.rollback()
    return [(*row, n) for row, n in zip(rows, lines)]


def _round_data(app: Any, world: Any) -> None:
    redeem(app, world, "2026-05-01T02:00:00+00:00", 10)
    redeem(app, world, "2026-05-02T02:00:00+00:00", 6)
    redeem(app, world, "2026-05-03T02:00:00+00:00", 4, household="b1", resident="resident_b1", cashier="cashier_b")
    new_shop(world["alpha"], "不营业的店")  # a partner shop without redemptions gets no statement


@pytest.mark.postgres_only
def test_two_schedulers_started_at_once_settle_each_shop_once_and_settle_again_changes_nothing(app, world, db):
    _round_data(app, world)

    env = _env(app, POINTSBANK_TEST_PAUSE_SETTLEMENT="1.5")  # each run holds its lock a while: they overlap
    processes = [subprocess.Popen(_command("scheduler", "--once"), env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=180) for p in processes]

    assert [p.returncode for p in processes] == [0, 0], outputs
    statements = _snapshot(db)
    keys = Counter((s[1], s[2], s[3]) for s in statements)
    assert keys == {(world["alpha"], world["shop_a"], "2026Q2"): 1, (world["beta"], world["shop_b"], "2026Q2"): 1}
    assert sorted((s[1], s[4], s[5], s[6], s[9]) for s in statements) == sorted(
        [(world["alpha"], 2, 16, 1600, 2), (world["beta"], 1, 4, 800, 1)])
    done = Counter(line.split()[0] + " " + line.split()[1] for out, _ in outputs for line in out.splitlines()
                   if line.split()[3:4] == ["completed"])
    assert done["settlement alpha"] == 1 and done["settlement beta"] == 1, outputs
    runs = db.session.execute(sa.select(JobRun.job, JobRun.community_id, JobRun.status, JobRun.attempt).where(
        JobRun.period == "2026Q2")).all()
    assert {(r.job, r.community_id): (r.status, r.attempt) for r in runs} == {
        ("settlement", world["alpha"]): ("completed", 1), ("settlement", world["beta"]): ("completed", 1),
        ("notice", world["alpha"]): ("completed", 1), ("notice", world["beta"]): ("completed", 1)}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NoticeBoard)) == 2

    again = subprocess.run(_command("settle", "--period", "2026Q2"), env=_env(app), capture_output=True, text=True,
                           timeout=120)

    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already_completed") == 2
    assert _snapshot(db) == statements


def _read_lines(stream: Any, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)


def test_a_settlement_killed_before_it_commits_leaves_nothing_and_the_next_run_completes_it(app, world, db):
    _round_data(app, world)

    paused = subprocess.Popen(_command("settle", "--period", "2026Q2", "--community", "alpha"),
                              env=_env(app, POINTSBANK_TEST_PAUSE_SETTLEMENT="120"), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(paused.stderr, lines), daemon=True)
    reader.start()
    try:
        while PAUSED not in lines.get(timeout=120):  # statements and lines written, not committed
            pass
    finally:
        os.kill(paused.pid, signal.SIGKILL)
        paused.wait(timeout=30)
        reader.join(timeout=30)
        paused.stderr.close()

    assert paused.returncode == -signal.SIGKILL
    assert _snapshot(db) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(JobRun)) == 0  # nothing half done, nothing to undo
    db.session.rollback()

    rerun = subprocess.run(_command("settle", "--period", "2026Q2", "--community", "alpha"), env=_env(app),
                           capture_output=True, text=True, timeout=120)

    assert rerun.returncode == 0, rerun.stderr
    assert "completed (attempt 1)" in rerun.stdout
    (statement,) = statements_of(world["alpha"], "2026Q2")
    assert (statement.count, statement.points, statement.amount_fen) == (2, 16, 1600)
    run = db.session.scalar(sa.select(JobRun))
    assert (run.job, run.status, run.attempt) == ("settlement", "completed", 1)
