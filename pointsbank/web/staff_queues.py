"""The objections queue and the bulk import of records.

Import is two steps, as in the API: upload → every row checked and reported by line
(nothing written) → "Post the valid rows" posts them. The file is kept in between
(``uploads.py``), so the second step does not upload it again. ``static/js/upload.js`` shows
the upload's progress; without JavaScript both steps are plain forms.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.database import unit_of_work
from pointsbank.errors import DomainError
from pointsbank.rules import importer, objections as objection_services
from pointsbank.reports import pages as queries
from pointsbank.web import uploads
from pointsbank.web.forms import ImportForm, ResolveForm
from pointsbank.web.pages import attempt, current_community, rule_book, rule_names
from pointsbank.web.staff_blueprint import bp

OUTCOMES = ("upheld", "reversed")


@bp.get("/objections")
@policy.allow("admin", "staff")
def objections() -> str:
    actor = current_user()
    community = current_community(actor)
    page = objection_services.list_objections(actor, community_id=community.id, status="open", limit=30,
                                              cursor=request.args.get("cursor") or None)
    found = queries.records_by_id(actor, {o.record_id for o in page["items"]})
    book = rule_book(actor, community)
    return render_template(
        "staff/objections.html", active="objections", page=page, records=found, resolve_form=ResolveForm(),
        households=queries.households_by_id(actor, {r.household_id for r in found.values()}),
        names=queries.user_names({o.raised_by_id for o in page["items"]}),
        rule_names=rule_names(book))


@bp.post("/objections/<int:objection_id>/resolve")
@policy.allow("staff")
def resolve_objection(objection_id: int) -> Response:
    form = ResolveForm()
    outcome = request.form.get("outcome")
    if outcome not in OUTCOMES:
        abort(400)
    if form.validate():
        success = (_("Objection resolved: the record stands.") if outcome == "upheld"
                   else _("Objection resolved: the record's points were taken back."))
        attempt(objection_services.resolve, current_user(), objection_id, outcome=outcome,
                note=(form.note.data or "").strip() or None, success=success)
    return redirect(url_for(".objections"))


# --- import -------------------------------------------------------------------------------

@bp.get("/import")
@policy.allow("staff")
def import_records() -> str:
    current_community(current_user())
    return render_template("staff/import.html", active="import", form=ImportForm(), report=None)


@bp.post("/import")
@policy.allow("staff")
def check_import() -> Any:
    """Step 1: check every row of the uploaded file; nothing is written but the audit row."""
    actor = current_user()
    community = current_community(actor)
    form = ImportForm()
    if not form.validate():
        return render_template("staff/import.html", active="import", form=form, report=None), 400
    data = form.file.data.read()
    filename = form.file.data.filename
    report = attempt(importer.import_records, actor, community.id, data, filename, post=False)
    if report is None:
        return render_template("staff/import.html", active="import", form=form, report=None), 422
    token = uploads.stash(actor.id, data) if report["valid"] else None
    return render_template("staff/import.html", active="import", form=ImportForm(formdata=None), report=report,
                           token=token, filename=filename)


@bp.post("/import/post")
@policy.allow("staff")
def post_import() -> Any:
    """Step 2: post the valid rows of the kept file (rows already imported are skipped)."""
    actor = current_user()
    community = current_community(actor)
    token = request.form.get("token", "")
    filename = request.form.get("filename") or None
    try:
        data = uploads.load(actor.id, token)
        report = unit_of_work(importer.import_records)(actor, community.id, data, filename, post=True)
    except DomainError as error:
        flash(error.render_message(), "error")
        return redirect(url_for(".import_records"))
    uploads.discard(actor.id, token)
    flash(_("Imported: %(posted)s record(s) posted, %(pending)s waiting for approval.",
            posted=report["posted"], pending=report["pending"]), "success")
    return render_template("staff/import.html", active="import", form=ImportForm(formdata=None), report=report,
                           token=None, filename=filename, done=True)
