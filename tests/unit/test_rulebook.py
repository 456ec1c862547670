"""Rule-book parsing: DESIGN.md's example, every kind of mistake with its line, garbage input."""

import json
from datetime import date

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pointsbank.rules.rulebook import (
    PERIODS, Cap, Category, Rule, RuleBook, RuleBookError, RuleBookProblem,
    default_rulebook_text, parse_rulebook,
)

# Copied verbatim from DESIGN.md ("Rules"); the line numbers below refer to this text.
DESIGN_YAML = """\
version: "2026.2"              # unique per community; published versions never change
effective_from: 2026-04-01     # records dated from this day are scored by this version
categories:
  - code: volunteer
    name: {zh: 志愿服务, en: Volunteer service}
  - code: public_morality
    name: {zh: 遵守公德, en: Public morality}
  - code: family
    name: {zh: 家庭文明, en: Family civility}
rules:
  - code: volunteer_hour
    category: volunteer
    name: {zh: 志愿服务（每小时）, en: "Volunteer service, per hour"}
    points: 2                  # per unit; negative for a deduction
    unit: hour                 # or occurrence (the default); quantity multiplies points
    max_quantity: 8            # optional, per record
    caps:                      # optional, per household
      - {period: month, points: 40}
    approval: auto             # auto | staff | two_person
    two_person_above: 30       # optional: |points| of one record above this needs two approvers
    evidence: optional         # optional | required
  - code: damage_public_facility
    category: public_morality
    name: {zh: 损坏公共设施, en: Damaging public facilities}
    points: -20
    approval: two_person
  - code: model_family
    category: family
    name: {zh: 评为文明家庭, en: Named a model family}
    points: 50
    caps:
      - {period: year, count: 1}
    approval: staff
"""

DESIGN_BOOK = RuleBook(
    version="2026.2",
    effective_from=date(2026, 4, 1),
    categories=(
        Category("volunteer", "志愿服务", "Volunteer service"),
        Category("public_morality", "遵守公德", "Public morality"),
        Category("family", "家庭文明", "Family civility"),
    ),
    rules=(
        Rule("volunteer_hour", "volunteer", "志愿服务（每小时）", "Volunteer service, per hour", 2,
             unit="hour", max_quantity=8, caps=(Cap("month", points=40),), approval="auto",
             two_person_above=30, evidence="optional"),
        Rule("damage_public_facility", "public_morality", "损坏公共设施",
             "Damaging public facilities", -20, approval="two_person"),
        Rule("model_family", "family", "评为文明家庭", "Named a model family", 50,
             caps=(Cap("year", count=1),), approval="staff"),
    ),
)


def replace_line(number: int, *new_lines: str, text: str = DESIGN_YAML, through: int = 0) -> str:
    """DESIGN_YAML with lines ``number``..``through`` (1-based) replaced by ``new_lines``."""
    lines = text.splitlines()
    return "\n".join(lines[:number - 1] + list(new_lines) + lines[max(number, through):]) + "\n"


def problems_of(text) -> list[RuleBookProblem]:
    with pytest.raises(RuleBookError) as caught:
        parse_rulebook(text)
    return caught.value.problems


def test_the_design_example_parses_to_the_expected_rule_book():
    assert parse_rulebook(DESIGN_YAML) == DESIGN_BOOK


def test_bytes_and_quoted_dates_are_accepted_like_text_and_plain_dates():
    text = replace_line(2, 'effective_from: "2026-04-01"')
    assert parse_rulebook(text.encode("utf-8")) == DESIGN_BOOK


def test_rules_and_categories_are_found_by_code_and_unknown_codes_give_none():
    book = parse_rulebook(DESIGN_YAML)
    assert book.rule("model_family").points == 50
    assert book.category("family").name_zh == "家庭文明"
    assert book.rule("nope") is None and book.category("nope") is None


def test_to_dict_is_json_and_parses_back_to_the_same_book():
    book = parse_rulebook(DESIGN_YAML)
    as_json = json.loads(json.dumps(book.to_dict(), ensure_ascii=False))
    assert as_json["effective_from"] == "2026-04-01"
    assert as_json["rules"][0]["caps"] == [{"period": "month", "points": 40}]
    assert parse_rulebook(yaml.safe_dump(as_json, allow_unicode=True)) == book


def test_a_rule_with_an_effective_range_keeps_both_dates():
    text = replace_line(26, "    approval: two_person", "    effective_from: 2026-05-01",
                        "    effective_until: '2026-12-31'")
    rule = parse_rulebook(text).rule("damage_public_facility")
    assert (rule.effective_from, rule.effective_until) == (date(2026, 5, 1), date(2026, 12, 31))


MISTAKES = [
    # (what, line or (first, last) lines to replace, replacement lines, expected line, field,
    #  words in the message)
    ("unquoted version", 1, ["version: 2026.2"], 1, "version", "string"),
    ("empty version", 1, ['version: ""'], 1, "version", "empty"),
    ("long version", 1, ["version: '" + "v" * 33 + "'"], 1, "version", "32"),
    ("missing version", 1, [], 1, "version", "required"),
    ("effective_from not a date", 2, ["effective_from: next spring"], 2, "effective_from",
     "date"),
    ("effective_from not a real day", 2, ["effective_from: 2026-02-30"], 2, "effective_from",
     "real date"),
    ("a datetime for a date", 2, ["effective_from: 2026-04-01T08:00:00"], 2, "effective_from",
     "date"),
    ("unknown top-level key", 2, ["effective_from: 2026-04-01", "author: me"], 3, "author",
     "unknown key"),
    ("categories not a list", (4, 9), ["  volunteer: 志愿服务"], 3, "categories", "list"),
    ("category code duplicated", 8, ["  - code: volunteer"], 8, "categories[2].code",
     "duplicate"),
    ("category without an English name", 7, ["    name: {zh: 遵守公德}"], 7,
     "categories[1].name.en", "required"),
    ("category name empty", 7, ["    name: {zh: '  ', en: Public morality}"], 7,
     "categories[1].name.zh", "empty"),
    ("name not a mapping", 5, ["    name: 志愿服务"], 5, "categories[0].name", "mapping"),
    ("rule code not snake case", 11, ["  - code: Volunteer-Hour"], 11, "rules[0].code",
     "lowercase"),
    ("rule code duplicated", 27, ["  - code: volunteer_hour"], 27, "rules[2].code",
     "duplicate rule code"),
    ("rule category unknown", 28, ["    category: families"], 28, "rules[2].category",
     "unknown category"),
    ("rule category missing", 12, [], 11, "rules[0].category", "required"),
    ("rule points zero", 14, ["    points: 0"], 14, "rules[0].points", "non-zero integer"),
    ("rule points a bool", 14, ["    points: yes"], 14, "rules[0].points", "non-zero integer"),
    ("rule points a float", 14, ["    points: 2.5"], 14, "rules[0].points", "non-zero integer"),
    ("rule points a word", 14, ["    points: two"], 14, "rules[0].points", "non-zero integer"),
    ("rule points too large", 25, ["    points: -100001"], 25, "rules[1].points", "100000"),
    ("rule points given twice", 25, ["    points: -20", "    points: -30"], 26,
     "rules[1].points", "twice"),
    ("unknown rule key", 26, ["    approval: two_person", "    colour: red"], 27,
     "rules[1].colour", "unknown key"),
    ("unit unknown", 15, ["    unit: minute"], 15, "rules[0].unit", "occurrence, hour"),
    ("max_quantity zero", 16, ["    max_quantity: 0"], 16, "rules[0].max_quantity", "positive"),
    ("max_quantity negative", 16, ["    max_quantity: -1"], 16, "rules[0].max_quantity",
     "positive"),
    ("caps not a list", 18, ["      period: month"], 17, "rules[0].caps", "list"),
    ("cap period unknown", 18, ["      - {period: week, points: 40}"], 18,
     "rules[0].caps[0].period", "month, quarter, year"),
    ("cap without points or count", 18, ["      - {period: month}"], 18, "rules[0].caps[0]",
     "points, count or both"),
    ("cap points zero", 18, ["      - {period: month, points: 0}"], 18,
     "rules[0].caps[0].points", "positive"),
    ("cap count negative", 32, ["      - {period: year, count: -1}"], 32,
     "rules[2].caps[0].count", "positive"),
    ("two caps for one period", 18, ["      - {period: month, points: 40}",
                                     "      - {period: month, count: 3}"], 19,
     "rules[0].caps[1].period", "already a month cap"),
    ("unknown cap key", 32, ["      - {period: year, count: 1, every: 2}"], 32,
     "rules[2].caps[0].every", "unknown key"),
    ("approval unknown", 33, ["    approval: boss"], 33, "rules[2].approval", "two_person"),
    ("two_person_above negative", 20, ["    two_person_above: -1"], 20,
     "rules[0].two_person_above", "non-negative"),
    ("evidence unknown", 21, ["    evidence: maybe"], 21, "rules[0].evidence", "required"),
    ("rule range reversed", 26, ["    approval: two_person", "    effective_from: 2026-05-01",
                                 "    effective_until: 2026-04-30"], 28,
     "rules[1].effective_until", "before effective_from"),
    ("rule not a mapping", (22, 26), ["  - damage_public_facility"], 22, "rules[1]", "mapping"),
    ("YAML syntax error", 14, ["    points: [2"], 15, "", "not valid YAML"),
]


@pytest.mark.parametrize(("line_number", "new_lines", "line", "field", "words"),
                         [case[1:] for case in MISTAKES], ids=[case[0] for case in MISTAKES])
def test_each_kind_of_mistake_is_reported_with_its_line_and_field(
        line_number, new_lines, line, field, words):
    first, last = line_number if isinstance(line_number, tuple) else (line_number, line_number)
    problems = problems_of(replace_line(first, *new_lines, through=last))
    matching = [p for p in problems if (p.line, p.field) == (line, field)]
    assert matching, f"no problem at line {line}, {field!r} in {problems}"
    assert any(words in p.message for p in matching), matching


def test_the_message_of_the_error_names_line_field_and_reason():
    error = RuleBookError([RuleBookProblem(14, "rules[2].points", "must be a non-zero integer")])
    assert str(error) == "line 14, rules[2].points: must be a non-zero integer"
    assert isinstance(error, ValueError)


def test_several_mistakes_are_all_reported_at_once_in_line_order():
    text = replace_line(30, "    points: 0")
    text = replace_line(18, "      - {period: week, points: 40}", text=text)
    text = replace_line(1, "version: 2026.2", text=text)
    with pytest.raises(RuleBookError) as caught:
        parse_rulebook(text)
    places = [(p.line, p.field) for p in caught.value.problems]
    assert places == [(1, "version"), (18, "rules[0].caps[0].period"), (30, "rules[2].points")]
    assert [line.split(":")[0] for line in str(caught.value).splitlines()] == [
        "line 1, version", "line 18, rules[0].caps[0].period", "line 30, rules[2].points"]


def test_a_list_at_the_top_is_refused_with_a_rule_book_error():
    assert "mapping" in problems_of("- version: '1'\n")[0].message


def test_an_empty_document_is_refused_with_a_rule_book_error():
    assert "empty" in problems_of("")[0].message


def test_bytes_that_are_not_utf8_are_refused_naming_the_line_of_the_bad_byte():
    problem, = problems_of(DESIGN_YAML.encode("utf-8").replace(b"Family", b"Fam\xffly"))
    assert (problem.line, problem.field) == (9, "")
    assert "UTF-8" in problem.message


def test_text_saved_as_gb18030_is_refused_rather_than_misread():
    assert "UTF-8" in problems_of(DESIGN_YAML.encode("gb18030"))[0].message


@pytest.mark.parametrize("text", [
    "[" * 5000, "a: !!python/object/apply:os.system ['true']", "a: !!binary '%%%'",
    "{[1]: 2}", "x: &a [*a]", "\x00", "a: b: c", "--- 1\n--- 2\n", "a: 2026-13-45",
], ids=["deep nesting", "python tag", "bad base64", "list key", "recursive alias",
        "control character", "mapping in a plain scalar", "two documents", "impossible date"])
def test_hostile_yaml_is_refused_with_a_rule_book_error(text):
    assert problems_of(text)


def check_only_rulebook_errors(data) -> None:
    try:
        parse_rulebook(data)
    except RuleBookError as error:
        assert error.problems
        assert all(p.line is None or p.line >= 1 for p in error.problems)
        assert all(isinstance(p.field, str) and p.message for p in error.problems)


@settings(max_examples=300)
@given(st.text())
def test_any_text_parses_or_raises_a_rule_book_error_and_nothing_else(text):
    check_only_rulebook_errors(text)


@settings(max_examples=300)
@given(st.binary())
def test_any_bytes_parse_or_raise_a_rule_book_error_and_nothing_else(data):
    check_only_rulebook_errors(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
    | st.sampled_from(["2026-04-01", "month", "hour", "two_person", "volunteer"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["version", "effective_from", "categories", "rules",
                                       "code", "name", "zh", "en", "points", "caps", "period",
                                       "count", "category", "unit"]), children, max_size=5),
    max_leaves=25)


@settings(max_examples=300)
@given(json_values)
def test_any_yaml_structure_parses_or_raises_a_rule_book_error(value):
    check_only_rulebook_errors(yaml.safe_dump(value, allow_unicode=True))


@settings(max_examples=300)
@given(st.integers(1, DESIGN_YAML.count("\n")), st.text(max_size=40))
def test_any_line_of_the_example_replaced_by_anything_gives_no_other_exception(number, line):
    check_only_rulebook_errors(replace_line(number, line))


def test_the_default_book_parses_with_the_eight_categories_each_with_rules():
    book = parse_rulebook(default_rulebook_text())
    assert book.version == "default-2026.1" and book.effective_from == date(2020, 1, 1)
    assert {c.code: c.name_zh for c in book.categories} == {
        "law_abiding": "遵纪守法", "reformed_customs": "移风易俗", "hard_work": "勤劳致富",
        "cleanliness": "清洁卫生", "family": "家庭文明", "neighbourliness": "邻里和睦",
        "public_morality": "遵守公德", "volunteer": "志愿服务"}
    for category in book.categories:
        assert any(rule.category == category.code for rule in book.rules), category.code
    assert any(rule.points < 0 for rule in book.rules) and any(r.points > 0 for r in book.rules)


def test_the_default_book_has_the_well_known_rules():
    book = parse_rulebook(default_rulebook_text())
    volunteer = book.rule("volunteer_hour")
    assert (volunteer.points, volunteer.unit, volunteer.max_quantity, volunteer.approval) == (
        2, "hour", 8, "auto")
    assert volunteer.caps == (Cap("month", points=40),)
    assert book.rule("model_family").caps == (Cap("year", count=1),)
    assert (book.rule("model_family").points, book.rule("model_family").approval) == (50, "staff")
    assert (book.rule("advanced_individual").points, book.rule("advanced_individual").caps) == (
        30, (Cap("year", count=1),))
    assert book.rule("damage_public_facility").points == -20
    assert book.rule("damage_public_facility").approval == "two_person"
    assert book.rule("break_law").points < 0 and book.rule("break_law").approval == "two_person"
    assert {c.period for r in book.rules for c in r.caps} <= set(PERIODS)
