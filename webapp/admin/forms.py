from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField

from webapp.admin.actions import check_role, parse_active
from webapp.conversations import clean_title
from webapp.forms import rule


class ActionForm(FlaskForm):
    """A button-only POST: the CSRF token, and the page to go back to."""

    next = HiddenField()


class TitleForm(ActionForm):
    # The owner's rename rule, word for word.
    title = StringField("New title", validators=[rule(lambda title: clean_title(title or ""))])


class RoleForm(ActionForm):
    role = HiddenField(validators=[rule(check_role)])


class ActiveForm(ActionForm):
    active = HiddenField(validators=[rule(parse_active)])
