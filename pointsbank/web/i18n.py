"""Languages and formats of the pages: zh_CN by default, English on request.

* ``?lang=en`` / ``?lang=zh_CN`` on any page switches the language and is remembered in the
  session (``session["lang"]``); :func:`pointsbank._locale` reads ``?lang`` first, then the session.
* Jinja filters, all formatted for the request's locale with Babel:

  ``{{ fen|yuan }}``            integer fen → "¥12.50" (``Decimal``, never a float)
  ``{{ n|points }}``            1234 → "1,234"; ``n|points(signed=True)`` → "+20" / "-5"
  ``{{ moment|datetime_local }}`` an aware UTC datetime in the community's time zone (short form)
  ``{{ day|date_local }}``      a ``date`` (medium form: "2026年5月15日" / "May 15, 2026")
  ``{{ role|role_label }}``     "staff" → "工作人员" / "Staff" (also ``kind_label`` for ledger
                                transaction kinds and ``status_label`` for statuses)
  ``{{ names|localized }}``     ``{"zh": …, "en": …}`` (rule names) in the page's language

The community's time zone is ``g.timezone`` (set by :func:`pointsbank.web.pages.current_community`),
else the ``TIMEZONE`` setting.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import dates as babel_dates, numbers as babel_numbers
from flask import Flask, current_app, g, request, session, url_for
from flask_babel import get_locale, lazy_gettext as _l, refresh
from werkzeug.routing import BuildError

from pointsbank.request_state import forget_on_reuse

LANGUAGES = {"zh_CN": "中文", "en": "English"}

ROLE_LABELS = {
    "admin": _l("Administrator"),
    "staff": _l("Staff"),
    "grid_worker": _l("Grid worker"),
    "resident": _l("Resident"),
    "cashier": _l("Cashier"),
}

#: ledger transaction kinds in plain words (a household's history)
KIND_LABELS = {
    "opening": _l("Opening balance"),
    "award": _l("Points awarded"),
    "deduction": _l("Points deducted"),
    "adjustment": _l("Correction by staff"),
    "reversal": _l("Taken back"),
    "voucher_issue": _l("Voucher created"),
    "redemption": _l("Spent at a shop"),
    "voucher_return": _l("Voucher points returned"),
    "card_payment": _l("Paid with the household card"),
    "expiry": _l("Expired voucher returned"),
}

#: statuses of records, objections, vouchers and settlement statements
STATUS_LABELS = {
    "pending": _l("Waiting for approval"),
    "posted": _l("Posted"),
    "rejected": _l("Rejected"),
    "objected": _l("Objection raised"),
    "upheld": _l("Upheld"),
    "reversed": _l("Reversed"),
    "open": _l("Open"),
    "issued": _l("Ready to use"),
    "redeemed": _l("Used"),
    "cancelled": _l("Cancelled"),
    "expired": _l("Expired"),
    "draft": _l("Draft"),
    "confirmed": _l("Confirmed"),
    "paid": _l("Paid"),
}


def remember_language() -> None:
    """``?lang=`` on a page is remembered for the next pages (never on the bearer-token API)."""
    if request.path.startswith("/api/"):
        return
    lang = request.args.get("lang")
    if lang in LANGUAGES and session.get("lang") != lang:
        session["lang"] = lang


def timezone() -> ZoneInfo:
    return ZoneInfo(g.get("timezone") or current_app.config["TIMEZONE"])


def yuan(fen: int | None) -> str:
    if fen is None:
        return ""
    return babel_numbers.format_currency(Decimal(int(fen)) / 100, "CNY", locale=get_locale())


def points(value: int | None, signed: bool = False) -> str:
    if value is None:
        return ""
    text = babel_numbers.format_decimal(abs(int(value)), locale=get_locale())
    if value < 0:
        return f"-{text}"
    return f"+{text}" if signed and value > 0 else text


def datetime_local(moment: datetime | None, format: str = "short") -> str:  # noqa: A002 - Jinja's keyword
    if moment is None:
        return ""
    return babel_dates.format_datetime(moment.astimezone(timezone()), format=format, locale=get_locale())


def date_local(day: date | None, format: str = "medium") -> str:  # noqa: A002
    if day is None:
        return ""
    return babel_dates.format_date(day, format=format, locale=get_locale())


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def localized(names: dict[str, str] | None) -> str:
    """``{"zh": …, "en": …}`` (rule and category names) in the page's language."""
    if not names:
        return ""
    return names.get("en" if current_language() == "en" else "zh") or next(iter(names.values()), "")


def lang_url(lang: str) -> str:
    """This page (same arguments) in another language; a POST's result page links to its GET."""
    rule = request.url_rule
    if rule is None or "GET" not in (rule.methods or ()):
        return url_for("account.index", lang=lang)
    args = {**(request.view_args or {}), **request.args.to_dict(), "lang": lang}
    try:
        return url_for(request.endpoint or "account.index", **args)
    except BuildError:  # an endpoint that cannot be built from its arguments (error pages)
        return url_for("account.index", lang=lang)


def current_language() -> str:
    """``"zh_CN"`` or ``"en"`` (Babel spells the Chinese locale ``zh_Hans_CN``)."""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh_CN"


def init_app(app: Flask) -> None:
    # Flask-Babel caches the locale in ``g``, which outlives a request when an app context was
    # already pushed (tests, scripts): chosen afresh for such a request
    forget_on_reuse(app, refresh)
    app.before_request(remember_language)
    app.add_template_filter(yuan)
    app.add_template_filter(points)
    app.add_template_filter(datetime_local)
    app.add_template_filter(date_local)
    app.add_template_filter(role_label)
    app.add_template_filter(kind_label)
    app.add_template_filter(status_label)
    app.add_template_filter(localized)
    app.add_template_global(lang_url)
    app.add_template_global(current_language)
    app.add_template_global(LANGUAGES, "LANGUAGES")
