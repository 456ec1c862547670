"""Voucher tokens: Ed25519-signed, named by key id, refused when altered in any character."""

from __future__ import annotations

import base64
import json
import string

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings, strategies as st

from pointsbank.redeem import tokens
from pointsbank.redeem.tokens import Claims, ForgedToken, MalformedToken, TokenError

CLAIMS = Claims(voucher_id="oVSzdlnloiNz5ImtC7l86Q", community_id=12, points=500, expires_at=1767225600)
URLSAFE = string.ascii_letters + string.digits + "-_"


@pytest.fixture(scope="module")
def key() -> tokens.KeyPair:
    return tokens.generate_keypair()


@pytest.fixture(scope="module")
def token(key) -> str:
    return tokens.sign(key, CLAIMS)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_signed_token_verifies_to_its_claims(key, token):
    assert tokens.verify(token, {key.kid: key.public_raw}) == CLAIMS
    assert tokens.peek(token) == (key.kid, CLAIMS)


def test_a_token_has_the_documented_shape(key, token):
    prefix, kid, payload, sig = token.split(".")
    assert (prefix, kid) == ("PB1", key.kid)
    assert json.loads(base64.urlsafe_b64decode(payload + "==")) == {
        "v": CLAIMS.voucher_id, "c": 12, "p": 500, "e": 1767225600}
    assert len(base64.urlsafe_b64decode(sig + "==")) == 64
    assert "=" not in token and token.isascii()
    assert tokens.looks_like_token(token)


def test_the_kid_is_eight_url_safe_characters_derived_from_the_public_key(key):
    assert key.kid == tokens.kid_for(key.public_raw)
    assert len(key.kid) == 8 and set(key.kid) <= set(URLSAFE)
    assert len(key.private_raw) == len(key.public_raw) == 32
    assert tokens.generate_keypair().kid != key.kid


def test_the_private_key_is_not_in_the_repr(key):
    assert repr(key.private_raw) not in repr(key)


@pytest.mark.parametrize("voucher_id", ["x" * 16, "x" * 22, "x" * 32])
def test_token_length_is_a_fixed_100_characters_plus_four_thirds_of_the_claims_json(key, voucher_id):
    claims = Claims(voucher_id=voucher_id, community_id=9999, points=99999, expires_at=4102444800)
    json_length = len(f'{{"v":"{voucher_id}","c":9999,"p":99999,"e":4102444800}}')
    # prefix, 8-character kid, three dots and the 86-character signature
    assert len(tokens.sign(key, claims)) == 100 + -(-json_length * 4 // 3)


@pytest.mark.parametrize(("voucher_id", "limit"), [("5724981036654214", 172), ("oVSzdlnloiNz5ImtC7l86Q", 180)])
def test_realistic_tokens_stay_short_enough_for_a_cheap_camera(key, voucher_id, limit):
    # A 16-digit or 128-bit (token_urlsafe(16)) id, community 12, 500 points, expiring in 2026:
    # QR version 9 at level M (see test_qr). Under ~160 would need a voucher id of 5 characters.
    claims = Claims(voucher_id=voucher_id, community_id=12, points=500, expires_at=1767225600)
    assert len(tokens.sign(key, claims)) <= limit


def test_every_single_character_alteration_from_the_token_alphabet_is_refused(key, token):
    keys = {key.kid: key.public_raw}
    for position in range(len(token)):
        for char in URLSAFE + ".":
            if char == token[position]:
                continue
            altered = token[:position] + char + token[position + 1:]
            with pytest.raises((ForgedToken, MalformedToken)):
                tokens.verify(altered, keys)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), replacement=st.characters())
def test_any_single_character_alteration_is_refused_and_never_crashes(key, token, position, replacement):
    position %= len(token)
    if replacement == token[position]:
        return
    altered = token[:position] + replacement + token[position + 1:]
    with pytest.raises((ForgedToken, MalformedToken)):
        tokens.verify(altered, {key.kid: key.public_raw})


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), text=st.text(min_size=1, max_size=3))
def test_insertions_and_deletions_are_refused_too(key, token, position, text):
    position %= len(token)
    keys = {key.kid: key.public_raw}
    for altered in (token[:position] + text + token[position:], token[:position] + token[position + 1:]):
        with pytest.raises((ForgedToken, MalformedToken)):
            tokens.verify(altered, keys)


def test_a_non_canonical_signature_spelling_is_refused(key, token):
    # The 86th base64 character carries two unused bits; a lenient decoder would read the
    # same signature from four different last characters.
    head, sig = token.rsplit(".", 1)
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    value = alphabet.index(sig[-1])
    for low_bits in range(1, 4):
        twin = head + "." + sig[:-1] + alphabet[value ^ low_bits]
        assert base64.urlsafe_b64decode(twin.rsplit(".", 1)[1] + "==") == base64.urlsafe_b64decode(sig + "==")
        with pytest.raises(MalformedToken):
            tokens.verify(twin, {key.kid: key.public_raw})


def test_rotation_old_and_new_keys_both_verify_until_the_old_kid_is_removed(key, token):
    new_key = tokens.generate_keypair()
    new_token = tokens.sign(new_key, CLAIMS)
    both = {key.kid: key.public_raw, new_key.kid: new_key.public_raw}
    assert tokens.verify(token, both) == CLAIMS
    assert tokens.verify(new_token, both) == CLAIMS

    retired = {new_key.kid: new_key.public_raw}
    with pytest.raises(ForgedToken):
        tokens.verify(token, retired)
    assert tokens.verify(new_token, retired) == CLAIMS


def test_a_token_signed_by_another_key_under_a_known_kid_is_forged(key):
    impostor = tokens.generate_keypair()
    forged = tokens.sign(tokens.KeyPair(key.kid, impostor.private_raw, impostor.public_raw), CLAIMS)
    with pytest.raises(ForgedToken) as refused:
        tokens.verify(forged, {key.kid: key.public_raw})
    assert refused.value.code == "voucher_forged"


def test_altered_claims_with_the_original_signature_are_forged(key, token):
    prefix, kid, _, sig = token.split(".")
    richer = _b64url(b'{"v":"oVSzdlnloiNz5ImtC7l86Q","c":12,"p":5000,"e":1767225600}')
    with pytest.raises(ForgedToken):
        tokens.verify(f"{prefix}.{kid}.{richer}.{sig}", {key.kid: key.public_raw})


@pytest.mark.parametrize("payload", [
    b'{"v":"a","c":1,"p":1}',  # a claim missing
    b'{"c":1,"v":"a","p":1,"e":1}',  # keys out of order
    b'{"v":"a","c":1,"p":1,"e":1,"x":2}',  # an extra claim
    b'{"v": "a","c":1,"p":1,"e":1}',  # not compact
    b'{"v":"a","c":1,"p":1,"e":1,"v":"b"}',  # duplicate key
    b'{"v":"a","c":1,"p":1.0,"e":1}',  # a float
    b'{"v":"a","c":true,"p":1,"e":1}',  # a boolean
    b'{"v":"a","c":1,"p":0,"e":1}',  # no points
    b'{"v":"","c":1,"p":1,"e":1}',  # no voucher id
    b'{"v":"a","c":1,"p":NaN,"e":1}',
    b'[1,2,3,4]',
    b'\xff\xfe',
])
def test_payloads_other_than_what_sign_writes_are_malformed(key, payload):
    signing_input = f"PB1.{key.kid}.{_b64url(payload)}"
    sig = Ed25519PrivateKey.from_private_bytes(key.private_raw).sign(signing_input.encode())
    with pytest.raises(MalformedToken) as refused:
        tokens.verify(f"{signing_input}.{_b64url(sig)}", {key.kid: key.public_raw})
    assert refused.value.code == "voucher_code_malformed"


@pytest.mark.parametrize("garbage", ["", "PB1.", "PB1...", "PB2.a.b.c", "pb1.a.b.c", "PB1.a.b.c.d",
                                     "PB1.k.e30.AA", "PB1.k=.e30." + "A" * 86, "PB1." + "A" * 600,
                                     "5724 9810 3665 4214", "PB1.ｋ.e30.AA"])
def test_garbage_is_malformed(garbage):
    with pytest.raises(MalformedToken):
        tokens.peek(garbage)
    with pytest.raises(MalformedToken):
        tokens.verify(garbage, {})


@pytest.mark.parametrize("value", [None, 42, b"PB1.a.b.c", ["PB1"]])
def test_non_strings_are_malformed_not_type_errors(value):
    with pytest.raises(MalformedToken):
        tokens.peek(value)
    assert not tokens.looks_like_token(value)


@given(st.text())
def test_peek_on_any_text_raises_only_malformed(text):
    try:
        kid, claims = tokens.peek(text)
    except MalformedToken:
        return
    assert isinstance(kid, str) and kid  # whatever parses names its key


@given(st.lists(st.text(alphabet=URLSAFE + "=+/", max_size=120), min_size=4, max_size=4))
def test_peek_on_token_shaped_text_raises_only_malformed(parts):
    try:
        kid, claims = tokens.peek(".".join(["PB1", *parts[1:]]))
    except MalformedToken:
        return
    assert isinstance(kid, str) and kid  # whatever parses names its key


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from("vcpex"), inner, max_size=5),
    max_leaves=12,
)


@given(json_values)
def test_peek_on_any_json_payload_returns_valid_claims_or_raises_malformed(value):
    payload = _b64url(json.dumps(value, separators=(",", ":")).encode())
    try:
        kid, claims = tokens.peek(f"PB1.abcdefgh.{payload}.{'A' * 86}")
    except MalformedToken:
        return
    assert kid == "abcdefgh" and claims.points >= 1 and isinstance(claims.voucher_id, str)


@pytest.mark.parametrize("claims", [
    Claims("", 1, 1, 1), Claims("a" * 65, 1, 1, 1), Claims("a", 0, 1, 1), Claims("a", 1, 0, 1),
    Claims("a", 1, -5, 1), Claims("a", 1, 1, -1), Claims("a", 1, True, 1), Claims("a", 1, 1.5, 1),
    Claims("a", 1, 1, 2**63), Claims(7, 1, 1, 1),
])
def test_sign_refuses_claims_it_could_not_read_back(key, claims):
    with pytest.raises(ValueError):
        tokens.sign(key, claims)


def test_non_ascii_voucher_ids_round_trip(key):
    claims = Claims("券-001", 1, 1, 0)
    assert tokens.verify(tokens.sign(key, claims), {key.kid: key.public_raw}) == claims


def test_looks_like_token_routes_only_the_pb1_prefix(token):
    assert tokens.looks_like_token(token)
    assert not tokens.looks_like_token("5724 9810 3665 4214")
    assert not tokens.looks_like_token("PB1")
    assert not tokens.looks_like_token("pb1.x")


def test_token_errors_are_value_errors_with_api_codes():
    assert issubclass(TokenError, ValueError)
    assert issubclass(MalformedToken, TokenError) and issubclass(ForgedToken, TokenError)
    assert (MalformedToken.code, ForgedToken.code) == ("voucher_code_malformed", "voucher_forged")


def test_private_key_encryption_round_trips(key):
    blob = tokens.encrypt_private_key("app-secret", key.private_raw)
    assert isinstance(blob, str) and blob.isascii()
    assert key.private_raw not in base64.b64decode(blob)
    assert tokens.decrypt_private_key("app-secret", blob) == key.private_raw
    # a fresh salt and nonce each time: the same key never gives the same blob
    assert tokens.encrypt_private_key("app-secret", key.private_raw) != blob


def test_a_decrypted_private_key_still_signs_verifiable_tokens(key):
    raw = tokens.decrypt_private_key("s", tokens.encrypt_private_key("s", key.private_raw))
    restored = tokens.KeyPair(key.kid, raw, key.public_raw)
    assert tokens.verify(tokens.sign(restored, CLAIMS), {key.kid: key.public_raw}) == CLAIMS


def test_the_wrong_secret_cannot_decrypt(key):
    blob = tokens.encrypt_private_key("app-secret", key.private_raw)
    with pytest.raises(ValueError):
        tokens.decrypt_private_key("app-secreT", blob)


def test_a_tampered_blob_cannot_be_decrypted(key):
    blob = tokens.encrypt_private_key("app-secret", key.private_raw)
    raw = bytearray(base64.b64decode(blob))
    for index in range(len(raw)):
        tampered = bytearray(raw)
        tampered[index] ^= 0x01
        with pytest.raises(ValueError):
            tokens.decrypt_private_key("app-secret", base64.b64encode(bytes(tampered)).decode())


@pytest.mark.parametrize("blob", ["", "not base64!", "AAAA", None])
def test_a_blob_that_is_not_a_sealed_key_is_a_value_error(blob):
    with pytest.raises(ValueError):
        tokens.decrypt_private_key("app-secret", blob)


def test_an_empty_secret_is_refused(key):
    with pytest.raises(ValueError):
        tokens.encrypt_private_key("", key.private_raw)


def test_public_jwk_follows_rfc_8037(key):
    jwk = tokens.public_jwk(key.kid, key.public_raw)
    assert jwk == {"kty": "OKP", "crv": "Ed25519", "x": _b64url(key.public_raw), "kid": key.kid,
                   "use": "sig", "alg": "EdDSA"}
    assert base64.urlsafe_b64decode(jwk["x"] + "=") == key.public_raw
