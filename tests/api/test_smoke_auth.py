from tests.factories import PASSWORD


def test_healthz_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_login_returns_a_token_that_identifies_the_user(client, world):
    response = client.post("/api/v1/auth/tokens", json={"username": "resident_a1", "password": PASSWORD})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["user"]["role"] == "resident"
    assert body["user"]["household_id"] == world["a1"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.get_json()["household"]["balance"] == 100
    assert me.get_json()["household"]["redeemable"] == 0
