import pytest

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


@pytest.mark.parametrize("proxies, counted", [(0, "127.0.0.1"), (1, "203.0.113.7")])
def test_failed_logins_count_the_client_address_the_trusted_proxy_forwards(app_config, proxies, counted):
    """Behind nginx (``POINTSBANK_TRUSTED_PROXIES=1``) every client would otherwise share the
    proxy's address and one attacker would lock out the whole village; with no trusted proxy a
    forged X-Forwarded-For is ignored."""
    import sqlalchemy as sa

    from pointsbank import create_app
    from pointsbank.auth.models import ThrottleEvent
    from pointsbank.extensions import db

    app = create_app({**app_config, "TRUSTED_PROXIES": proxies})
    with app.app_context():
        response = app.test_client().post("/api/v1/auth/tokens", json={"username": "nobody", "password": "wrong-pw"},
                                          headers={"X-Forwarded-For": "203.0.113.7"})
        assert response.status_code == 401
        keys = db.session.scalars(sa.select(ThrottleEvent.key).where(ThrottleEvent.scope == "login:addr")).all()
        db.session.remove()
        db.engine.dispose()  # this second app's own pool: leave no connection open behind the test
    assert keys == [counted]
