"""Creating logins: who may create whom."""


def _create(client, world, who, **body):
    return client.post("/api/v1/users", headers=world.headers(who),
                       json={"password": "long-enough-1", **body})


def test_staff_create_a_grid_worker_of_their_community_and_it_can_log_in(client, world):
    response = _create(client, world, "staff_a", username="gw2", role="grid_worker",
                       community_id=world["alpha"], grids=["二组"])
    assert response.status_code == 201
    login = client.post("/api/v1/auth/tokens", json={"username": "gw2", "password": "long-enough-1"})
    assert login.status_code == 201 and login.get_json()["user"]["role"] == "grid_worker"


def test_staff_cannot_create_logins_for_another_community_or_administrators(client, world):
    assert _create(client, world, "staff_a", username="x1", role="staff", community_id=world["beta"]).status_code == 404
    response = _create(client, world, "staff_a", username="x2", role="admin")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_scope"
    assert _create(client, world, "staff_a", username="x3", role="cashier", shop_id=world["shop_b"]).status_code == 404


def test_a_resident_login_needs_a_household_and_a_duplicate_username_is_a_conflict(client, world):
    assert _create(client, world, "staff_a", username="r1", role="resident",
                   community_id=world["alpha"]).get_json()["error"]["code"] == "invalid_scope"
    assert _create(client, world, "staff_a", username="r2", role="resident", household_id=world["a2"]).status_code == 201
    assert _create(client, world, "staff_a", username="r2", role="resident", household_id=world["a2"]).status_code == 409


def test_the_command_line_creates_a_login_and_refuses_bad_scopes_with_exit_1(runner, world):
    result = runner.invoke(args=["user", "create", "--role", "staff", "--username", "cli1", "--password",
                                 "long-enough-1", "--community", "alpha"])
    assert result.exit_code == 0, result.output
    assert "created staff cli1" in result.output
    result = runner.invoke(args=["user", "create", "--role", "cashier", "--username", "cli2", "--password",
                                 "long-enough-1"])
    assert result.exit_code == 1
    assert "invalid_scope" in result.output
