"""SQLite as a real embedded default: WAL, foreign keys, and writers that queue instead of failing."""

import threading

import pytest
import sqlalchemy as sa

from pointsbank.database import unit_of_work
from pointsbank.ledger import services as ledger
from tests.conftest import BACKEND
from tests.integration.helpers_ledger import award

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite-specific behaviour")


def test_sqlite_runs_in_wal_mode_with_foreign_keys_on(db):
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_row_pointing_nowhere_is_refused_by_the_foreign_key(db):
    from pointsbank.community.models import Household

    db.session.add(Household(community_id=424242, number="X", head_name="nobody"))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_concurrent_writers_queue_on_the_write_lock_and_all_succeed(app, world, db):
    errors = []
    barrier = threading.Barrier(8)

    def work():
        try:
            with app.app_context():
                barrier.wait()
                for _ in range(10):
                    unit_of_work(award)(world["alpha"], world["a1"], 1)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db.session.rollback()
    assert ledger.household_balance(world["a1"]) == 180
