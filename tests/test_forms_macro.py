"""The forms macro writes each field's label and <input> itself, not through
the field's WTForms widget: what it writes must be what the widget would,
for every form shown through it, fresh and after a refused post."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from werkzeug.datastructures import FileStorage, MultiDict

from webapp.auth.forms import LoginForm, PasswordForm, RegisterForm, TokenForm
from webapp.transfer.forms import ImportForm

HOSTILE = "a\"<b>&' x"
POSTS = {
    LoginForm: {"username": HOSTILE, "remember": "y"},
    RegisterForm: {"username": HOSTILE, "password": "short", "password_confirm": "other"},
    PasswordForm: {"current_password": HOSTILE, "password": "short", "password_confirm": "other"},
    TokenForm: {"name": HOSTILE * 20},
    ImportForm: {"file": FileStorage(filename="")},
}


def widget_markup(f, autofocus: bool) -> str:
    """The field as the macro wrote it through WTForms: the label, then the
    widget with the attributes the macro adds."""
    described = [f.id + "-hint"] if f.description else []
    if f.errors:
        described.append(f.id + "-error")
    if f.type == "BooleanField":
        return str(f(**({"aria-describedby": " ".join(described)} if described else {})))
    attrs = {"aria-invalid": "true"} if f.errors else {}
    if autofocus:
        attrs["autofocus"] = True
    if described:
        attrs["aria-describedby"] = " ".join(described)
    return str(f.label()) + str(f(**attrs))


def elements(markup: str, name: str) -> list[tuple[dict, str]]:
    """Each ``name`` element's attributes (a set one's value as a set) and text."""
    page = BeautifulSoup(markup, "html.parser")
    return [
        ({key: set(value) if isinstance(value, list) else value for key, value in tag.attrs.items()}, tag.get_text())
        for tag in page.find_all(name)
    ]


@pytest.mark.parametrize("form_class", list(POSTS))
@pytest.mark.parametrize("posted", [False, True], ids=["fresh", "refused"])
@pytest.mark.parametrize("autofocus", [False, True], ids=["", "autofocus"])
def test_a_field_is_written_as_its_widget_would(app, form_class, posted, autofocus):
    macro = app.jinja_env.get_template("_macros/forms.html").module.field
    with app.test_request_context(method="POST"):
        form = form_class(formdata=MultiDict(POSTS[form_class]) if posted else None)
        if posted:
            assert not form.validate()
        for f in form:
            written = str(macro(f, autofocus=autofocus))
            expected = widget_markup(f, autofocus)
            assert elements(written, "input") == elements(expected, "input"), f.name
            if f.type == "BooleanField":
                assert [text.strip() for _, text in elements(written, "label")] == [f.label.text]
            else:
                assert elements(written, "label")[0] == elements(expected, "label")[0], f.name


@pytest.mark.parametrize("form_class", list(POSTS))
def test_the_csrf_field_is_written_as_its_widget_would(csrf_app, form_class):
    macro = csrf_app.jinja_env.get_template("_macros/forms.html").module.csrf_field
    with csrf_app.test_request_context():
        form = form_class(formdata=None)
        assert elements(str(macro(form)), "input") == elements(str(form.csrf_token), "input")


def test_a_form_without_csrf_protection_has_no_csrf_field(app):
    macro = app.jinja_env.get_template("_macros/forms.html").module.csrf_field
    with app.test_request_context():
        assert str(macro(TokenForm(formdata=None))).strip() == ""
