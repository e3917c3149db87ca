from flask_wtf import FlaskForm
from wtforms import HiddenField

from webapp import forms
from webapp.administration import check_role, parse_active
from webapp.forms import rule


class ActionForm(FlaskForm):
    """A button-only POST: the CSRF token, and the page to go back to."""

    next = HiddenField()


class TitleForm(ActionForm, forms.TitleForm):
    """The owner's rename form, and the page to go back to."""


class RoleForm(ActionForm):
    role = HiddenField(validators=[rule(check_role)])


class ActiveForm(ActionForm):
    active = HiddenField(validators=[rule(parse_active)])
