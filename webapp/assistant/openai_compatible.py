"""Any OpenAI-compatible Chat Completions server, through the official SDK:
OpenAI, Ollama, vLLM, llama.cpp's server, LM Studio."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Iterator

import openai

from webapp.assistant import ProviderError, ReplyRequest

CONNECT_TIMEOUT = 5.0
MODELS_TTL = 300.0  # seconds to keep the server's list of models
UNAVAILABLE = "The assistant is not available right now. Try again later; if it keeps failing, tell your administrator."


class OpenAICompatibleProvider:
    name = "openai"

    def __init__(self, base_url: str, api_key: str | None, default_model: str | None, timeout: int):
        self.base_url = base_url
        self.default_model = default_model
        self.timeout = timeout
        self.client = openai.OpenAI(
            base_url=base_url,
            # Local servers take no key, but the SDK insists on one.
            api_key=api_key or "not-needed",
            timeout=openai.Timeout(float(timeout), connect=CONNECT_TIMEOUT),
            max_retries=0,
        )
        self._models: tuple[float, list[str]] = (0.0, [])
        self._models_lock = threading.Lock()

    def _messages(self, request: ReplyRequest) -> list[dict[str, str]]:
        messages = [{"role": m["role"], "content": m["content"]} for m in request.history]
        if request.system_prompt:
            messages.insert(0, {"role": "system", "content": request.system_prompt})
        return messages

    def stream(self, request: ReplyRequest) -> Iterator[str]:
        """The reply's text, piece by piece. The model is read in a thread of
        its own, so that Stop ends this at once whatever the model is doing:
        thinking before its first word, or not answering at all yet (a model
        being loaded); the reading thread then closes the connection as soon
        as it has one, and ends."""
        model = request.model or self.default_model
        if not model:
            raise ProviderError(
                "No model is chosen for this chat. Pick one in the chat's settings, "
                "or set PARLEY_LLM_MODEL for the server."
            )
        if request.stop.is_set():
            return
        pieces: queue.SimpleQueue[str | Exception | None] = queue.SimpleQueue()
        request.on_cancel(lambda: pieces.put(None))
        threading.Thread(target=self._read, args=(model, request, pieces), name="model-reader", daemon=True).start()
        try:
            while (piece := pieces.get()) is not None and not request.stop.is_set():
                if isinstance(piece, Exception):
                    raise piece
                yield piece
        except GeneratorExit:  # the writer gave the reply up (its lease lapsed, it failed): hang up
            request.cancel()
            raise

    def _read(self, model: str, request: ReplyRequest, pieces: queue.SimpleQueue) -> None:
        """Put the reply's pieces, then None (the end) or what ended it, for
        the reply's writer to raise (unless it was stopped: the connection
        closed on Stop ends the read with an error)."""
        ending: Exception | None = None
        try:
            for piece in self._pieces(model, request):
                pieces.put(piece)
        except Exception as error:
            if not request.stop.is_set():
                ending = error
        finally:
            pieces.put(ending)  # whatever happened: the writer never waits for a piece that will not come

    def _pieces(self, model: str, request: ReplyRequest) -> Iterator[str]:
        try:
            stream = self.client.chat.completions.create(model=model, messages=self._messages(request), stream=True)
            request.on_cancel(lambda: _hang_up(stream))
            finished = False
            with stream:
                for chunk in stream:
                    if request.stop.is_set():
                        return
                    for choice in chunk.choices or ():
                        text = choice.delta.content if choice.delta else None
                        if text:
                            yield text
                        finished = finished or bool(choice.finish_reason)
            if not finished:
                # The connection closed before the model said it was done.
                raise ProviderError(
                    "The model stopped in the middle of the reply. Try again.",
                    f"The model server at {self.base_url} closed the connection before the reply ended.",
                )
        except openai.APITimeoutError:
            raise ProviderError(
                "The model took too long to answer. Try again in a moment.",
                f"The model server at {self.base_url} did not answer within {self.timeout} s.",
            ) from None
        except openai.APIConnectionError:
            raise ProviderError(
                UNAVAILABLE, f"Could not reach the model server at {self.base_url}. Is it running?"
            ) from None
        except openai.APIStatusError as error:
            detail = f"The model server at {self.base_url} refused the request ({error.status_code}): {_detail(error)}"
            if error.status_code == 404:
                raise ProviderError(
                    f"The model “{model}” is not available. Pick another one for this chat.", detail
                ) from None
            raise ProviderError(UNAVAILABLE, detail) from None
        except (openai.APIError, ValueError, TypeError, AttributeError, KeyError):
            raise ProviderError(
                UNAVAILABLE, f"The model server at {self.base_url} sent a reply Parley could not read."
            ) from None

    def list_models(self) -> list[str]:
        """The server's models, if it lists them (kept for a few minutes);
        an empty list otherwise."""
        with self._models_lock:
            fetched_at, models = self._models
            if time.monotonic() - fetched_at < MODELS_TTL:
                return models
            try:
                models = sorted(model.id for model in self.client.with_options(timeout=3.0).models.list())
            except (openai.APIError, ValueError, TypeError, AttributeError):
                models = []
            self._models = (time.monotonic(), models)
            return models


def _hang_up(stream: openai.Stream) -> None:
    """Close the model's connection, waking the read blocked on it (closing
    the response from another thread alone does not: the read would wait for
    the next word, or the timeout)."""
    network = stream.response.extensions.get("network_stream")
    connection = network.get_extra_info("socket") if network is not None else None
    if connection is not None:
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:  # closed already
            pass
    stream.close()


def _detail(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
        if isinstance(inner, str):
            return inner[:300]
    return (error.message or "no details")[:300]
