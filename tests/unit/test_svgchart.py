"""The server-drawn bar chart of the notice board (``pointsbank.web.svgchart``): pure markup."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from pointsbank.web.svgchart import WIDTH, Bar, bar_chart, text_width

SVG = "{http://www.w3.org/2000/svg}"


def _chart(bars, **kwargs):
    options = {"chart_id": "c", "title": "各类别积分", "desc": "说明", "empty_text": "没有积分"} | kwargs
    markup = bar_chart(bars, **options)
    return markup, ET.fromstring(str(markup))


def test_each_bar_has_its_label_and_value_as_text_and_a_length_in_proportion():
    _, svg = _chart([Bar("志愿服务", 30, "30"), Bar("家庭文明", 15, "15")])

    labels = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "chart-label"]
    values = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "chart-value"]
    widths = [float(r.get("width")) for r in svg.iter(f"{SVG}rect")]
    assert labels == ["志愿服务", "家庭文明"] and values == ["30", "15"]
    assert abs(widths[0] - 2 * widths[1]) < 0.2


def test_the_chart_is_an_image_named_by_its_title_and_described_by_its_desc():
    _, svg = _chart([Bar("志愿服务", 30, "30")], title="各类别积分，2026年第1季度", desc="志愿服务：30 分")

    assert svg.get("role") == "img" and svg.get("id") == "c"
    assert svg.get("aria-labelledby") == "c-title c-desc"
    assert svg.find(f"{SVG}title").text == "各类别积分，2026年第1季度"
    assert svg.find(f"{SVG}desc").text == "志愿服务：30 分"


def test_a_negative_total_draws_left_of_the_zero_line():
    _, svg = _chart([Bar("加分", 30, "30"), Bar("扣分", -10, "-10")])

    plus, minus = list(svg.iter(f"{SVG}rect"))
    zero = float(svg.find(f"{SVG}line").get("x1"))
    assert float(plus.get("x")) == zero and abs(float(minus.get("x")) + float(minus.get("width")) - zero) < 0.2
    assert "chart-bar-minus" in minus.get("class")
    assert abs(float(plus.get("width")) - 3 * float(minus.get("width"))) < 0.2


def test_without_categories_the_chart_says_so():
    _, svg = _chart([])

    assert [t.text for t in svg.iter(f"{SVG}text")] == ["没有积分"]
    assert list(svg.iter(f"{SVG}rect")) == []


def test_text_is_escaped_and_nothing_uses_inline_styles():
    markup, svg = _chart([Bar('<script>"x"</script>', 1, "1")], title="a & b")

    assert "<script>" not in str(markup) and " style=" not in str(markup)
    assert svg.find(f"{SVG}title").text == "a & b"


def test_long_labels_go_on_their_own_line_above_their_bars_and_never_overflow():
    _, short = _chart([Bar("志愿服务", 5, "5")])
    _, longer = _chart([Bar("Volunteer service", 5, "5"), Bar("Neighbourliness", 3, "3")])
    _, huge = _chart([Bar("很长的类别名称" * 10, 5, "5")])

    def label(svg):
        return next(t for t in svg.iter(f"{SVG}text") if t.get("class") == "chart-label")

    bar = next(iter(short.iter(f"{SVG}rect")))
    assert label(short).get("text-anchor") == "end" and float(label(short).get("x")) < float(bar.get("x"))
    first_bar = next(iter(longer.iter(f"{SVG}rect")))
    assert label(longer).text == "Volunteer service"  # whole, not shortened
    assert float(label(longer).get("y")) < float(first_bar.get("y"))  # above its bar
    shown = label(huge).text
    assert shown.endswith("…") and text_width(shown) <= WIDTH


def test_chinese_characters_are_measured_wider_than_latin_ones():
    assert text_width("志愿", 16) == 32
    assert abs(text_width("ab", 16) - 19.2) < 1e-9
