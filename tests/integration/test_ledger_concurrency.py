"""Concurrency on real PostgreSQL: many writers, exact balances, no deadlock, no lost update."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from pointsbank import database
from pointsbank.database import unit_of_work
from pointsbank.ledger import services as ledger
from pointsbank.ledger.models import Adjustment
from pointsbank.ledger.verify import verify
from tests.integration.helpers_ledger import award

pytestmark = pytest.mark.postgres_only

THREADS, PER_THREAD = 16, 200


def _hammer(app, community_id, household_for_thread):
    barrier = threading.Barrier(THREADS)
    expected: dict[int, int] = {}
    lock = threading.Lock()

    def work(thread):
        household = household_for_thread(thread)
        total = 0
        with app.app_context():
            barrier.wait()
            for i in range(PER_THREAD):
                points = (i % 7) + 1 if i % 3 else -((i % 5) + 1)
                unit_of_work(award)(community_id, household, points, "award" if points > 0 else "deduction")
                total += points
        with lock:
            expected[household] = expected.get(household, 0) + total

    retries_before = database.retry_counter["retries"]
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(work, range(THREADS)))
    return expected, database.retry_counter["retries"] - retries_before


def test_sixteen_threads_awarding_the_same_household_lose_no_update(app, world, db):
    expected, retries = _hammer(app, world["alpha"], lambda t: world["a1"])
    print(f"serialisation retries: {retries}")
    db.session.rollback()
    assert ledger.household_balance(world["a1"]) == 100 + expected[world["a1"]]
    assert verify().ok


def test_sixteen_threads_awarding_different_households_of_one_community_are_exact(app, world, db):
    from pointsbank.community import services as community

    households = [unit_of_work(community.create_household)(None, world["alpha"], number=f"C-{i}", head_name="户主")["id"]
                  for i in range(THREADS)]
    expected, retries = _hammer(app, world["alpha"], lambda t: households[t])
    print(f"serialisation retries: {retries}")
    db.session.rollback()
    for household in households:
        assert ledger.household_balance(household) == 100 + expected[household]
    issuance = ledger.system_accounts(world["alpha"])["issuance"]
    assert ledger.account_balance(issuance) == -(100 * (THREADS + 3) + sum(expected.values()))
    assert verify().ok


def test_the_same_idempotency_key_sent_twenty_times_at_once_moves_points_once(app, world, db):
    barrier = threading.Barrier(20)

    def send(_):
        client = app.test_client()
        barrier.wait()
        response = client.post(f"/api/v1/households/{world['a1']}/adjustments",
                               headers=world.headers("staff_a", **{"Idempotency-Key": "once"}),
                               json={"points": 9, "reason": "并发"})
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(send, range(20)))
    db.session.rollback()
    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Adjustment)) == 1
    assert ledger.household_balance(world["a1"]) == 109
    assert verify().ok


def test_two_staff_approving_the_same_pending_adjustment_at_once_post_it_once(app, world, db):
    """staff_a requests above the two-person threshold; staff_a2 and staff_a3 press approve at
    the same moment, eight times each: exactly one approval posts, the others are told it is no
    longer pending."""
    first = world.headers("staff_a")
    created = app.test_client().post(f"/api/v1/households/{world['a1']}/adjustments", headers=first,
                                     json={"points": 80, "reason": "大额调整"})
    assert created.status_code == 201 and created.json["status"] == "pending"
    approvers = [world.headers("staff_a2"), world.headers("staff_a3")] * 8
    barrier = threading.Barrier(len(approvers))

    def approve(headers):
        client = app.test_client()
        barrier.wait()
        response = client.post(f"/api/v1/adjustments/{created.json['id']}/approve", headers=headers)
        return response.status_code, (response.get_json() or {}).get("error", {}).get("code")

    with ThreadPoolExecutor(len(approvers)) as pool:
        results = list(pool.map(approve, approvers))
    db.session.rollback()
    statuses = sorted(status for status, _ in results)
    assert statuses.count(200) == 1, results
    assert {code for status, code in results if status != 200} == {"adjustment_not_pending"}, results
    assert ledger.household_balance(world["a1"]) == 180
    assert verify().ok
