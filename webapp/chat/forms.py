from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Length

from webapp.conversations import check_message, clean_title
from webapp.forms import rule


class MessageForm(FlaskForm):
    content = TextAreaField("Message", validators=[rule(lambda text: check_message("user", text or ""))])


class TitleForm(FlaskForm):
    title = StringField("Title", validators=[rule(lambda title: clean_title(title or ""))])


class SettingsForm(FlaskForm):
    model = StringField("Model", validators=[Length(max=200, message="A model name has at most 200 characters.")])
    system_prompt = TextAreaField(
        "System prompt",
        validators=[Length(max=16_000, message="The system prompt can be at most 16,000 characters.")],
    )
