"""What the feature forms share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import ValidationError

from webapp.conversations import clean_title
from webapp.errors import InvalidInput


def rule(check: Callable[[Any], Any]):
    """Turn a data-layer check into a WTForms validator, so each rule is
    written once and a form says exactly what the data layer would."""

    def validate(form, field):
        try:
            check(field.data)
        except InvalidInput as error:
            raise ValidationError(error.message) from None

    return validate


def first_error(form: FlaskForm) -> str:
    """The errors of a refused form's first field in error, as one message."""
    return " ".join(next(iter(form.errors.values()), []))


class TitleForm(FlaskForm):
    """Renaming a thread, by its owner or by an admin."""

    title = StringField("Title", validators=[rule(lambda title: clean_title(title or ""))])
