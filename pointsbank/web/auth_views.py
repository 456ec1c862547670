"""Login and logout with a session cookie; ``/`` sends each role to its home page.

The password check is the API's (``auth.services.verify_password``: throttled per username
and per client address), so a page and ``POST /api/v1/auth/tokens`` refuse alike.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from pointsbank.auth import services as auth_services
from pointsbank.auth.current import login_session, optional_user
from pointsbank.database import unit_of_work
from pointsbank.errors import DomainError
from pointsbank.web.forms import LoginForm
from pointsbank.web.pages import home_url, safe_next

bp = Blueprint("account", __name__)


@bp.get("/")
def index() -> Response:
    user = optional_user()
    return redirect(home_url(user) if user is not None else url_for(".login"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"))
        user = optional_user()
        if user is not None:
            return redirect(safe_next(request.args.get("next")) or home_url(user))
    status = 200
    if form.validate_on_submit():
        try:
            user = unit_of_work(auth_services.verify_password)(form.username.data, form.password.data,
                                                              request.remote_addr)
        except DomainError as error:
            form.password.errors = [error.render_message()]
            status = error.status
        else:
            lang = session.get("lang")
            login_session(user)
            if lang:
                session["lang"] = lang  # the language chosen on the login page survives logging in
            return redirect(safe_next(form.next.data) or home_url(user))
    elif request.method == "POST":
        status = 400
    return render_template("login.html", form=form), status


@bp.post("/logout")
def logout() -> Response:
    """A POST (the header's button, with its CSRF token), so no link or image can log anyone out."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have logged out."), "success")
    return redirect(url_for(".login"))
