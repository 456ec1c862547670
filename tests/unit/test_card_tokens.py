"""Card credentials: signed and verified with a voucher key, one spelling only, and never
interchangeable with a voucher token in either direction."""

from __future__ import annotations

import pytest

from pointsbank.cards import tokens as cards
from pointsbank.redeem import tokens as vouchers

KEY = vouchers.generate_keypair()
CLAIMS = cards.CardClaims(card_id=7, community_id=12, household_id=40)


def test_a_signed_card_verifies_to_its_claims_with_its_key():
    token = cards.sign(KEY, CLAIMS)
    assert token.startswith(f"PBC1.{KEY.kid}.")
    assert cards.verify(token, {KEY.kid: KEY.public_raw}) == CLAIMS


def test_another_key_or_an_unknown_kid_is_refused_as_forged():
    token = cards.sign(KEY, CLAIMS)
    other = vouchers.generate_keypair()
    with pytest.raises(cards.ForgedCard):
        cards.verify(token, {KEY.kid: other.public_raw})
    with pytest.raises(cards.ForgedCard):
        cards.verify(token, {})


def test_a_changed_payload_or_signature_character_is_never_accepted():
    token = cards.sign(KEY, CLAIMS)
    keys = {KEY.kid: KEY.public_raw}
    for i in range(len(token)):
        if token[i] == ".":
            continue
        changed = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
        with pytest.raises(cards.CardTokenError):
            cards.verify(changed, keys)


def test_a_voucher_token_is_not_a_card_and_a_card_is_not_a_voucher_token():
    voucher = vouchers.sign(KEY, vouchers.Claims(voucher_id="ab" * 16, community_id=12, points=50,
                                                 expires_at=1_900_000_000))
    card = cards.sign(KEY, CLAIMS)
    with pytest.raises(cards.MalformedCard):
        cards.verify(voucher, {KEY.kid: KEY.public_raw})
    with pytest.raises(vouchers.MalformedToken):
        vouchers.verify(card, {KEY.kid: KEY.public_raw})
    # the same signature under the other prefix does not verify either: the prefix is signed
    reframed = "PB1." + card.split(".", 1)[1]
    with pytest.raises(vouchers.TokenError):
        vouchers.verify(reframed, {KEY.kid: KEY.public_raw})
    assert cards.looks_like_card(card) and not cards.looks_like_card(voucher)
    assert not vouchers.looks_like_token(card)


@pytest.mark.parametrize("bad", [None, 7, "", "PBC1", "PBC1.a.b.c", "PBC1..x.y", "x" * 300, "PBC1.kid.é.sig"])
def test_anything_that_is_not_a_card_raises_only_malformed(bad):
    with pytest.raises(cards.MalformedCard):
        cards.peek(bad)


def test_out_of_range_claims_are_not_signed():
    with pytest.raises(ValueError):
        cards.sign(KEY, cards.CardClaims(card_id=0, community_id=1, household_id=1))
    with pytest.raises(ValueError):
        cards.sign(KEY, cards.CardClaims(card_id=True, community_id=1, household_id=1))
