"""pointsbank: the back office and the counter of a community moral bank (道德银行).

``create_app(config)`` reads like a table of contents: settings, extensions, blueprints,
error handlers, commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")


class PointsbankFlask(Flask):
    """Flask, deciding once per hook (not on every call) that it is a plain function: Flask asks
    ``inspect.iscoroutinefunction`` of every before/after/teardown hook and view on every request."""

    def ensure_sync(self, func: Any) -> Any:
        try:
            return self._pb_sync[func]
        except KeyError:
            made = self._pb_sync[func] = super().ensure_sync(func)
            return made
        except (AttributeError, TypeError):  # not hashable, or before __init__ finished
            if not hasattr(self, "_pb_sync"):
                self._pb_sync: dict[Any, Any] = {}
                return self.ensure_sync(func)
            return super().ensure_sync(func)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = PointsbankFlask(__name__, instance_relative_config=True, static_folder=None)  # assets: the web blueprint
    from pointsbank import config as settings

    settings.load(app, config)
    app.json.ensure_ascii = False  # Chinese names as UTF-8, not \u escapes
    app.json.sort_keys = False
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    return app


def register_extensions(app: Flask) -> None:
    from pointsbank import database, request_state
    from pointsbank.auth import current
    from pointsbank.extensions import api, babel, db, migrate

    request_state.init_app(app)  # its hook first: it forgets a reused context's state before anyone reads it
    db.init_app(app)
    database.configure_engine(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True,
                     include_object=database.autogenerate_includes)
    babel.init_app(app, locale_selector=_locale)
    api.init_app(app)
    current.init_app(app)
    _import_models()


def _import_models() -> None:
    """Every model module, so that metadata (and Alembic's autogenerate) sees every table."""
    from pointsbank.audit import models as _audit  # noqa: F401
    from pointsbank.auth import models as _auth  # noqa: F401
    from pointsbank.cards import models as _cards  # noqa: F401
    from pointsbank.community import models as _community  # noqa: F401
    from pointsbank.ledger import models as _ledger  # noqa: F401
    from pointsbank.notify import models as _notify  # noqa: F401
    from pointsbank.offline import models as _offline  # noqa: F401
    from pointsbank.redeem import models as _redeem  # noqa: F401
    from pointsbank.regions import models as _regions  # noqa: F401
    from pointsbank.rules import models as _rules  # noqa: F401
    from pointsbank.shelf import models as _shelf  # noqa: F401


def _locale() -> str:
    """``?lang=``, then the session's choice, then the browser's, then Chinese."""
    from flask import current_app, has_request_context, request, session

    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    lang = request.args.get("lang") or session.get("lang")
    if lang in ("zh_CN", "en"):
        return lang
    best = request.accept_languages.best_match(["zh_CN", "zh", "en"], default="zh_CN")
    return "en" if best == "en" else "zh_CN"


#: API blueprints (flask-smorest, under /api/v1), then plain Flask blueprints (pages, health)
API_MODULES = ("auth.api", "community.api", "ledger.api", "audit.api", "rules.api", "redeem.api", "reports.api",
               "shelf.api", "offline.api", "regions.api", "cards.api", "notify.api")
PAGE_MODULES = ("health", "web.views")


def register_blueprints(app: Flask) -> None:
    import importlib

    from pointsbank.extensions import api

    for name in API_MODULES:
        module = importlib.import_module(f"pointsbank.{name}")
        for blueprint in getattr(module, "blueprints", [module.blp]):
            api.register_blueprint(blueprint)
    for name in PAGE_MODULES:
        module = importlib.import_module(f"pointsbank.{name}")
        module.init_app(app) if hasattr(module, "init_app") else app.register_blueprint(module.blp)


def register_errorhandlers(app: Flask) -> None:
    from pointsbank.error_handlers import register_errorhandlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from pointsbank.cli import register

    register(app)
