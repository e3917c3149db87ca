"""Assistant replies: written by a worker, streamed over SSE, never lost."""

from __future__ import annotations

import re
import threading
import time
import uuid

import pytest
from sqlalchemy import select, update

from tests.conftest import PASSWORD
from tests.fake_llm import FakeLLM
from tests.html import parse
from webapp import replies
from webapp.assistant import ReplyRequest, error_detail, public_error
from webapp.conversations import append_message, create_conversation
from webapp.extensions import db
from webapp.models import Conversation, Message, User, utcnow
from webapp.replies import claim, engine, history_for, wait_for_writers

HTMX = {"HX-Request": "true"}


@pytest.fixture
def fake_llm():
    server = FakeLLM().start()
    yield server
    server.stop()


@pytest.fixture
def llm_timeout() -> int:
    """How long the app waits for the model, in seconds: short, for the test of
    it. A test whose model holds a reply while the test acts sets it longer
    (``@pytest.mark.parametrize("llm_timeout", [60])``): acting may take a
    loaded machine more than 2 s."""
    return 2


@pytest.fixture
def llm_app(make_app, fake_llm, client_for, llm_timeout):
    app = make_app(PARLEY_LLM_BASE_URL=fake_llm.base_url, PARLEY_LLM_MODEL="fake-small", PARLEY_LLM_TIMEOUT=llm_timeout)
    client_for(app)
    return app


def signed_in_client(app, username="alice"):
    from webapp.accounts import create_user

    with app.app_context():
        create_user(username, PASSWORD)
        db.session.commit()
    client = app.test_client()
    client.post("/login", data={"username": username, "password": PASSWORD})
    return client


def new_thread(client, text="Hello model") -> uuid.UUID:
    response = client.post("/c", data={"content": text})
    assert response.status_code == 303, response.text
    return uuid.UUID(response.headers["Location"].rsplit("/", 1)[1])


def reply_of(app, thread) -> Message:
    with app.app_context():
        message = db.session.scalars(
            select(Message).where(Message.conversation_id == thread).order_by(Message.position.desc())
        ).first()
        db.session.expunge(message)
        return message


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def sse_events(text: str) -> list[tuple[str | None, str]]:
    events = []
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        name = next((line[7:] for line in lines if line.startswith("event: ")), None)
        data = "\n".join(line[6:] for line in lines if line.startswith("data: "))
        events.append((name, data))
    return events


# --- the demo assistant --------------------------------------------------------------


def test_demo_reply_is_written_before_the_redirect_without_javascript(app, client, auth, make_user):
    make_user("alice")
    auth.login()
    thread = new_thread(client, "What is **this**?")
    reply = reply_of(app, thread)
    assert (reply.role, reply.status) == ("assistant", "complete")
    assert "demo assistant" in reply.content
    assert "What is **this**?" in reply.content
    assert "<pre" in reply.html
    page = client.get(f"/c/{thread}").text
    assert "demo assistant</strong>" in page
    assert 'id="send-button" type="submit" class="button primary">' in page  # enabled


def test_demo_reply_over_htmx_streams_in_the_background(app, client, auth, make_user):
    make_user("alice")
    auth.login()
    thread = new_thread(client)
    response = client.post(f"/c/{thread}/messages", data={"content": "again"}, headers=HTMX)
    assert response.status_code == 200
    pending = re.search(r'id="message-(\d+)" class="message assistant live"', response.text)
    assert pending, "the post answers with a placeholder for the reply"
    assert "hx-sse:connect=" in response.text
    assert re.search(r'id="send-button"[^>]* disabled', response.text)
    wait_for_writers(app)
    reply = reply_of(app, thread)
    assert reply.status == "complete" and "again" in reply.content


def test_new_chat_page_says_the_assistant_is_a_demo(client, auth, make_user):
    make_user("alice")
    auth.login()
    assert "PARLEY_LLM_BASE_URL" in client.get("/").text


# --- an OpenAI-compatible server ---------------------------------------------------------


def test_openai_reply_streams_from_the_model_server(llm_app, fake_llm):
    client = signed_in_client(llm_app)
    thread = new_thread(client, "Say hello")
    reply = reply_of(llm_app, thread)
    assert reply.status == "complete"
    assert reply.content == "Hello from the **fake** model."
    assert "<strong>fake</strong>" in reply.html
    request = fake_llm.requests[-1]
    assert request["model"] == "fake-small"
    assert request["stream"] is True
    assert request["messages"] == [{"role": "user", "content": "Say hello"}]


def test_thread_settings_choose_the_model_and_system_prompt(llm_app, fake_llm):
    client = signed_in_client(llm_app)
    thread = new_thread(client)
    response = client.post(f"/c/{thread}/settings", data={"model": "fake-large", "system_prompt": "Be brief."})
    assert response.status_code == 303
    page = client.get(f"/c/{thread}").text
    # The server's models are offered in the composer, the thread's chosen.
    assert '<option value="fake-small">' in page and '<option value="fake-large" selected>' in page
    client.post(f"/c/{thread}/messages", data={"content": "Again"})
    request = fake_llm.requests[-1]
    assert request["model"] == "fake-large"
    assert request["messages"][0] == {"role": "system", "content": "Be brief."}
    assert [m["role"] for m in request["messages"]] == ["system", "user", "assistant", "user"]


def test_history_is_cut_from_the_newest_backwards(ctx, user):
    conversation = create_conversation(user)
    for i in range(10):
        append_message(conversation, "user", f"{i}" * 100)
    reply = append_message(conversation, "assistant", "", status="pending")
    history = history_for(reply, budget=350)
    assert [m["content"][0] for m in history] == ["7", "8", "9"]
    # The newest message always goes, even when it alone is over the budget.
    assert len(history_for(reply, budget=10)) == 1


def test_model_list_is_offered_and_kept_a_while(llm_app, fake_llm):
    from webapp.assistant import provider_for

    provider = provider_for(llm_app)
    assert provider.list_models() == ["fake-large", "fake-small"]
    fake_llm.behaviour.models = ["changed"]
    assert provider.list_models() == ["fake-large", "fake-small"]


# --- following a reply ----------------------------------------------------------------------


def test_stream_of_a_finished_reply_sends_it_whole_then_done(llm_app):
    client = signed_in_client(llm_app)
    thread = new_thread(client)
    reply = reply_of(llm_app, thread)
    response = client.get(f"/c/{thread}/messages/{reply.id}/stream")
    assert response.mimetype == "text/event-stream"
    assert response.headers["X-Accel-Buffering"] == "no"
    events = sse_events(response.get_data(as_text=True))
    assert events[-1] == ("done", "")
    final = events[-2][1]
    assert f'<article id="message-{reply.id}" class="message assistant"' in final
    assert 'hx-swap-oob="true"' in final
    assert '<button id="send-button" type="submit" class="button primary" hx-swap-oob="true">' in final


def start_slow_reply(app, client, fake_llm, delay=0.1, pause_after=None):
    """A thread whose second reply is being written, ``delay`` s a token; with
    ``pause_after``, the model holds it after that many tokens (see ``resume``)."""
    thread = new_thread(client, "first")
    fake_llm.behaviour.delay, fake_llm.behaviour.pause_after = delay, pause_after
    response = client.post(f"/c/{thread}/messages", data={"content": "slowly"}, headers=HTMX)
    message_id = int(re.search(r'id="message-(\d+)" class="message assistant live"', response.text).group(1))
    return thread, message_id


def live_text(app, message_id) -> str:
    """What the reply's writer has published so far."""
    return engine(app).relay.text_so_far(message_id) or ""


def stream_of_held_reply(client, fake_llm, thread, message_id) -> list[tuple[str | None, str]]:
    """The events of a reply the model holds (``pause_after``), read whole: the
    model goes on only once this reader shows what had come, so the reader is
    there while the reply is written, however slow the machine."""
    stream = client.get(f"/c/{thread}/messages/{message_id}/stream", buffered=False)
    text = ""
    for chunk in stream.response:  # read here, in the thread that runs the stream
        text += chunk.decode()
        if "data: " in text:
            fake_llm.behaviour.resume.set()
    stream.close()
    return sse_events(text)


@pytest.mark.parametrize("llm_timeout", [60])
def test_refresh_mid_reply_shows_what_arrived_and_keeps_streaming(llm_app, fake_llm):
    client = signed_in_client(llm_app)
    # Slower than the renders: each token is shown as it comes.
    # "Hello from", then the rest once the stream is read.
    thread, message_id = start_slow_reply(llm_app, client, fake_llm, delay=0.2, pause_after=2)
    wait_until(lambda: live_text(llm_app, message_id) == "Hello from")
    page = client.get(f"/c/{thread}").text
    assert f'id="message-{message_id}-text"' in page and "hx-sse:connect" in page
    events = stream_of_held_reply(client, fake_llm, thread, message_id)
    # First what has arrived so far, replacing the text; then the reply so far,
    # rendered, each time; then the whole reply.
    assert events[0][1].startswith(f'<div id="message-{message_id}-text" hx-swap-oob="innerHTML"><p>Hello')
    texts = [re.sub(r"<[^>]+>", "", data).strip() for name, data in events[:-2]]
    assert len(texts) > 2 and all("Hello from the fake model.".startswith(text) for text in texts), texts
    # Live Markdown: the bold word is bold while the reply is still coming.
    assert "<p>Hello from the <strong>fake</strong>" in events[-3][1]
    final = events[-2][1]
    assert "<strong>fake</strong>" in final
    with llm_app.app_context():
        stored = db.session.get(Message, message_id).html
    assert stored in final and f'<div id="message-{message_id}-text"' in events[-3][1]
    assert events[-1][0] == "done"


def test_a_fast_reply_is_rendered_a_few_times_a_second_not_per_token(llm_app, fake_llm):
    client = signed_in_client(llm_app)
    fake_llm.behaviour.tokens = ["word "] * 300
    thread, message_id = start_slow_reply(llm_app, client, fake_llm, delay=0.002)
    started = time.monotonic()
    events = sse_events(client.get(f"/c/{thread}/messages/{message_id}/stream").get_data(as_text=True))
    took = time.monotonic() - started
    renders = [data for name, data in events if name is None and "-text" in data]
    # One render at the start and about one per 150 ms after, whatever the pace of tokens.
    assert 1 <= len(renders) <= 3 + took / 0.15, (len(renders), took)
    assert len(renders) < 300


def test_two_readers_both_see_the_whole_reply(llm_app, fake_llm):
    client = signed_in_client(llm_app)
    thread, message_id = start_slow_reply(llm_app, client, fake_llm, delay=0.05)
    results = []

    def read():
        reader = llm_app.test_client()
        with client.session_transaction() as session:
            cookie = dict(session)
        with reader.session_transaction() as session:
            session.update(cookie)
        results.append(reader.get(f"/c/{thread}/messages/{message_id}/stream").get_data(as_text=True))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(30)
    assert len(results) == 2
    for text in results:
        assert "<strong>fake</strong>" in sse_events(text)[-2][1]
    assert len([r for r in fake_llm.requests if r["messages"][-1]["content"] == "slowly"]) == 1


def test_a_pending_reply_nobody_writes_is_taken_up_by_its_reader(llm_app, fake_llm):
    """E.g. the instance that took the post went away before starting it."""
    client = signed_in_client(llm_app)
    thread = new_thread(client)
    with llm_app.app_context():
        conversation = db.session.get(Conversation, thread)
        orphan = append_message(conversation, "assistant", "", status="pending")
        db.session.commit()
        orphan_id = orphan.id
    events = sse_events(client.get(f"/c/{thread}/messages/{orphan_id}/stream").get_data(as_text=True))
    assert "<strong>fake</strong>" in events[-2][1]
    assert reply_of(llm_app, thread).status == "complete"


def test_stream_of_another_users_reply_is_404(llm_app):
    alice = signed_in_client(llm_app, "alice")
    thread = new_thread(alice)
    reply = reply_of(llm_app, thread)
    bob = signed_in_client(llm_app, "bob")
    assert bob.get(f"/c/{thread}/messages/{reply.id}/stream").status_code == 404
    other = new_thread(bob)
    assert bob.get(f"/c/{other}/messages/{reply.id}/stream").status_code == 404
    assert bob.post(f"/c/{thread}/messages/{reply.id}/stop").status_code == 404
    assert bob.post(f"/c/{thread}/messages/{reply.id}/regenerate").status_code == 404


# --- only one generation per reply ----------------------------------------------------------------


def test_claim_is_won_by_exactly_one_of_many(app, ctx, user):
    conversation = create_conversation(user)
    append_message(conversation, "user", "hi")
    reply = append_message(conversation, "assistant", "", status="pending")
    db.session.commit()
    reply_id, wins, start = reply.id, [], threading.Barrier(6)

    def contend(n):
        with app.app_context():
            start.wait()
            if claim(reply_id, f"worker-{n}"):
                wins.append(n)

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1


def test_a_reply_is_claimed_once_only_even_after_its_lease_lapses(app, ctx, user):
    """A lapsed lease means its writer died: the reply is ended as
    interrupted, never written a second time (one model call per reply)."""
    from datetime import timedelta

    conversation = create_conversation(user)
    append_message(conversation, "user", "hi")
    reply = append_message(conversation, "assistant", "", status="pending")
    db.session.commit()
    assert claim(reply.id, "first")
    assert not claim(reply.id, "second")
    db.session.execute(
        update(Message).where(Message.id == reply.id).values(lease_until=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    assert not claim(reply.id, "second")


# --- stop, regenerate, retry ------------------------------------------------------------------

#: A reply that takes half a minute or more: a test stops it long before its end.
LONG_REPLY = ["Hello", " from", " the", " **fake**", " model", "."] + [" more"] * 300


def test_stop_keeps_the_partial_reply(llm_app, fake_llm):
    client = signed_in_client(llm_app)
    fake_llm.behaviour.tokens = LONG_REPLY  # still coming when the stop comes, however slow the machine
    thread, message_id = start_slow_reply(llm_app, client, fake_llm, delay=0.15)
    wait_until(lambda: live_text(llm_app, message_id).startswith("Hello"))
    response = client.post(f"/c/{thread}/messages/{message_id}/stop", headers=HTMX)
    assert response.status_code == 200
    assert "Stopped." in response.text
    assert re.search(r'id="send-button"[^>]*hx-swap-oob="true"', response.text)
    wait_for_writers(llm_app)
    reply = reply_of(llm_app, thread)
    assert reply.status == "stopped"
    assert reply.content.startswith("Hello") and reply.content != "".join(LONG_REPLY)


def test_stop_keeps_every_piece_a_reader_was_shown(llm_app, fake_llm):
    client = signed_in_client(llm_app)
    fake_llm.behaviour.tokens = LONG_REPLY  # still coming when the stop comes, however slow the machine
    thread, message_id = start_slow_reply(llm_app, client, fake_llm, delay=0.1)
    shown, first_piece = [], threading.Event()

    def read():
        for event in follow_in(llm_app, message_id):
            if isinstance(event, replies.Piece) and event.text:
                shown.append(event.text)
                first_piece.set()

    reader = threading.Thread(target=read)
    reader.start()
    assert first_piece.wait(30)
    client.post(f"/c/{thread}/messages/{message_id}/stop")
    reader.join(30)
    assert not reader.is_alive(), "the reader never heard the end"
    reply = reply_of(llm_app, thread)
    assert reply.status == "stopped" and reply.content != "".join(LONG_REPLY)
    assert "".join(shown) == reply.content


def follow_in(app, message_id):
    with app.app_context():
        yield from replies.follow(message_id, keepalive=1.0)


@pytest.mark.parametrize("llm_timeout", [60])
def test_stop_while_the_model_thinks_ends_the_call_at_once(llm_app, fake_llm):
    """No text yet (a reasoning model): Stop closes the model's connection
    rather than waiting for its first word, or for the timeout (a minute
    here, longer than the test waits)."""
    client = signed_in_client(llm_app)
    thread = new_thread(client, "first")
    fake_llm.behaviour.delay = 30  # the first token would come in half a minute
    response = client.post(f"/c/{thread}/messages", data={"content": "think hard"}, headers=HTMX)
    message_id = int(re.search(r'id="message-(\d+)" class="message assistant live"', response.text).group(1))
    writer = engine(llm_app).writers[message_id].thread
    wait_until(lambda: len(fake_llm.requests) == 2)
    client.post(f"/c/{thread}/messages/{message_id}/stop")
    writer.join(5)
    assert not writer.is_alive()
    reply = reply_of(llm_app, thread)
    assert (reply.status, reply.content) == ("stopped", "")


@pytest.mark.parametrize("llm_timeout", [60])
def test_stop_before_the_model_answers_at_all_ends_the_call_at_once(llm_app, fake_llm):
    """The model server has not even begun its answer (a model being loaded):
    Stop ends the reply without waiting for it."""
    client = signed_in_client(llm_app)
    thread = new_thread(client, "first")
    fake_llm.behaviour.first_delay = 30
    response = client.post(f"/c/{thread}/messages", data={"content": "are you there?"}, headers=HTMX)
    message_id = int(re.search(r'id="message-(\d+)" class="message assistant live"', response.text).group(1))
    writer = engine(llm_app).writers[message_id].thread
    wait_until(lambda: len(fake_llm.requests) == 2)
    client.post(f"/c/{thread}/messages/{message_id}/stop")
    writer.join(5)
    assert not writer.is_alive()
    reply = reply_of(llm_app, thread)
    assert (reply.status, reply.content) == ("stopped", "")


def test_regenerate_adds_a_new_version_and_keeps_the_old(llm_app, fake_llm):
    client = signed_in_client(llm_app)
    thread = new_thread(client)
    reply = reply_of(llm_app, thread)
    fake_llm.behaviour.tokens = ["Second", " answer"]
    response = client.post(f"/c/{thread}/messages/{reply.id}/regenerate")
    assert response.status_code == 303
    again = reply_of(llm_app, thread)
    assert again.id != reply.id and again.parent_id == reply.parent_id
    assert (again.content, again.status) == ("Second answer", "complete")
    with llm_app.app_context():
        conversation = db.session.get(Conversation, thread)
        assert (conversation.message_count, conversation.current_message_id) == (3, again.id)
        assert db.session.get(Message, reply.id).content == "Hello from the **fake** model."


def test_an_older_reply_is_written_again_on_a_branch_of_its_own(llm_app, fake_llm):
    client = signed_in_client(llm_app)
    thread = new_thread(client, "first question")
    first_reply = reply_of(llm_app, thread)
    client.post(f"/c/{thread}/messages", data={"content": "second question"})
    response = client.post(f"/c/{thread}/messages/{first_reply.id}/regenerate")
    assert response.status_code == 303
    # The model saw only the new reply's own branch: the first question.
    assert [m["content"] for m in fake_llm.requests[-1]["messages"]] == ["first question"]
    page = client.get(f"/c/{thread}").text
    assert "second question" not in page and "2 / 2" in page


def test_retry_after_an_error(llm_app, fake_llm):
    client = signed_in_client(llm_app)
    fake_llm.behaviour.status = 500
    thread = new_thread(client)
    failed = reply_of(llm_app, thread)
    assert failed.status == "error"
    page = client.get(f"/c/{thread}").text
    assert ">Retry</button>" in page
    fake_llm.behaviour.status = 200
    client.post(f"/c/{thread}/messages/{failed.id}/regenerate")
    assert reply_of(llm_app, thread).status == "complete"


# --- failures end in a visible, recoverable state ---------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "detail", "plain"),
    [
        (lambda b: setattr(b, "status", 500), "refused the request (500): fake refusal 500", "not available right now"),
        (lambda b: setattr(b, "status", 401), "refused the request (401)", "not available right now"),
        (lambda b: setattr(b, "first_delay", 3), "did not answer within 2 s", "took too long to answer"),
        (lambda b: setattr(b, "garbage", True), "sent a reply Parley could not read", "not available right now"),
    ],
    ids=["error-500", "unauthorised", "timeout", "garbage"],
)
def test_model_failures_keep_the_user_message_and_say_what_happened(llm_app, fake_llm, caplog, setup, detail, plain):
    client = signed_in_client(llm_app)
    setup(fake_llm.behaviour)
    thread = new_thread(client, "Will this work?")
    reply = reply_of(llm_app, thread)
    assert reply.status == "error"
    page = client.get(f"/c/{thread}")
    assert page.status_code == 200
    assert "Will this work?" in page.text
    # The person chatting is told plainly; the server's address and its
    # words are for admins and the log.
    assert plain in parse(page.text).one("alert").text
    assert fake_llm.base_url not in page.text and detail not in page.text
    assert any(detail in record.getMessage() and fake_llm.base_url in record.getMessage() for record in caplog.records)
    with llm_app.app_context():
        owner = db.session.scalar(select(User).where(User.username == "alice"))
        owner.role = "admin"
        db.session.commit()
    shown = parse(client.get(f"/c/{thread}").text)
    assert plain in shown.one("alert").text
    assert shown.by_text(re.compile("Details \\(shown to admins only\\): .*" + re.escape(detail)))


def test_failure_mid_stream_keeps_the_partial_reply(llm_app, fake_llm):
    client = signed_in_client(llm_app)
    fake_llm.behaviour.cut_after = 3
    thread = new_thread(client)
    reply = reply_of(llm_app, thread)
    assert reply.status == "error"
    assert reply.content == "Hello from the"


def test_model_server_down(make_app, client_for):
    app = make_app(PARLEY_LLM_BASE_URL="http://127.0.0.1:9/v1", PARLEY_LLM_MODEL="m", PARLEY_LLM_TIMEOUT=2)
    client_for(app)
    client = signed_in_client(app)
    thread = new_thread(client)
    reply = reply_of(app, thread)
    assert reply.status == "error"
    assert "Could not reach the model server at http://127.0.0.1:9/v1" in error_detail(reply.error)
    assert public_error(reply.error).startswith("The assistant is not available right now.")


def test_no_model_configured_says_how_to_choose_one(make_app, client_for, fake_llm):
    app = make_app(PARLEY_LLM_BASE_URL=fake_llm.base_url)
    client_for(app)
    client = signed_in_client(app)
    reply = reply_of(app, new_thread(client))
    assert reply.status == "error" and "No model is chosen" in reply.error


def test_a_crash_in_the_writer_ends_the_reply_with_an_error(app, ctx, user, monkeypatch):
    import webapp.assistant.demo as demo

    def explode(self, request: ReplyRequest):
        yield "partial "
        raise RuntimeError("boom")

    monkeypatch.setattr(demo.DemoProvider, "stream", explode)
    conversation = create_conversation(user)
    append_message(conversation, "user", "hi")
    reply = append_message(conversation, "assistant", "", status="pending")
    db.session.commit()
    replies.start(reply.id, app).join(5)
    db.session.expire_all()
    reply = db.session.get(Message, reply.id)
    assert (reply.status, reply.content) == ("error", "partial ")
    assert "Try again" in reply.error


def test_reply_finishing_does_not_bump_activity(app, ctx, user):
    conversation = create_conversation(user)
    append_message(conversation, "user", "hi")
    reply = append_message(conversation, "assistant", "", status="pending")
    db.session.commit()
    before = conversation.updated_at
    replies.start(reply.id, app).join(5)
    db.session.expire_all()
    assert db.session.get(Conversation, conversation.id).updated_at == before
    assert db.session.get(Message, reply.id).status == "complete"
    assert db.session.get(User, user.id) is not None


def test_a_reply_is_written_once_however_often_it_is_started(app, ctx, user):
    conversation = create_conversation(user)
    append_message(conversation, "user", "hi")
    reply = append_message(conversation, "assistant", "", status="pending")
    db.session.commit()
    writer = replies.start(reply.id, app)
    assert replies.start(reply.id, app) is None  # no second writer here
    writer.join(5)
    assert replies.start(reply.id, app).join(5) is None  # ended: nothing to claim
    db.session.expire_all()
    assert db.session.get(Message, reply.id).status == "complete"


# --- writers that die -------------------------------------------------------------------------


def orphan_reply(app, thread, *, owner: str, lapsed: bool, content: str = "Half an answer") -> int:
    """A reply being written by ``owner``, which has stopped saying so."""
    from datetime import timedelta

    with app.app_context():
        conversation = db.session.get(Conversation, thread)
        reply = append_message(conversation, "assistant", "", status="pending")
        reply.status, reply.content, reply.lease_owner = "streaming", content, owner
        reply.lease_until = utcnow() + (timedelta(seconds=-1) if lapsed else timedelta(seconds=60))
        db.session.commit()
        return reply.id


def test_a_reply_whose_writer_died_ends_as_interrupted_with_its_text(llm_app, fake_llm):
    client = signed_in_client(llm_app)
    thread = new_thread(client)
    calls = len(fake_llm.requests)
    reply_id = orphan_reply(llm_app, thread, owner="elsewhere:1:abc", lapsed=True)
    events = sse_events(client.get(f"/c/{thread}/messages/{reply_id}/stream").get_data(as_text=True))
    assert "Interrupted" in events[-2][1] and ">Retry</button>" in events[-2][1]
    reply = reply_of(llm_app, thread)
    assert (reply.status, reply.content) == ("error", "Half an answer")
    assert reply.error.startswith("Interrupted")
    assert "<p>Half an answer</p>" in reply.html
    assert len(fake_llm.requests) == calls  # the model is not asked again
    client.post(f"/c/{thread}/messages/{reply_id}/regenerate")  # Retry writes it anew
    assert reply_of(llm_app, thread).content == "Hello from the **fake** model."


def test_a_reply_left_by_a_dead_process_here_ends_when_the_app_starts(make_app, client_for, fake_llm):
    """After kill -9 and a restart: at once, not when the lease lapses."""
    import socket

    first = make_app(PARLEY_LLM_BASE_URL=fake_llm.base_url, PARLEY_LLM_MODEL="fake-small")
    client_for(first)
    client = signed_in_client(first)
    thread = new_thread(client)
    dead = _a_dead_pid()
    reply_id = orphan_reply(first, thread, owner=f"{socket.gethostname()[:40]}:{dead}:abc", lapsed=False)
    restarted = make_app(PARLEY_LLM_BASE_URL=fake_llm.base_url, PARLEY_LLM_MODEL="fake-small")
    engine(restarted)  # what the first reply of the restarted app does
    reply = reply_of(restarted, thread)
    assert reply.id == reply_id
    assert (reply.status, reply.content) == ("error", "Half an answer")


def _a_dead_pid() -> int:
    import subprocess

    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_reply_another_live_instance_writes_is_left_alone(llm_app, fake_llm):
    client = signed_in_client(llm_app)
    thread = new_thread(client)
    reply_id = orphan_reply(llm_app, thread, owner="elsewhere:1:abc", lapsed=False)
    with llm_app.app_context():
        assert replies.interrupt(engine(llm_app), reply_id) is False
    assert reply_of(llm_app, thread).status == "streaming"


# --- what the model sends that the database cannot store ------------------------------------


@pytest.mark.parametrize(
    ("tokens", "stored"),
    [
        (["Bad \ud800 half", " pair"], "Bad \ufffd half pair"),
        (["N\x00U", "L"], "NUL"),
    ],
    ids=["lone-surrogate", "nul"],
)
def test_characters_the_database_refuses_are_cleaned_not_fatal(llm_app, fake_llm, tokens, stored):
    client = signed_in_client(llm_app)
    fake_llm.behaviour.tokens = tokens
    reply = reply_of(llm_app, new_thread(client))
    assert (reply.status, reply.content) == ("complete", stored)


def test_an_empty_reply_says_so_and_offers_retry(llm_app, fake_llm):
    client = signed_in_client(llm_app)
    fake_llm.behaviour.tokens = []
    thread = new_thread(client)
    reply = reply_of(llm_app, thread)
    assert reply.status == "error" and "empty reply" in reply.error
    assert ">Retry</button>" in client.get(f"/c/{thread}").text


# --- the live thread ----------------------------------------------------------------------------


def test_a_second_tab_is_told_of_new_messages(llm_app, fake_llm):
    client = signed_in_client(llm_app)
    thread = new_thread(client)
    page = client.get(f"/c/{thread}").text
    events_url = re.search(r'hx-sse:connect="(/c/[^"]+/events[^"]*)"', page).group(1).replace("&amp;", "&")
    other = llm_app.test_client()
    with client.session_transaction() as session:
        cookie = dict(session)
    with other.session_transaction() as session:
        session.update(cookie)

    def post_elsewhere():
        headers = {**HTMX, "X-Parley-Page": "another tab"}
        other.post(f"/c/{thread}/messages", data={"content": "Posted elsewhere"}, headers=headers)

    stream = client.get(events_url, buffered=False)
    received, poster = "", threading.Thread(target=post_elsewhere)
    deadline = time.monotonic() + 30  # a keep-alive comes at least every 15 s
    for chunk in stream.response:  # read here, in the thread that runs the stream
        received += chunk.decode()
        assert time.monotonic() < deadline, "the new message never came"
        if not poster.is_alive() and poster.ident is None:
            poster.start()  # once the stream is open
        if "Posted elsewhere" in received:
            break
    stream.close()
    poster.join(5)
    assert 'type="partial" hx-target="#message-list" hx-swap="beforeend"' in received
    assert "Posted elsewhere" in received and "message assistant" in received


@pytest.mark.parametrize("llm_timeout", [60])
def test_the_reply_so_far_is_sanitised_as_the_finished_one(llm_app, fake_llm):
    client = signed_in_client(llm_app)
    fake_llm.behaviour.tokens = ["<img src=x onerror=alert(1)>", " [x](javascript:alert(1))", " **bold**"]
    # The rest once the stream is read: it is read live.
    thread, message_id = start_slow_reply(llm_app, client, fake_llm, delay=0.2, pause_after=1)
    events = stream_of_held_reply(client, fake_llm, thread, message_id)
    renders = [data for name, data in events[:-2]]
    assert renders and all("<img" not in data and 'href="javascript' not in data for data in renders)
    assert any("&lt;img src=x onerror=alert(1)&gt;" in data for data in renders)
    assert "<strong>bold</strong>" in events[-2][1] and "<img" not in events[-2][1]
