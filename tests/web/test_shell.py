"""The shell of every page: security headers, CSRF, languages, error pages, no external hosts."""

from __future__ import annotations

import re

import pytest

from tests.web.helpers import csrf_token, login, text

PAGES = ["/login", "/staff", "/staff/households", "/staff/records/new", "/staff/approvals", "/staff/objections",
         "/staff/import", "/staff/shops"]


def test_every_response_carries_the_security_headers(client, world):
    for url in ("/login", "/assets/css/app.css", "/api/v1/me", "/no-such-page"):
        with client.get(url) as response:
            headers = response.headers
        assert headers["Content-Security-Policy"].startswith("default-src 'self'"), url
        assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "camera=(self)" in headers["Permissions-Policy"]


def test_pages_have_no_inline_scripts_or_styles(client, world):
    login(client, "staff_a")
    for url in PAGES[1:]:
        html = text(client.get(url))
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert " style=" not in html and "<style" not in html, url


def test_a_form_posted_without_its_csrf_token_is_refused(client, world):
    response = client.post("/login", data={"username": "staff_a", "password": "correct-horse-1"})
    assert response.status_code == 400
    assert "csrf_failed" in text(response)
    assert "user_id" not in (client.get_cookie("session").value if client.get_cookie("session") else "")
    assert client.get("/staff").status_code == 302  # still not logged in


def test_a_logged_in_form_without_its_token_changes_nothing(client, world):
    login(client, "staff_a")
    response = client.post("/staff/shops", data={"name": "假冒商店"})
    assert response.status_code == 400
    assert "假冒商店" not in text(client.get("/staff/shops"))


def test_the_json_api_is_exempt_from_csrf(client, world):
    response = client.post("/api/v1/auth/tokens", json={"username": "staff_a", "password": "correct-horse-1"})
    assert response.status_code == 201


def test_pages_are_chinese_by_default_and_english_on_request(client, world):
    assert "登录" in text(client.get("/login"))
    english = text(client.get("/login?lang=en"))
    assert "Log in" in english and "登录</h1>" not in english
    assert "Log in" in text(client.get("/login")), "the choice is remembered in the session"
    assert "登录" in text(client.get("/login?lang=zh_CN"))


def test_the_language_switch_links_to_the_same_page_in_the_other_language(client, world):
    login(client, "staff_a")
    html = text(client.get("/staff/households?q=A-001"))
    assert 'href="/staff/households?q=A-001&amp;lang=en"' in html
    assert "户主a1" in text(client.get("/staff/households?q=A-001&lang=en"))


def test_the_api_speaks_chinese_by_default(client, world):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.get_json()["error"]["message"] == "请登录：令牌缺失、已过期或已被撤销。"


def test_a_page_without_a_session_goes_to_the_login_form_and_comes_back(client, world):
    response = client.get("/staff/households?q=A-001")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/staff/households?q%3DA-001"
    page = text(client.get(response.headers["Location"]))
    back = client.post("/login", data={"username": "staff_a", "password": "correct-horse-1",
                                       "csrf_token": csrf_token(page), "next": "/staff/households?q=A-001"})
    assert back.headers["Location"] == "/staff/households?q=A-001"


def test_an_unknown_page_is_a_friendly_html_page_and_the_api_stays_json(client, world):
    page = client.get("/staff/households/999999?lang=en")
    assert page.status_code == 302  # not logged in yet
    login(client, "staff_a")
    page = client.get("/staff/households/999999?lang=en")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "Not found" in text(page) and "Back to my start page" in text(page)
    assert client.get("/api/v1/households/999999").get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("username", ["staff_a", "admin", "grid_a"])
def test_no_page_refers_to_another_host(client, world, username):
    login(client, username)
    for url in PAGES + ["/staff/settlements", f"/staff/households/{world['a1']}"]:
        response = client.get(url)
        if response.status_code != 200:
            continue
        for link in re.findall(r"""(?:href|src|action)=["']([^"']+)""", text(response)):
            assert not re.match(r"^(https?:)?//", link), f"{url} links to {link}"
        assert not re.search(r"https?://(?!localhost)", text(response)), url


def test_static_css_and_scripts_are_served_by_the_app(client, world):
    for path in ("css/app.css", "js/record.js", "js/upload.js", "vendor/jsQR.js", "vendor/axe.min.js"):
        with client.get(f"/assets/{path}") as response:
            assert response.status_code == 200, path
            assert response.content_length > 100
