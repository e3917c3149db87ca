"""``flask --app wsgi …`` commands for the people who run the server."""

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


def register(app: Flask) -> None:
    app.cli.add_command(create_admin)
