from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

from webapp.conversations import check_message, clean_title
from webapp.forms import rule


class MessageForm(FlaskForm):
    content = TextAreaField("Message", validators=[rule(lambda text: check_message("user", text or ""))])


class TitleForm(FlaskForm):
    title = StringField("Title", validators=[rule(lambda title: clean_title(title or ""))])


class DeleteForm(FlaskForm):
    """No fields: the CSRF token is what it checks."""
