"""Settings read from the environment.

Every setting Parley understands is listed in ``SETTINGS``; an unknown
``PARLEY_*`` variable or a malformed value stops start-up with a message that
names the variable, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit


class ConfigError(RuntimeError):
    """A setting in the environment is unknown or malformed."""


def _choice(*allowed: str) -> Callable[[str, str], str]:
    def parse(name: str, value: str) -> str:
        if value not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}.")
        return value

    return parse


def _flag(name: str, value: str) -> bool:
    if value not in ("0", "1"):
        raise ConfigError(f"{name} must be 1 or 0; got {value!r}.")
    return value == "1"


def _http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http:// or https:// URL; got {value!r}.")
    return value.rstrip("/")


def _text(name: str, value: str) -> str:
    if not value.strip():
        raise ConfigError(f"{name} is set but empty; unset it or give it a value.")
    return value.strip()


def _int_between(low: int, high: int) -> Callable[[str, str], int]:
    def parse(name: str, value: str) -> int:
        if not value.strip().isdigit() or not low <= int(value) <= high:
            raise ConfigError(f"{name} must be a whole number from {low} to {high}; got {value!r}.")
        return int(value)

    return parse


def _storage_uri(name: str, value: str) -> str:
    scheme = urlsplit(value).scheme
    if scheme not in ("memory", "redis", "rediss", "redis+unix"):
        raise ConfigError(f"{name} must be memory:// or a redis:// URL; got {value!r}.")
    return value


def _redis_url(name: str, value: str) -> str:
    if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"{name} must be a redis:// (or rediss://) URL; got {value!r}.")
    return value


def database_uri(name: str, value: str) -> str:
    """Accept the URL forms hosting providers hand out and pick our drivers."""
    scheme, sep, rest = value.partition("://")
    if not sep or not rest:
        raise ConfigError(f"{name} must be a database URL such as sqlite:///path or postgresql://…; got {value!r}.")
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    if scheme in ("sqlite", "sqlite+pysqlite"):
        return f"sqlite://{rest}"
    raise ConfigError(f"{name} must point to SQLite or PostgreSQL; got a {scheme!r} URL.")


# environment variable -> (Flask config key, parser)
SETTINGS: dict[str, tuple[str, Callable[[str, str], object]]] = {
    "SECRET_KEY": ("SECRET_KEY", _text),
    "DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", database_uri),
    "PARLEY_REGISTRATION": ("PARLEY_REGISTRATION", _choice("open", "closed")),
    "PARLEY_LLM_BASE_URL": ("PARLEY_LLM_BASE_URL", _http_url),
    "PARLEY_LLM_API_KEY": ("PARLEY_LLM_API_KEY", _text),
    "PARLEY_LLM_MODEL": ("PARLEY_LLM_MODEL", _text),
    "PARLEY_LLM_TIMEOUT": ("PARLEY_LLM_TIMEOUT", _int_between(1, 600)),
    "PARLEY_LLM_HISTORY_CHARS": ("PARLEY_LLM_HISTORY_CHARS", _int_between(1_000, 10_000_000)),
    "PARLEY_DEMO_PACE_MS": ("PARLEY_DEMO_PACE_MS", _int_between(0, 5_000)),
    "PARLEY_RATELIMIT_STORAGE_URI": ("RATELIMIT_STORAGE_URI", _storage_uri),
    "PARLEY_RATELIMIT_ENABLED": ("RATELIMIT_ENABLED", _flag),
    "PARLEY_SECURE_COOKIES": ("PARLEY_SECURE_COOKIES", _flag),
    "PARLEY_PROXY_COUNT": ("PARLEY_PROXY_COUNT", _int_between(0, 5)),
    "PARLEY_REDIS_URL": ("PARLEY_REDIS_URL", _redis_url),
    "PARLEY_SHUTDOWN_GRACE": ("PARLEY_SHUTDOWN_GRACE", _int_between(0, 600)),
    "PARLEY_SHARING": ("PARLEY_SHARING", _choice("on", "off")),
    "PARLEY_TRASH_DAYS": ("PARLEY_TRASH_DAYS", _int_between(0, 3650)),
    "PARLEY_IMPORT_MAX_MB": ("PARLEY_IMPORT_MAX_MB", _int_between(1, 100_000)),
    "PARLEY_PAGE_CACHE_MB": ("PARLEY_PAGE_CACHE_MB", _int_between(0, 4_096)),
}

DEFAULTS: dict[str, object] = {
    "PARLEY_REGISTRATION": "open",
    "PARLEY_LLM_BASE_URL": None,
    "PARLEY_LLM_API_KEY": None,
    "PARLEY_LLM_MODEL": None,
    "PARLEY_LLM_TIMEOUT": 30,
    "PARLEY_LLM_HISTORY_CHARS": 24_000,
    "PARLEY_DEMO_PACE_MS": 40,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_HEADERS_ENABLED": True,
    # Writes through the JSON API, per account (all its tokens and its session together).
    "API_WRITE_RATE_LIMIT": "60 per minute",
    "PARLEY_SECURE_COOKIES": False,
    "PARLEY_PROXY_COUNT": 0,
    "PARLEY_REDIS_URL": None,
    "PARLEY_SHUTDOWN_GRACE": 20,
    "PARLEY_SHARING": "on",
    "PARLEY_TRASH_DAYS": 30,
    # The app purges the trash by itself about once an hour (webapp/chores.py).
    # Not an environment setting: tests that do not test it turn it off.
    "PARLEY_AUTOMATIC_PURGE": True,
    # Signed-in pages are served from memory while nothing they show has
    # changed (webapp/page_cache.py): at most this many MB of them a process; 0: none.
    "PARLEY_PAGE_CACHE_MB": 32,
    # The largest upload an import takes, in MB (of 1,048,576 bytes).
    "PARLEY_IMPORT_MAX_MB": 512,
    # Views of shared links (/s/<token>), per address: plenty for reading,
    # far too few to guess a token.
    "SHARE_RATE_LIMIT": "120 per minute",
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # A user message is at most 16,000 characters; a form post stays far below this.
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "WTF_CSRF_TIME_LIMIT": None,
    # How passwords are hashed (werkzeug's method names). Not an environment
    # setting: tests make their accounts with a cheap method.
    "PASSWORD_HASH_METHOD": "scrypt",
}


def from_environment(environ: Mapping[str, str]) -> dict[str, object]:
    """Return the Flask config values that the environment sets.

    With ``PARLEY_REDIS_URL`` and no ``PARLEY_RATELIMIT_STORAGE_URI``, rate
    limits are kept in that Redis too, so that every instance counts alike.
    """
    unknown = sorted(k for k in environ if k.startswith("PARLEY_") and k not in SETTINGS)
    if unknown:
        known = ", ".join(k for k in SETTINGS if k.startswith("PARLEY_"))
        raise ConfigError(f"Unknown setting {', '.join(unknown)}. Known settings: {known}.")
    values: dict[str, object] = {}
    for env_name, (key, parse) in SETTINGS.items():
        if env_name in environ:
            values[key] = parse(env_name, environ[env_name])
    if values.get("PARLEY_REDIS_URL") and "RATELIMIT_STORAGE_URI" not in values:
        values["RATELIMIT_STORAGE_URI"] = values["PARLEY_REDIS_URL"]
    return values


def deployment_warnings(config: Mapping[str, object], secret_key_set: bool) -> list[str]:
    """What an operator should hear about at start: settings that work for
    one instance but not for several (PostgreSQL suggests several)."""
    if not str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql"):
        return []
    warnings = []
    if not secret_key_set:
        warnings.append(
            "SECRET_KEY is not set: this instance made its own key in instance/, so instances "
            "started elsewhere will not accept each other's sign-ins. Set the same SECRET_KEY on every instance."
        )
    if config.get("RATELIMIT_ENABLED") and str(config.get("RATELIMIT_STORAGE_URI", "")).startswith("memory"):
        warnings.append(
            "Rate limits are counted in this process's memory (PARLEY_RATELIMIT_STORAGE_URI is memory://): "
            "with several instances each counts alone. Set PARLEY_REDIS_URL (or PARLEY_RATELIMIT_STORAGE_URI)."
        )
    return warnings


def instance_secret_key(instance_path: str) -> str:
    """Read the secret key kept in the instance folder, creating it once."""
    path = Path(instance_path) / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write aside, then link into place: if two workers start at once, exactly
    # one key wins, and neither ever reads a half-written file.
    tmp = path.with_name(f".secret_key.{os.getpid()}")
    tmp.write_text(secrets.token_hex(32))
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()
