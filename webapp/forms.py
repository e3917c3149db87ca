"""What the feature forms share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wtforms.validators import ValidationError

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
