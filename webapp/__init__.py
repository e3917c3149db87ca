"""Parley: a self-hosted, server-rendered chat app."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the environment, then ``config`` (tests) on top."""
    from webapp import cli, health, models  # noqa: F401  (models: registers the tables)
    from webapp.api import routes as api  # attaches the API's views to api.bp
    from webapp.config import DEFAULTS, from_environment, instance_secret_key
    from webapp.database import configure_engine, render_migration_item
    from webapp.extensions import csrf, db, limiter, login_manager, migrate

    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.config.update(DEFAULTS)
    app.config.update(from_environment(os.environ))
    app.config.update(config or {})
    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI", f"sqlite:///{os.path.join(app.instance_path, 'parley.db')}"
    )
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        os.makedirs(app.instance_path, exist_ok=True)

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    migrate.init_app(
        app,
        db,
        directory=os.path.join(app.root_path, "..", "migrations"),
        render_item=render_migration_item,
    )
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)

    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    cli.register(app)
    return app
