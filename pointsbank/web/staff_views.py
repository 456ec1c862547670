"""The staff back office (``/staff``): dashboard, households and the community switch.

The other routes of the ``staff`` blueprint live in the other ``staff_*`` modules (records and
approvals, objections and imports, shops and settlements); each attaches its routes to the one
blueprint of :mod:`pointsbank.web.staff_blueprint`, so there is one url prefix and one nav.
"""

from __future__ import annotations

from types import SimpleNamespace

from flask import Response, redirect, render_template, request, session, url_for

from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.community import proxies, services as community_services
from pointsbank.ledger import history
from pointsbank.regions.stars import stars_view
from pointsbank.rules import listing
from pointsbank.reports import pages as queries
from pointsbank.web import staff_cards, staff_households
from pointsbank.web.pages import current_community, rule_book, rule_names
from pointsbank.web.staff_blueprint import bp

#: who may open the back office; what each may *do* there is the services' decision
STAFF_ROLES = ("admin", "staff", "grid_worker")


@bp.get("")
@policy.allow(*STAFF_ROLES)
def dashboard() -> str:
    actor = current_user()
    community = current_community(actor)
    return render_template("staff/dashboard.html", active="dashboard",
                           figures=queries.dashboard(actor, community.id))


@bp.post("/community")
@policy.allow("admin")
def choose_community() -> Response:
    """An administrator of several communities picks the one the pages work on."""
    actor = current_user()
    chosen = community_services.get_community(actor, request.form.get("community_id", type=int) or 0)
    session["community_id"] = chosen.id
    return redirect(url_for(".dashboard"))


@bp.get("/households")
@policy.allow(*STAFF_ROLES)
def households() -> str:
    actor = current_user()
    community = current_community(actor)
    q = (request.args.get("q") or "").strip() or None
    grid = (request.args.get("grid") or "").strip() or None
    page = community_services.list_households(actor, community.id, q=q, grid=grid, limit=30,
                                              cursor=request.args.get("cursor") or None)
    grids = community_services.list_grids(actor, community.id)
    return render_template("staff/households.html", active="households", page=page, grids=grids, q=q or "",
                           grid=grid or "")


@bp.get("/households/<int:household_id>")
@policy.allow(*STAFF_ROLES)
def household(household_id: int) -> str:
    actor = current_user()
    community = current_community(actor)
    view = community_services.household_view(actor, household_id)
    view_ref = SimpleNamespace(id=view["id"], community_id=view["community_id"])
    postings = history.household_history(actor, household_id, limit=30, cursor=request.args.get("cursor") or None)
    records = listing.list_records(actor, household_id=household_id, limit=10)
    return render_template("staff/household.html", active="households", household=view, postings=postings,
                           records=records["items"], rule_names=rule_names(rule_book(actor, community)),
                           stars=stars_view(view["community_id"], view["id"]),
                           proxies=proxies.list_proxies(actor, household_id) if actor.role in ("admin", "staff")
                           else [], **staff_households.household_forms(view),
                           **staff_cards.card_context(actor, view_ref))
