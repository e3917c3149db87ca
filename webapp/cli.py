"""``flask --app wsgi …`` commands for the people who run the server: for
when no admin can sign in, ``create-admin`` and ``set-role``; for a cron
job, ``purge-trash``."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import with_appcontext

from webapp.errors import InvalidInput


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.command("create-admin")
@with_appcontext
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def create_admin(username: str, password_stdin: bool) -> None:
    """Create an admin account named USERNAME."""
    from webapp.accounts import create_user, find_user
    from webapp.extensions import db

    if find_user(username) is not None:
        raise click.ClickException(f"An account named {username!r} exists already.")
    try:
        user = create_user(username, _read_password(password_stdin), role="admin")
    except InvalidInput as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Created admin {user.username}.")


@click.command("set-role")
@with_appcontext
@click.argument("username")
@click.argument("role", type=click.Choice(["admin", "user"]))
def set_role(username: str, role: str) -> None:
    """Make USERNAME an admin, or a plain user again (audited as "command line")."""
    from webapp.accounts import find_user
    from webapp.administration import set_role as change_role
    from webapp.errors import ParleyError
    from webapp.extensions import db

    user = find_user(username)
    if user is None:
        raise click.ClickException(f"No account is named {username!r}.")
    try:
        event = change_role(None, user, role)
    except ParleyError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    if event is None:
        click.echo(f"{user.username} is already {'an admin' if role == 'admin' else 'a user'}; nothing changed.")
        return
    db.session.commit()
    click.echo(f"{user.username} is now {'an admin' if role == 'admin' else 'a user'}.")
    if not user.active:
        click.echo(f"Note: {user.username} is disabled and cannot sign in until an admin enables the account.")


@click.command("purge-trash")
@with_appcontext
def purge_trash() -> None:
    """Delete for good the chats in the trash for longer than PARLEY_TRASH_DAYS."""
    from flask import current_app

    from webapp.extensions import db
    from webapp.organising import purge_expired

    purged = purge_expired()
    db.session.commit()
    days = current_app.config["PARLEY_TRASH_DAYS"]
    click.echo(f"Deleted {purged} chat{'' if purged == 1 else 's'} in the trash for more than {days} days.")


def register(app: Flask) -> None:
    app.cli.add_command(create_admin)
    app.cli.add_command(set_role)
    app.cli.add_command(purge_trash)
