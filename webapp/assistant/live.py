"""Replies being written in this process, for the readers streaming them.

The worker appends each chunk as it arrives; any number of readers wait on
the same condition and take what is new. Readers on other app instances
follow the database instead.
"""

from __future__ import annotations

import threading


class LiveReply:
    def __init__(self) -> None:
        self.text = ""
        self.done = False
        # Set when another worker turned out to hold the reply: readers
        # here then follow its row in the database instead.
        self.elsewhere = False
        self.stop = threading.Event()
        self._changed = threading.Condition()

    def append(self, chunk: str) -> None:
        with self._changed:
            self.text += chunk
            self._changed.notify_all()

    def finish(self) -> None:
        with self._changed:
            self.done = True
            self._changed.notify_all()

    def wait_beyond(self, seen: int, timeout: float) -> tuple[str, bool]:
        """The text past ``seen`` characters once there is some (or the reply
        ends, or ``timeout`` passes), and whether the reply has ended."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.text) > seen or self.done, timeout)
            return self.text[seen:], self.done


_live: dict[int, LiveReply] = {}
_lock = threading.Lock()


def open_reply(message_id: int) -> tuple[LiveReply, bool]:
    """The reply this process writes for ``message_id``, and whether it is new.

    Opened before the writer claims the row, so a reader that arrives in
    between waits for the text here rather than polling the database."""
    with _lock:
        live = _live.get(message_id)
        if live is not None:
            return live, False
        live = _live[message_id] = LiveReply()
        return live, True


def get_reply(message_id: int) -> LiveReply | None:
    with _lock:
        return _live.get(message_id)


def close_reply(message_id: int, live: LiveReply) -> None:
    live.finish()
    with _lock:
        if _live.get(message_id) is live:
            del _live[message_id]
