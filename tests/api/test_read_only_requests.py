"""Read-only views (``database.read_only``: the balance read, the health check) run without a
transaction on PostgreSQL, and the pooled connection they used is transactional again for the
next request."""

import pytest

from tests.factories import PASSWORD


def _commands(app, client, method, path, **kwargs):
    """The transaction-control commands (BEGIN, COMMIT, ROLLBACK) psycopg sends for one request,
    and the response."""
    import psycopg._connection_base as base

    sent: list[bytes] = []
    original = base.BaseConnection._exec_command

    def counting(self, command, *args, **kw):
        sent.append(bytes(command) if isinstance(command, (bytes, bytearray)) else str(command).encode())
        return original(self, command, *args, **kw)

    base.BaseConnection._exec_command = counting
    try:
        response = client.open(path, method=method, **kwargs)
    finally:
        base.BaseConnection._exec_command = original
    return sent, response


@pytest.mark.postgres_only
def test_a_balance_read_sends_no_begin_and_the_next_write_is_one_transaction(app, client, world):
    resident = world.headers("resident_a1")
    sent, response = _commands(app, client, "GET", f"/api/v1/households/{world['a1']}", headers=resident)
    assert response.status_code == 200 and response.get_json()["balance"] == 100
    assert not [c for c in sent if c.upper().startswith((b"BEGIN", b"ROLLBACK", b"COMMIT"))], sent

    sent, response = _commands(app, client, "GET", "/healthz")
    assert response.status_code == 200
    assert not [c for c in sent if c.upper().startswith((b"BEGIN", b"ROLLBACK", b"COMMIT"))], sent

    # a write on the same pooled connection: one transaction, committed once
    sent, response = _commands(app, client, "POST", f"/api/v1/households/{world['a1']}/adjustments",
                               headers=world.headers("staff_a"), json={"points": 5, "reason": "read-only test"})
    assert response.status_code == 201, response.get_json()
    controls = [c.upper().split()[0] for c in sent if c.upper().startswith((b"BEGIN", b"ROLLBACK", b"COMMIT"))]
    assert controls == [b"BEGIN", b"COMMIT"], sent
    again = client.get(f"/api/v1/households/{world['a1']}", headers=resident)
    assert again.get_json()["balance"] == 105


def test_a_balance_read_answers_the_same_on_every_database(client, world):
    token = client.post("/api/v1/auth/tokens", json={"username": "resident_a1", "password": PASSWORD}).get_json()
    body = client.get(f"/api/v1/households/{world['a1']}", headers={"Authorization": f"Bearer {token['token']}"})
    assert body.status_code == 200
    assert body.get_json()["balance"] == 100 and body.get_json()["redeemable"] == 0
    other = client.get(f"/api/v1/households/{world['b1']}", headers={"Authorization": f"Bearer {token['token']}"})
    assert other.status_code == 404


def test_a_balance_read_is_two_statements_the_token_and_the_household_with_its_residents(app, client, world):
    """The residents come in the household's statement (a JSON array), in the order they were
    registered, not in a statement of their own."""
    import sqlalchemy as sa

    from pointsbank.extensions import db

    staff = world.headers("staff_a")
    created = client.post(f"/api/v1/communities/{world['alpha']}/households", headers=staff,
                          json={"number": "A-200", "head_name": "王大妈", "members": ["王大妈", "李大爷", "张小明"]})
    assert created.status_code == 201, created.get_json()
    household = created.get_json()["id"]
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        response = client.get(f"/api/v1/households/{household}", headers=staff)
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert response.status_code == 200
    residents = response.get_json()["residents"]
    assert [r["name"] for r in residents] == ["王大妈", "李大爷", "张小明"]
    assert [r["id"] for r in residents] == sorted(r["id"] for r in residents)
    body = [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))]
    assert len(body) == 2, body
    assert "api_tokens" in body[0] and "residents" in body[1]
