"""``flask create-admin`` and ``flask set-role``."""

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
    make_user("root")
    result = runner.invoke(args=["create-admin", "ROOT", "--password-stdin"], input="a long password\n")
    assert result.exit_code == 1
    assert "exists already" in result.output


# --- set-role -----------------------------------------------------------------------------


def role_and_audit(app, username):
    from sqlalchemy import select

    from webapp.models import AuditEvent

    with app.app_context():
        logged = db.session.execute(
            select(
                AuditEvent.action,
                AuditEvent.actor_id,
                AuditEvent.actor_name,
                AuditEvent.old_value,
                AuditEvent.new_value,
            )
        ).all()
        return find_user(username).role, logged


def test_set_role_promotes_and_is_audited_as_the_command_line(app, runner, admin_user, make_user):
    make_user("Alice")
    result = runner.invoke(args=["set-role", "alice", "admin"])
    assert result.exit_code == 0, result.output
    assert "Alice is now an admin." in result.output
    assert role_and_audit(app, "alice") == ("admin", [("set_role", None, "command line", "user", "admin")])


def test_set_role_demotes_when_another_admin_remains(app, runner, admin_user, make_user):
    make_user("second", "admin")
    result = runner.invoke(args=["set-role", "second", "user"])
    assert result.exit_code == 0, result.output
    assert "second is now a user." in result.output


def test_set_role_refuses_to_demote_the_last_active_admin(app, runner, admin_user, make_user):
    make_user("asleep", "admin", active=False)
    result = runner.invoke(args=["set-role", "root", "user"])
    assert result.exit_code == 1
    assert "root is the last active admin and cannot be demoted" in result.output
    assert role_and_audit(app, "root") == ("admin", [])


def test_set_role_says_when_nothing_changes(app, runner, admin_user):
    result = runner.invoke(args=["set-role", "ROOT", "admin"])
    assert result.exit_code == 0
    assert "root is already an admin; nothing changed." in result.output
    assert role_and_audit(app, "root") == ("admin", [])


def test_set_role_warns_that_a_disabled_account_still_cannot_sign_in(app, runner, make_user):
    make_user("asleep", active=False)
    result = runner.invoke(args=["set-role", "asleep", "admin"])
    assert result.exit_code == 0
    assert "asleep is disabled and cannot sign in" in result.output


def test_set_role_refuses_an_unknown_account_and_an_unknown_role(app, runner, make_user):
    result = runner.invoke(args=["set-role", "nobody", "admin"])
    assert result.exit_code == 1
    assert "No account is named 'nobody'." in result.output
    make_user("root", "admin")
    result = runner.invoke(args=["set-role", "root", "owner"])
    assert result.exit_code == 2
    assert "'owner' is not one of 'admin', 'user'" in result.output
