"""Recording a behaviour (with its dry-run preview) and the approval queue.

The form is built for a phone: find the household (number, head's name or grid), pick the
rule (grouped by category), quantity and date (today by default), and the preview shows
what the record will score — ``static/js/record.js`` posts the form to ``/staff/records/preview``,
which answers an HTML fragment rendered from the same ``evaluate_record`` as the API's dry run.
"""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from pointsbank import clock
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.auth.models import User
from pointsbank.community import services as community_services
from pointsbank.community.models import Community
from pointsbank.errors import DomainError
from pointsbank.rules import approvals as deciding, listing, records
from pointsbank.reports import pages as queries
from pointsbank.web.forms import RecordForm, RejectForm
from pointsbank.web.i18n import localized
from pointsbank.web.pages import attempt, current_community, rule_book, rule_names
from pointsbank.web.staff_blueprint import bp

def rule_choices(book: dict[str, Any] | None) -> list[tuple[str, list[tuple[str, str]]]]:
    """``(category name, [(rule code, "name (+2 / hour)")…])`` in the book's order, for <optgroup>s."""
    if not book:
        return []
    groups = []
    for category in book["categories"]:
        rules = [(rule["code"], _rule_label(rule)) for rule in book["rules"] if rule["category"] == category["code"]]
        if rules:
            groups.append((localized(category["name"]), rules))
    return groups


def _rule_label(rule: dict[str, Any]) -> str:
    points = f"{rule['points']:+d}"
    per = _("%(points)s per hour", points=points) if rule["unit"] == "hour" else _("%(points)s each", points=points)
    return f"{localized(rule['name'])} ({per})"


def _record_form(actor: User, community: Community, book: dict[str, Any] | None) -> RecordForm:
    form = RecordForm()
    form.rule_code.choices = rule_choices(book)
    if request.method == "GET":
        form.occurred_on.data = clock.today_in(community.timezone)
        form.household_id.data = request.args.get("household_id", type=int)
        form.rule_code.data = request.args.get("rule_code")
    return form


@bp.get("/records/new")
@policy.allow(*records.RECORDER_ROLES)
def new_record() -> str:
    return _render_record_page(current_user())


def _render_record_page(actor: User, form: RecordForm | None = None, status: int = 200) -> Any:
    community = current_community(actor)
    book = rule_book(actor, community)
    form = form or _record_form(actor, community, book)
    q = (request.args.get("q") or "").strip()
    grid = (request.args.get("grid") or "").strip()
    found: list[dict[str, Any]] = []
    if q or grid:
        found = community_services.list_households(actor, community.id, q=q or None, grid=grid or None,
                                                   limit=20)["items"]
    chosen = None
    if form.household_id.data and not found:
        try:
            chosen = community_services.household_view(actor, form.household_id.data)
        except DomainError:
            form.household_id.data = None
    if len(found) == 1:
        form.household_id.data = found[0]["id"]
    if chosen is not None:
        form.resident_id.choices = [("", _("Whole household"))] + [(r.id, r.name) for r in chosen["residents"]]
    today = clock.today_in(community.timezone)
    return render_template("staff/record.html", active="record", form=form, book=book, found=found, chosen=chosen,
                           q=q, grid=grid, grids=community_services.list_grids(actor, community.id),
                           today=today), status


@bp.post("/records/new")
@policy.allow(*records.RECORDER_ROLES)
def create_record() -> Response | Any:
    actor = current_user()
    community = current_community(actor)
    form = _record_form(actor, community, rule_book(actor, community))
    if not form.validate():
        return _render_record_page(actor, form, 400)
    record = attempt(records.create_record, actor, **_record_args(form))
    if record is None:
        return _render_record_page(actor, form, 422)
    if record.status == "posted":
        flash(_("Recorded: %(points)s points posted.", points=f"{record.points:+d}"), "success")
    else:
        flash(_("Recorded: %(points)s points, waiting for approval.", points=f"{record.points:+d}"), "success")
    return redirect(url_for(".household", household_id=record.household_id))


def _record_args(form: RecordForm) -> dict[str, Any]:
    return {"household_id": form.household_id.data, "rule_code": form.rule_code.data,
            "occurred_on": form.occurred_on.data, "quantity": form.quantity.data,
            "resident_id": form.resident_id.data or None, "note": (form.note.data or "").strip() or None}


@bp.post("/records/preview")
@policy.allow(*records.RECORDER_ROLES)
def preview_record() -> Any:
    """The dry run of the form as it stands: an HTML fragment for ``record.js`` (records nothing)."""
    actor = current_user()
    community = current_community(actor)
    form = _record_form(actor, community, rule_book(actor, community))
    if not form.validate():
        return render_template("staff/_preview.html", result=None, error=None, incomplete=True)
    try:
        result = records.evaluate_record(actor, **_record_args(form))
    except DomainError as error:
        return render_template("staff/_preview.html", result=None, error=error.render_message(), incomplete=False)
    return render_template("staff/_preview.html", result=result, error=None, incomplete=False)


# --- the approval queue -------------------------------------------------------------------

@bp.get("/approvals")
@policy.allow("admin", "staff")
def approvals() -> str:
    actor = current_user()
    community = current_community(actor)
    page = listing.list_records(actor, community_id=community.id, status="pending", limit=30,
                                cursor=request.args.get("cursor") or None)
    items = page["items"]
    book = rule_book(actor, community)
    return render_template(
        "staff/approvals.html", active="approvals", page=page, reject_form=RejectForm(),
        households=queries.households_by_id(actor, {r.household_id for r in items}),
        names=queries.user_names({r.recorded_by_id for r in items} | {a for r in items for a in r.approved_by}),
        rule_names=rule_names(book))


@bp.post("/records/<int:record_id>/approve")
@policy.allow("staff")
def approve_record(record_id: int) -> Response:
    record = attempt(deciding.approve, current_user(), record_id)
    if record is not None:
        if record.status == "posted":
            flash(_("Approved: %(points)s points posted.", points=f"{record.points:+d}"), "success")
        else:
            flash(_("Approved; it needs one more approval by another staff member."), "success")
    return redirect(url_for(".approvals"))


@bp.post("/records/<int:record_id>/reject")
@policy.allow("staff")
def reject_record(record_id: int) -> Response:
    form = RejectForm()
    if form.validate():
        attempt(deciding.reject, current_user(), record_id, reason=(form.reason.data or "").strip(),
                success=_("Rejected; no points were posted."))
    return redirect(url_for(".approvals"))
