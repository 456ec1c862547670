"""Bar charts as inline SVG, drawn by the server (no chart library, no script, nothing fetched).

A chart is markup the template drops in as is::

    {{ chart }}   # chart = bar_chart([Bar("志愿服务", 30, "30"), …], chart_id="category-chart", …)

* **Accessible**: ``role="img"`` named by its ``<title>`` and described by its ``<desc>``
  (``aria-labelledby``), and every bar has its label and value as real text, so a screen
  reader, a search and a printout all read the numbers.
* **No inline styles** (the Content-Security-Policy forbids ``style=""``): the colours are
  presentation attributes (``fill=""``), which ``static/css/app.css`` may override by class
  (``chart-bar``, ``chart-bar-minus``, ``chart-label``, ``chart-value``, ``chart-axis``).
* **Negative totals** (a category of deductions) draw to the left of a zero line (drawn only
  then).
* The drawing is 360 units wide and scales to its box (``viewBox``); label widths are
  estimated from the text (a CJK character is about one em, a Latin one about 0.6 em): short
  labels sit left of their bars, longer ones (English) on their own line above them, and a
  label longer than the whole width is shortened with "…" (the full text stays in ``<desc>``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Sequence

from markupsafe import Markup, escape

#: in user units; about a phone's width, so the text stays readable at 1:1 there (CSS caps the width on wide screens)
WIDTH = 360
FONT = 15
ROW = 34
BAR = 20
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
    """Horizontal bars, one row per item: ``label | bar | value`` when every label fits in
    two fifths of the width, else each label on its own line above its bar (long English names)."""
    rows = list(bars)
    widest = max((text_width(b.label) for b in rows), default=0)
    stacked = widest + GAP * 2 > WIDTH * 0.4
    row = ROW + (FONT + GAP // 2 if stacked else 0)
    height = PAD * 2 + row * max(len(rows), 1)
    cid = escape(chart_id)
    head = (f'<svg id="{cid}" class="chart" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
            f'aria-labelledby="{cid}-title {cid}-desc">'
            f'<title id="{cid}-title">{escape(title)}</title><desc id="{cid}-desc">{escape(desc)}</desc>')
    if not rows:
        body = (f'<text class="chart-empty" x="{WIDTH // 2}" y="{_num(PAD + ROW / 2 + FONT * 0.35)}" '
                f'text-anchor="middle" font-size="{FONT}" fill="{INK}">{escape(empty_text)}</text>')
        return Markup(head + body + "</svg>")

    label_w = GAP if stacked else widest + GAP * 2
    value_w = max(text_width(b.text) for b in rows) + GAP * 2
    plot_x0, plot_x1 = label_w, WIDTH - value_w
    plot_w = max(plot_x1 - plot_x0, 1)
    most = max(0, max(b.value for b in rows))
    least = max(0, -min(b.value for b in rows))
    span = (most + least) or 1
    zero_x = plot_x0 + plot_w * least / span

    parts = [head]
    for i, b in enumerate(rows):
        top = PAD + row * i
        middle = top + row - ROW / 2  # the bar's line (the last ROW of the row)
        baseline = _num(middle + FONT * 0.35)
        size = plot_w * abs(b.value) / span
        if b.value:
            size = max(size, 2)  # a small non-zero total stays visible
        x = zero_x - size if b.value < 0 else zero_x
        minus = b.value < 0
        if stacked:
            label = (f'<text class="chart-label" x="{GAP}" y="{_num(top + FONT)}" font-size="{FONT}" '
                     f'fill="{INK}">{escape(_fit(b.label, WIDTH - GAP * 2))}</text>')
        else:
            label = (f'<text class="chart-label" x="{_num(label_w - GAP)}" y="{baseline}" text-anchor="end" '
                     f'font-size="{FONT}" fill="{INK}">{escape(b.label)}</text>')
        parts.append(
            f'<g class="chart-row">{label}'
            f'<rect class="chart-bar{" chart-bar-minus" if minus else ""}" x="{_num(x)}" '
            f'y="{_num(middle - BAR / 2)}" width="{_num(size)}" height="{BAR}" '
            f'fill="{FILL_MINUS if minus else FILL}"/>'
            f'<text class="chart-value" x="{WIDTH - GAP}" y="{baseline}" text-anchor="end" '
            f'font-size="{FONT}" fill="{INK}">{escape(b.text)}</text>'
            f'</g>')
    if least:  # the zero line, where bars go both ways
        parts.append(f'<line class="chart-axis" x1="{_num(zero_x)}" y1="{PAD}" x2="{_num(zero_x)}" '
                     f'y2="{height - PAD}" stroke="{INK}" stroke-width="1"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
