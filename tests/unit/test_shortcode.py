"""Short codes: 15 random digits and a Damm check digit that catches every typo of one digit
and every swap of two neighbours."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, strategies as st

from pointsbank.redeem import shortcode

digit_strings = st.text(alphabet="0123456789", min_size=1, max_size=40)


def _sample_codes(n: int = 200) -> list[str]:
    rng = random.Random(20240601)  # a fixed sample keeps the exhaustive proof reproducible
    codes = []
    for _ in range(n):
        body = "".join(rng.choice("0123456789") for _ in range(shortcode.DIGITS - 1))
        codes.append(body + shortcode.check_digit(body))
    return codes


def test_damm_check_digit_matches_the_published_example():
    assert shortcode.check_digit("572") == "4"
    assert shortcode.is_valid("5724981036654214")


def test_generated_codes_are_sixteen_ascii_digits_with_a_valid_check_digit():
    codes = {shortcode.generate() for _ in range(500)}
    assert len(codes) == 500  # 10**15 possibilities: a repeat here means the source is not random
    for code in codes:
        assert len(code) == shortcode.DIGITS == 16
        assert code.isascii() and code.isdigit()
        assert shortcode.is_valid(code)
        assert shortcode.check_digit(code[:-1]) == code[-1]


def test_every_single_digit_substitution_is_detected():
    for code in _sample_codes():
        for position in range(len(code)):
            for digit in "0123456789":
                if digit != code[position]:
                    typo = code[:position] + digit + code[position + 1:]
                    assert not shortcode.is_valid(typo), (code, typo)


def test_every_adjacent_transposition_of_different_digits_is_detected():
    for code in _sample_codes():
        for position in range(len(code) - 1):
            a, b = code[position], code[position + 1]
            if a != b:
                swapped = code[:position] + b + a + code[position + 2:]
                assert not shortcode.is_valid(swapped), (code, swapped)


def test_the_damm_table_detects_all_single_errors_and_adjacent_swaps_for_every_prefix_state():
    # The sampled proofs above rest on this property of the table itself, checked exhaustively:
    # for every interim state, different digits lead to different states (single errors), and
    # a b and b a never lead to the same state (adjacent transpositions).
    table = shortcode._DAMM
    for state in range(10):
        assert sorted(table[state]) == list(range(10))
        for a in range(10):
            for b in range(10):
                if a != b:
                    assert table[table[state][a]][b] != table[table[state][b]][a]


@given(digit_strings)
def test_appending_the_check_digit_always_makes_a_valid_sixteen_digit_code(body):
    code = (body * 16)[:15]
    assert shortcode.is_valid(code + shortcode.check_digit(code))


@given(st.text(alphabet="0123456789", min_size=16, max_size=16))
def test_exactly_one_in_ten_last_digits_is_valid(code):
    valid_endings = [d for d in "0123456789" if shortcode.is_valid(code[:-1] + d)]
    assert valid_endings == [shortcode.check_digit(code[:-1])]


@given(digit_strings)
def test_codes_of_any_other_length_are_invalid_even_when_their_checksum_holds(body):
    code = body + shortcode.check_digit(body)
    assert shortcode.is_valid(code) == (len(code) == 16)


@given(st.text())
def test_validation_and_routing_never_raise_on_any_text(text):
    assert isinstance(shortcode.is_valid(text), bool)
    assert isinstance(shortcode.looks_like_short_code(text), bool)
    assert isinstance(shortcode.normalize(text), str)


@pytest.mark.parametrize("value", [None, 1234567890123456, b"5724981036654214", ["5"]])
def test_non_strings_normalize_to_empty_and_are_not_codes(value):
    assert shortcode.normalize(value) == ""
    assert not shortcode.is_valid(value)
    assert not shortcode.looks_like_short_code(value)


def test_format_groups_in_fours_for_reading_aloud():
    assert shortcode.format("5724981036654214") == "5724 9810 3665 4214"


@pytest.mark.parametrize("typed", [
    "5724 9810 3665 4214",
    "5724-9810-3665-4214",
    " 5724981036654214\n",
    "５７２４ ９８１０ ３６６５ ４２１４",  # full-width digits from a Chinese keyboard
    "５７２４－９８１０－３６６５－４２１４",  # full-width hyphen-minus
    "5724—9810—3665—4214",  # em dash
    "5724\u30009810\u30003665\u30004214",  # ideographic space
    "5724–9810 - 3665\t4214",
])
def test_what_a_cashier_types_normalizes_to_the_code(typed):
    assert shortcode.normalize(typed) == "5724981036654214"
    assert shortcode.is_valid(typed)
    assert shortcode.looks_like_short_code(typed)
    assert shortcode.format(typed) == "5724 9810 3665 4214"


@given(st.text(alphabet="0123456789", min_size=16, max_size=16))
def test_format_then_normalize_round_trips(code):
    assert shortcode.normalize(shortcode.format(code)) == code


@given(st.text(alphabet="0123456789", min_size=16, max_size=16), st.data())
def test_full_width_input_normalizes_like_ascii(code, data):
    full_width = "".join(chr(0xFF10 + int(d)) for d in code)
    separator = data.draw(st.sampled_from([" ", "-", "－", "—", "\u3000", ""]))
    grouped = separator.join(full_width[i:i + 4] for i in range(0, 16, 4))
    assert shortcode.normalize(grouped) == code
    assert shortcode.is_valid(grouped) == shortcode.is_valid(code)


@pytest.mark.parametrize("text", ["5724 9810 3665 421O", "PB1.abc", "1234a", "١٢٣٤", "²³", "", "- -"])
def test_letters_other_scripts_and_empty_input_are_not_short_codes(text):
    assert not shortcode.looks_like_short_code(text)
    assert not shortcode.is_valid(text)


def test_any_length_of_digits_is_routed_to_short_code_handling():
    assert shortcode.looks_like_short_code("12 34")
    assert not shortcode.is_valid("12 34")


@pytest.mark.parametrize("bad", ["", "12a", "١٢", None])
def test_check_digit_refuses_anything_but_ascii_digits(bad):
    with pytest.raises(ValueError):
        shortcode.check_digit(bad)


def test_format_refuses_non_digits():
    with pytest.raises(ValueError):
        shortcode.format("1234 abcd")
