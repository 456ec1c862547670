"""Voucher tokens: what the QR code carries, signed with the community's Ed25519 key.

A token is four dot-separated ASCII parts::

    PB1.<kid>.<payload>.<sig>

    PB1.2msdkdbw.eyJ2IjoiNTcyNDk4MTAzNjY1NDIxNCIsImMiOjEyLCJwIjo1MDAsImUiOjE3NjcyMjU2MDB9.9fzn…CQ
    (payload: {"v":"5724981036654214","c":12,"p":500,"e":1767225600}; sig: 86 characters)

The signature and framing cost a fixed 100 characters (with an 8-character kid); the payload
adds 4/3 of its JSON, so a 16-character voucher id gives 172 characters and a 22-character
one (``secrets.token_urlsafe(16)``) 180: QR version 9 or 10 at error correction level M.

* ``PB1`` names this format; anything else is malformed.
* ``kid`` is :func:`kid_for` the signing public key: 8 lower-case base32 characters of its
  SHA-256, so keys can rotate and a verifier picks the right one without trying them all.
* ``payload`` is base64url (no padding) of the compact JSON ``{"v":…,"c":…,"p":…,"e":…}``
  (voucher id, community id, points, expiry in Unix seconds), keys in that order.
* ``sig`` is base64url (no padding) of the 64-byte Ed25519 signature over the ASCII bytes
  ``PB1.<kid>.<payload>``.

Invariants:

* Every part has exactly one accepted spelling: base64 must be canonical (no padding, no
  stray trailing bits) and the JSON must be exactly what :func:`sign` writes. So a token
  that differs from a signed one in any character is refused, never accepted as the same.
* :func:`peek` raises only :class:`MalformedToken`, whatever it is given; :func:`verify`
  raises only :class:`MalformedToken` (cannot parse) or :class:`ForgedToken` (unknown kid,
  bad signature). Both are ``ValueError`` subclasses carrying the API error ``code``.
* :func:`verify` proves who issued the claims, not that the voucher may be redeemed now:
  expiry (against :func:`pointsbank.clock.now`) and state are the redeem service's job.
* Private keys leave this module only encrypted (:func:`encrypt_private_key`) with a key
  derived from the application secret, so a database dump alone cannot mint vouchers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "PREFIX", "KeyPair", "Claims", "TokenError", "MalformedToken", "ForgedToken",
    "generate_keypair", "kid_for", "sign", "peek", "verify", "looks_like_token",
    "encrypt_private_key", "decrypt_private_key", "public_jwk",
]

PREFIX = "PB1"
#: longer input is refused before any decoding: a real token is under 250 characters
MAX_TOKEN_LENGTH = 512
MAX_VOUCHER_ID_LENGTH = 64
_MAX_INT = 2**63 - 1  # what a BIGINT column holds
_KEY_BYTES = 32
_SIG_BYTES = 64
_KID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")

# Private-key blobs: version byte, HKDF salt, AES-GCM nonce, then ciphertext and tag.
_BLOB_VERSION = b"\x01"
_SALT_BYTES = 16
_NONCE_BYTES = 12
_HKDF_INFO = b"pointsbank/voucher-signing-key/v1"
_AAD = b"pointsbank ed25519 private key"


@dataclass(frozen=True)
class KeyPair:
    """A community's signing key: raw 32-byte Ed25519 keys and the id tokens name it by."""

    kid: str
    private_raw: bytes = field(repr=False)  # never printed into a log
    public_raw: bytes


@dataclass(frozen=True)
class Claims:
    voucher_id: str
    community_id: int
    points: int
    expires_at: int


class TokenError(ValueError):
    code = "voucher_code_malformed"


class MalformedToken(TokenError):
    code = "voucher_code_malformed"


class ForgedToken(TokenError):
    code = "voucher_forged"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Decode canonical unpadded base64url, or raise ``ValueError``.

    Canonical matters: the last character of a 64-byte signature carries two unused bits, and
    a lenient decoder would accept four spellings of the same signature.
    """
    if not _B64URL_RE.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(data) != text:
        raise ValueError("not canonical base64url")
    return data


def _is_int(value: Any, minimum: int) -> bool:
    return type(value) is int and minimum <= value <= _MAX_INT  # bool is not an int here


def _claims_problem(claims: Claims) -> str | None:
    v = claims.voucher_id
    if not isinstance(v, str) or not 1 <= len(v) <= MAX_VOUCHER_ID_LENGTH:
        return f"voucher_id must be a string of 1 to {MAX_VOUCHER_ID_LENGTH} characters"
    if not _is_int(claims.community_id, 1):
        return "community_id must be a positive integer"
    if not _is_int(claims.points, 1):
        return "points must be a positive integer"
    if not _is_int(claims.expires_at, 0):
        return "expires_at must be a non-negative integer (Unix seconds)"
    return None


def _payload_json(claims: Claims) -> bytes:
    obj = {"v": claims.voucher_id, "c": claims.community_id, "p": claims.points, "e": claims.expires_at}
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def generate_keypair() -> KeyPair:
    """A fresh Ed25519 key pair, named by :func:`kid_for` its public key."""
    private = Ed25519PrivateKey.generate()
    public_raw = private.public_key().public_bytes_raw()
    return KeyPair(kid=kid_for(public_raw), private_raw=private.private_bytes_raw(), public_raw=public_raw)


def kid_for(public_raw: bytes) -> str:
    """8 lower-case base32 characters (40 bits) of SHA-256 of the raw public key."""
    if not isinstance(public_raw, bytes) or len(public_raw) != _KEY_BYTES:
        raise ValueError("an Ed25519 public key is 32 raw bytes")
    return base64.b32encode(hashlib.sha256(public_raw).digest()[:5]).decode("ascii").lower()


def sign(key: KeyPair, claims: Claims) -> str:
    """The token for ``claims``, signed with ``key``; ``ValueError`` on out-of-range claims."""
    problem = _claims_problem(claims)
    if problem:
        raise ValueError(problem)
    if not _KID_RE.fullmatch(key.kid):
        raise ValueError("a kid is 1 to 32 URL-safe characters")
    signing_input = f"{PREFIX}.{key.kid}.{b64url(_payload_json(claims))}"
    signature = Ed25519PrivateKey.from_private_bytes(key.private_raw).sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url(signature)}"


def _split(token: Any) -> tuple[str, str, Claims, bytes]:
    """(signing input, kid, claims, signature) of a well-formed token, or MalformedToken."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise MalformedToken("not a voucher token")
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != PREFIX:
        raise MalformedToken("not a voucher token")
    _, kid, payload_text, sig_text = parts
    if not _KID_RE.fullmatch(kid):
        raise MalformedToken("bad key id")
    try:
        payload = unb64url(payload_text)
        signature = unb64url(sig_text)
        obj = json.loads(payload)
    except (ValueError, RecursionError) as exc:  # binascii, JSON and Unicode errors are ValueErrors
        raise MalformedToken("bad encoding") from exc
    if len(signature) != _SIG_BYTES:
        raise MalformedToken("bad signature length")
    if not isinstance(obj, dict) or list(obj) != ["v", "c", "p", "e"]:
        raise MalformedToken("bad claims")
    claims = Claims(voucher_id=obj["v"], community_id=obj["c"], points=obj["p"], expires_at=obj["e"])
    if _claims_problem(claims) or _payload_json(claims) != payload:
        raise MalformedToken("bad claims")
    return f"{PREFIX}.{kid}.{payload_text}", kid, claims, signature


def _parse(token: Any) -> tuple[str, str, Claims, bytes]:
    try:
        return _split(token)
    except MalformedToken:
        raise
    except Exception as exc:  # the contract is "only MalformedToken", even for a bug in _split
        raise MalformedToken("not a voucher token") from exc


def peek(token: str) -> tuple[str, Claims]:
    """(kid, claims) of ``token`` WITHOUT checking the signature: for routing and messages only.

    Raises :class:`MalformedToken`, and nothing else, for anything that is not a well-formed
    token. Never trust what it returns; call :func:`verify`.
    """
    _, kid, claims, _ = _parse(token)
    return kid, claims


def verify(token: str, public_keys: Mapping[str, bytes]) -> Claims:
    """The claims of ``token`` if one of ``public_keys`` (kid → raw public key) signed it.

    :class:`MalformedToken` when it does not parse; :class:`ForgedToken` when its kid is not
    in ``public_keys`` (unknown or retired key) or the signature does not match. Expiry is not
    checked here.
    """
    signing_input, kid, claims, signature = _parse(token)
    public_raw = public_keys.get(kid)
    if public_raw is None:
        raise ForgedToken("signed by an unknown key")
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, signing_input.encode("ascii"))
    except InvalidSignature as exc:
        raise ForgedToken("signature does not match") from exc
    return claims


def looks_like_token(text: str) -> bool:
    """Whether ``text`` claims to be a token (starts with ``PB1.``): route it to :func:`verify`."""
    return isinstance(text, str) and text.startswith(PREFIX + ".")


def _blob_key(secret: str, salt: bytes) -> AESGCM:
    if not isinstance(secret, str) or not secret:
        raise ValueError("the application secret must be a non-empty string")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_HKDF_INFO)
    return AESGCM(hkdf.derive(secret.encode("utf-8")))


def encrypt_private_key(secret: str, raw: bytes) -> str:
    """``raw`` (a 32-byte private key) sealed with AES-256-GCM under a key HKDF-SHA256 derives
    from the application ``secret`` and a random salt; base64 text of
    version ‖ salt ‖ nonce ‖ ciphertext+tag, safe to store in a text column."""
    if not isinstance(raw, bytes) or len(raw) != _KEY_BYTES:
        raise ValueError("an Ed25519 private key is 32 raw bytes")
    salt, nonce = os.urandom(_SALT_BYTES), os.urandom(_NONCE_BYTES)
    sealed = _blob_key(secret, salt).encrypt(nonce, raw, _AAD)
    return base64.b64encode(_BLOB_VERSION + salt + nonce + sealed).decode("ascii")


def decrypt_private_key(secret: str, blob: str) -> bytes:
    """The raw private key sealed in ``blob``; ``ValueError`` if the secret is wrong or the
    blob was altered or truncated."""
    try:
        data = base64.b64decode(blob, validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise ValueError("not a sealed private key") from exc
    head = len(_BLOB_VERSION) + _SALT_BYTES + _NONCE_BYTES
    if len(data) != head + _KEY_BYTES + 16 or not data.startswith(_BLOB_VERSION):
        raise ValueError("not a sealed private key")
    salt = data[1:1 + _SALT_BYTES]
    nonce = data[1 + _SALT_BYTES:head]
    try:
        return _blob_key(secret, salt).decrypt(nonce, data[head:], _AAD)
    except InvalidTag as exc:
        raise ValueError("wrong secret or tampered private key") from exc


def public_jwk(kid: str, public_raw: bytes) -> dict[str, str]:
    """The public key as a JWK (RFC 8037), one entry of ``GET /api/v1/keys``."""
    if not isinstance(public_raw, bytes) or len(public_raw) != _KEY_BYTES:
        raise ValueError("an Ed25519 public key is 32 raw bytes")
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(public_raw), "kid": kid, "use": "sig", "alg": "EdDSA"}
