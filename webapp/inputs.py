"""What every request's input must be before any view sees it.

Two rules are checked here, once, for every route, rather than by each
view or field:

- An integer id in a URL is within the range of the column it names, so
  the database is never asked to compare a key with a number it cannot
  hold (PostgreSQL refuses, and the request would fail): a larger one is
  a 404, as any missing id is.
  ``<int:…>`` is a 32-bit id (the ``Integer`` keys: accounts, API tokens);
  ``<bigint:…>`` a 64-bit one (the ``BigId`` keys: messages).
- Text holds no NUL character, which PostgreSQL cannot store or even
  compare: a query string, a form or a JSON body with one anywhere is
  refused with 422 (``InvalidInput``, answered as a page or as the API's
  JSON error) as it is parsed, so no view ever sees it. The data layer's
  own checks stay, for callers that are not requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from flask import Flask, Request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from webapp.errors import InvalidInput
from webapp.text import NUL_MESSAGE

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


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

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        body = super().get_json(force=force, silent=silent, cache=cache)
        refuse_nul(_json_texts(body))
        return body


def init_app(app: Flask) -> None:
    """Before any blueprint registers a route: its rules read the converters."""
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["bigint"] = BigIdConverter
    app.request_class = CheckedRequest
