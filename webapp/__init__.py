"""Parley: a self-hosted, server-rendered chat app."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the environment, then ``config`` (tests) on top."""
    from webapp import (  # noqa: F401  (models: the tables; page_versions: their triggers)
        assets,
        chores,
        cli,
        error_pages,
        fragments,
        health,
        models,
        page_cache,
        page_versions,
        replies,
        security,
        templating,
    )
    from webapp.admin import bp as admin_bp
    from webapp.api import bp as api_bp
    from webapp.auth import bp as auth_bp
    from webapp.chat import bp as chat_bp
    from webapp.config import DEFAULTS, deployment_warnings, from_environment, instance_secret_key
    from webapp.database import configure_engine, render_migration_item
    from webapp.extensions import csrf, db, limiter, login_manager, migrate
    from webapp.inputs import init_app as check_inputs
    from webapp.sharing import bp as sharing_bp
    from webapp.transfer import bp as transfer_bp

    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.config.update(DEFAULTS)
    app.config.update(from_environment(os.environ))
    app.config.update(config or {})
    app.config.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{os.path.join(app.instance_path, 'parley.db')}")
    secret_key_set = bool(app.config.get("SECRET_KEY"))
    if not secret_key_set:
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)
    for warning in deployment_warnings(app.config, secret_key_set):
        app.logger.warning(warning)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        os.makedirs(app.instance_path, exist_ok=True)

    if app.config["PARLEY_PROXY_COUNT"]:
        # Behind N reverse proxies: take the client's address and scheme from
        # their X-Forwarded-* headers (rate limits key on that address).
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PARLEY_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

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

    security.init_app(app, login_manager)
    check_inputs(app)  # before the blueprints: their routes use its converters
    error_pages.init_app(app)
    templating.init_app(app)
    assets.init_app(app)
    fragments.init_app(app)
    replies.init_app(app)
    chores.init_app(app)
    page_cache.init_app(app)  # last of the app's own hooks: see page_cache.serve_kept

    app.register_blueprint(health.bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(chat_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(sharing_bp)
    app.register_blueprint(transfer_bp)
    cli.register(app)
    return app
