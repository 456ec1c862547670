"""Expiry returns the points of vouchers past their time: at any time, twice, concurrently."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from pointsbank import clock
from pointsbank.auth.models import User
from pointsbank.database import unit_of_work
from pointsbank.ledger.models import Posting
from pointsbank.ledger.verify import verify
from pointsbank.redeem import jobs, vouchers
from pointsbank.redeem.models import Voucher
from tests.integration.helpers_redeem import escrow_balance, give, household_balance, issued, redeem, voucher_ttl
from pointsbank.database import row_by_id


def _later(app, hours=1):
    app.config["CLOCK"] = clock.now() + timedelta(hours=hours)


def test_expiry_returns_the_points_of_open_vouchers_past_their_time_and_nothing_else(app, client, world, db):
    voucher_ttl(client, world, 1)
    give(world, "a1", 60)
    open_, spent, cancelled = (issued(client, world, "resident_a1", 20) for _ in range(3))
    redeem(client, world.headers("cashier_a"), spent["token"], 20)
    client.delete(f"/api/v1/vouchers/{cancelled['id']}", headers=world.headers("resident_a1"))
    assert jobs.expire_vouchers() == 0  # nothing has expired yet
    _later(app)
    assert jobs.expire_vouchers() == 1
    db.session.rollback()
    assert row_by_id(Voucher, open_["id"]).status == "expired"
    assert [row_by_id(Voucher, v["id"]).status for v in (spent, cancelled)] == ["redeemed", "cancelled"]
    assert household_balance(world, "a1") == 140 and escrow_balance(world["alpha"]) == 0
    assert verify().ok


def test_running_the_expiry_twice_changes_nothing_the_second_time(app, client, world, db):
    voucher_ttl(client, world, 1)
    give(world, "a1", 60)
    for _ in range(3):
        issued(client, world, "resident_a1", 20)
    _later(app)
    assert jobs.expire_vouchers() == 3
    postings = db.session.query(Posting).count()
    assert jobs.expire_vouchers() == 0
    assert db.session.query(Posting).count() == postings
    assert household_balance(world, "a1") == 160 and escrow_balance(world["alpha"]) == 0


def test_expiry_works_through_many_batches(app, client, world, db):
    voucher_ttl(client, world, 1)
    give(world, "a1", 70)
    for _ in range(7):
        issued(client, world, "resident_a1", 10)
    _later(app)
    assert jobs.expire_vouchers(batch=2) == 7
    assert household_balance(world, "a1") == 170


def test_an_expired_voucher_is_no_longer_redeemable_nor_cancellable(app, client, world, db):
    voucher_ttl(client, world, 1)
    give(world, "a1", 20)
    voucher = issued(client, world, "resident_a1", 20)
    _later(app)
    jobs.expire_vouchers()
    assert redeem(client, world.headers("cashier_a"), voucher["token"], 20).status_code == 410
    assert client.delete(f"/api/v1/vouchers/{voucher['id']}", headers=world.headers("resident_a1")).status_code == 410
    assert household_balance(world, "a1") == 120


def test_the_command_line_expires_vouchers(app, client, runner, world, db):
    voucher_ttl(client, world, 1)
    give(world, "a1", 20)
    issued(client, world, "resident_a1", 20)
    _later(app)
    result = runner.invoke(args=["vouchers", "expire"])
    assert result.exit_code == 0 and "expired 1 voucher" in result.output
    assert "expired 0 voucher" in runner.invoke(args=["vouchers", "expire"]).output
    db.session.rollback()
    assert household_balance(world, "a1") == 120


@pytest.mark.postgres_only
def test_two_expiry_runs_at_once_return_each_voucher_exactly_once(app, client, world, db):
    voucher_ttl(client, world, 1)
    give(world, "a1", 300)
    give(world, "a2", 300)
    for household in ("a1", "a2"):
        for _ in range(60):
            staff = db.session.get(User, world.users["staff_a2"])
            unit_of_work(vouchers.issue_voucher)(staff, points=5, household_id=world[household])
    _later(app)
    barrier = threading.Barrier(4)

    def run(_):
        with app.app_context():
            barrier.wait()
            return jobs.expire_vouchers(batch=7)

    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(run, range(4)))
    db.session.rollback()
    assert sum(counts) == 120
    assert household_balance(world, "a1") == household_balance(world, "a2") == 400
    assert escrow_balance(world["alpha"]) == 0
    assert verify().ok
