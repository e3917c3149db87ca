from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Optional, Regexp

from webapp.conversations import check_message, check_model_name, check_system_prompt
from webapp.forms import rule

MESSAGE_ID = Regexp(r"^[0-9]{1,18}$", message="That is not a message of this thread.")


class MessageForm(FlaskForm):
    content = TextAreaField("Message", validators=[rule(lambda text: check_message("user", text or ""))])
    # The message it follows, when not the last of the shown branch.
    parent = HiddenField(validators=[Optional(), MESSAGE_ID])
    # The model to answer, from the composer's picker: the thread keeps it.
    model = StringField("Model", validators=[rule(check_model_name)])


class EditForm(FlaskForm):
    """A new version of a message; the data layer checks it as the message's role allows."""

    content = TextAreaField("Message", validators=[DataRequired("Write the new text before saving.")])


class BranchForm(FlaskForm):
    message = HiddenField(validators=[DataRequired("Say which message's branch to show."), MESSAGE_ID])


class SettingsForm(FlaskForm):
    model = StringField("Model", validators=[rule(check_model_name)])
    system_prompt = TextAreaField("System prompt", validators=[rule(check_system_prompt)])
