"""Bar charts as inline SVG, drawn by the server (no chart library, no script, nothing fetched).

A chart is markup the template drops in as is::

    {{ chart }}   # chart = bar_chart([Bar("志愿服务", 30, "30"), …], chart_id="category-chart", …)

* **Accessible**: ``role="img"`` named by its ``<title>`` and described by its ``<desc>``
  (``aria-labelledby``), and every bar has its label and value as real text, so a screen
  reader, a search and a printout all read the numbers.
* **No inline styles** (the Content-Security-Policy forbids ``style=""``): the colours are
  presentation attributes (``fill=""``), which ``static/css/app.css`` may override by class
  (``chart-bar``, ``chart-bar-minus``, ``chart-label``, ``chart-value``, ``chart-axis``).
* **Negative totals** (a category of deductions) draw to the left of a zero line.
* The drawing is 640 units wide and scales to its box (``viewBox``); label widths are
  estimated from the text (a CJK character is about one em, a Latin one about 0.6 em) and a
  label too long for its column is shortened with "…" (the full text stays in ``<desc>``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Sequence

from markupsafe import Markup, escape

WIDTH = 640
FONT = 16
ROW = 40
BAR = 24
PAD = 8
GAP = 8
FILL = "#a3231c"
FILL_MINUS = "#59616b"
INK = "#1b1f24"


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    #: the value as shown (formatted for the locale by the caller)
    text: str


def text_width(text: str, size: float = FONT) -> float:
    """An estimate of the text's width in user units (no font metrics on the server)."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.6 for ch in text) * size


def _fit(text: str, width: float) -> str:
    if text_width(text) <= width:
        return text
    while text and text_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def bar_chart(bars: Sequence[Bar], *, chart_id: str, title: str, desc: str, empty_text: str) -> Markup:
    """Horizontal bars, one row per item: label | bar | value."""
    rows = list(bars)
    height = PAD * 2 + ROW * max(len(rows), 1)
    head = (f'<svg id="{escape(chart_id)}" class="chart" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
            f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">'
            f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
            f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>')
    if not rows:
        body = (f'<text class="chart-empty" x="{WIDTH // 2}" y="{_num(PAD + ROW / 2 + FONT * 0.35)}" '
                f'text-anchor="middle" font-size="{FONT}" fill="{INK}">{escape(empty_text)}</text>')
        return Markup(head + body + "</svg>")

    label_w = min(max(text_width(b.label) for b in rows) + GAP * 2, WIDTH * 0.4)
    value_w = max(text_width(b.text) for b in rows) + GAP * 2
    plot_x0, plot_x1 = label_w, WIDTH - value_w
    plot_w = max(plot_x1 - plot_x0, 1)
    most = max(0, max(b.value for b in rows))
    least = max(0, -min(b.value for b in rows))
    span = (most + least) or 1
    zero_x = plot_x0 + plot_w * least / span

    parts = [head]
    for i, b in enumerate(rows):
        top = PAD + ROW * i
        middle = top + ROW / 2
        baseline = _num(middle + FONT * 0.35)
        size = plot_w * abs(b.value) / span
        if b.value:
            size = max(size, 2)  # a small non-zero total stays visible
        x = zero_x - size if b.value < 0 else zero_x
        minus = b.value < 0
        parts.append(
            f'<g class="chart-row">'
            f'<text class="chart-label" x="{_num(label_w - GAP)}" y="{baseline}" text-anchor="end" '
            f'font-size="{FONT}" fill="{INK}">{escape(_fit(b.label, label_w - GAP * 2))}</text>'
            f'<rect class="chart-bar{" chart-bar-minus" if minus else ""}" x="{_num(x)}" '
            f'y="{_num(middle - BAR / 2)}" width="{_num(size)}" height="{BAR}" '
            f'fill="{FILL_MINUS if minus else FILL}"/>'
            f'<text class="chart-value" x="{WIDTH - GAP}" y="{baseline}" text-anchor="end" '
            f'font-size="{FONT}" fill="{INK}">{escape(b.text)}</text>'
            f'</g>')
    parts.append(f'<line class="chart-axis" x1="{_num(zero_x)}" y1="{PAD}" x2="{_num(zero_x)}" '
                 f'y2="{height - PAD}" stroke="{INK}" stroke-width="1"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
