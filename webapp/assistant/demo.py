"""The built-in assistant for when no model is configured: offline,
deterministic, and honest about what it is."""

from __future__ import annotations

import re
from collections.abc import Iterator

from webapp.assistant import ReplyRequest

REPLY = """\
This is Parley's **demo assistant**: no language model is connected, so I can \
only echo what you wrote.

> {quote}

To get real answers, point Parley at any OpenAI-compatible server and restart it:

```sh
PARLEY_LLM_BASE_URL=http://127.0.0.1:11434/v1 PARLEY_LLM_MODEL=llama3.2 make run
```

That example is [Ollama](https://ollama.com); OpenAI, vLLM, llama.cpp's server \
and LM Studio work the same way (add `PARLEY_LLM_API_KEY` if yours needs a key)."""

QUOTE_LIMIT = 300


class DemoProvider:
    name = "demo"
    default_model = "demo"

    def __init__(self, pace: float = 0.04):
        self.pace = pace  # seconds between words

    def reply_for(self, request: ReplyRequest) -> str:
        last = next((m["content"] for m in reversed(request.history) if m["role"] == "user"), "")
        quote = " ".join(last.split())
        if len(quote) > QUOTE_LIMIT:
            quote = quote[:QUOTE_LIMIT].rsplit(" ", 1)[0] + " …"
        return REPLY.format(quote=quote or "(nothing)")

    def stream(self, request: ReplyRequest) -> Iterator[str]:
        # Word by word, keeping the spaces and newlines with the words.
        for word in re.findall(r"\S+\s*|\s+", self.reply_for(request)):
            if self.pace and request.stop.wait(self.pace):
                return
            yield word

    def list_models(self) -> list[str]:
        return ["demo"]
