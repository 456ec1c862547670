"""Logging in and out with the session cookie."""

from __future__ import annotations

import pytest

from tests.web.helpers import csrf_token, login, text


@pytest.mark.parametrize("username, home", [("staff_a", "/staff"), ("grid_a", "/staff"), ("admin", "/staff"),
                                            ("resident_a1", "/home"), ("cashier_a", "/shop")])
def test_logging_in_leads_each_role_to_its_home_page(client, world, username, home):
    response = login(client, username)
    assert response.status_code == 302
    assert response.headers["Location"] == home
    assert client.get("/").headers["Location"] == home


def test_a_wrong_password_is_a_form_error_and_no_session(client, world):
    response = login(client, "staff_a", "wrong-password", lang="en")
    assert response.status_code == 401
    assert "用户名或密码错误。" in text(response)
    assert client.get("/staff").status_code == 302


def test_repeated_failures_are_throttled_with_a_clear_message(app, client, world):
    app.config["LOGIN_MAX_FAILURES"] = 2
    for _ in range(2):
        assert login(client, "staff_a", "wrong-password").status_code == 401
    response = login(client, "staff_a")  # even the right password, while throttled
    assert response.status_code == 429
    assert "尝试次数过多" in text(response)


def test_logging_out_ends_the_session_and_keeps_the_language(client, world):
    login(client, "staff_a")
    page = text(client.get("/staff?lang=en"))
    response = client.post("/logout", data={"csrf_token": csrf_token(page)})
    assert response.headers["Location"] == "/login"
    assert "You have logged out." in text(client.get("/login"))
    assert client.get("/staff").status_code == 302


def test_logout_needs_its_csrf_token(client, world):
    login(client, "staff_a")
    assert client.post("/logout").status_code == 400
    assert client.get("/staff").status_code == 200


def test_the_next_page_after_login_is_never_another_site(app, world):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "/staff/shops"):
        response = login(app.test_client(), "staff_a", next=target)
        assert response.headers["Location"] == ("/staff/shops" if target == "/staff/shops" else "/staff"), target


def test_the_header_shows_the_user_and_role(client, world):
    login(client, "staff_a")
    html = text(client.get("/staff"))
    assert "staff_a" in html and "工作人员" in html and "清风村" in html
    assert "Staff" in text(client.get("/staff?lang=en"))


def test_a_deactivated_login_loses_its_session(app, client, world, db):
    from pointsbank.auth.models import User

    login(client, "staff_a")
    db.session.get(User, world.users["staff_a"]).is_active = False
    db.session.commit()
    assert client.get("/staff").status_code == 302
