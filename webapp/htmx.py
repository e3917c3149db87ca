"""What the views need to know about htmx requests."""

from flask import request


def is_htmx() -> bool:
    """An htmx request wants the partial to swap, not the whole page.

    Back/forward restores send no HX-Request and get the full page, as they must.
    """
    return request.headers.get("HX-Request") == "true"
