"""The resident's inbox and SMS choice on /home, the staff's contact form; the phone masked on
every page."""

from __future__ import annotations

import re

import sqlalchemy as sa

from pointsbank.community.models import Household
from pointsbank.notify import services as notify
from pointsbank.notify.models import Notification
from pointsbank.database import unit_of_work
from tests.api.test_notifications import MASKED, PHONE, assert_masked
from tests.web.helpers import login, post_form, record, text
from pointsbank.database import row_by_id


def _phone_on_file(db, world, phone=PHONE):
    row_by_id(Household, world["a1"]).phone = phone
    db.session.commit()


def _publish(client, world):
    from tests.fixtures.rules import RULEBOOK
    from pointsbank.rules import services as books
    from tests.web.helpers import actor
    from pointsbank.extensions import db

    books.publish(actor(world, "staff_a2"), world["alpha"], RULEBOOK.encode(), "application/yaml")
    db.session.commit()


def test_the_resident_sees_unread_messages_on_home_and_marks_one_read(client, world, db):
    _publish(client, world)
    record(world, "staff_a2", "a1", "good_deed")
    record(world, "staff_a2", "a1", "litter")
    login(client, "resident_a1")

    home = text(client.get("/home"))

    assert "2 条未读" in home and "因“好人好事”加 35 分" in home and "因“乱扔垃圾”扣 20 分" in home
    first = db.session.scalar(sa.select(Notification.id).where(Notification.template == "points_awarded"))
    marked = post_form(client, "/home", f"/home/notifications/{first}/read", {"next": "/home"})
    assert marked.status_code == 302 and marked.headers["Location"].endswith("/home")
    assert "1 条未读" in text(client.get("/home"))
    english = text(client.get("/home/notifications?lang=en"))
    assert "1 unread" in english and "20 points deducted for “乱扔垃圾”" in english


def test_the_resident_turns_sms_off_and_on_again_and_sees_the_phone_masked(client, world, db):
    _phone_on_file(db, world)
    login(client, "resident_a1")
    home = text(client.get("/home"))
    assert f"消息也会以短信发送到 {MASKED}" in home
    assert_masked(home, "/home")

    post_form(client, "/home", "/home/sms", {"sms_opt_out": "1"})
    db.session.expire_all()
    assert row_by_id(Household, world["a1"]).sms_opt_out is True
    assert "已关闭发往" in text(client.get("/home"))
    unit_of_work(notify.card_blocked)(world["alpha"], world["a1"], 3)
    assert [r.channel for r in db.session.scalars(sa.select(Notification))] == ["inbox"]

    post_form(client, "/home", "/home/sms", {"sms_opt_out": "0"})
    db.session.expire_all()
    assert row_by_id(Household, world["a1"]).sms_opt_out is False


def test_staff_set_the_phone_on_the_household_page_and_it_is_shown_masked_on_every_page(app, client, world, db):
    _publish(client, world)
    login(client, "staff_a2")
    page = f"/staff/households/{world['a1']}"

    saved = post_form(client, page, f"/staff/households/{world['a1']}/contact", {"phone": "138 1234 5678"})

    assert saved.status_code == 302
    db.session.expire_all()
    assert row_by_id(Household, world["a1"]).phone == PHONE
    record(world, "staff_a2", "a1", "good_deed")
    shown = text(client.get(page))
    assert re.search(rf'id="phone">{re.escape(MASKED)}', shown)
    for url in (page, "/staff/households", f"/staff/households/{world['a1']}/passbook", "/staff", "/staff/approvals",
                f"/staff/records/new?household_id={world['a1']}", "/staff/objections"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_masked(text(response), url)
    client = app.test_client()
    login(client, "resident_a1")
    for url in ("/home", "/home/notifications", "/home/passbook", "/home/history"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_masked(text(response), url)


def test_staff_refused_a_bad_phone_keep_the_old_one(client, world, db):
    _phone_on_file(db, world)
    login(client, "staff_a2")
    page = f"/staff/households/{world['a1']}"

    post_form(client, page, f"/staff/households/{world['a1']}/contact", {"phone": "12ab"})

    assert "电话号码须为 5 到 15 位数字" in text(client.get(page))
    db.session.expire_all()
    assert row_by_id(Household, world["a1"]).phone == PHONE
