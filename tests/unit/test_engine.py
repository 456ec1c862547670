"""The pure scoring engine: caps, approvals, refusals, periods, and caps never exceeded."""

from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointsbank.rules.engine import Decision, Reason, Usage, evaluate, period_bounds, period_key
from pointsbank.rules.rulebook import PERIODS, Cap, Rule

APRIL = date(2026, 4, 3)
VOLUNTEER_HOUR = Rule("volunteer_hour", "volunteer", "志愿服务（每小时）", "Volunteer service, per hour",
                      2, unit="hour", max_quantity=8, caps=(Cap("month", points=40),))
MODEL_FAMILY = Rule("model_family", "family", "评为文明家庭", "Named a model family", 50,
                    caps=(Cap("year", count=1),), approval="staff")
DAMAGE = Rule("damage_public_facility", "public_morality", "损坏公共设施",
              "Damaging public facilities", -20, caps=(Cap("month", points=30),),
              approval="two_person")


def score(rule, quantity=1, occurred_on=APRIL, has_evidence=False, usage=None, **kwargs):
    return evaluate(rule, quantity=quantity, occurred_on=occurred_on, has_evidence=has_evidence,
                    usage=usage or {}, **kwargs)


def codes(decision: Decision) -> list[str]:
    return [reason.code for reason in decision.reasons]


def test_a_three_hour_volunteer_record_scores_six_points_and_is_posted():
    decision = score(VOLUNTEER_HOUR, quantity=3)
    assert decision == Decision("posted", 6, 6, 0, False, ())


def test_a_household_at_38_of_a_40_point_month_cap_gets_only_2():
    decision = score(VOLUNTEER_HOUR, quantity=3, usage={"month": Usage(points=38, count=19)})
    assert (decision.status, decision.points, decision.requested_points, decision.capped) == (
        "posted", 2, 6, True)
    reason, = decision.reasons
    assert reason == Reason("points_cap_reached",
                            {"period": "month", "period_key": "2026-04", "cap": 40,
                             "remaining": 2})
    assert "leaves 2 point(s) in 2026-04" in reason.message_en


def test_a_household_at_the_40_point_month_cap_gets_0_but_the_record_is_kept():
    decision = score(VOLUNTEER_HOUR, quantity=3, usage={"month": Usage(points=40, count=20)})
    assert (decision.status, decision.points, decision.capped) == ("posted", 0, True)
    assert codes(decision) == ["points_cap_reached"]


def test_usage_in_other_periods_than_the_caps_does_not_matter():
    decision = score(VOLUNTEER_HOUR, quantity=3, usage={"year": Usage(points=400, count=99)})
    assert decision.points == 6


def test_a_reached_count_cap_scores_0_and_the_record_still_waits_for_approval():
    decision = score(MODEL_FAMILY, usage={"year": Usage(points=50, count=1)})
    assert (decision.status, decision.points, decision.approvals_required, decision.capped) == (
        "pending", 0, 1, True)
    assert codes(decision) == ["count_cap_reached", "approval_required"]
    assert decision.reasons[0].params == {"period": "year", "period_key": "2026", "cap": 1,
                                          "count": 1}


def test_a_count_cap_not_yet_reached_scores_in_full():
    decision = score(MODEL_FAMILY, usage={"year": Usage()})
    assert (decision.status, decision.points, decision.capped) == ("pending", 50, False)


def test_a_deduction_is_capped_by_its_absolute_value():
    decision = score(DAMAGE, usage={"month": Usage(points=-20, count=1)})
    assert (decision.points, decision.requested_points, decision.capped) == (-10, -20, True)
    assert decision.reasons[0].params["remaining"] == 10


def test_a_deduction_at_its_cap_takes_nothing_more():
    assert score(DAMAGE, usage={"month": Usage(points=-30, count=2)}).points == 0


def test_of_several_caps_the_tightest_wins_and_is_named_first():
    rule = Rule("r", "c", "规则", "Rule", 10, caps=(
        Cap("month", points=25), Cap("quarter", points=100), Cap("year", points=50)))
    decision = score(rule, quantity=2, usage={"month": Usage(points=10), "year": Usage(points=45)})
    assert decision.points == 5
    assert [r.params["period"] for r in decision.reasons] == ["year", "month"]


def test_a_cap_with_both_points_and_count_applies_both():
    rule = Rule("r", "c", "规则", "Rule", 5, caps=(Cap("month", points=100, count=2),))
    assert score(rule, usage={"month": Usage(points=10, count=2)}).points == 0
    assert score(rule, usage={"month": Usage(points=98, count=1)}).points == 2


def test_staff_approval_needs_one_approver_and_two_person_needs_two():
    staff = Rule("r", "c", "规则", "Rule", 5, approval="staff")
    assert (score(staff).status, score(staff).approvals_required) == ("pending", 1)
    assert (score(DAMAGE).status, score(DAMAGE).approvals_required) == ("pending", 2)


def test_a_record_above_two_person_above_needs_two_approvals_even_on_an_auto_rule():
    rule = Rule("r", "c", "规则", "Rule", 10, approval="auto", two_person_above=30)
    assert (score(rule, quantity=3).status, score(rule, quantity=3).approvals_required) == (
        "posted", 0)
    decision = score(rule, quantity=4)
    assert (decision.status, decision.approvals_required) == ("pending", 2)
    assert decision.reasons[0] == Reason("two_person_above", {"points": 40, "threshold": 30})


def test_two_person_above_looks_at_the_points_after_caps():
    rule = Rule("r", "c", "规则", "Rule", 10, caps=(Cap("month", points=50),), two_person_above=30)
    assert score(rule, quantity=4, usage={"month": Usage(points=20)}).approvals_required == 0


def test_two_person_above_compares_deductions_by_absolute_value():
    rule = Rule("r", "c", "规则", "Rule", -10, approval="staff", two_person_above=15)
    assert score(rule, quantity=1).approvals_required == 1
    assert score(rule, quantity=2).approvals_required == 2


@pytest.mark.parametrize("quantity", [0, -1, True, 1.5, "3", None])
def test_a_quantity_that_is_not_a_whole_number_of_at_least_one_is_refused(quantity):
    decision = score(VOLUNTEER_HOUR, quantity=quantity)
    assert (decision.status, decision.points, decision.approvals_required) == ("refused", 0, 0)
    assert codes(decision) == ["quantity_invalid"]


def test_a_quantity_above_the_rule_limit_is_refused():
    decision = score(VOLUNTEER_HOUR, quantity=9)
    assert (decision.status, decision.points, decision.requested_points) == ("refused", 0, 18)
    assert decision.reasons == (Reason("quantity_above_limit",
                                       {"quantity": 9, "max_quantity": 8}),)


def test_a_rule_that_requires_evidence_refuses_a_record_without_it():
    rule = Rule("r", "c", "规则", "Rule", 5, evidence="required")
    assert codes(score(rule, has_evidence=False)) == ["evidence_required"]
    assert score(rule, has_evidence=True).status == "posted"


@pytest.mark.parametrize(("day", "status"), [
    (date(2026, 3, 31), "refused"), (date(2026, 4, 1), "posted"),
    (date(2026, 6, 30), "posted"), (date(2026, 7, 1), "refused")])
def test_a_record_outside_the_rules_inclusive_range_is_refused(day, status):
    rule = Rule("r", "c", "规则", "Rule", 5, effective_from=date(2026, 4, 1),
                effective_until=date(2026, 6, 30))
    decision = score(rule, occurred_on=day)
    assert decision.status == status
    assert codes(decision) == (["rule_not_effective"] if status == "refused" else [])


def test_a_record_before_the_rule_book_took_effect_is_refused():
    decision = score(VOLUNTEER_HOUR, occurred_on=date(2026, 3, 31),
                     book_effective_from=date(2026, 4, 1))
    assert codes(decision) == ["rule_not_effective"]
    assert "not in effect on 2026-03-31" in decision.reasons[0].message_en
    assert score(VOLUNTEER_HOUR, book_effective_from=date(2026, 4, 1)).status == "posted"


def test_every_refusal_reason_is_given_at_once():
    rule = Rule("r", "c", "规则", "Rule", 5, max_quantity=2, evidence="required",
                effective_until=date(2025, 12, 31))
    assert codes(score(rule, quantity=3)) == [
        "quantity_above_limit", "evidence_required", "rule_not_effective"]


def test_a_datetime_for_the_day_is_a_programming_error():
    with pytest.raises(TypeError):
        score(VOLUNTEER_HOUR, occurred_on=datetime(2026, 4, 3, 12))


def test_every_reason_code_has_an_english_message_with_its_params_filled_in():
    decision = score(Rule("r", "c", "规则", "Rule", 10, caps=(Cap("year", count=1),),
                          two_person_above=5), usage={"year": Usage(count=0)})
    for reason in decision.reasons + score(MODEL_FAMILY, usage={"year": Usage(count=1)}).reasons:
        assert "{" not in reason.message_en and "?" not in reason.message_en
    assert Reason("something_new").message_en == "Something new."


def test_a_decision_as_a_dict_carries_the_reasons_with_their_messages():
    as_dict = score(VOLUNTEER_HOUR, quantity=3, usage={"month": Usage(points=38)}).to_dict()
    assert as_dict["points"] == 2 and as_dict["reasons"][0]["code"] == "points_cap_reached"
    assert as_dict["reasons"][0]["message"].startswith("The month cap of 40 points")


@pytest.mark.parametrize(("day", "month", "quarter", "year"), [
    (date(2026, 12, 31), "2026-12", "2026Q4", "2026"),
    (date(2027, 1, 1), "2027-01", "2027Q1", "2027"),
    (date(2026, 3, 31), "2026-03", "2026Q1", "2026"),
    (date(2026, 4, 1), "2026-04", "2026Q2", "2026"),
    (date(2024, 2, 29), "2024-02", "2024Q1", "2024"),
])
def test_period_keys_at_the_edges_of_months_quarters_and_years(day, month, quarter, year):
    assert [period_key(p, day) for p in PERIODS] == [month, quarter, year]


@pytest.mark.parametrize(("period", "day", "bounds"), [
    ("month", date(2026, 12, 31), (date(2026, 12, 1), date(2027, 1, 1))),
    ("month", date(2027, 1, 1), (date(2027, 1, 1), date(2027, 2, 1))),
    ("month", date(2024, 2, 29), (date(2024, 2, 1), date(2024, 3, 1))),
    ("quarter", date(2026, 3, 31), (date(2026, 1, 1), date(2026, 4, 1))),
    ("quarter", date(2026, 4, 1), (date(2026, 4, 1), date(2026, 7, 1))),
    ("quarter", date(2026, 12, 31), (date(2026, 10, 1), date(2027, 1, 1))),
    ("year", date(2026, 12, 31), (date(2026, 1, 1), date(2027, 1, 1))),
    ("year", date(2027, 1, 1), (date(2027, 1, 1), date(2028, 1, 1))),
])
def test_period_bounds_at_the_edges_are_half_open(period, day, bounds):
    assert period_bounds(period, day) == bounds


@given(st.sampled_from(PERIODS), st.dates(date(1900, 1, 1), date(9998, 12, 31)))
def test_a_day_lies_in_its_periods_bounds_and_the_next_period_has_another_key(period, day):
    start, end = period_bounds(period, day)
    assert start <= day < end
    assert period_key(period, start) == period_key(period, day) == period_key(
        period, end - timedelta(days=1))
    assert period_key(period, end) != period_key(period, day)


def test_an_unknown_period_is_refused():
    with pytest.raises(ValueError):
        period_key("week", APRIL)


caps = st.dictionaries(
    st.sampled_from(PERIODS),
    st.tuples(st.none() | st.integers(1, 60), st.none() | st.integers(1, 4)).filter(
        lambda pair: pair != (None, None)),
    max_size=3,
).map(lambda found: tuple(Cap(p, points, count) for p, (points, count) in found.items()))

rules = st.builds(
    Rule, code=st.sampled_from(["a", "b", "c"]), category=st.just("c"), name_zh=st.just("规则"),
    name_en=st.just("Rule"), points=st.integers(-30, 30).filter(bool),
    unit=st.sampled_from(["occurrence", "hour"]), max_quantity=st.none() | st.integers(1, 10),
    caps=caps, approval=st.sampled_from(["auto", "staff", "two_person"]),
    two_person_above=st.none() | st.integers(0, 50),
    evidence=st.sampled_from(["optional", "required"]))

records = st.lists(st.tuples(
    st.integers(0, 2),  # which rule
    st.integers(-1, 12),  # quantity
    st.dates(date(2026, 1, 1), date(2026, 12, 31)),
    st.booleans(),  # has evidence
), max_size=60)


@settings(max_examples=300)
@given(st.lists(rules, min_size=3, max_size=3, unique_by=lambda r: r.code), records,
       st.booleans())
def test_no_sequence_of_records_in_any_order_ever_exceeds_a_cap(
        rule_list, record_list, count_zero_point_records):
    usage: dict[tuple[str, str, str], Usage] = defaultdict(Usage)  # (rule, period, key)
    scored = []
    for which, quantity, day, has_evidence in record_list:
        rule = rule_list[which]
        now = {p: usage[rule.code, p, period_key(p, day)] for p in PERIODS}
        decision = evaluate(rule, quantity=quantity, occurred_on=day, has_evidence=has_evidence,
                            usage=now)
        assert type(decision.points) is int and type(decision.requested_points) is int
        assert abs(decision.points) <= abs(decision.requested_points)
        assert decision.points * rule.points >= 0
        assert (decision.status == "pending") == (decision.approvals_required > 0)
        if decision.status == "refused":
            assert decision.points == 0 and decision.approvals_required == 0
            continue
        assert decision.capped == (decision.points != decision.requested_points)
        counts = decision.points != 0 or count_zero_point_records
        for p in PERIODS:
            before = usage[rule.code, p, period_key(p, day)]
            usage[rule.code, p, period_key(p, day)] = Usage(before.points + decision.points,
                                                            before.count + counts)
        scored.append((rule, day, decision.points))

    for rule in rule_list:
        for cap in rule.caps:
            points, count = defaultdict(int), defaultdict(int)
            for scored_rule, day, pts in scored:
                if scored_rule is rule:
                    points[period_key(cap.period, day)] += pts
                    count[period_key(cap.period, day)] += pts != 0
            for key in points:
                assert cap.points is None or abs(points[key]) <= cap.points, (cap, key)
                assert cap.count is None or count[key] <= cap.count, (cap, key)
                assert usage[rule.code, cap.period, key].points == points[key]
    assert sum(u.points for (_, p, _), u in usage.items() if p == "year") == sum(
        pts for _, _, pts in scored)
