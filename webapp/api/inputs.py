"""Reading API requests: bodies, flags, limits and cursors.

Only the *shape* of a request is checked here: a JSON object, with known
fields, the required ones present. What a title or a message may contain is
the data layer's rule (``clean_title``, ``check_message``, ``check_limit``,
the cursor decoders), so the pages and the API refuse the same things with
the same words, and each refusal names its field.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest

from webapp.api.errors import ApiError
from webapp.errors import InvalidInput

# Page sizes when a client names none (the contract's defaults).
CONVERSATIONS_PER_PAGE = 20
MESSAGES_PER_PAGE = 50

# Far more than any tool call needs, and far below Python's recursion limit.
MAX_JSON_DEPTH = 32


def read_json_object(
    accepted: Collection[str],
    *,
    required: Collection[str] = (),
    required_one_of: Collection[str] = (),
    body_optional: bool = False,
) -> dict[str, Any]:
    """The request's JSON object, with only ``accepted`` fields and every ``required`` one.

    Malformed JSON or another content type is a 400; a body that parses but
    has the wrong shape is a 422 naming the field.
    """
    # Reading the body is also where a too-large one is refused (413).
    if body_optional and not request.get_data(cache=True):
        return {}
    if not request.is_json:
        raise ApiError(400, "not_json", "Send the body as JSON, with 'Content-Type: application/json'.")
    try:
        body = request.get_json()
    except BadRequest:
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None
    except RecursionError:
        raise ApiError(
            400, "invalid_json", f"The JSON is nested too deeply (at most {MAX_JSON_DEPTH} levels)."
        ) from None
    _check_storable(body)
    if not isinstance(body, dict):
        raise InvalidInput("body", "The body must be a JSON object.")
    for name in body:
        if name not in accepted:
            raise InvalidInput(name, f"Unknown field {name!r}; this accepts {_names(accepted)}.")
    for name in required:
        if name not in body:
            raise InvalidInput(name, f"The field {name!r} is required.")
    if required_one_of and not any(name in body for name in required_one_of):
        raise InvalidInput(next(iter(required_one_of)), f"Send at least one of {_names(required_one_of)}.")
    return body


def read_flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise InvalidInput(name, f"{name} must be true or false.")
    return value


def read_message_id(body: dict[str, Any], name: str) -> int | None:
    """A message id in the body: a whole number, or null where none is meant."""
    value = body[name]
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 1 <= value < 2**63):
        raise InvalidInput(name, f"{name} must be the id of a message of this thread, or null.")
    return value


def read_query_flag(name: str) -> bool:
    """A query parameter that is ``1`` (on) or ``0`` / absent (off)."""
    value = request.args.get(name, "0")
    if value not in ("0", "1"):
        raise InvalidInput(name, f"{name} must be 1 or 0.")
    return value == "1"


def read_limit(default: int) -> int:
    """The ``limit`` query parameter as a number; its range is the data layer's."""
    value = request.args.get("limit")
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()):
        raise InvalidInput("limit", "limit must be a whole number.")
    try:
        return int(value)
    except ValueError:  # more digits than int() converts
        raise InvalidInput("limit", "limit is far too large.") from None


def read_cursor(name: str) -> str | None:
    """The cursor query parameter; the data layer decodes it.

    An empty one is refused rather than read as "the first page": a client
    that sends back a null ``next_cursor`` as ``?cursor=`` would otherwise
    start over forever.
    """
    value = request.args.get(name)
    if value == "":
        raise InvalidInput(name, f"{name} is empty; leave it out for the first page.")
    return value


def _names(names: Collection[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _check_storable(body: Any) -> None:
    """Refuse JSON that parses but cannot be stored as it came.

    Python's parser accepts half a UTF-16 surrogate pair (no character, and
    no database stores it), turns ``1e400`` into infinity (which is not JSON
    when written back), and nests as deep as its recursion limit, which
    writing it back would overflow.
    """
    pending: list[tuple[Any, int]] = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ApiError(400, "invalid_json", "The body contains text that is not valid Unicode.") from None
        elif isinstance(value, float) and not math.isfinite(value):
            raise ApiError(400, "invalid_json", "The body contains a number that cannot be stored (too large, or NaN).")
        elif isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise ApiError(400, "invalid_json", f"The JSON is nested too deeply (at most {MAX_JSON_DEPTH} levels).")
            children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)
