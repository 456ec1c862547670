"""Notice boards and rankings: who earned what in the quarter, published once."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from pointsbank.community import services as community_services
from pointsbank.community.models import Community
from pointsbank.errors import NotFound
from pointsbank.jobs.models import JobRun
from pointsbank.jobs.runner import execute
from pointsbank.reports import notice, periods, rankings
from pointsbank.reports.models import NoticeBoard
from tests.integration.helpers_round import AFTER_Q2, Q2, at, ledger_ok, record, user


def _ranking(world) -> list[tuple[int, str, int]]:
    board = rankings.ranking_view(db_community(world), Q2)
    return [(e["rank"], e["number"], e["points"]) for e in board["ranking"]]


def db_community(world, code: str = "alpha") -> Community:
    from pointsbank.extensions import db

    return db.session.get(Community, world[code])


def test_ties_share_a_rank_and_the_next_rank_skips(app, world, db):
    record(world, "a1", 30)
    record(world, "a2", 20)
    record(world, "a2", 10, category="family")
    record(world, "a3", 12)

    assert _ranking(world) == [(1, "A-001", 30), (1, "A-002", 30), (3, "A-003", 12)]


def test_the_champion_is_every_household_ranked_first_and_nobody_when_no_one_earned(app, world, db):
    assert rankings.ranking_view(db_community(world), Q2)["champion"] == []
    record(world, "a1", 30)
    record(world, "a2", 30)
    record(world, "a3", 5)

    champion = rankings.ranking_view(db_community(world), Q2)["champion"]

    assert [(c["number"], c["head_name"], c["points"]) for c in champion] == [("A-001", "户主a1", 30),
                                                                             ("A-002", "户主a2", 30)]


def test_reversed_rejected_and_pending_records_count_nothing_and_deductions_count_negative(app, world, db):
    record(world, "a1", 50, status="reversed")
    record(world, "a1", 40, status="rejected")
    record(world, "a1", 30, status="pending")
    record(world, "a1", 8, status="upheld")
    record(world, "a2", 6, status="objected")
    record(world, "a2", -4, category="public_morality")
    record(world, "a3", 9, occurred_on=date(2026, 3, 31))  # the previous quarter

    assert _ranking(world) == [(1, "A-001", 8), (2, "A-002", 2), (3, "A-003", 0)]
    assert ledger_ok(world["alpha"])


def test_the_quarter_board_has_totals_per_category_and_grid_and_the_records_open_to_objection(app, world, db):
    record(world, "a1", 30, posted_at=datetime(2026, 5, 1, tzinfo=timezone.utc))
    record(world, "a2", 10, category="family", posted_at=datetime(2026, 6, 28, tzinfo=timezone.utc))
    recent = record(world, "a3", 5, category="family", posted_at=datetime(2026, 6, 29, tzinfo=timezone.utc))

    at(app, AFTER_Q2)
    board = notice.build(db_community(world), Q2, app.config["CLOCK"])

    assert board["categories"] == [
        {"category": "family", "name": "家庭文明", "name_en": "Family civility", "points": 15, "records": 2},
        {"category": "volunteer", "name": "志愿服务", "name_en": "Volunteer service", "points": 30, "records": 1}]
    assert board["grids"] == [{"grid": "一组", "households": 2, "points": 40}, {"grid": "二组", "households": 1, "points": 5}]
    assert [r["record_id"] for r in board["open_records"]] == [recent - 1, recent]  # posted within 7 days
    assert board["open_records"][1]["objection_until"] == "2026-07-06T00:00:00+00:00"
    assert (board["total_points"], board["households"]) == (45, 3)


def test_running_the_notice_job_twice_changes_nothing(app, world, db):
    record(world, "a1", 30)
    at(app, AFTER_Q2)
    first = execute("notice", world["alpha"], Q2)
    stored = db.session.scalar(sa.select(NoticeBoard))
    snapshot = (stored.id, stored.data, stored.published_at)
    record(world, "a2", 99)  # a late change never alters what was published

    at(app, "2026-07-02T00:00:00+00:00")
    second = execute("notice", world["alpha"], Q2)

    db.session.expire_all()
    boards = db.session.scalars(sa.select(NoticeBoard)).all()
    assert (first.outcome, second.outcome) == ("completed", "already_completed")
    assert [(b.id, b.data, b.published_at) for b in boards] == [snapshot]
    assert [c["number"] for c in snapshot[1]["champion"]] == ["A-001"]
    assert db.session.scalar(sa.select(JobRun.attempt).where(JobRun.job == "notice")) == 1
    live = notice.get_notice(user(world, "staff_a"), world["alpha"], "2026Q2")
    assert live["is_published"] and [c["number"] for c in live["champion"]] == ["A-001"]


def test_the_year_board_honours_the_best_families_with_ties_at_the_cut_off(app, world, db):
    community = db_community(world)
    community.best_families_count = 2
    db.session.commit()
    record(world, "a1", 30, occurred_on=date(2026, 2, 1))
    record(world, "a1", 20, occurred_on=date(2026, 11, 1))
    record(world, "a2", 40, occurred_on=date(2026, 8, 1))
    record(world, "a3", 40, occurred_on=date(2026, 9, 1))

    at(app, "2027-01-01T00:00:00+00:00")
    result = execute("best_families", world["alpha"], periods.parse("2026"))
    board = notice.get_notice(user(world, "staff_a"), world["alpha"], "2026")

    assert result.summary == {"households": 3, "champions": 1, "best_families": 3}
    assert [(e["rank"], e["number"], e["points"]) for e in board["best_families"]] == [
        (1, "A-001", 50), (2, "A-002", 40), (2, "A-003", 40)]
    assert board["kind"] == "year" and "open_records" not in board


def test_the_running_quarter_is_computed_live_and_marked_unpublished(app, world, db):
    record(world, "a2", 7)
    board = notice.get_notice(user(world, "resident_a1"), world["alpha"])
    assert (board["period"], board["is_published"], board["published_at"]) == ("2026Q2", False, None)
    assert [c["number"] for c in board["champion"]] == ["A-002"]


def test_the_public_notice_is_shown_only_when_the_community_publishes_it(app, world, db):
    record(world, "a1", 3)
    assert notice.public_notice("alpha", "2026Q2")["champion"][0]["number"] == "A-001"
    db_community(world).is_notice_public = False
    db.session.commit()
    with pytest.raises(NotFound):
        notice.public_notice("alpha", "2026Q2")
    with pytest.raises(NotFound):
        notice.public_notice("nowhere", "2026Q2")


def test_villages_are_ranked_within_their_county_by_average_points_per_household(app, world, db):
    gamma = community_services.create_community(None, code="gamma", name="星河村", parent_region_id=world["t1"])
    community_services.create_household(None, gamma.id, number="G-1", head_name="户主g")
    db.session.commit()
    record(world, "a1", 10)
    record(world, "a2", 10)
    record(world, "a3", 1)   # alpha: 21 points / 3 households = 7.00
    record(world, "b1", 7)   # beta: 7 / 1 = 7.00, tied with alpha

    county = rankings.region_ranking(user(world, "admin"), world["county"], "2026Q2")
    town = rankings.region_ranking(user(world, "admin"), world["t1"], "2026Q2")

    assert [(e["rank"], e["code"], e["average_points"], e["households"]) for e in county["ranking"]] == [
        (1, "alpha", "7.00", 3), (1, "beta", "7.00", 1), (3, "gamma", "0.00", 1)]
    assert [e["code"] for e in town["ranking"]] == ["alpha", "gamma"]
    with pytest.raises(NotFound):
        rankings.region_ranking(user(world, "admin_t2"), world["t1"], "2026Q2")
