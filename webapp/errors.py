"""What can go wrong in the core, named by *what* went wrong.

The data layer raises these with a message a person can act on; how each is
answered (an HTTP status, a page, a JSON error, a CLI message) is the web
layer's or the command line's business (``webapp.error_pages``,
``webapp.api.errors``, ``webapp.cli``).
"""

from __future__ import annotations


class ParleyError(Exception):
    """Base class: carries a message a person can act on."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(ParleyError):
    """A value was refused; ``field`` names the input it came from."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class Conflict(ParleyError):
    """The request is well-formed, but doing it would break a rule of the
    site's state (e.g. removing the last admin)."""


class NotFound(ParleyError):
    """Missing, or not the caller's: the two are never told apart."""

    def __init__(self, message: str = "That conversation does not exist."):
        super().__init__(message)
