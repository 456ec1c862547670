"""A resident's pages (``/home``): the household's points, its history in plain words, and
vouchers — created here and shown full-screen at the shop's counter.

Thin views over the services: ``household_view`` and ``household_history`` (scope: the
resident's own household), ``issue_voucher`` / ``get_voucher`` / ``cancel_voucher`` /
``voucher_qr`` (another household's voucher answers 404, exactly like the API), and
``reports.resets.upcoming_reset`` for the notice of the next reset or expiry.

A resident who is a **proxy** (代办人) for other households picks the one it acts for on
``/home`` (``POST /home/switch``, kept in the session); every page then shows that household —
the services check the grant (``policy.is_proxy_for``) and audit each use with both names.
``/home/passbook`` is the printable passbook of the household shown.

The start page also shows the resident's own inbox (unread count, the latest messages, mark
read) and the household's SMS choice (``pointsbank.web.resident_inbox``); a proxy acting for
another household sees neither for it.

The voucher page polls ``/home/vouchers/<id>/status`` (``static/js/voucher.js``) and reloads
when the shop has redeemed it, so the resident sees "Used" with the receipt; without
JavaScript a reload does the same.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange

from pointsbank import clock
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.auth.models import User
from pointsbank.community import proxies, services as community_services
from pointsbank.community.models import Community
from pointsbank.database import unit_of_work
from pointsbank.errors import DomainError, NotFound
from pointsbank.ledger import history
from pointsbank.notify import services as notify
from pointsbank.redeem import vouchers
from pointsbank.regions.stars import stars_view
from pointsbank.reports import passbook as passbooks, resets
from pointsbank.reports import pages as queries
from pointsbank.web.forms import ActionForm
from pointsbank.web.i18n import kind_label, localized
from pointsbank.web.pages import attempt, current_community, rule_book, rule_names

bp = Blueprint("resident", __name__, url_prefix="/home")

#: how many postings the start page shows (the history page pages through all of them)
RECENT = 8
#: how many inbox messages the start page shows (``/home/notifications`` pages through all)
INBOX_RECENT = 5
#: seconds between two status checks of an open voucher on its page
POLL_SECONDS = 3


class VoucherForm(FlaskForm):
    points = IntegerField(_l("Points for the voucher"),
                          validators=[InputRequired(_l("Say how many points the voucher is for.")),
                                      NumberRange(min=1, message=_l("Points must be 1 or more."))],
                          render_kw={"inputmode": "numeric", "min": 1, "autocomplete": "off"})


#: the session key of the household a proxy acts for on these pages
ACTING = "acting_household_id"


def acting_household_id(actor: User) -> int | None:
    """The household the pages show: the one picked with ``/home/switch`` while the grant
    lasts (the services refuse it with 404 once it has ended), else the resident's own."""
    return session.get(ACTING) or actor.household_id


def _household(actor: User) -> tuple[Community, dict[str, Any]]:
    community = current_community(actor)
    try:
        household = community_services.household_view(actor, acting_household_id(actor))
    except NotFound:
        if session.pop(ACTING, None) is None:  # a grant ended: back to the resident's own household
            raise
        household = community_services.household_view(actor, actor.household_id)
    if household is None:  # a resident login without a household has no page
        raise NotFound()
    return community, household


# --- the start page --------------------------------------------------------------------------

@bp.get("")
@policy.allow("resident")
def home() -> str:
    return _render_home(current_user())


def _render_home(actor: User, form: VoucherForm | None = None, status: int = 200) -> Any:
    community, household = _household(actor)
    postings = history.household_history(actor, household["id"], limit=RECENT)
    open_vouchers = vouchers.list_household_vouchers(actor, household["id"], status="issued", limit=10)["items"]
    form = form or VoucherForm()
    acting_for = household["id"] != actor.household_id
    return render_template(
        "resident/home.html", active="home", household=household, form=form, open_vouchers=open_vouchers,
        helped=proxies.helped_households(actor), acting_for=acting_for,
        inbox=None if acting_for else notify.inbox(actor, limit=INBOX_RECENT), action_form=ActionForm(),
        notice=resets.upcoming_reset(community, household["id"]), reset_policy=community.points_reset,
        expire_years=community.points_expire_years,
        entries=explain(actor, community, postings["items"]), more_history=postings["next_cursor"] is not None,
        stars=stars_view(community.id, household["id"]),
        voucher_hours=community.voucher_ttl_hours), status


@bp.get("/history")
@policy.allow("resident")
def history_page() -> str:
    actor = current_user()
    community, household = _household(actor)
    postings = history.household_history(actor, household["id"], limit=30, cursor=request.args.get("cursor") or None)
    return render_template("resident/history.html", active="history", household=household,
                           entries=explain(actor, community, postings["items"]), next_cursor=postings["next_cursor"])


# --- vouchers --------------------------------------------------------------------------------

@bp.post("/vouchers")
@policy.allow("resident")
def create_voucher() -> Any:
    actor = current_user()
    form = VoucherForm()
    if not form.validate():
        return _render_home(actor, form, 400)
    made = attempt(vouchers.issue_voucher, actor, points=form.points.data, household_id=acting_household_id(actor))
    if made is None:
        return _render_home(actor, form, 422)
    return redirect(url_for(".voucher", voucher_id=made["id"]))


@bp.get("/vouchers")
@policy.allow("resident")
def voucher_list() -> str:
    actor = current_user()
    _, household = _household(actor)
    wanted = request.args.get("status") or None
    page = vouchers.list_household_vouchers(actor, household["id"], status=wanted, limit=30,
                                            cursor=request.args.get("cursor") or None)
    return render_template("resident/vouchers.html", active="vouchers", household=household, page=page,
                           wanted=wanted)


@bp.get("/vouchers/<voucher_id>")
@policy.allow("resident")
def voucher(voucher_id: str) -> str:
    actor = current_user()
    current_community(actor)
    shown = vouchers.get_voucher(actor, voucher_id)
    seconds_left = max(0, int((shown["expires_at"] - clock.now()).total_seconds()))
    return render_template("resident/voucher.html", active="vouchers", voucher=shown, seconds_left=seconds_left,
                           poll_seconds=POLL_SECONDS, cancel_form=ActionForm())


@bp.get("/vouchers/<voucher_id>/qr.png")
@policy.allow("resident")
def voucher_qr(voucher_id: str) -> Response:
    """The voucher's QR image for its page (the API's image, behind the page session)."""
    image = vouchers.voucher_qr(current_user(), voucher_id, "png")
    response = Response(image.body, mimetype=image.mimetype)
    response.set_etag(image.etag)
    response.cache_control.private = True
    response.cache_control.max_age = image.max_age
    return response.make_conditional(request)


@bp.get("/vouchers/<voucher_id>/status")
@policy.allow("resident")
def voucher_status(voucher_id: str) -> Response:
    """``{"status": "issued"}`` for the voucher page's poll; it reloads when this changes."""
    shown = vouchers.get_voucher(current_user(), voucher_id)
    response = jsonify({"status": shown["status"]})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/vouchers/<voucher_id>/cancel")
@policy.allow("resident")
def cancel_voucher(voucher_id: str) -> Response:
    form = ActionForm()
    if form.validate():
        try:
            unit_of_work(vouchers.cancel_voucher)(current_user(), voucher_id)
        except NotFound:
            raise  # another household's voucher: the error page, not a flash on a page that 404s
        except DomainError as error:
            flash(error.render_message(), "error")
        else:
            flash(_("The voucher is cancelled; its points are back in your account."), "success")
    return redirect(url_for(".voucher", voucher_id=voucher_id))


# --- proxies and the passbook ---------------------------------------------------------------

@bp.post("/switch")
@policy.allow("resident")
def switch_household() -> Response:
    """Act for another household this login is a proxy for (or back to its own)."""
    actor = current_user()
    wanted = request.form.get("household_id", type=int)
    if ActionForm().validate():
        if wanted in {h.id for h in proxies.helped_households(actor)}:
            session[ACTING] = wanted
        else:
            session.pop(ACTING, None)
    return redirect(url_for(".home"))


@bp.get("/passbook")
@policy.allow("resident")
def passbook() -> str:
    actor = current_user()
    _, household = _household(actor)
    book = passbooks.passbook(actor, household["id"], period=request.args.get("period") or None)
    return render_template("passbook.html", layout="resident/layout.html", active="history", book=book,
                           size=request.args.get("size") if request.args.get("size") in ("a4", "a5") else "a4",
                           back=url_for(".home"))


# --- the history in plain words --------------------------------------------------------------

def explain(actor: User, community: Community, postings: list[Any]) -> list[dict[str, Any]]:
    """Each posting with a sentence saying what it was: the rule of a record, the reason of a
    correction, the voucher and the shop where it was used, a reset or expiry."""
    record_ids = {int(p.reference_id) for p in postings if p.reference_type == "record" and p.reference_id.isdigit()}
    records = queries.records_by_id(actor, record_ids)
    names = rule_names(rule_book(actor, community)) if records else {}
    receipts: dict[str, dict[str, Any] | None] = {}
    for p in postings:
        if p.kind in ("redemption", "card_payment") and p.reference_type == "voucher" and p.reference_id not in receipts:
            receipts[p.reference_id] = _receipt(actor, p.reference_id)
    return [{"posting": p, "title": _title(p), "detail": _detail(p, records, names, receipts, community),
             # a card payment's receipt voucher is no voucher of the household's: no link to it
             "voucher_id": p.reference_id if p.reference_type == "voucher" and p.kind != "card_payment" else None}
            for p in postings]


def _receipt(actor: User, voucher_id: str) -> dict[str, Any] | None:
    try:
        return vouchers.get_voucher(actor, voucher_id)["receipt"]
    except DomainError:
        return None


#: where a resident's history words a kind differently from the staff pages (``i18n.KIND_LABELS``)
TITLES = {
    "redemption": _l("Voucher used at a shop"),
    "voucher_return": _l("Voucher cancelled"),
    "expiry": _l("Voucher expired unused"),
    resets.RESET_KIND: _l("Points reset to the base"),
    resets.EXPIRY_KIND: _l("Old points lapsed"),
}


def _title(posting: Any) -> str:
    title = TITLES.get(posting.kind)
    return str(title) if title is not None else kind_label(posting.kind)


def _detail(p: Any, records: dict[int, Any], names: dict[str, dict[str, str]],
            receipts: dict[str, dict[str, Any] | None], community: Community) -> str:
    kind, memo = p.kind, p.memo or ""
    if p.reference_type == "record" and p.reference_id.isdigit() and int(p.reference_id) in records:
        record = records[int(p.reference_id)]
        rule = localized(names.get(record.rule_code)) or memo or record.rule_code
        if kind == "reversal" or p.reversal_of_id:
            return _("The record \u201c%(rule)s\u201d was reversed after an objection.", rule=rule)
        if record.quantity and record.quantity > 1:
            return f"{rule} \u00d7 {record.quantity}"
        return rule
    if kind == "voucher_issue":
        return _("Points set aside for a voucher until it is used, cancelled or expires.")
    if kind == "redemption":
        receipt = receipts.get(p.reference_id or "")
        if receipt:
            return _("%(points)s points spent at %(shop)s; the rest of the voucher came back.",
                     points=receipt["points"], shop=receipt["shop_name"] or "")
        return _("The rest of the voucher came back.")
    if kind == "card_payment":
        receipt = receipts.get(p.reference_id or "")
        if receipt:
            return _("%(points)s points spent at %(shop)s with the household card.",
                     points=receipt["points"], shop=receipt["shop_name"] or "")
        return _("Spent at a shop with the household card.")
    if kind == "voucher_return":
        return _("The voucher's points came back to your account.")
    if kind == "expiry" and p.reference_type == "voucher":
        return _("The voucher was not used in time; its points came back.")
    if kind == resets.RESET_KIND:
        return _("End of %(period)s: the balance goes back to the base of %(base)s points.",
                 period=p.reference_id or "", base=community.base_points)
    if kind == resets.EXPIRY_KIND:
        return _("End of %(period)s: points earned more than %(years)s year(s) earlier and not spent lapse.",
                 period=p.reference_id or "", years=community.points_expire_years or "")
    return memo
