"""QR images decoded by an independent reader, altered tokens, and key rotation."""

import io
from datetime import timedelta

import PIL.Image
import zxingcpp

from pointsbank import clock
from pointsbank.ledger.verify import verify
from pointsbank.redeem import tokens
from pointsbank.redeem.vouchers import qr_cache
from tests.integration.helpers_redeem import (escrow_balance, give, household_balance, issued, redeem, shop_balance,
                                              voucher_ttl)


def _decode(png: bytes) -> str:
    results = zxingcpp.read_barcodes(PIL.Image.open(io.BytesIO(png)))
    assert len(results) == 1
    return results[0].text


def _qr(client, world, voucher, user="resident_a1", kind="png", **headers):
    return client.get(voucher[f"qr_{kind}_url"], headers=world.headers(user, **headers))


def test_the_qr_png_decoded_by_zxing_gives_the_token_and_it_redeems(client, world, db):
    give(world, "a1", 50)
    voucher = issued(client, world, "resident_a1", 40)
    response = _qr(client, world, voucher)
    assert response.status_code == 200 and response.mimetype == "image/png"
    text = _decode(response.data)
    assert text == voucher["token"]
    receipt = redeem(client, world.headers("cashier_a"), text, 40)
    assert receipt.status_code == 201 and receipt.get_json()["points"] == 40
    assert shop_balance(world["alpha"], world["shop_a"]) == 40 and household_balance(world, "a1") == 110


def test_one_altered_character_of_the_decoded_token_is_refused_and_moves_nothing(client, world, db):
    give(world, "a1", 50)
    voucher = issued(client, world, "resident_a1", 40)
    token = _decode(_qr(client, world, voucher).data)
    refused = 0
    for position in range(4, len(token), 7):  # kid, payload and signature characters
        if token[position] == ".":
            continue
        altered = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1:]
        response = redeem(client, world.headers("cashier_a"), altered, 10)
        assert response.status_code in (400, 422), (position, response.get_json())
        assert response.get_json()["error"]["code"] in ("voucher_forged", "voucher_code_malformed")
        refused += 1
    assert refused > 20
    assert household_balance(world, "a1") == 110 and escrow_balance(world["alpha"]) == 40
    assert shop_balance(world["alpha"], world["shop_a"]) == 0
    assert redeem(client, world.headers("cashier_a"), token, 40).status_code == 201


def test_a_changed_signature_is_refused_as_forged(client, world, db):
    give(world, "a1", 50)
    token = issued(client, world, "resident_a1", 40)["token"]
    head, signature = token.rsplit(".", 1)
    forged = head + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    response = redeem(client, world.headers("cashier_a"), forged, 40)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "voucher_forged"


def test_a_token_signed_by_an_unknown_key_is_refused_as_forged(client, world, db):
    give(world, "a1", 50)
    real = issued(client, world, "resident_a1", 40)
    _, claims = tokens.peek(real["token"])
    forged = tokens.sign(tokens.generate_keypair(), claims)
    response = redeem(client, world.headers("cashier_a"), forged, 40)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "voucher_forged"
    assert escrow_balance(world["alpha"]) == 40


def test_the_svg_is_a_scalable_image(client, world, db):
    give(world, "a1", 50)
    response = _qr(client, world, issued(client, world, "resident_a1", 40), kind="svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert b"<svg" in response.data and b"viewBox" in response.data


def test_images_are_rendered_once_and_cached_privately_until_the_voucher_expires(client, world, db):
    give(world, "a1", 50)
    voucher = issued(client, world, "resident_a1", 40)
    first = _qr(client, world, voucher)
    assert first.headers["Cache-Control"] in ("private, max-age=86400", "max-age=86400, private")
    assert qr_cache.get((voucher["id"], "png"))[0] == first.data
    etag = first.headers["ETag"]
    again = _qr(client, world, voucher, user="staff_a")
    assert again.data == first.data and again.headers["ETag"] == etag
    not_modified = _qr(client, world, voucher, **{"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.data == b""


def test_strangers_get_404_for_the_image_and_a_closed_voucher_has_none(client, world, db):
    give(world, "a1", 50)
    voucher = issued(client, world, "resident_a1", 40)
    assert _qr(client, world, voucher, user="resident_a2").status_code == 404
    assert _qr(client, world, voucher, user="staff_b").status_code == 404
    client.delete(f"/api/v1/vouchers/{voucher['id']}", headers=world.headers("resident_a1"))
    closed = _qr(client, world, voucher)
    assert closed.status_code == 409 and closed.get_json()["error"]["code"] == "voucher_cancelled"


def test_the_key_set_is_public_and_cacheable(client, world, db):
    give(world, "a1", 50)
    issued(client, world, "resident_a1", 10)
    response = client.get("/api/v1/keys")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "public, max-age=300"
    (key,) = response.get_json()["keys"]
    assert (key["kty"], key["crv"], key["alg"], key["community_id"], key["status"]) == (
        "OKP", "Ed25519", "EdDSA", world["alpha"], "active")
    assert client.get(f"/api/v1/keys?community_id={world['beta']}").get_json()["keys"] == []


def test_a_token_signed_by_a_retired_key_still_redeems_until_it_expires(app, client, world, db):
    voucher_ttl(client, world, 2)
    give(world, "a1", 90)
    old, late = issued(client, world, "resident_a1", 30), issued(client, world, "resident_a1", 30)
    rotated = client.post(f"/api/v1/communities/{world['alpha']}/keys/rotate", headers=world.headers("admin"))
    assert rotated.status_code == 201
    new_kid = rotated.get_json()["kid"]
    assert new_kid != tokens.peek(old["token"])[0]
    fresh = issued(client, world, "resident_a1", 30)
    assert tokens.peek(fresh["token"])[0] == new_kid
    statuses = {k["kid"]: k["status"] for k in client.get("/api/v1/keys").get_json()["keys"]}
    assert statuses == {tokens.peek(old["token"])[0]: "retired", new_kid: "active"}

    assert redeem(client, world.headers("cashier_a"), old["token"], 30).status_code == 201
    assert redeem(client, world.headers("cashier_a"), fresh["token"], 30).status_code == 201
    app.config["CLOCK"] = clock.now() + timedelta(hours=2)
    expired = redeem(client, world.headers("cashier_a"), late["token"], 30)
    assert expired.status_code == 410 and expired.get_json()["error"]["code"] == "voucher_expired"
    assert [k["kid"] for k in client.get("/api/v1/keys").get_json()["keys"]] == [new_kid]
    assert verify().ok


def test_only_an_admin_over_the_community_rotates_its_key(client, world, db):
    url = f"/api/v1/communities/{world['alpha']}/keys/rotate"
    assert client.post(url, headers=world.headers("admin_t2")).status_code == 404
    assert client.post(url, headers=world.headers("staff_a")).status_code == 403
    assert client.post(url, headers=world.headers("admin")).status_code == 201


def test_the_command_line_rotates_a_communitys_key(runner, client, world, db):
    give(world, "a1", 50)
    old = tokens.peek(issued(client, world, "resident_a1", 10)["token"])[0]
    result = runner.invoke(args=["keys", "rotate", "--community", "alpha"])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    new = tokens.peek(issued(client, world, "resident_a1", 10)["token"])[0]
    assert new != old and new in result.output
    assert runner.invoke(args=["keys", "rotate", "--community", "nowhere"]).exit_code == 1
