"""The code's layout: features side by side on one core, never a tower.

A blueprint package (a feature: auth, chat, admin, api, sharing, transfer) may import the core
and itself, never another feature; the core never imports a feature. Only
the app factory brings them together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "webapp"
FEATURES = ("admin", "api", "auth", "chat", "sharing", "transfer")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every ``webapp…`` module a file imports, at any depth of its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # ``from webapp import chat`` imports the package webapp.chat.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name == "webapp" or name.startswith("webapp.")}


def feature_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FEATURES else None


# Every module but the app factory, which registers every feature.
MODULES = sorted(path for path in PACKAGE.rglob("*.py") if path != PACKAGE / "__init__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda path: module_name(path))
def test_features_import_only_the_core_and_themselves(path):
    module = module_name(path)
    own = feature_of(module)
    crossing = sorted(
        name for name in imported_modules(path) if feature_of(name) is not None and feature_of(name) != own
    )
    where = f"the feature {own!r}" if own else "the core"
    assert crossing == [], f"{module} ({where}) imports {crossing}"


def test_the_command_line_needs_no_web_layer():
    web = {"webapp.error_pages", "webapp.security", "webapp.htmx", "webapp.templating", "webapp.health"}
    imported = imported_modules(PACKAGE / "cli.py")
    assert not {name for name in imported if feature_of(name) or name in web}


def test_the_checker_sees_a_crossing(tmp_path):
    """The checks above read imports anywhere in a file, in both forms."""
    source = "def f():\n    from webapp.chat import routes\n\nfrom webapp import admin\n"
    path = tmp_path / "example.py"
    path.write_text(source)
    assert {"webapp.chat", "webapp.admin"} <= imported_modules(path)
