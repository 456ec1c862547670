"""Notifications: written in the event's transaction, one per event, read in the reader's language;
the inbox API; households' phone masked everywhere and their SMS opt-out."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from pointsbank import clock
from pointsbank.auth.models import User
from pointsbank.database import unit_of_work
from pointsbank.ledger.models import Posting
from pointsbank.notify import services as notify
from pointsbank.notify.models import Notification
from tests.fixtures.rules import error_code, publish, record
from pointsbank.database import row_by_id

PHONE = "13812345678"
MASKED = "138****5678"


def _messages(db, household_id=None, channel=None):
    db.session.expire_all()
    stmt = sa.select(Notification).order_by(Notification.id)
    if household_id is not None:
        stmt = stmt.where(Notification.household_id == household_id)
    if channel is not None:
        stmt = stmt.where(Notification.channel == channel)
    rows = list(db.session.scalars(stmt))
    db.session.rollback()
    return rows


def _set_phone(client, world, household="a1", phone=PHONE, **extra):
    response = client.patch(f"/api/v1/households/{world[household]}", json={"phone": phone, **extra},
                            headers=world.headers("staff_a2"))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_posted_award_leaves_one_inbox_message_and_one_sms_with_the_objection_deadline(client, world, db):
    publish(client, world)
    _set_phone(client, world)

    response = record(client, world, "staff_a2", "a1", "good_deed")

    assert response.status_code == 201, response.get_json()
    record_id = response.get_json()["id"]
    rows = _messages(db, world["a1"])
    assert [(r.channel, r.template, r.status, r.idempotency_key) for r in rows] == [
        ("inbox", "points_awarded", "sent", f"record:{record_id}:inbox"),
        ("sms", "points_awarded", "pending", f"record:{record_id}:sms")]
    # posted at 10:00 Shanghai on 15 May; the community's notice period is 7 days
    assert rows[0].params == {"number": "A-001", "points": 35, "rule": "好人好事", "deadline": "2026-05-22 10:00"}
    assert rows[1].recipient_phone == PHONE and rows[1].attempts == 0
    assert _messages(db, world["a2"]) == []


def test_a_deduction_is_told_as_a_deduction_with_its_deadline(client, world, db):
    publish(client, world)

    response = record(client, world, "staff_a2", "a1", "litter")

    assert response.status_code == 201, response.get_json()
    (row,) = _messages(db, world["a1"])  # no phone: the inbox only
    assert (row.channel, row.template, row.params["points"], row.params["deadline"]) == (
        "inbox", "points_deducted", -20, "2026-05-22 10:00")


def test_an_award_that_fails_after_posting_is_rolled_back_with_its_notification(app, client, world, db, monkeypatch):
    publish(client, world)
    _set_phone(client, world)
    postings_before = db.session.scalar(sa.select(sa.func.count()).select_from(Posting))
    from pointsbank.rules import records

    def broken_audit(*args, **kwargs):  # the award's last step, after its points and message were written
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(records.audit, "record", broken_audit)
    actor = db.session.get(User, world.users["staff_a2"])
    with pytest.raises(RuntimeError):
        unit_of_work(records.create_record)(actor, household_id=world["a1"], rule_code="good_deed",
                                            occurred_on=date(2026, 5, 10))

    assert _messages(db) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Posting)) == postings_before


def test_a_refused_award_leaves_no_notification(client, world, db):
    publish(client, world)
    client.post(f"/api/v1/households/{world['a1']}/freeze", json={"reason": "moved_away"},
                headers=world.headers("staff_a2"))

    response = record(client, world, "staff_a2", "a1", "good_deed")

    assert error_code(response) == "household_frozen"
    assert _messages(db) == []


def test_a_record_approved_later_is_told_when_it_posts_not_before(client, world, db):
    publish(client, world)
    response = record(client, world, "staff_a2", "a1", "model_family")
    assert response.get_json()["status"] == "pending"
    assert _messages(db) == []

    approved = client.post(f"/api/v1/records/{response.get_json()['id']}/approve", headers=world.headers("staff_a3"))

    assert approved.status_code == 200, approved.get_json()
    (row,) = _messages(db, world["a1"])
    assert (row.template, row.params["points"]) == ("points_awarded", 50)


def test_an_adjustment_and_an_upheld_objection_reversal_are_told(client, world, db):
    publish(client, world)
    posted = record(client, world, "staff_a2", "a1", "good_deed").get_json()
    adjusted = client.post(f"/api/v1/households/{world['a1']}/adjustments", json={"points": -5, "reason": "重复登记"},
                           headers=world.headers("staff_a2"))
    assert adjusted.status_code == 201, adjusted.get_json()
    objection = client.post(f"/api/v1/records/{posted['id']}/objections", json={"reason": "不属实"},
                            headers=world.headers("resident_a2"))
    assert objection.status_code == 201, objection.get_json()
    resolved = client.post(f"/api/v1/objections/{objection.get_json()['id']}/resolve", json={"outcome": "reversed"},
                           headers=world.headers("staff_a3"))
    assert resolved.status_code == 200, resolved.get_json()

    rows = _messages(db, world["a1"])
    assert [(r.template, r.params["points"], r.idempotency_key) for r in rows] == [
        ("points_awarded", 35, f"record:{posted['id']}:inbox"),
        ("points_adjusted", -5, f"adjustment:{adjusted.get_json()['id']}:inbox"),
        ("points_reversed", 35, f"reversal:{posted['id']}:inbox")]


def test_imported_records_are_told_one_message_each_and_a_pending_row_none(client, world, db):
    import io

    publish(client, world)
    _set_phone(client, world, household="a2")
    csv = (b"household_number,rule_code,occurred_on\nA-001,good_deed,2026-05-01\nA-002,litter,2026-05-02\n"
           b"A-001,model_family,2026-05-03\n")
    response = client.post(f"/api/v1/communities/{world['alpha']}/records/import",
                           data={"file": (io.BytesIO(csv), "records.csv"), "post": "true"},
                           headers=world.headers("staff_a2"), content_type="multipart/form-data")

    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["posted"], response.get_json()["pending"]) == (2, 1)
    rows = _messages(db)
    assert sorted((r.household_id, r.channel, r.template, r.params["points"]) for r in rows) == sorted([
        (world["a1"], "inbox", "points_awarded", 35), (world["a2"], "inbox", "points_deducted", -20),
        (world["a2"], "sms", "points_deducted", -20)])
    assert {r.params["deadline"] for r in rows} == {"2026-05-22 10:00"}


def test_card_blocked_enqueues_in_the_callers_transaction(app, world, db):
    _phone_on_file(db, world["a1"])

    unit_of_work(notify.card_blocked)(world["alpha"], world["a1"], 7)
    with pytest.raises(RuntimeError):
        def blocked_then_failed():
            notify.card_blocked(world["alpha"], world["a1"], 8)
            raise RuntimeError("the block itself failed")
        unit_of_work(blocked_then_failed)()

    rows = _messages(db, world["a1"])
    assert [(r.channel, r.template, r.params["card_id"]) for r in rows] == [
        ("inbox", "card_blocked", 7), ("sms", "card_blocked", 7)]


def _phone_on_file(db, household_id, phone=PHONE, opt_out=False):
    from pointsbank.community.models import Household

    household = row_by_id(Household, household_id)
    household.phone, household.sms_opt_out = phone, opt_out
    db.session.commit()


def test_a_household_that_opted_out_gets_its_inbox_but_no_sms(client, world, db):
    publish(client, world)
    body = _set_phone(client, world, sms_opt_out=True)
    assert (body["phone"], body["sms_opt_out"]) == (MASKED, True)

    record(client, world, "staff_a2", "a1", "good_deed")

    assert [r.channel for r in _messages(db, world["a1"])] == ["inbox"]


# --- the inbox API --------------------------------------------------------------------------------


def test_the_resident_reads_the_inbox_in_either_language_and_marks_a_message_read(client, world, db):
    publish(client, world)
    record(client, world, "staff_a2", "a1", "good_deed")
    record(client, world, "staff_a2", "a1", "litter")
    record(client, world, "staff_a2", "a2", "good_deed")

    zh = client.get("/api/v1/me/notifications", headers=world.headers("resident_a1")).get_json()
    en = client.get("/api/v1/me/notifications?lang=en", headers=world.headers("resident_a1")).get_json()

    assert zh["unread"] == 2 and [n["template"] for n in zh["items"]] == ["points_deducted", "points_awarded"]
    assert "扣" in zh["items"][0]["text"] and "2026-05-22 10:00" in zh["items"][0]["text"]
    assert en["items"][0]["text"] == ("Household A-001: 20 points deducted for “乱扔垃圾”. "
                                      "Objections can be raised until 2026-05-22 10:00.")
    first = client.get("/api/v1/me/notifications?limit=1", headers=world.headers("resident_a1")).get_json()
    rest = client.get(f"/api/v1/me/notifications?limit=1&cursor={first['next_cursor']}",
                      headers=world.headers("resident_a1")).get_json()
    assert [n["id"] for n in first["items"] + rest["items"]] == [n["id"] for n in zh["items"]]
    assert rest["next_cursor"] is None

    read = client.post(f"/api/v1/me/notifications/{zh['items'][1]['id']}/read", headers=world.headers("resident_a1"))
    again = client.post(f"/api/v1/me/notifications/{zh['items'][1]['id']}/read", headers=world.headers("resident_a1"))

    assert read.status_code == 200 and read.get_json()["is_read"] is True
    assert again.get_json()["read_at"] == read.get_json()["read_at"]
    assert client.get("/api/v1/me/notifications", headers=world.headers("resident_a1")).get_json()["unread"] == 1


def test_a_resident_cannot_read_or_mark_another_households_messages(client, world, db):
    publish(client, world)
    record(client, world, "staff_a2", "a2", "good_deed")
    (theirs,) = _messages(db, world["a2"])

    mine = client.get("/api/v1/me/notifications", headers=world.headers("resident_a1")).get_json()
    marked = client.post(f"/api/v1/me/notifications/{theirs.id}/read", headers=world.headers("resident_a1"))

    assert mine == {"items": [], "next_cursor": None, "unread": 0}
    assert marked.status_code == 404 and error_code(marked) == "not_found"
    assert _messages(db, world["a2"])[0].status == "sent"


# --- expiring vouchers and reservations -------------------------------------------------------------


def test_a_voucher_about_to_expire_is_told_once_however_often_the_scan_runs(app, client, world, db):
    from tests.integration.helpers_redeem import give, issued
    from pointsbank.notify.jobs import enqueue_expiring

    give(world, "a1", 40)
    voucher = issued(client, world, "resident_a1", 10)  # valid 24 hours
    app.config["NOTIFY_EXPIRY_WINDOW_HOURS"] = 6
    now = clock.now()

    early = unit_of_work(enqueue_expiring)(now)
    late = unit_of_work(enqueue_expiring)(now + timedelta(hours=19))
    again = unit_of_work(enqueue_expiring)(now + timedelta(hours=20))

    assert (early["vouchers"], late["vouchers"], again["vouchers"]) == (0, 1, 0)
    (row,) = _messages(db, world["a1"])
    assert (row.template, row.params["points"], row.idempotency_key) == (
        "voucher_expiring", 10, f"voucher_expiring:{voucher['id']}:inbox")
    assert row.params["expires_at"] == "2026-05-16 10:00"


def test_a_reservation_about_to_expire_is_told_once_with_its_pickup_code(app, client, world, db):
    from tests.integration.helpers_redeem import give
    from tests.integration.helpers_shelf import new_item, reserve
    from pointsbank.notify.jobs import enqueue_expiring

    give(world, "a1", 100)
    soap = new_item(client, world, name="肥皂", points=10, stock=5)
    reservation = reserve(client, world, "resident_a1", "shop_a", [(soap["id"], 2)]).get_json()  # held 168 hours
    now = clock.now()

    found = [unit_of_work(enqueue_expiring)(now + timedelta(hours=h))["reservations"] for h in (100, 163, 164, 169)]

    assert found == [0, 1, 0, 0]  # told once; not after it expired
    (row,) = _messages(db, world["a1"])
    assert (row.template, row.params["points"], row.params["code"], row.idempotency_key) == (
        "reservation_expiring", 20, reservation["pickup_code"], f"reservation_expiring:{reservation['id']}:inbox")


# --- phones: checked, masked everywhere ---------------------------------------------------------------


def test_a_phone_given_at_creation_is_stored_as_digits_and_shown_masked(client, world, db):
    from pointsbank.community.models import Household

    response = client.post(f"/api/v1/communities/{world['alpha']}/households",
                           json={"number": "A-200", "head_name": "孙七", "phone": "138-1234 5678"},
                           headers=world.headers("staff_a2"))

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["phone"] == MASKED and PHONE not in response.get_data(as_text=True)
    assert row_by_id(Household, response.get_json()["id"]).phone == PHONE


@pytest.mark.parametrize("phone", ["1381234567a", "1234", "1" * 16])
def test_a_phone_that_is_not_5_to_15_digits_is_refused(client, world, phone):
    response = client.patch(f"/api/v1/households/{world['a1']}", json={"phone": phone},
                            headers=world.headers("staff_a2"))

    assert response.status_code == 400 and error_code(response) == "validation_error"
    assert "phone" in response.get_json()["error"]["details"]["fields"]


def test_the_phone_never_appears_unmasked_in_the_api_exports_or_audit(client, world, db):
    publish(client, world)
    _set_phone(client, world)
    record(client, world, "staff_a2", "a1", "good_deed")
    staff, resident = world.headers("staff_a2"), world.headers("resident_a1")
    responses = [
        client.get(f"/api/v1/households/{world['a1']}", headers=staff),
        client.get(f"/api/v1/households/{world['a1']}", headers=resident),
        client.get(f"/api/v1/communities/{world['alpha']}/households", headers=staff),
        client.get("/api/v1/me", headers=resident),
        client.get("/api/v1/me/notifications", headers=resident),
        client.get(f"/api/v1/households/{world['a1']}/passbook?period=2026", headers=staff),
        client.get(f"/api/v1/communities/{world['alpha']}/rankings/export?period=2026Q2&format=csv", headers=staff),
        client.get(f"/api/v1/communities/{world['alpha']}/notice/export?period=2026Q2&format=csv", headers=staff),
        client.get(f"/api/v1/audit?community_id={world['alpha']}", headers=world.headers("admin")),
    ]

    assert [r.status_code for r in responses] == [200] * len(responses), [r.request.path for r in responses]
    for response in responses:
        assert_masked(response.get_data(as_text=True), response.request.path)
    for response in responses[:4]:
        assert MASKED in response.get_data(as_text=True), response.request.path
    assert MASKED in responses[-1].get_data(as_text=True)  # the audit row of the change, masked


def assert_masked(body: str, where: str) -> None:
    """Neither the number nor its hidden middle appears (only the masked form may)."""
    assert PHONE not in body and "12345678" not in body.replace(MASKED, ""), where


def test_a_register_import_takes_the_phone_column_and_reports_a_bad_one_on_its_line(client, world, db):
    import io

    from pointsbank.community.models import Household

    register = "户号,户主,电话\nA-301,周一,13912345678\nA-302,吴二,12ab\n"
    response = client.post(f"/api/v1/communities/{world['alpha']}/households/import",
                           headers=world.headers("staff_a2"),
                           data={"file": (io.BytesIO(register.encode()), "register.csv")},
                           content_type="multipart/form-data")

    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert (report["created"], [(e["line"], e["code"]) for e in report["errors"]]) == (1, [(3, "bad_phone")])
    assert "12ab" not in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(Household.phone).where(Household.number == "A-301")) == "13912345678"


@pytest.mark.postgres_only
def test_an_inbox_id_beyond_the_column_range_is_not_found_and_a_nul_in_the_phone_is_bad_input(client, world):
    huge = client.post("/api/v1/me/notifications/99999999999999999999/read", headers=world.headers("resident_a1"))
    nul = client.patch(f"/api/v1/households/{world['a1']}", json={"phone": "138\u00001234"},
                       headers=world.headers("staff_a2"))

    assert huge.status_code == 404 and error_code(huge) == "not_found"
    assert nul.status_code == 400
