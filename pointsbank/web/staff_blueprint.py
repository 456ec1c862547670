"""The ``staff`` blueprint (``/staff``), a leaf: every staff page module (``staff_views``,
``staff_records``, ``staff_queues``, ``staff_admin``) imports :data:`bp` from here and attaches
its routes; :mod:`pointsbank.web.views` imports those modules (``ROUTE_MODULES``) and then
registers the blueprint once. No module registers routes by being imported from another's bottom.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")
