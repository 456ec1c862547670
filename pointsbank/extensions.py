"""Extension objects, created once; :func:`pointsbank.create_app` calls their ``init_app``."""

from flask_babel import Babel
from flask_migrate import Migrate
from flask import g, has_app_context
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from pointsbank.apispec import PointsbankApi

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class RoutingSession(Session):
    """The request's session: on the replica while :mod:`pointsbank.replicas` has moved the
    request there (``g.pb_replica``), else Flask-SQLAlchemy's choice (the primary)."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):  # type: ignore[no-untyped-def]
        if bind is None and has_app_context() and g.get("pb_replica"):
            return self._db.engines["replica"]
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False, "class_": RoutingSession})
migrate = Migrate()
api = PointsbankApi()
babel = Babel()
csrf = CSRFProtect()
