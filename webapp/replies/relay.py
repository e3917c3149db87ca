"""How live replies and thread events travel between the writer and readers.

A *channel* carries messages to every subscriber on every instance:
``reply:<id>`` carries a reply's pieces (``{"o": offset, "t": text}``) and
its end (``{"end": status}``); ``thread:<uuid>`` carries a thread's events
(new or changed messages). A reply's text so far is also kept, so that a
reader who joins late (a second tab, a reconnect) catches up from its
offset without a gap. Stop requests reach the instance writing the reply.

Two transports, one interface:

- ``LocalRelay``: one process, no Redis (the SQLite default). Everything is
  in memory.
- ``RedisRelay`` (``PARLEY_REDIS_URL``): pieces are published on Redis
  pub/sub channels and the text so far is kept in a Redis string next to
  them, written in one transaction. One listener thread per process reads
  every channel any local reader follows and hands each message to the
  local subscribers; a reader never holds a Redis connection of its own.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

STOP_CHANNEL = "stop"
MAX_CONNECTIONS = 64  # to Redis, per process
# How long Redis keeps a reply's text after its last piece: far longer than
# any reply takes, and short enough that nothing piles up.
TEXT_TTL_SECONDS = 3600


def reply_channel(reply_id: int) -> str:
    return f"reply:{reply_id}"


def thread_channel(conversation_id: Any) -> str:
    return f"thread:{conversation_id}"


class Subscription:
    """What one reader receives from one channel, in order."""

    def __init__(self, relay: Relay, channel: str):
        self.relay = relay
        self.channel = channel
        self.messages: queue.SimpleQueue[dict] = queue.SimpleQueue()

    def get(self, timeout: float) -> dict | None:
        """The next message, or None if none came within ``timeout`` seconds."""
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.relay.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Relay:
    """The local half both transports share: who follows which channel here."""

    def __init__(self) -> None:
        self._subscribers: dict[str, list[Subscription]] = {}
        self._lock = threading.Lock()
        self.on_stop: Callable[[int], None] = lambda reply_id: None

    def subscribe(self, channel: str) -> Subscription:
        subscription = Subscription(self, channel)
        with self._lock:
            first = channel not in self._subscribers
            self._subscribers.setdefault(channel, []).append(subscription)
        if first:
            self._listen(channel)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            subscribers = self._subscribers.get(subscription.channel, [])
            if subscription in subscribers:
                subscribers.remove(subscription)
            last = not subscribers
            if last:
                self._subscribers.pop(subscription.channel, None)
        if last:
            self._unlisten(subscription.channel)

    def close_subscriptions(self) -> None:
        """Tell every local subscriber that this instance is going away."""
        with self._lock:
            subscribers = [s for group in self._subscribers.values() for s in group]
        for subscription in subscribers:
            subscription.messages.put({"closing": True})

    def deliver(self, channel: str, message: dict) -> None:
        """Hand ``message`` to every local subscriber of ``channel``."""
        with self._lock:
            subscribers = list(self._subscribers.get(channel, ()))
        for subscription in subscribers:
            subscription.messages.put(message)

    # What a transport adds.

    def _listen(self, channel: str) -> None:
        """Start receiving ``channel`` here (its first local subscriber)."""

    def _unlisten(self, channel: str) -> None:
        """Stop receiving ``channel`` here (its last subscriber left)."""

    def publish_piece(self, reply_id: int, offset: int, text: str) -> None:
        raise NotImplementedError

    def publish_end(self, reply_id: int, status: str) -> None:
        raise NotImplementedError

    def text_so_far(self, reply_id: int) -> str | None:
        """The reply's text as published so far; None if nothing is known of it."""
        raise NotImplementedError

    def publish(self, channel: str, message: dict) -> None:
        raise NotImplementedError

    def request_stop(self, reply_id: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections and threads (the app is going away)."""


class LocalRelay(Relay):
    """One process: pieces go straight to the local subscribers."""

    def __init__(self) -> None:
        super().__init__()
        self._texts: dict[int, str] = {}

    def publish_piece(self, reply_id: int, offset: int, text: str) -> None:
        with self._lock:
            self._texts[reply_id] = self._texts.get(reply_id, "") + text
        self.deliver(reply_channel(reply_id), {"o": offset, "t": text})

    def publish_end(self, reply_id: int, status: str) -> None:
        with self._lock:
            self._texts.pop(reply_id, None)
        self.deliver(reply_channel(reply_id), {"end": status})

    def text_so_far(self, reply_id: int) -> str | None:
        with self._lock:
            return self._texts.get(reply_id)

    def publish(self, channel: str, message: dict) -> None:
        self.deliver(channel, message)

    def request_stop(self, reply_id: int) -> None:
        self.on_stop(reply_id)


class RedisRelay(Relay):
    """Several instances: Redis pub/sub carries every message to every instance
    that has a subscriber for it; one listener thread per process."""

    def __init__(self, url: str) -> None:
        import redis

        super().__init__()
        # Every writer publishes through this pool: a blocking one, so a
        # burst of replies waits a moment for a connection rather than failing.
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=MAX_CONNECTIONS, timeout=10, health_check_interval=30
        )
        self.redis = redis.Redis(connection_pool=pool)
        # Pub/sub channels are shared by every database of a Redis server:
        # name them after the database, as the keys are kept in it.
        self.prefix = f"parley:{self.redis.connection_pool.connection_kwargs.get('db', 0)}:"
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self._pubsub_lock = threading.Lock()
        self._pubsub.subscribe(self._key(STOP_CHANNEL))
        self._closed = threading.Event()
        self._listener = threading.Thread(target=self._listen_forever, name="parley-relay", daemon=True)
        self._listener.start()

    def _key(self, channel: str) -> str:
        return self.prefix + channel

    def _text_key(self, reply_id: int) -> str:
        return self._key(f"text:{reply_id}")

    def _listen(self, channel: str) -> None:
        with self._pubsub_lock:
            self._pubsub.subscribe(self._key(channel))

    def _unlisten(self, channel: str) -> None:
        with self._pubsub_lock:
            self._pubsub.unsubscribe(self._key(channel))

    def _listen_forever(self) -> None:
        import redis

        while not self._closed.is_set():
            try:
                message = self._pubsub.get_message(timeout=1.0)
            except redis.RedisError:
                log.exception("the Redis relay lost its connection; reconnecting")
                self._closed.wait(1.0)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"].decode()[len(self.prefix) :]
            payload = json.loads(message["data"])
            if channel == STOP_CHANNEL:
                self.on_stop(int(payload))
            else:
                self.deliver(channel, payload)

    def publish_piece(self, reply_id: int, offset: int, text: str) -> None:
        # One transaction: a reader that reads the text so far and then the
        # channel sees every piece once, in order, with nothing missing.
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.append(self._text_key(reply_id), text)
            pipe.expire(self._text_key(reply_id), TEXT_TTL_SECONDS)
            pipe.publish(self._key(reply_channel(reply_id)), json.dumps({"o": offset, "t": text}))
            pipe.execute()

    def publish_end(self, reply_id: int, status: str) -> None:
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._text_key(reply_id))
            pipe.publish(self._key(reply_channel(reply_id)), json.dumps({"end": status}))
            pipe.execute()

    def text_so_far(self, reply_id: int) -> str | None:
        text = self.redis.get(self._text_key(reply_id))
        return None if text is None else text.decode()

    def publish(self, channel: str, message: dict) -> None:
        self.redis.publish(self._key(channel), json.dumps(message))

    def request_stop(self, reply_id: int) -> None:
        self.redis.publish(self._key(STOP_CHANNEL), json.dumps(reply_id))

    def close(self) -> None:
        self._closed.set()
        self._listener.join(2.0)
        with self._pubsub_lock:
            self._pubsub.close()
        self.redis.close()
