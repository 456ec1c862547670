"""The server-rendered pages: staff, residents, cashiers and the public notice board.

Conventions (read before adding a page):

* **Modules by audience.** ``views.py`` wires everything (:func:`views.init_app`, called by
  ``create_app``): security headers and CSRF (``security.py``), languages and Jinja filters
  (``i18n.py``), HTML error pages (``pages.py``), and the blueprints listed in
  ``views.BLUEPRINT_MODULES`` — ``auth_views`` (``/login``, ``/logout``, ``/``), ``staff_blueprint``
  (``/staff…``, its routes in ``staff_views`` / ``staff_records`` / ``staff_queues`` / ``staff_admin``,
  ``views.ROUTE_MODULES``); the resident's ``/home``, the cashier's
  ``/shop`` and the notice board go in their own modules in that list. Each module exposes ``bp``.
  The shelf's pages attach to their audience's blueprint the same way (``staff_shelf``,
  ``resident_shelf``, ``cashier_shelf``; forms in ``shelf_forms``), its item photos are
  ``shelf_views`` (``/shelf/items/<id>/photo``), templates in ``templates/shelf/``.
* **A page is thin.** ``@policy.allow(roles…)`` on the view (the request hook answers 401 →
  ``/login?next=…``, 403 → the error page); read pages call a service with
  ``current_user()``; actions call :func:`pages.attempt` (one unit of work, a refusal becomes
  a flash message) and redirect (POST → redirect → GET). No SQL and no permission logic in a
  view or template; a read-only list that no service offers goes in ``queries.py``.
* **Templates** extend ``base.html`` (blocks ``title``, ``head``, ``body_class``, ``nav``,
  ``content``, ``scripts``); staff pages extend ``staff/layout.html`` and set
  ``active = "<nav key>"``. Form helpers are in ``macros.html`` (``field``, ``action``,
  ``signed``, ``pager``, ``empty``). Every string goes through ``_()``.
* **No inline script or style** (the Content-Security-Policy forbids them): JavaScript in
  ``static/js/``, styles in ``static/css/app.css``, vendored npm files in ``static/vendor/``
  (``make vendor``). Nothing is loaded from another host.
* **Translations**: ``make translations`` (see the README) extracts every ``_()`` of the
  package into ``translations/messages.pot``, updates ``zh_CN/LC_MESSAGES/messages.po`` and
  compiles the ``.mo``; both catalog files are committed.
"""
