"""The scheduler's catch-up pass, its clock, its triggers per time zone, and ``pointsbank jobs``."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from pointsbank.community import services as community_services
from pointsbank.jobs import runner as job_runner
from pointsbank.jobs.guard import lock_key
from pointsbank.jobs.models import JobRun
from pointsbank.jobs.scheduler import RoundScheduler
from pointsbank.reports.models import NoticeBoard
from tests.integration.helpers_round import AFTER_Q2, Q2, at, redeem, statements_of
from pointsbank.database import row_by_id


def _runs(db) -> dict[tuple[str, int, str], tuple[str, int]]:
    db.session.expire_all()
    return {(r.job, r.community_id, r.period): (r.status, r.attempt) for r in db.session.scalars(sa.select(JobRun))}


def test_before_the_quarter_ends_nothing_is_due(app, world, db):
    scheduler = RoundScheduler(app, now=lambda: datetime(2026, 6, 30, 15, 59, tzinfo=timezone.utc))
    assert scheduler.run_pending() == []
    assert _runs(db) == {}


def test_the_catch_up_after_a_quarter_end_runs_settlement_and_notice_once_per_community(app, world, db):
    redeem(app, world, "2026-05-01T02:00:00+00:00", 10)
    at(app, AFTER_Q2)
    moment = app.config["CLOCK"]
    scheduler = RoundScheduler(app, now=lambda: moment)

    first = scheduler.run_pending()
    second = scheduler.run_pending()

    assert sorted((r.job, r.community_id, r.period, r.outcome) for r in first) == sorted(
        (job, world[c], "2026Q2", "completed") for job in ("settlement", "notice") for c in ("alpha", "beta"))
    assert second == []
    assert [s.amount_fen for s in statements_of(world["alpha"], "2026Q2")] == [1000]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NoticeBoard)) == 2


def test_a_scheduler_that_was_down_for_months_catches_up_every_missed_quarter_in_order(app, world, db):
    redeem(app, world, "2026-05-01T02:00:00+00:00", 10)
    redeem(app, world, "2026-08-01T02:00:00+00:00", 5)
    at(app, "2027-01-05T00:00:00+00:00")

    results = job_runner.catch_up(app.config["CLOCK"], jobs=["settlement", "best_families"], communities=[world["alpha"]])

    assert [(r.job, r.period, r.outcome) for r in results] == [
        ("settlement", "2026Q2", "completed"), ("settlement", "2026Q3", "completed"),
        ("settlement", "2026Q4", "completed"), ("best_families", "2026", "completed")]
    assert [s.amount_fen for s in statements_of(world["alpha"], "2026Q3")] == [500]
    assert statements_of(world["alpha"], "2026Q4") == []


def test_communities_are_due_at_the_end_of_the_quarter_in_their_own_time_zone(app, world, db):
    berlin = community_services.create_community(None, code="berlin", name="柏林华人社区", timezone="Europe/Berlin")
    db.session.commit()
    # 01:00 on 1 July in Shanghai; still 19:00 on 30 June in Berlin
    moment = datetime(2026, 6, 30, 17, 0, tzinfo=timezone.utc)

    due = {(job.name, community.code) for job, community, _ in job_runner.due(moment)}

    assert ("settlement", "alpha") in due and ("settlement", "berlin") not in due
    later = {(job.name, c.code) for job, c, _ in job_runner.due(datetime(2026, 6, 30, 22, 0, tzinfo=timezone.utc))}
    assert ("settlement", "berlin") in later
    assert berlin.id


def test_a_failed_run_waits_for_its_back_off_before_the_next_attempt(app, world, db, monkeypatch):
    from pointsbank.jobs import registry

    at(app, AFTER_Q2)
    moment = app.config["CLOCK"]
    job = registry.JOBS["notice"]

    def boom(*args):
        raise RuntimeError("boom")

    monkeypatch.setitem(registry.JOBS, "notice", registry.PeriodicJob(job.name, job.title, job.kind_for, job.cron, boom))

    failed = job_runner.catch_up(moment, jobs=["notice"], communities=[world["alpha"]])
    soon = job_runner.due(moment.replace(minute=3), jobs=["notice"])
    monkeypatch.setitem(registry.JOBS, "notice", job)
    later = job_runner.catch_up(moment.replace(minute=6), jobs=["notice"], communities=[world["alpha"]])

    assert [(r.outcome, r.attempt, r.error) for r in failed] == [("failed", 1, "RuntimeError: boom")]
    assert [c.code for _, c, _ in soon] == ["beta"]  # alpha waits (5 minutes after the first failure)
    assert [(r.outcome, r.attempt) for r in later] == [("completed", 2)]


def test_the_scheduler_has_cron_triggers_in_each_community_time_zone(app, world, db):
    community_services.create_community(None, code="berlin", name="柏林华人社区", timezone="Europe/Berlin")
    db.session.commit()
    scheduler = RoundScheduler(app, now=lambda: datetime(2026, 5, 15, tzinfo=timezone.utc))
    scheduler.configure()
    moment = datetime(2026, 5, 15, tzinfo=timezone.utc)

    def next_fire(job_id: str) -> datetime:
        return scheduler.scheduler.get_job(job_id).trigger.get_next_fire_time(None, moment)

    assert next_fire("settlement:quarter@Asia/Shanghai") == datetime(2026, 6, 30, 16, 5, tzinfo=timezone.utc)
    assert next_fire("settlement:quarter@Europe/Berlin") == datetime(2026, 6, 30, 22, 5, tzinfo=timezone.utc)
    assert next_fire("best_families:year@Asia/Shanghai") == datetime(2026, 12, 31, 16, 10, tzinfo=timezone.utc)
    assert {"catch_up", "voucher_expiry", "throttle_prune"} <= {j.id for j in scheduler.scheduler.get_jobs()}


def test_the_cron_callback_runs_only_the_communities_of_its_time_zone(app, world, db):
    berlin = community_services.create_community(None, code="berlin", name="柏林华人社区", timezone="Europe/Berlin")
    db.session.commit()
    moment = datetime(2026, 7, 1, 0, 0, tzinfo=timezone.utc)
    at(app, moment)

    results = RoundScheduler(app, now=lambda: moment).run_pending(jobs=["settlement"], zone="Europe/Berlin")

    assert [(r.community_id, r.outcome) for r in results] == [(berlin.id, "completed")]


def test_the_once_pass_also_sweeps_expired_vouchers(app, world, db):
    from pointsbank.redeem import vouchers
    from tests.integration.helpers_ledger import award
    from tests.integration.helpers_round import user

    award(world["alpha"], world["a1"], 20)
    voucher = vouchers.issue_voucher(user(world, "resident_a1"), points=20)
    db.session.commit()
    at(app, AFTER_Q2)

    RoundScheduler(app, now=lambda: app.config["CLOCK"]).run_once()

    from pointsbank.redeem.models import Voucher

    db.session.expire_all()
    assert row_by_id(Voucher, voucher["id"]).status == "expired"


def test_advisory_lock_keys_differ_per_job_community_and_period():
    keys = {lock_key(job, cid, period) for job in ("settlement", "notice") for cid in (1, 2)
            for period in ("2026Q2", "2026Q3")}
    assert len(keys) == 8 and all(-2 ** 63 <= k < 2 ** 63 for k in keys)


def test_pointsbank_jobs_lists_the_jobs_their_next_run_what_is_due_and_the_last_runs(app, world, db, runner):
    at(app, AFTER_Q2)
    runner_result = runner.invoke(args=["jobs"])
    assert runner_result.exit_code == 0, runner_result.output
    assert "settlement" in runner_result.output and "2026-10-01 00:05 Asia/Shanghai" in runner_result.output
    assert "voucher_expiry" in runner_result.output and "throttle_prune" in runner_result.output
    assert "settlement     alpha        2026Q2" in runner_result.output  # due now
    assert "Last runs: none yet" in runner_result.output

    settled = runner.invoke(args=["settle", "--period", "2026Q2", "--community", "alpha"])
    listed = runner.invoke(args=["jobs"])

    assert settled.exit_code == 0, settled.output
    assert "settlement     alpha        2026Q2  completed (attempt 1)" in listed.output
    assert "Due now:\n  notice         alpha" in listed.output


def test_settle_refuses_a_quarter_that_has_not_ended(app, world, db, runner):
    result = runner.invoke(args=["settle", "--period", "2026Q2"])
    assert result.exit_code == 1
    assert "period_not_closed" in result.output
    assert _runs(db) == {}
    assert Q2.key == "2026Q2"


def test_the_once_pass_also_sweeps_overdue_shelf_reservations(app, world, db):
    from datetime import timedelta

    from pointsbank import clock
    from pointsbank.shelf.models import Reservation
    from pointsbank.shelf.services import catalogue, reservations
    from tests.integration.helpers_ledger import award
    from tests.integration.helpers_round import user

    award(world["alpha"], world["a1"], 20)
    soap = catalogue.create_item(user(world, "staff_a2"), world["shop_a"], name={"zh": "肥皂"}, points=10, stock=4)
    held = reservations.create_reservation(user(world, "resident_a1"), shop_id=world["shop_a"],
                                           items=[{"item_id": soap["id"], "quantity": 2}])
    db.session.commit()
    at(app, clock.now() + timedelta(hours=app.config["RESERVATION_TTL_HOURS"], minutes=5))

    RoundScheduler(app, now=lambda: app.config["CLOCK"]).run_once()

    db.session.expire_all()
    assert row_by_id(Reservation, held["id"]).status == "expired"
    assert catalogue.get_item(user(world, "staff_a2"), soap["id"])["stock"] == 4
