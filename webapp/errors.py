"""Errors the data layer raises, each of which the web layer maps to a 4xx."""

from __future__ import annotations


class ParleyError(Exception):
    """Base class: carries the HTTP status and a message a person can act on."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(ParleyError):
    """A value was refused; ``field`` names the input it came from."""

    status = 422
    code = "invalid"

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class Conflict(ParleyError):
    """The request is well-formed, but doing it would break a rule of the
    site's state (e.g. removing the last admin)."""

    status = 409
    code = "conflict"


class NotFound(ParleyError):
    """Missing, or not the caller's: the two are never told apart."""

    status = 404
    code = "not_found"

    def __init__(self, message: str = "That conversation does not exist."):
        super().__init__(message)
