"""Logins, tokens and the edges of each caller's scope."""

from datetime import timedelta

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.auth.models import ApiToken
from tests.factories import PASSWORD


def _error(response):
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_a_wrong_password_answers_401_with_the_invalid_credentials_code(client, world):
    response = client.post("/api/v1/auth/tokens", json={"username": "staff_a", "password": "wrong-password"})
    assert response.status_code == 401
    assert _error(response)["code"] == "invalid_credentials"


def test_failed_logins_are_throttled_per_username_even_with_the_right_password_afterwards(client, world):
    for _ in range(5):
        assert client.post("/api/v1/auth/tokens", json={"username": "staff_a", "password": "nope-nope"}).status_code == 401
    response = client.post("/api/v1/auth/tokens", json={"username": "staff_a", "password": PASSWORD})
    assert response.status_code == 429
    assert _error(response)["code"] == "too_many_attempts"
    assert int(response.headers["Retry-After"]) > 0
    # another user from the same address is not locked out by this username's failures
    assert client.post("/api/v1/auth/tokens", json={"username": "staff_a2", "password": PASSWORD}).status_code == 201


def test_failed_logins_are_throttled_per_address_across_usernames(app, client, world):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    for name in ("x1", "x2", "x3"):
        client.post("/api/v1/auth/tokens", json={"username": name, "password": "nope-nope"})
    response = client.post("/api/v1/auth/tokens", json={"username": "staff_a2", "password": PASSWORD})
    assert response.status_code == 429


def test_a_revoked_token_no_longer_works(client, world):
    headers = world.headers("staff_a")
    assert client.delete("/api/v1/auth/tokens/current", headers=headers).status_code == 204
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert _error(response)["code"] == "unauthorized"


def test_an_expired_token_answers_401(app, client, world, db):
    db.session.execute(sa.update(ApiToken).values(expires_at=clock.now() - timedelta(seconds=1)))
    db.session.commit()
    assert client.get("/api/v1/me", headers=world.headers("staff_a")).status_code == 401


def test_a_garbage_or_missing_token_answers_401(client, world):
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_tokens_are_stored_only_as_hashes(client, world, db):
    token = client.post("/api/v1/auth/tokens", json={"username": "staff_a", "password": PASSWORD}).get_json()["token"]
    stored = db.session.scalars(sa.select(ApiToken.token_hash)).all()
    assert token not in stored
    assert all(len(h) == 64 for h in stored)


def test_a_resident_asking_for_another_household_gets_404_and_no_data(client, world):
    for path in (f"/api/v1/households/{world['a2']}", f"/api/v1/households/{world['a2']}/postings",
                 f"/api/v1/households/{world['b1']}"):
        response = client.get(path, headers=world.headers("resident_a1"))
        assert response.status_code == 404
        assert _error(response)["code"] == "not_found"
        assert "户主" not in response.get_data(as_text=True)


def test_staff_of_one_community_asking_for_another_gets_404(client, world):
    headers = world.headers("staff_b")
    assert client.get(f"/api/v1/communities/{world['alpha']}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/communities/{world['alpha']}/households", headers=headers).status_code == 404
    assert client.get(f"/api/v1/households/{world['a1']}", headers=headers).status_code == 404
    response = client.post(f"/api/v1/communities/{world['alpha']}/households", headers=headers,
                           json={"number": "X-1", "head_name": "某人"})
    assert response.status_code == 404


def test_a_grid_worker_sees_only_the_households_of_its_grids(client, world):
    headers = world.headers("grid_a")
    numbers = {h["number"] for h in client.get(f"/api/v1/communities/{world['alpha']}/households",
                                               headers=headers).get_json()["items"]}
    assert numbers == {"A-001", "A-002"}
    assert client.get(f"/api/v1/households/{world['a3']}", headers=headers).status_code == 404


def test_a_town_admin_sees_only_communities_under_its_town(client, world):
    codes = {c["code"] for c in client.get("/api/v1/communities", headers=world.headers("admin_t2")).get_json()}
    assert codes == {"beta"}
    codes = {c["code"] for c in client.get("/api/v1/communities", headers=world.headers("admin")).get_json()}
    assert codes == {"alpha", "beta"}


def test_a_cashier_never_sees_a_household(client, world):
    assert client.get(f"/api/v1/households/{world['a1']}", headers=world.headers("cashier_a")).status_code == 403
    me = client.get("/api/v1/me", headers=world.headers("cashier_a")).get_json()
    assert me["household"] is None and me["user"]["shop_id"] == world["shop_a"]


def test_creating_a_household_opens_its_account_with_the_base_points(client, world):
    response = client.post(f"/api/v1/communities/{world['alpha']}/households", headers=world.headers("staff_a"),
                           json={"number": "A-100", "head_name": "王大妈", "grid": "三组", "members": ["王大妈", "李大爷"]})
    assert response.status_code == 201
    body = response.get_json()
    assert (body["balance"], body["base_points"], body["redeemable"]) == (100, 100, 0)
    assert body["grid"] == "三组" and [r["name"] for r in body["residents"]] == ["王大妈", "李大爷"]
    again = client.post(f"/api/v1/communities/{world['alpha']}/households", headers=world.headers("staff_a"),
                        json={"number": "A-100", "head_name": "别人"})
    assert again.status_code == 409 and _error(again)["code"] == "household_number_taken"


def test_household_lists_page_with_a_stable_cursor(client, world):
    headers = world.headers("staff_a")
    first = client.get(f"/api/v1/communities/{world['alpha']}/households?limit=2", headers=headers).get_json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = client.get(f"/api/v1/communities/{world['alpha']}/households?limit=2&cursor={first['next_cursor']}",
                        headers=headers).get_json()
    assert [h["number"] for h in first["items"] + second["items"]] == ["A-003", "A-002", "A-001"]
    assert second["next_cursor"] is None


def test_changing_a_community_setting_is_audited(client, world):
    response = client.patch(f"/api/v1/communities/{world['alpha']}", headers=world.headers("admin"),
                            json={"point_value_fen": 150})
    assert response.status_code == 200 and response.get_json()["point_value_fen"] == 150
    events = client.get("/api/v1/audit?action=community.update", headers=world.headers("admin")).get_json()["items"]
    assert events[0]["data"]["before"] == {"point_value_fen": 100}
    assert events[0]["data"]["after"] == {"point_value_fen": 150}
    assert events[0]["actor_id"] == world.users["admin"]
