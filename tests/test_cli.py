"""``flask create-admin``."""

from __future__ import annotations

from webapp.accounts import find_user, password_matches
from webapp.extensions import db


def test_create_admin_reads_password_from_stdin(app, runner):
    result = runner.invoke(args=["create-admin", "Root", "--password-stdin"], input="a long password\n")
    assert result.exit_code == 0, result.output
    assert "Created admin Root" in result.output
    with app.app_context():
        admin = find_user("root")
        assert admin.is_admin
        assert password_matches(admin, "a long password")


def test_create_admin_prompts_twice_for_the_password(app, runner):
    result = runner.invoke(args=["create-admin", "root"], input="a long password\na long password\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert find_user("root").is_admin


def test_create_admin_refuses_a_short_password(app, runner):
    result = runner.invoke(args=["create-admin", "root", "--password-stdin"], input="short\n")
    assert result.exit_code == 1
    assert "at least 10 characters" in result.output
    with app.app_context():
        assert find_user("root") is None


def test_create_admin_refuses_an_existing_name(app, runner, make_user):
    with app.app_context():
        make_user("root")
        db.session.remove()
    result = runner.invoke(args=["create-admin", "ROOT", "--password-stdin"], input="a long password\n")
    assert result.exit_code == 1
    assert "exists already" in result.output
