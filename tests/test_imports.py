"""Importing ChatGPT, Open WebUI and Parley exports (issue 15): the real
files of other projects and Parley's own, imported exactly; bad input
reported, thread by thread, file by file, with what is valid kept."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import multiprocessing
import uuid
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DataError

from tests.imports import fixture, fixture_json, run_import, threads_of, when, zipped
from webapp.extensions import db
from webapp.imports import files as import_files
from webapp.imports.jobs import ACCEPTED
from webapp.models import Conversation, ImportJob, Message
from webapp.rendering import render_markdown
from webapp.search import parse_query, search
from webapp.serialize import timestamp

# --- the real files of other projects -------------------------------------------------------------


def test_a_branching_chatgpt_export_imports_exactly(app, user):
    job = run_import(app, user, fixture("chatgpt-tree.json"))
    assert (job["status"], job["imported"], job["skipped"], job["failed"], job["errors"]) == ("done", 1, 0, 0, [])
    assert job["formats"] == ["ChatGPT"] and job["messages"] == 11
    [thread] = threads_of(app, user)
    source = fixture_json("chatgpt-tree.json")[0]
    mapping = source["mapping"]
    assert thread.title == "Assist user with summary"
    assert thread.model == "text-davinci-002-render-sha"
    assert (thread.created_at, thread.updated_at) == (when(source["create_time"]), when(source["update_time"]))
    assert thread.source_id == "chatgpt:d5dc5307-6807-41a0-8b04-4acee626eeb7"
    # Oldest first, each after the message it follows; the hidden system
    # node and the root are left out, the first question follows nothing.
    order = [
        ("aaa297ba-e2da-440e-84f4-e62e7be8b003", None),  # hi there
        ("bda8a275-886d-4f59-b38c-d7037144f0d5", 1),
        ("aaa24023-e96c-4ee4-88ab-3dc1b8a0fe5b", 2),  # so cool bro: the first version of the second question
        ("23afbea9-e94b-4dbd-9fc5-f1d8d2ac70e0", 3),
        ("aaa292cc-c0df-4a1a-a3de-9f2ed8f6aa02", 4),  # tell me a story
        ("ada93f81-44a5-4d10-9bd6-9e4ebd6fc7b9", 5),  # the story: interrupted in ChatGPT, so stopped
        ("aaa236a3-7a34-4d11-b8c0-4ec88d6c4d3d", 2),  # hi again: its second version
        ("db88eddf-a95a-4ba7-b1e7-46d0c2a1b0e3", 7),
        ("aaa20127-a6c1-44e7-bb0f-15ddc3286d38", 8),  # tell me a joke
        ("d0d2a7df-c21c-47bd-8a36-22d7db1d6fd0", 9),  # the joke, first version
        ("f63b8e17-aa5c-4ca6-a1bf-d4d285e269b8", 9),  # the joke, regenerated: current_node
    ]
    by_prefix = {key[:8]: node["message"] for key, node in mapping.items()}
    assert len(thread.messages) == thread.message_count == len(order)
    for stored, (key, parent) in zip(thread.messages, order, strict=True):
        message = by_prefix[key[:8]]
        status = "stopped" if message["status"] == "in_progress" else "complete"
        assert (stored.parent, stored.role, stored.status) == (parent, message["author"]["role"], status)
        assert stored.content == message["content"]["parts"][0]
        assert stored.created_at == when(message["create_time"])
    # The shown branch is the path to current_node, not the newest leaf's siblings.
    assert thread.shown == [1, 2, 7, 8, 9, 11]
    assert thread.shown_texts[-1] == by_prefix["f63b8e17"]["content"]["parts"][0]
    assert [m.status for m in thread.messages].count("stopped") == 1


def test_the_newer_chatgpt_layout_imports_and_its_broken_entry_fails_alone(app, user):
    job = run_import(app, user, fixture("chatgpt-modern-export.json"))
    assert (job["status"], job["imported"], job["skipped"], job["failed"]) == ("done", 2, 0, 1)
    assert job["errors"] == [
        {
            "file": "chatgpt-modern-export.json",
            "thread": "Corrupted entry",
            "message": 'It has no messages: its "mapping" is missing or empty.',
        }
    ]
    staging, pasta = threads_of(app, user)
    # The hidden user_editable_context node is not a message: the first
    # question follows nothing.
    assert [(m.parent, m.role, m.content) for m in staging.messages] == [
        (None, "user", "How do I roll back the deploy?"),
        (1, "assistant", "Run `helm rollback staging`."),
        (2, "user", "And if that fails?"),
        (3, "assistant", "Restore from the last known-good chart."),
    ]
    assert [m.created_at for m in staging.messages] == [when(1756000001 + n) for n in range(4)]
    assert staging.shown == [1, 2, 3, 4]
    # The shown reply's model_slug; the conversation's default_model_slug when its replies have none.
    assert (staging.title, staging.model) == ("Deploying the staging cluster", "o4-mini")
    assert (staging.created_at, staging.updated_at) == (when(1756000000.123456), when(1756000400.654321))
    assert (pasta.title, pasta.model, pasta.shown_texts) == (
        "Weeknight pasta",
        "gpt-5",
        ["Something with anchovies?", "Puttanesca."],
    )
    assert pasta.source_id == "chatgpt:6b0f0d9c-0000-4000-8000-000000000003"


def test_open_webui_chats_import_with_their_models_and_times(app, user):
    job = run_import(app, user, fixture("openwebui-export.json"))
    assert (job["status"], job["imported"], job["failed"], job["formats"]) == ("done", 3, 0, ["Open WebUI"])
    reasoning, tool, simple = threads_of(app, user)
    assert [(t.title, t.model, t.source_id) for t in (reasoning, tool, simple)] == [
        ("Chat with reasoning", "deepseek-r1", "openwebui:reasoning-chat"),
        ("Chat with tool call", "gpt-4o", "openwebui:tool-chat"),
        ("Simple linear chat", "llama3.1:latest", "openwebui:simple-chat"),
    ]
    assert [(m.parent, m.role, m.created_at) for m in reasoning.messages] == [
        (None, "user", when(1700000000)),
        (1, "assistant", when(1700000010)),
    ]
    assert (reasoning.created_at, reasoning.updated_at) == (when(1700000000), when(1700000010))
    # The <details> blocks Open WebUI writes read as quotes headed by their summary.
    assert reasoning.messages[1].content == "> **Thought for 3 seconds**\n>\n> > Let me break this down...\n\n255"
    assert tool.messages[1].content == (
        '> **Tool Executed**\n>\n> "Paris: 18C, rain"\n\nThe weather in Paris is 18C with rain.'
    )
    assert simple.shown_texts == ["Hello", "Hi there!"]


# --- Parley's own fixtures for what those lack ---------------------------------------------------


def test_multimodal_parts_become_placeholders_and_code_stays_code(app, user):
    job = run_import(app, user, fixture("chatgpt-multimodal.json"))
    assert (job["imported"], job["failed"], job["errors"]) == (2, 0, [])
    chart, quote = threads_of(app, user)
    assert [(m.parent, m.role) for m in chart.messages] == [
        (None, "user"),
        (1, "assistant"),
        (2, "tool"),
        (3, "assistant"),
        (4, "user"),
        (5, "assistant"),
        (6, "tool"),
        (7, "user"),
        (8, "assistant"),
    ]
    texts = [m.content for m in chart.messages]
    assert texts[0] == "[Image 1024×768: sales-q3.png]\n\nWhat does this chart show?"
    assert texts[1].startswith("```python\nimport pandas as pd\n") and texts[1].endswith("\nsales\n```")
    assert texts[2] == "Output:\n\n```\n  quarter  sales\n0      Q2    900\n1      Q3   1200\n```"
    assert texts[4] == "Can you draw it as a bar chart?\n\n[Recording: file_00000000a1b2c3]"
    assert texts[5].startswith("To dalle.text2im:\n\n```\n{")
    assert texts[6] == "[Generated image 1024×1024: A bar chart of quarterly sales: Q2 900, Q3 1200]"
    assert texts[7] == "Thanks! The full report is attached.\n\n[File: q3-report.pdf (application/pdf)]"
    assert texts[8] == "Here is what the report adds:\n\n- costs fell by 4%\n- two new regions"
    # No model_slug and no default_model_slug: the server's default model.
    assert chart.model is None and quote.model is None
    assert quote.messages[2].content == (
        "> Instead of creating a Flask instance globally, you will create it inside a function.\n\n"
        "— [Application Setup](https://flask.palletsprojects.com/en/stable/tutorial/factory/)"
    )
    # Rendered as a reply is: once, as it is stored.
    assert chart.messages[1].html == render_markdown(texts[1]) and '<pre tabindex="0"><code' in chart.messages[1].html
    assert chart.messages[0].html is None


def test_split_files_inside_a_zip_are_read_in_order_and_the_rest_ignored(app, user):
    job = run_import(app, user, fixture("chatgpt-split-export.zip"))
    assert (job["status"], job["imported"], job["failed"], job["errors"]) == ("done", 3, 0, [])
    assert [(t.title, t.model, len(t.messages)) for t in threads_of(app, user)] == [
        ("Packing list for Iceland", "gpt-4o", 2),
        ("Sourdough starter", "gpt-4o-mini", 4),
        ("Regex for dates", "o3", 2),
    ]


def test_split_files_uploaded_together_import_as_one(app, user):
    archive = zipfile.ZipFile(io.BytesIO(fixture("chatgpt-split-export.zip")[1]))
    parts = [(name, archive.read(name)) for name in ("conversations-001.json", "conversations-000.json")]
    job = run_import(app, user, *parts)
    assert (job["imported"], job["files"]) == (3, ["conversations-000.json", "conversations-001.json"])
    assert [t.title for t in threads_of(app, user)] == [
        "Packing list for Iceland",
        "Sourdough starter",
        "Regex for dates",
    ]


def test_open_webui_shows_its_current_branch_even_when_it_is_not_the_newest(app, user):
    job = run_import(app, user, fixture("openwebui-branches.json"))
    assert (job["imported"], job["failed"]) == (2, 0)
    diagrams, summary = threads_of(app, user)
    assert [(m.parent, m.role, m.content.split("\n")[0]) for m in diagrams.messages] == [
        (None, "user", "Which of these two diagrams is clearer?"),
        (1, "assistant", "The first: it has fewer crossing lines."),
        (2, "user", "Why do crossings matter?"),
        (3, "assistant", "Each crossing makes the eye stop and choose."),
        (3, "assistant", "They add ambiguity about which line continues where."),
        (2, "user", "Could you redraw the second one?"),
        (6, "assistant", "I cannot draw, but here is how: move node C to the left."),
    ]
    assert diagrams.messages[0].content == (
        "Which of these two diagrams is clearer?\n\n[Image: diagram-a.png]\n\n[File: notes.pdf]"
    )
    assert diagrams.shown == [1, 2, 3, 4]  # currentId: the oldest reply of an older question
    assert [m.created_at for m in diagrams.messages] == [when(1745000000 + s) for s in (1, 5, 10, 15, 20, 30, 35)]
    assert (diagrams.model, diagrams.system_prompt) == ("llama3.1:8b", "Answer in one sentence.")
    assert (diagrams.pinned, diagrams.archived) == (True, False)
    assert (summary.pinned, summary.archived) == (False, True)
    failed = summary.messages[1]
    assert (failed.role, failed.status, failed.content) == ("assistant", "error", "")
    assert failed.error == "Ollama: model 'mistral:7b' not found, try pulling it first"


def test_a_parley_export_imports_exactly(app, user):
    job = run_import(app, user, fixture("parley-export.zip"))
    assert (job["status"], job["imported"], job["failed"], job["formats"]) == ("done", 3, 0, ["Parley"])
    porto, fix, old = threads_of(app, user)
    source = json.loads(zipfile.ZipFile(io.BytesIO(fixture("parley-export.zip")[1])).read("conversations.json"))
    for thread, exported in zip((porto, fix, old), source, strict=True):
        conversation = exported["conversation"]
        position = {message["id"]: n for n, message in enumerate(exported["messages"], start=1)}
        assert thread.title == conversation["title"]
        assert (thread.model, thread.system_prompt) == (conversation["model"], conversation["system_prompt"])
        assert (timestamp(thread.created_at), timestamp(thread.updated_at)) == (
            conversation["created_at"],
            conversation["updated_at"],
        )
        assert (thread.pinned, thread.archived) == (conversation["pinned"], conversation["archived"])
        assert thread.source_id == f"parley:{conversation['id']}"
        assert thread.shown[-1] == position[conversation["current_message_id"]]
        assert [(m.parent, m.role, m.content, m.status, m.error, m.tool_calls) for m in thread.messages] == [
            (position.get(m["parent_id"]), m["role"], m["content"], m["status"], m["error"], m["tool_calls"])
            for m in exported["messages"]
        ]
    assert porto.shown_texts == [
        "Plan a weekend in Porto for two, in May",
        "**Day 1:** Ribeira and the Dom Luís I bridge.\n\n**Day 2:** Serralves and a port cellar in Gaia.",
        "And if it rains?",
        "Try the Livraria Lello and the Bolhão market.",
    ]
    assert [m.status for m in porto.messages] == ["complete"] * 5 + ["error", "complete"]
    assert (fix.pinned, old.archived) == (True, True)
    assert fix.messages[1].tool_calls[0]["function"]["name"] == "lint"


# --- again, and back ----------------------------------------------------------------------------


def test_importing_the_same_file_again_skips_what_is_there(app, user, other_user):
    run_import(app, user, fixture("chatgpt-modern-export.json"))
    again = run_import(app, user, fixture("chatgpt-modern-export.json"), fixture("chatgpt-tree.json"))
    assert (again["imported"], again["skipped"], again["failed"]) == (1, 2, 1)
    assert len(threads_of(app, user)) == 3
    # Another account's import is its own.
    theirs = run_import(app, other_user, fixture("chatgpt-modern-export.json"))
    assert (theirs["imported"], theirs["skipped"]) == (2, 0)


def test_a_thread_exported_and_imported_back_to_its_account_is_skipped(app, user, client):
    from tests.factories import sign_in

    run_import(app, user, fixture("openwebui-export.json"))
    sign_in(client, user)
    export = client.get("/settings/export").get_data()
    again = run_import(app, user, ("parley-export-alice.zip", export))
    assert (again["imported"], again["skipped"]) == (0, 3)
    assert len(threads_of(app, user)) == 3


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("photo.json", b"\x89PNG\r\n\x1a\n" + bytes(100)),
        ("notes.csv", b"title,text\nHello,world\n"),
        ("numbers.json", b"[1, 2, 3]"),
        ("other.json", json.dumps([{"name": "a note", "body": "not a chat"}]).encode()),
        ("empty.json", b""),
    ],
)
def test_a_file_that_is_no_known_format_stores_nothing_and_says_what_is_accepted(app, user, name, data):
    job = run_import(app, user, (name, data))
    assert (job["status"], job["imported"], job["failed"]) == ("failed", 0, 0)
    [error] = job["errors"]
    assert error["file"] == name and error["thread"] is None
    assert error["message"].startswith(name) and error["message"].endswith(ACCEPTED)
    assert threads_of(app, user) == []


def test_cut_short_json_keeps_what_came_before(app, user):
    job = run_import(app, user, fixture("chatgpt-truncated.json"))
    assert (job["status"], job["imported"]) == ("done", 1)
    [error] = job["errors"]
    assert error["message"].startswith(
        "chatgpt-truncated.json is not valid JSON after 1 conversation: it may be cut short ("
    )
    # The parser's own words, on one line: not the picture of where it stopped that it draws under them.
    assert error["message"].endswith(").") and "\n" not in error["message"] and "right here" not in error["message"]
    assert [t.title for t in threads_of(app, user)] == ["Packing list for Iceland"]


def test_each_broken_thread_fails_with_its_reason_and_the_rest_import(app, user):
    job = run_import(app, user, fixture("chatgpt-broken.json"))
    assert (job["status"], job["imported"], job["failed"]) == ("done", 2, 4)
    assert [(e["thread"], e["message"]) for e in job["errors"]] == [
        ("Going round", "The messages' parents go round in a loop (through 'x')."),
        ("Lost parent", "Message 'r' follows 'gone-node', which is not in the conversation."),
        ("Odd part", "Message 'q' has a part that is neither text nor an attachment (a number)."),
        ("Bad time", "The conversation's create_time is not a time ('yesterday')."),
    ]
    untimed, fine = threads_of(app, user)
    # A message with no time takes the time of the one it follows; the first, the conversation's.
    assert [m.created_at for m in untimed.messages] == [when(1754004000), when(1754004050)]
    assert fine.shown_texts == ["Still there?", "Yes."]


def test_broken_entries_before_the_first_conversation_fail_alone(app, user):
    """The format is told by the first entry that has one: entries before it
    that are no conversation fail each, the rest of the file imports."""
    entries = [None, {"title": "Half a conversation", "id": "x-1"}, *fixture_json("chatgpt-modern-export.json")]
    job = run_import(app, user, ("conversations.json", json.dumps(entries).encode()))
    assert (job["status"], job["imported"], job["failed"], job["formats"]) == ("done", 2, 3, ["ChatGPT"])
    assert [(e["thread"], e["message"]) for e in job["errors"]] == [
        ("Untitled chat", "It could not be read as ChatGPT writes conversations."),
        ("Half a conversation", "It could not be read as ChatGPT writes conversations."),
        ("Corrupted entry", 'It has no messages: its "mapping" is missing or empty.'),
    ]
    assert [t.title for t in threads_of(app, user)] == ["Deploying the staging cluster", "Weeknight pasta"]


def test_a_conversation_id_with_a_nul_is_kept_without_it(app, user):
    """PostgreSQL cannot hold a NUL: the id loses it, as titles and texts do,
    rather than the database refusing it and the rest of the file."""
    entries = fixture_json("chatgpt-modern-export.json")
    entries[0]["conversation_id"] = entries[0]["id"] = "6b0f0d9c\x00-1"
    data = ("conversations.json", json.dumps(entries).encode())
    job = run_import(app, user, data)
    assert (job["status"], job["imported"], job["failed"]) == ("done", 2, 1)
    assert [t.source_id for t in threads_of(app, user)] == [
        "chatgpt:6b0f0d9c-1",
        "chatgpt:6b0f0d9c-0000-4000-8000-000000000003",
    ]
    assert run_import(app, user, data)["skipped"] == 2


def test_a_thread_whose_shape_no_rule_foresaw_fails_alone(app, user, monkeypatch):
    from webapp.imports import chatgpt

    convert = chatgpt.convert

    def fragile(item):
        if item.get("title") == "Sourdough starter":
            raise KeyError("surprise")
        return convert(item)

    monkeypatch.setattr(chatgpt, "convert", fragile)
    job = run_import(app, user, fixture("chatgpt-split-export.zip"))
    assert (job["imported"], job["failed"]) == (2, 1)
    assert job["errors"][0]["message"] == "It could not be read as ChatGPT writes conversations."


def test_a_zip_without_conversations_says_so(app, user):
    job = run_import(app, user, ("photos.zip", zipped({"a.png": b"\x89PNG", "notes/readme.txt": "hello"})))
    assert job["status"] == "failed"
    assert job["errors"][0]["message"] == (
        "photos.zip holds no conversations.json (nor conversations-000.json…): it is not a ChatGPT or Parley export. "
        + ACCEPTED
    )


@pytest.mark.parametrize(
    "name", ["../conversations.json", "/etc/conversations.json", "a/../../x.json", "C:/x.json", "..\\x.json"]
)
def test_a_zip_with_an_entry_pointing_outside_it_is_refused_whole(app, user, name):
    data = zipped({"conversations.json": (fixture("chatgpt-tree.json")[1]), name: b"[]"})
    job = run_import(app, user, ("export.zip", data))
    assert (job["status"], job["imported"]) == ("failed", 0)
    assert "points outside the ZIP" in job["errors"][0]["message"]


def test_a_zip_whose_folders_are_split_by_backslashes_imports(app, user):
    """As Windows PowerShell 5's Compress-Archive writes a folder's files."""
    data = zipped(
        {"chatgpt-export\\conversations.json": fixture("chatgpt-tree.json")[1], "chatgpt-export\\chat.html": ""}
    )
    job = run_import(app, user, ("chatgpt-export.zip", data))
    assert (job["status"], job["imported"], job["errors"]) == ("done", 1, [])


def test_a_zip_with_too_many_entries_is_refused(app, user, monkeypatch):
    monkeypatch.setattr(import_files, "MAX_ZIP_ENTRIES", 3)
    data = zipped({"conversations.json": fixture("chatgpt-tree.json")[1], **{f"f{n}.png": b"x" for n in range(3)}})
    job = run_import(app, user, ("export.zip", data))
    assert job["errors"][0]["message"] == "export.zip holds 4 files; Parley reads ZIPs of at most 3."
    assert threads_of(app, user) == []


def test_a_zip_bomb_is_refused_by_its_stated_size(make_app, client_for, make_user):
    app = make_app(PARLEY_IMPORT_MAX_MB=1)
    client_for(app)
    user = make_user("zoe")
    # 9 MB of JSON (more than 8 × 1 MB) in a few kilobytes.
    bomb = zipped({"conversations.json": "[" + " " * (9 * 1024 * 1024) + "]"})
    assert len(bomb) < 100_000
    job = run_import(app, user, ("export.zip", bomb))
    assert job["status"] == "failed"
    assert job["errors"][0]["message"] == (
        "The conversations in export.zip unpack to 9 MB, more than the 8 MB Parley unpacks from one file."
    )


def test_a_zip_whose_entry_lies_about_its_size_stops_at_the_stated_size(app, user):
    data = bytearray(zipped({"conversations.json": fixture("chatgpt-tree.json")[1]}))
    # Shrink the stated size in the central directory: unpacking stops there and the CRC fails.
    directory = data.rindex(b"PK\x01\x02")
    data[directory + 24 : directory + 28] = (100).to_bytes(4, "little")
    job = run_import(app, user, ("export.zip", bytes(data)))
    assert job["imported"] == 0
    assert "conversations.json" in job["errors"][0]["message"]


def marked(data: bytes, entry: str, *, method: int | None = None, flags: int = 0) -> bytes:
    """The ZIP ``data`` with ``entry`` marked in its central directory as
    other tools write it: packed by ``method``, or with ``flags`` set."""
    data = bytearray(data)
    at = data.index(b"PK\x01\x02")
    while data[at + 46 : at + 46 + len(entry)] != entry.encode():
        at = data.index(b"PK\x01\x02", at + 4)
    data[at + 8 : at + 10] = (int.from_bytes(data[at + 8 : at + 10], "little") | flags).to_bytes(2, "little")
    if method is not None:
        data[at + 10 : at + 12] = method.to_bytes(2, "little")
    return bytes(data)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"method": 9}, "Parley cannot unpack deflate64."),  # as Windows packs large files
        ({"method": 99}, "Parley cannot unpack method 99."),  # AES, as 7-Zip encrypts
        ({"flags": 0x1}, "it is encrypted."),
    ],
)
def test_a_zip_entry_that_cannot_be_unpacked_fails_alone(app, user, change, reason):
    split = zipfile.ZipFile(io.BytesIO(fixture("chatgpt-split-export.zip")[1]))
    parts = {name: split.read(name) for name in ("conversations-000.json", "conversations-001.json")}
    data = marked(zipped(parts), "conversations-000.json", **change)
    job = run_import(app, user, ("export.zip", data), fixture("openwebui-export.json"))
    assert (job["status"], job["imported"]) == ("done", 1 + 3)
    [error] = job["errors"]
    assert error["file"] == "export.zip: conversations-000.json"
    assert error["message"].startswith("export.zip: conversations-000.json could not be unpacked")
    assert reason in error["message"]
    titles = [t.title for t in threads_of(app, user)]
    assert "Regex for dates" in titles and "Sourdough starter" not in titles


# --- the imported text is like any other ---------------------------------------------------------


def test_imported_threads_are_found_by_search_and_sorted_by_their_own_times(app, user):
    from webapp.conversations import list_conversations
    from webapp.models import User

    run_import(app, user, fixture("chatgpt-modern-export.json"), fixture("openwebui-export.json"))
    with app.app_context():
        alice = db.session.get(User, user.id)
        hits = search(alice, parse_query("helm rollback")).items
        assert [hit.conversation.title for hit in hits] == ["Deploying the staging cluster"]
        assert [found.message.content for found in hits[0].messages] == ["Run `helm rollback staging`."]
        assert [hit.conversation.title for hit in search(alice, parse_query("puttanesca")).items] == ["Weeknight pasta"]
        # Newest activity first, by the times the exports gave them.
        titles = [c.title for c in list_conversations(alice).items]
        assert titles == [
            "Weeknight pasta",
            "Deploying the staging cluster",
            "Simple linear chat",
            "Chat with tool call",
            "Chat with reasoning",
        ]


def test_a_thread_is_imported_whole_or_not_at_all(app, user, monkeypatch):
    from webapp.imports import store as store_module

    real_store = store_module.store

    def half_then_fail(user_id, planned, replies_html):
        real_store(user_id, planned, replies_html)
        if planned.title == "Sourdough starter":
            raise DataError("INSERT", {}, Exception("value too long"))
        return None

    monkeypatch.setattr("webapp.imports.jobs.store", half_then_fail)
    job = run_import(app, user, fixture("chatgpt-split-export.zip"))
    assert (job["imported"], job["failed"]) == (2, 1)
    assert job["errors"][0] == {
        "file": "chatgpt-split-export.zip: conversations-000.json",
        "thread": "Sourdough starter",
        "message": "The database refused it.",
    }
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 4
        assert db.session.scalar(select(func.count()).select_from(Conversation)) == 2


# --- the job ---------------------------------------------------------------------------------------


def test_a_job_whose_process_died_is_reported_stopped(app, user):
    from webapp.imports import report
    from webapp.imports.jobs import INTERRUPTED, STALE
    from webapp.models import utcnow

    job = run_import(app, user, fixture("chatgpt-tree.json"))
    with app.app_context():
        row = db.session.get(ImportJob, uuid.UUID(job["id"]))
        row.status, row.finished_at = "running", None
        row.updated_at = utcnow() - STALE - timedelta(seconds=1)
        db.session.commit()
        shown = report(row)
        assert shown.finished and shown.status == "failed"
        assert shown.errors[-1]["message"] == INTERRUPTED


def test_uploads_are_deleted_when_the_job_ends(app, user):
    from pathlib import Path

    run_import(app, user, fixture("chatgpt-tree.json"))
    folder = Path(app.instance_path) / "imports"
    assert list(folder.iterdir()) == []


# --- replies rendered in worker processes -----------------------------------------------------------

ALL_FIXTURES = [
    "chatgpt-tree.json",
    "chatgpt-modern-export.json",
    "chatgpt-multimodal.json",
    "chatgpt-split-export.zip",
    "chatgpt-broken.json",
    "chatgpt-truncated.json",
    "openwebui-export.json",
    "openwebui-branches.json",
    "parley-export.zip",
]


@pytest.fixture
def render_workers(monkeypatch):
    """Imports of any size render in two worker processes, whatever the
    machine's cores; the renderings the jobs handed out, to look at."""
    from webapp.imports.rendering import Renderer

    handed = []
    real_submit = Renderer.submit

    def submit(self, planned):
        handed.append(real_submit(self, planned))
        return handed[-1]

    monkeypatch.setattr("webapp.imports.rendering.POOL_MIN_BYTES", 0)
    monkeypatch.setattr("webapp.imports.rendering.workers", lambda: 2)
    monkeypatch.setattr(Renderer, "submit", submit)
    yield handed
    assert multiprocessing.active_children() == []  # every job stopped its workers


def without_ids(threads):
    return [dataclasses.replace(thread, id=None) for thread in threads]


def test_replies_rendered_in_worker_processes_are_stored_as_rendered_here(app, user, other_user, render_workers):
    files = [fixture(name) for name in ALL_FIXTURES]
    in_workers = run_import(app, user, *files)
    assert any(rendering.in_worker for rendering in render_workers)
    render_workers.clear()
    with pytest.MonkeyPatch.context() as here:
        here.setattr("webapp.imports.rendering.workers", lambda: 0)
        in_process = run_import(app, other_user, *files)
    assert all(not rendering.in_worker for rendering in render_workers)
    # The same report, errors in the same order, and the same threads.
    assert {**in_workers, "id": None, "created_at": None, "finished_at": None} == {
        **in_process,
        "id": None,
        "created_at": None,
        "finished_at": None,
    }
    assert in_workers["imported"] > 10 and in_workers["failed"] > 3
    threads = threads_of(app, user)
    assert without_ids(threads) == without_ids(threads_of(app, other_user))
    replies = [message for thread in threads for message in thread.messages if message.role == "assistant"]
    assert len(replies) > 20
    for message in replies:
        assert message.html == (render_markdown(message.content) if message.content else None)


@pytest.mark.parametrize("workers", [2, 0], ids=["in workers", "in the job's thread"])
def test_a_reply_that_cannot_be_rendered_fails_its_thread_alone(app, user, render_workers, monkeypatch, workers):
    from tests.render_workers import FAILS, render_all_but_one
    from webapp.imports.jobs import NOT_RENDERED

    monkeypatch.setattr("webapp.imports.rendering.workers", lambda: workers)
    monkeypatch.setattr("webapp.imports.rendering.render_all", render_all_but_one)
    source = fixture_json("chatgpt-modern-export.json")
    source += fixture_json("chatgpt-tree.json")
    broken = copy.deepcopy(source[-1])
    broken["id"] = broken["conversation_id"] = "broken-renderer"
    broken["title"] = "Breaks the renderer"
    reply = next(
        node
        for node in broken["mapping"].values()
        if (node["message"] or {}).get("author", {}).get("role") == "assistant"
    )
    reply["message"]["content"]["parts"] = [FAILS]
    source.insert(1, broken)
    job = run_import(app, user, ("conversations.json", json.dumps(source).encode()))
    assert (job["status"], job["imported"], job["failed"]) == ("done", 3, 2)
    assert any(rendering.in_worker for rendering in render_workers) == (workers > 0)
    # In the order of the file, whatever was rendered when.
    assert [(error["thread"], error["message"]) for error in job["errors"]] == [
        ("Breaks the renderer", NOT_RENDERED),
        ("Corrupted entry", 'It has no messages: its "mapping" is missing or empty.'),
    ]
    titles = [thread.title for thread in threads_of(app, user)]
    assert len(titles) == 3 and "Breaks the renderer" not in titles


def test_when_a_render_worker_dies_the_job_renders_the_rest_itself(app, user, render_workers, monkeypatch, caplog):
    from tests.render_workers import die_in_a_worker

    monkeypatch.setattr("webapp.imports.rendering.render_all", die_in_a_worker)
    job = run_import(app, user, fixture("chatgpt-broken.json"), fixture("openwebui-export.json"))
    assert (job["status"], job["imported"], job["failed"]) == ("done", 5, 4)
    assert any(rendering.in_worker for rendering in render_workers)
    assert "render workers stopped" in caplog.text
    for thread in threads_of(app, user):
        for message in thread.messages:
            if message.role == "assistant" and message.content:
                assert message.html == render_markdown(message.content)


def test_a_job_that_fails_stops_its_render_workers(app, user, render_workers, monkeypatch):
    def database_gone(*_args):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr("webapp.imports.jobs.store", database_gone)
    job = run_import(app, user, fixture("openwebui-export.json"))
    assert job["status"] == "failed" and any(rendering.in_worker for rendering in render_workers)
    # render_workers checks that no worker process is left.


@pytest.mark.parametrize("workers", [2, 0], ids=["in workers", "in the job's thread"])
def test_a_thread_twice_in_one_file_is_imported_once(app, user, render_workers, monkeypatch, workers):
    # In workers, the second copy is read (and its replies rendered) before the first is stored.
    monkeypatch.setattr("webapp.imports.rendering.workers", lambda: workers)
    tree = fixture_json("chatgpt-tree.json")
    job = run_import(app, user, ("conversations.json", json.dumps(tree + tree).encode()))
    assert (job["status"], job["imported"], job["skipped"], job["failed"]) == ("done", 1, 1, 0)
    assert any(rendering.in_worker for rendering in render_workers) == (workers > 0)
    assert len(threads_of(app, user)) == 1


def test_when_render_workers_cannot_start_the_job_renders_itself(app, user, render_workers, monkeypatch, caplog):
    class NoProcesses:
        def __init__(self, *_args, **_kwargs):
            pass

        def submit(self, *_args):
            raise OSError(11, "Resource temporarily unavailable")  # as fork() says when out of processes

        def shutdown(self, **_kwargs):
            pass

    monkeypatch.setattr("webapp.imports.rendering.ProcessPoolExecutor", NoProcesses)
    job = run_import(app, user, fixture("openwebui-export.json"))
    assert (job["status"], job["imported"], job["failed"]) == ("done", 3, 0)
    assert not any(rendering.in_worker for rendering in render_workers)
    assert "render workers could not start" in caplog.text
    for thread in threads_of(app, user):
        for message in thread.messages:
            if message.role == "assistant" and message.content:
                assert message.html == render_markdown(message.content)
