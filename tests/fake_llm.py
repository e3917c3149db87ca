"""A fake OpenAI-compatible Chat Completions server, over real HTTP on loopback.

It streams chunks the way the real API does, and can be told to be slow,
refuse, fail before the first token, cut off mid-stream, hold the rest of a
reply until the test lets it go on, or send garbage.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Behaviour:
    tokens: list[str] = field(default_factory=lambda: ["Hello", " from", " the", " **fake**", " model", "."])
    delay: float = 0.0  # seconds before each token
    first_delay: float = 0.0  # seconds before the response starts
    status: int = 200  # anything else refuses with a JSON error
    cut_after: int | None = None  # drop the connection after this many tokens
    pause_after: int | None = None  # after this many tokens, hold the rest until ``resume`` is set
    resume: threading.Event = field(default_factory=threading.Event)
    garbage: bool = False  # send data lines that are not JSON
    models: list[str] = field(default_factory=lambda: ["fake-small", "fake-large"])


class FakeLLM:
    def __init__(self) -> None:
        self.behaviour = Behaviour()
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    body = {
                        "object": "list",
                        "data": [
                            {"id": m, "object": "model", "created": 0, "owned_by": "x"} for m in fake.behaviour.models
                        ],
                    }
                    self._json(200, body)
                else:
                    self._json(404, {"error": {"message": "no such route"}})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(request)
                b = fake.behaviour
                time.sleep(b.first_delay)
                if b.status != 200:
                    self._json(
                        b.status, {"error": {"message": f"fake refusal {b.status}", "type": "invalid_request_error"}}
                    )
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for i, token in enumerate(b.tokens):
                        if b.cut_after is not None and i >= b.cut_after:
                            self.wfile.flush()
                            self.connection.shutdown(2)
                            return
                        if i == b.pause_after:
                            b.resume.wait(60)
                        time.sleep(b.delay)
                        if b.garbage:
                            self.wfile.write(b"data: {not json at all\n\n")
                        else:
                            self.wfile.write(f"data: {json.dumps(self._chunk(request, token))}\n\n".encode())
                        self.wfile.flush()
                    end = self._chunk(request, None)
                    end["choices"][0].update(delta={}, finish_reason="stop")
                    self.wfile.write(f"data: {json.dumps(end)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def _chunk(self, request, token):
                return {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": request.get("model", "fake"),
                    "choices": [{"index": 0, "delta": {"content": token}, "finish_reason": None}],
                }

            def _json(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeLLM:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.behaviour.resume.set()  # a held reply goes on, and its handler ends
        self.server.shutdown()
        self.server.server_close()
