"""The texts of the notifications, rendered from a template name and its params in the reader's
language (zh_CN, the default, or en). An SMS is rendered in the community's default language
(zh_CN) when it is sent; the inbox renders for whoever reads it."""

from __future__ import annotations

from typing import Any

from flask_babel import force_locale, lazy_gettext as _l

TEMPLATES: dict[str, Any] = {
    "points_awarded": _l("Household %(number)s: %(points)s points added for “%(rule)s”. "
                         "Objections can be raised until %(deadline)s."),
    "points_deducted": _l("Household %(number)s: %(points)s points deducted for “%(rule)s”. "
                          "Objections can be raised until %(deadline)s."),
    "points_adjusted": _l("Household %(number)s: a correction of %(points)s points by the community office "
                          "(%(rule)s)."),
    "points_reversed": _l("Household %(number)s: an objection was upheld, %(points)s points of “%(rule)s” "
                          "were taken back."),
    "voucher_expiring": _l("Household %(number)s: your voucher for %(points)s points expires at %(expires_at)s. "
                           "Unused points go back to your account."),
    "reservation_expiring": _l("Household %(number)s: your reservation %(code)s (%(points)s points) expires at "
                               "%(expires_at)s. Collect it before then or the goods go back on the shelf."),
    "card_blocked": _l("Household %(number)s: the household card was blocked after five wrong PINs. "
                       "The community office can unblock it."),
}


def render(template: str, params: dict[str, Any], locale: str | None = None) -> str:
    """The message in ``locale`` (default: the request's language, else zh_CN)."""
    values = dict(params)
    if "points" in values:
        points = int(values["points"])
        values["points"] = f"{points:+d}" if template == "points_adjusted" else abs(points)
    if locale is None:
        return str(TEMPLATES[template]) % values
    with force_locale(locale):
        return str(TEMPLATES[template]) % values
