from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

from webapp.conversations import check_message, check_model_name, check_system_prompt
from webapp.forms import rule


class MessageForm(FlaskForm):
    content = TextAreaField("Message", validators=[rule(lambda text: check_message("user", text or ""))])


class SettingsForm(FlaskForm):
    model = StringField("Model", validators=[rule(check_model_name)])
    system_prompt = TextAreaField("System prompt", validators=[rule(check_system_prompt)])
