"""What every request's input must be before any view sees it.

Two rules are checked here, once, for every route, rather than by each
view or field:

- An integer id in a URL is within the range of the column it names, so
  the database is never asked to compare a key with a number it cannot
  hold (PostgreSQL refuses, and the request would fail): a larger one is
  a 404, as any missing id is.
  ``<int:…>`` is a 32-bit id (the ``Integer`` keys: accounts, API tokens);
  ``<bigint:…>`` a 64-bit one (the ``BigId`` keys: messages).
- A body is at most ``MAX_CONTENT_LENGTH`` (a form's worth), unless its
  view takes an upload (``accepts_upload``): then the setting it names
  says how large it may be. Either way a larger one is refused with 413
  before it is read (by its ``Content-Length``), or as soon as it has
  been read that far.
- Text holds no NUL character, which PostgreSQL cannot store or even
  compare: a query string, a form or a JSON body with one anywhere is
  refused with 422 (``InvalidInput``, answered as a page or as the API's
  JSON error) as it is parsed, so no view ever sees it. The data layer's
  own checks stay, for callers that are not requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from flask import Flask, Request, current_app
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import NotFound, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from webapp.errors import InvalidInput
from webapp.text import NUL_MESSAGE

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
MB = 1024 * 1024

F = TypeVar("F", bound=Callable[..., object])


def accepts_upload(setting: str) -> Callable[[F], F]:
    """Let a view's body be a file upload of up to ``setting`` (a config key,
    in MB) rather than a form's ``MAX_CONTENT_LENGTH``. Read when the body
    is, so the app's own checks that read the form first (CSRF) allow it too."""

    def mark(view: F) -> F:
        view.upload_setting = setting  # type: ignore[attr-defined]
        return view

    return mark


class IdConverter(IntegerConverter):
    """A non-negative id in ASCII digits that its column can hold.

    A larger one is a 404 at once. Werkzeug's way of refusing a value
    (``ValidationError``) would let the URL's other rules answer instead, and
    a rule for another method of the same path would turn it into a 405.
    """

    regex = r"[0-9]+"
    max_id = INT32_MAX

    def to_python(self, value: str) -> int:
        if len(value) > len(str(self.max_id)) or int(value) > self.max_id:
            raise NotFound()
        return super().to_python(value)


class BigIdConverter(IdConverter):
    max_id = INT64_MAX


def refuse_nul(texts: Iterable[tuple[str, Any]]) -> None:
    """Refuse ``(field, value)`` pairs where a text holds NUL."""
    for field, value in texts:
        # A multipart part may come without a usable name (None).
        field = field or ""
        if "\x00" in field or (isinstance(value, str) and "\x00" in value):
            raise InvalidInput(field.replace("\x00", "\\x00"), NUL_MESSAGE)


def _json_texts(value: Any) -> Iterator[tuple[str, str]]:
    """Every key and string in a parsed JSON value, each with the name of
    the top-level field it is in."""
    if isinstance(value, dict):
        pending = [(item, key) for key, item in value.items()]
        yield from ((key, key) for key in value)
    else:
        pending = [(value, "body")]
    while pending:
        value, field = pending.pop()
        if isinstance(value, str):
            yield field, value
        elif isinstance(value, dict):
            yield from ((field, key) for key in value)
            pending.extend((item, field) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, field) for item in value)


class TextParameters(ImmutableMultiDict):
    """Query strings and forms: refused as they are parsed if a name or a
    value holds NUL."""

    def __init__(self, mapping: Any = None) -> None:
        super().__init__(mapping)
        refuse_nul(self.items(multi=True))


class CheckedRequest(Request):
    """The request, whose text inputs are checked when first read, by
    whichever code reads them first: nothing is parsed that a view would
    not parse anyway."""

    parameter_storage_class = TextParameters

    @property
    def max_content_length(self) -> int | None:
        setting = self._upload_setting()
        return current_app.config[setting] * MB if setting else super().max_content_length

    def _upload_setting(self) -> str | None:
        if not current_app or not self.endpoint:
            return None
        return getattr(current_app.view_functions.get(self.endpoint), "upload_setting", None)

    def make_form_data_parser(self):
        parser = super().make_form_data_parser()
        # A form is checked once it is the request's (below), not as it is
        # built: the uploaded files it came with are then the request's too,
        # and closed with it.
        parser.cls = ImmutableMultiDict
        return parser

    def _load_form_data(self) -> None:
        try:
            super()._load_form_data()
        except RequestEntityTooLarge:
            setting = self._upload_setting()
            if setting is None:
                raise
            raise RequestEntityTooLarge(
                f"The file is larger than {current_app.config[setting]:,} MB, the most this site takes in one "
                f"upload. Send a smaller one, or ask the site's admin to raise {setting}."
            ) from None
        try:
            refuse_nul(self.form.items(multi=True))
            refuse_nul((name, None) for name in self.files)
        except InvalidInput:
            self.__dict__["form"] = TextParameters()  # none of it reaches a view
            raise

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        body = super().get_json(force=force, silent=silent, cache=cache)
        refuse_nul(_json_texts(body))
        return body


def init_app(app: Flask) -> None:
    """Before any blueprint registers a route: its rules read the converters."""
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["bigint"] = BigIdConverter
    app.request_class = CheckedRequest
