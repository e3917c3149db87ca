from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from webapp import page_cache
from webapp.accounts import (
    authenticate,
    end_sessions,
    password_matches,
    register_user,
    registration_open,
    set_password,
)
from webapp.auth import bp
from webapp.auth.forms import LoginForm, PasswordForm, RegisterForm, TokenForm
from webapp.errors import InvalidInput
from webapp.extensions import db, limiter
from webapp.security import safe_next_url
from webapp.shares import list_shares, sharing_enabled
from webapp.tokens import create_token, list_tokens, revoke_token


def _username_key() -> str:
    return "login:" + request.form.get("username", "").strip().lower()[:64]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
@limiter.limit("10 per minute", methods=["POST"], key_func=_username_key)
def login():
    next_url = safe_next_url(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("chat.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is not None and not user.is_active:
            error = "This account is disabled. Ask an admin of this site to enable it."
        elif user is not None:
            login_user(user, remember=form.remember.data)
            db.session.commit()
            return redirect(next_url or url_for("chat.index"), 303)
        else:
            error = "The username or password is wrong."
    return render_template(
        "auth/login.html", form=form, error=error, next_url=next_url, registration_open=_registration_open()
    )


def _registration_open() -> bool:
    return registration_open(current_app.config["PARLEY_REGISTRATION"])


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def register():
    if not _registration_open():
        abort(404)
    if current_user.is_authenticated:
        return redirect(url_for("chat.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = register_user(form.username.data, form.password.data)
        except InvalidInput as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            login_user(user)
            db.session.commit()
            if user.is_admin:
                flash("Welcome! As the first account, you are this instance's admin.", "success")
            return redirect(url_for("chat.index"), 303)
    status = 422 if form.errors else 200
    return render_template("auth/register.html", form=form), status


@bp.post("/logout")
def logout():
    # The cookies are signed, not stored: what ends this session for good,
    # copies of its cookies included, is ending every session of the account.
    if current_user.is_authenticated:
        end_sessions(current_user)
        db.session.commit()
    logout_user()
    flash("You are signed out. Any other device signed in to this account is signed out too.", "success")
    return redirect(url_for("auth.login"), 303)


def render_settings(status: int = 200, *, password_form=None, token_form=None, new_token=None):
    return render_template(
        "auth/settings.html",
        password_form=password_form or PasswordForm(formdata=None),
        token_form=token_form or TokenForm(formdata=None),
        tokens=list_tokens(current_user),
        new_token=new_token,
        shares=list_shares(current_user) if sharing_enabled() else None,
    ), status


@bp.get("/settings")
@login_required
@page_cache.kept
def settings():
    shown = session.pop("new_token", None)
    return render_settings(new_token=(shown["name"], shown["value"]) if isinstance(shown, dict) else None)


@bp.post("/settings/password")
@login_required
@limiter.limit("10 per hour")
def change_password():
    form = PasswordForm()
    if form.validate_on_submit():
        if password_matches(current_user, form.current_password.data):
            set_password(current_user, form.password.data)
            db.session.commit()
            # The new session token signed every other session out; sign this
            # one in again, keeping its "remember me" if it had one.
            remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
            login_user(current_user._get_current_object(), remember=remembered)
            flash("Your password is changed. Other devices are signed out.", "success")
            return redirect(url_for("auth.settings"), 303)
        form.current_password.errors.append("That is not your current password.")
    return render_settings(422, password_form=form)


@bp.post("/settings/tokens")
@login_required
def create_api_token():
    form = TokenForm()
    if not form.validate_on_submit():
        return render_settings(422, token_form=form)
    token, plaintext = create_token(current_user, form.name.data)
    db.session.commit()
    # Post/redirect/get, so that a reload does not make another token: the
    # secret rides to the next page in the (signed, HttpOnly) session
    # cookie, which drops it as soon as that page has shown it.
    session["new_token"] = {"name": token.name, "value": plaintext}
    # The page puts the focus on it (autofocus), which scrolls it into view.
    return redirect(url_for("auth.settings"), 303)


@bp.post("/settings/tokens/<int:token_id>/delete")
@login_required
def revoke_api_token(token_id: int):
    revoke_token(current_user, token_id)
    db.session.commit()
    flash("The token is revoked; anything using it can no longer sign in.", "success")
    return redirect(url_for("auth.settings"), 303)
