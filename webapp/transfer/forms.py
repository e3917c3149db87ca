from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms.validators import ValidationError


def a_file_chosen(form, field) -> None:
    if not any(upload and upload.filename for upload in field.data or []):
        raise ValidationError("Choose a file to import.")


class ImportForm(FlaskForm):
    # Several files at once: ChatGPT's split conversations-000.json, -001.json…
    file = MultipleFileField(
        "Export file",
        validators=[a_file_chosen],
        description="A ZIP or JSON file. Choose several to import ChatGPT’s conversations-000.json, "
        "conversations-001.json… together.",
        render_kw={"accept": ".zip,.json,application/zip,application/json"},
    )
