"""The model server of the stream benchmark: the tests' fake
(``tests/fake_llm.py``) with replies whose every token says when it was sent.

A token is ``t<index>:<ns> ``: its place in the reply (from 0) and
``time.monotonic_ns()`` taken just before the fake writes it. Linux's
CLOCK_MONOTONIC is one clock for every process of the machine, so a reader in
another process subtracts that from its own ``time.monotonic_ns()`` when the
token reaches it, and gets the time the token spent in between. Nothing has
to be matched up afterwards, and the figure includes the fake's own write and
Parley's model client as well as Parley.

How long a reply is and how fast it comes are read from the thread's last
user message, ``"<count> tokens every <ms> ms"``, so that any number of
replies of any shape can stream at once from one fake. The tokens keep to a
schedule (token ``i`` at ``start + (i + 1) × interval``), so a late one does
not delay the rest.

    python -m tests.bench.fake_model    # prints its base URL, serves until stdin closes

With ``BENCH_FAKE_MODEL_LOG`` set to a file, it appends to it the last user
message of every request it answers, one a line: how many times the model
was asked for a given reply (a tag in the message tells replies apart).

It runs in a process of its own, so that its threads do not share a GIL
with the benchmark's readers, whose clocks they would otherwise slow.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Iterator

from tests.fake_llm import Behaviour, FakeLLM

MODEL = "bench-fake"
SHAPE = re.compile(r"(\d+) tokens every (\d+) ms")
TOKEN = re.compile(rb"t(\d+):(\d+)\b")  # as a reader finds it in the bytes of a stream


def prompt(count: int, interval_ms: int) -> str:
    """The user message that asks the fake for such a reply."""
    return f"{count} tokens every {interval_ms} ms"


class StampedTokens:
    """A reply's tokens, each stamped when it is handed to the fake to write."""

    def __init__(self, count: int, interval: float) -> None:
        self.count, self.interval = count, interval

    def __iter__(self) -> Iterator[str]:
        start = time.monotonic()
        for index in range(self.count):
            pause = start + (index + 1) * self.interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            yield f"t{index}:{time.monotonic_ns()} "


class _LastRequest:
    """Stands in for ``FakeLLM.requests``: keeps only the request this
    handler thread is answering (the fake answers each connection in a thread
    of its own, and reads its behaviour right after recording the request)."""

    def __init__(self, log: str | None = None) -> None:
        self.local = threading.local()
        self.count = 0
        self.log = open(log, "a", encoding="utf-8") if log else None
        self.lock = threading.Lock()

    def append(self, request: dict) -> None:
        self.local.request = request
        with self.lock:
            self.count += 1
            if self.log is not None:
                self.log.write(" ".join(last_user_message(request).split()) + "\n")
                self.log.flush()

    def __len__(self) -> int:
        return self.count


def last_user_message(request: dict) -> str:
    return next((m.get("content", "") for m in reversed(request.get("messages", [])) if m.get("role") == "user"), "")


class StampingFakeLLM(FakeLLM):
    def __init__(self, log: str | None = None) -> None:
        super().__init__()
        self._default = Behaviour(models=[MODEL])
        self.requests = _LastRequest(log)
        # socketserver listens with a backlog of 5: a burst of 150 connections
        # would see SYNs dropped and retried a second later.
        self.server.socket.listen(1024)

    @property
    def behaviour(self) -> Behaviour:
        request = getattr(self.requests.local, "request", None) if isinstance(self.requests, _LastRequest) else None
        if request is None:
            return self._default
        shape = SHAPE.search(last_user_message(request))
        count, interval_ms = (int(shape[1]), int(shape[2])) if shape else (10, 50)
        return Behaviour(tokens=StampedTokens(count, interval_ms / 1000), models=[MODEL])  # type: ignore[arg-type]

    @behaviour.setter
    def behaviour(self, value: Behaviour) -> None:  # FakeLLM.__init__ sets one
        self._default = value


def main() -> None:
    fake = StampingFakeLLM(os.environ.get("BENCH_FAKE_MODEL_LOG")).start()
    print(fake.base_url, flush=True)
    try:
        sys.stdin.read()  # until the benchmark closes our stdin (or ends)
    except KeyboardInterrupt:
        pass
    fake.stop()


if __name__ == "__main__":
    main()
