"""Reply providers: given a thread's history, yield the assistant's reply as
text chunks. ``demo`` is built in and offline; ``openai`` talks to any
OpenAI-compatible Chat Completions server."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from flask import Flask

# Between what everyone is told of a failed reply and the details for admins
# (the model server's address, its own words), in the reply's error text.
DETAIL_SEPARATOR = "\x1f"


class ProviderError(Exception):
    """The model could not answer; ``message`` says what a person can do,
    ``detail`` what an admin needs to fix it (not shown to other users)."""

    def __init__(self, message: str, detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail

    def stored(self) -> str:
        """The reply's error text: the message, and the details after a separator."""
        return f"{self.message}{DETAIL_SEPARATOR}{self.detail}" if self.detail else self.message


def public_error(error: str | None) -> str:
    """What every reader of a failed reply is told."""
    return (error or "").partition(DETAIL_SEPARATOR)[0]


def error_detail(error: str | None) -> str:
    """The details of a failed reply, for admins; empty if there are none."""
    return (error or "").partition(DETAIL_SEPARATOR)[2]


@dataclass
class ReplyRequest:
    history: list[dict[str, str]]  # oldest first: {"role": …, "content": …}
    model: str | None = None
    system_prompt: str | None = None
    # Set when the reply is stopped; a provider that waits should wake for it.
    stop: threading.Event = field(default_factory=threading.Event)
    _on_cancel: list[Callable[[], object]] = field(default_factory=list)

    def on_cancel(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` when the reply is stopped (at once, if it is),
        e.g. to close a connection the provider is blocked reading."""
        self._on_cancel.append(callback)
        if self.stop.is_set():
            callback()

    def cancel(self) -> None:
        """Stop the reply: from any thread, at any moment."""
        self.stop.set()
        for callback in list(self._on_cancel):
            try:
                callback()
            except Exception:  # closing an already broken connection
                pass


class Provider(Protocol):
    name: str
    default_model: str | None

    def stream(self, request: ReplyRequest) -> Iterator[str]: ...

    def list_models(self) -> list[str]: ...


def provider_for(app: Flask) -> Provider:
    """The demo assistant unless a model server is configured; one per app,
    so its HTTP connections are reused."""
    provider = app.extensions.get("parley.provider")
    if provider is None:
        provider = app.extensions["parley.provider"] = _make_provider(app)
    return provider


def _make_provider(app: Flask) -> Provider:
    config = app.config
    if config.get("PARLEY_LLM_BASE_URL"):
        from webapp.assistant.openai_compatible import OpenAICompatibleProvider

        return OpenAICompatibleProvider(
            base_url=config["PARLEY_LLM_BASE_URL"],
            api_key=config.get("PARLEY_LLM_API_KEY"),
            default_model=config.get("PARLEY_LLM_MODEL"),
            timeout=config["PARLEY_LLM_TIMEOUT"],
        )
    from webapp.assistant.demo import DemoProvider

    return DemoProvider(pace=config["PARLEY_DEMO_PACE_MS"] / 1000)
