"""Keyset pages: a list of items and an opaque cursor to the next page.

Pages are never read by offset, so the cost of a page does not grow with the
number of rows before it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import Select

from webapp.errors import InvalidInput
from webapp.extensions import db

T = TypeVar("T")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def keyset_page(query: Select[Any], limit: int, cursor_of: Callable[[Any], str], *, rows: bool = False) -> Page[Any]:
    """Run ``query`` (already ordered, and filtered to after the cursor) for
    one page: it fetches one row more than ``limit`` to learn whether another
    page follows, and ``cursor_of`` the page's last item points to it.

    Items are the first column's objects, or whole rows with ``rows=True``.
    """
    limited = query.limit(limit + 1)
    items = list(db.session.execute(limited) if rows else db.session.scalars(limited))
    if len(items) <= limit:
        return Page(items, None)
    items = items[:limit]
    return Page(items, cursor_of(items[-1]))


def check_limit(limit: int, maximum: int) -> int:
    if not 1 <= limit <= maximum:
        raise InvalidInput("limit", f"limit must be between 1 and {maximum}.")
    return limit


def encode_activity_cursor(updated_at: datetime, conversation_id: uuid.UUID) -> str:
    micros = (updated_at - EPOCH) // MICROSECOND
    return f"{micros}-{conversation_id.hex}"


def decode_activity_cursor(cursor: str, field: str = "cursor") -> tuple[datetime, uuid.UUID]:
    try:
        micros, _, hex_id = cursor.partition("-")
        return EPOCH + int(micros) * MICROSECOND, uuid.UUID(hex=hex_id)
    except (ValueError, OverflowError):
        raise InvalidInput(field, "That cursor is not valid; start again from the first page.") from None


def encode_position_cursor(position: int) -> str:
    return str(position)


def decode_position_cursor(
    cursor: str,
    field: str = "before",
    message: str = "That cursor is not valid; start again from the latest messages.",
) -> int:
    """A cursor that is a whole number: a message position, an id."""
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 18:
        raise InvalidInput(field, message)
    return int(cursor)
