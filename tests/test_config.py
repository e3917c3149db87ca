"""Settings from the environment: defaults, parsing, and clear failures."""

from __future__ import annotations

import os

import pytest

from tests.conftest import USER_SETTINGS
from webapp import create_app
from webapp.config import ConfigError, deployment_warnings, from_environment, instance_secret_key


def test_defaults_with_an_empty_environment():
    assert from_environment({}) == {}


@pytest.mark.parametrize(
    ("environ", "key", "value"),
    [
        ({"DATABASE_URL": "postgres://u@h/db"}, "SQLALCHEMY_DATABASE_URI", "postgresql+psycopg://u@h/db"),
        ({"DATABASE_URL": "postgresql://u@h/db"}, "SQLALCHEMY_DATABASE_URI", "postgresql+psycopg://u@h/db"),
        ({"DATABASE_URL": "sqlite:////tmp/x.db"}, "SQLALCHEMY_DATABASE_URI", "sqlite:////tmp/x.db"),
        ({"PARLEY_REGISTRATION": "closed"}, "PARLEY_REGISTRATION", "closed"),
        ({"PARLEY_RATELIMIT_ENABLED": "0"}, "RATELIMIT_ENABLED", False),
        (
            {"PARLEY_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0"},
            "RATELIMIT_STORAGE_URI",
            "redis://127.0.0.1:6379/0",
        ),
        ({"PARLEY_LLM_BASE_URL": "http://127.0.0.1:11434/v1/"}, "PARLEY_LLM_BASE_URL", "http://127.0.0.1:11434/v1"),
    ],
)
def test_settings_are_parsed(environ, key, value):
    assert from_environment(environ)[key] == value


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"PARLEY_REGISTRATON": "open"}, "PARLEY_REGISTRATON"),
        ({"PARLEY_REGISTRATION": "yes"}, "PARLEY_REGISTRATION"),
        ({"PARLEY_RATELIMIT_ENABLED": "true"}, "PARLEY_RATELIMIT_ENABLED"),
        ({"PARLEY_RATELIMIT_STORAGE_URI": "memcached://x"}, "PARLEY_RATELIMIT_STORAGE_URI"),
        ({"PARLEY_LLM_BASE_URL": "localhost:11434"}, "PARLEY_LLM_BASE_URL"),
        ({"PARLEY_LLM_MODEL": "  "}, "PARLEY_LLM_MODEL"),
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL"),
    ],
)
def test_bad_settings_fail_with_the_setting_named(environ, named):
    with pytest.raises(ConfigError, match=named):
        from_environment(environ)


def test_create_app_refuses_to_start_on_a_bad_setting(monkeypatch):
    monkeypatch.setenv("PARLEY_REGISTRATION", "sometimes")
    with pytest.raises(ConfigError, match="PARLEY_REGISTRATION"):
        create_app()


def test_the_tests_never_see_the_users_settings(make_app):
    """What the shell running the tests holds for Parley is dropped before any
    test runs (``tests/conftest.py``); each app is built from the tests' own."""
    assert sorted(name for name in os.environ if USER_SETTINGS.fullmatch(name)) == []
    app = make_app()
    assert (app.config["PARLEY_LLM_BASE_URL"], app.config["PARLEY_REGISTRATION"]) == (None, "open")
    assert app.config["SECRET_KEY"] == "test-secret"
    assert not app.debug


def test_passwords_are_hashed_with_scrypt_unless_the_app_says_otherwise(tmp_path):
    # The tests' apps hash cheaply (PASSWORD_HASH_METHOD); a real one never does.
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "SECRET_KEY": "x"})
    assert app.config["PASSWORD_HASH_METHOD"] == "scrypt"


def test_secret_key_is_generated_once_and_reused(tmp_path):
    first = instance_secret_key(str(tmp_path / "instance"))
    assert len(first) == 64
    assert instance_secret_key(str(tmp_path / "instance")) == first
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o077 == 0


def test_secret_key_from_the_environment_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["SECRET_KEY"] == "from-env"


def test_behind_a_proxy_the_client_address_comes_from_x_forwarded_for(make_app):
    from flask import request

    app = make_app(PARLEY_PROXY_COUNT=1)

    @app.get("/whoami")
    def whoami():
        return f"{request.remote_addr} {request.scheme}"

    response = app.test_client().get(
        "/whoami", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    )
    assert response.text == "203.0.113.9 https"
    plain = make_app().test_client()
    assert plain.application.config["PARLEY_PROXY_COUNT"] == 0


def test_redis_joins_instances_and_carries_the_rate_limits():
    values = from_environment({"PARLEY_REDIS_URL": "redis://cache:6379/2", "PARLEY_SHUTDOWN_GRACE": "5"})
    assert values["PARLEY_REDIS_URL"] == "redis://cache:6379/2"
    assert values["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/2"
    assert values["PARLEY_SHUTDOWN_GRACE"] == 5
    own = from_environment({"PARLEY_REDIS_URL": "redis://cache/2", "PARLEY_RATELIMIT_STORAGE_URI": "memory://"})
    assert own["RATELIMIT_STORAGE_URI"] == "memory://"


@pytest.mark.parametrize(
    ("name", "value"),
    [("PARLEY_REDIS_URL", "http://cache:6379"), ("PARLEY_SHUTDOWN_GRACE", "-1"), ("PARLEY_SHUTDOWN_GRACE", "soon")],
)
def test_malformed_instance_settings_stop_start_up(name, value):
    with pytest.raises(ConfigError, match=name):
        from_environment({name: value})


POSTGRES = "postgresql+psycopg://db/parley"


@pytest.mark.parametrize(
    ("config", "secret_key_set", "warned"),
    [
        (
            {"SQLALCHEMY_DATABASE_URI": POSTGRES, "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://"},
            False,
            ["SECRET_KEY", "PARLEY_RATELIMIT_STORAGE_URI"],
        ),
        (
            {"SQLALCHEMY_DATABASE_URI": POSTGRES, "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "redis://r"},
            True,
            [],
        ),
        (
            {"SQLALCHEMY_DATABASE_URI": POSTGRES, "RATELIMIT_ENABLED": False, "RATELIMIT_STORAGE_URI": "memory://"},
            True,
            [],
        ),
        (
            {
                "SQLALCHEMY_DATABASE_URI": "sqlite:///x.db",
                "RATELIMIT_ENABLED": True,
                "RATELIMIT_STORAGE_URI": "memory://",
            },
            False,
            [],
        ),
    ],
    ids=["postgres-alone", "postgres-with-redis", "limits-off", "sqlite"],
)
def test_settings_that_fail_several_instances_are_warned_about(config, secret_key_set, warned):
    warnings = deployment_warnings(config, secret_key_set)
    assert len(warnings) == len(warned)
    for warning, setting in zip(warnings, warned, strict=True):
        assert setting in warning


def test_the_import_limit_is_read_in_mb_and_checked(make_app):
    assert make_app().config["PARLEY_IMPORT_MAX_MB"] == 512
    assert from_environment({"PARLEY_IMPORT_MAX_MB": "64"})["PARLEY_IMPORT_MAX_MB"] == 64
    for value in ("0", "big", "-5"):
        with pytest.raises(ConfigError, match="PARLEY_IMPORT_MAX_MB"):
            from_environment({"PARLEY_IMPORT_MAX_MB": value})
