from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo

from webapp.accounts import PASSWORD_MAX, USERNAME_MAX, check_password, check_username
from webapp.forms import rule
from webapp.models import TOKEN_NAME_MAX
from webapp.tokens import clean_token_name


class LoginForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[DataRequired("Enter your username.")],
        render_kw={"autocomplete": "username", "autofocus": True},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password.")],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me signed in on this device")


class RegisterForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[DataRequired("Choose a username."), rule(check_username)],
        render_kw={"maxlength": USERNAME_MAX, "autocomplete": "username"},
        description="3 to 32 letters, digits, dots, dashes or underscores.",
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Choose a password."), rule(check_password)],
        render_kw={"autocomplete": "new-password", "maxlength": PASSWORD_MAX},
        description="At least 10 characters.",
    )
    password_confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired("Repeat the password."), EqualTo("password", "The two passwords differ.")],
        render_kw={"autocomplete": "new-password", "maxlength": PASSWORD_MAX},
    )


class PasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password.")],
        render_kw={"autocomplete": "current-password", "maxlength": PASSWORD_MAX},
    )
    password = PasswordField(
        "New password",
        validators=[DataRequired("Choose a new password."), rule(check_password)],
        render_kw={"autocomplete": "new-password", "maxlength": PASSWORD_MAX},
        description="At least 10 characters. Your other devices will be signed out.",
    )
    password_confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired("Repeat the new password."), EqualTo("password", "The two passwords differ.")],
        render_kw={"autocomplete": "new-password", "maxlength": PASSWORD_MAX},
    )


class TokenForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[DataRequired("Give the token a name."), rule(clean_token_name)],
        render_kw={"maxlength": TOKEN_NAME_MAX, "autocomplete": "off"},
        description="Say where it will be used, e.g. “laptop script”.",
    )
