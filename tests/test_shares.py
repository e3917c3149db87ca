"""The share links' data layer (webapp.shares): the snapshot, its refresh,
revocation, what makes a link stop working, forks and the admin's revoke."""

from __future__ import annotations

import re

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from tests.factories import add_thread, add_user
from tests.plans import query_plan
from webapp import shares
from webapp.administration import set_active
from webapp.branches import list_messages
from webapp.conversations import (
    append_message,
    create_conversation,
)
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.models import AuditEvent, Share, SharedMessage
from webapp.organising import delete_for_good

LINK = re.compile(r"/s/([A-Za-z0-9_-]{32})")


def contents(messages) -> list[str]:
    return [message.content for message in messages]


# --- the data layer ------------------------------------------------------------------------


def test_a_share_holds_the_shown_branch_as_it_was(ctx, user):
    thread = add_thread(user, "Plans", messages=3)
    share = shares.share_thread(thread)
    append_message(thread, "assistant", "said later")
    db.session.commit()
    found = shares.find_share(share.token)
    assert found.title == "Plans" and found.message_count == 3
    assert contents(shares.snapshot_messages(found).items) == ["Message 001", "Message 002", "Message 003"]


def test_a_message_added_later_shows_only_after_update_and_the_link_stays(ctx, user):
    thread = add_thread(user, "Plans", messages=2)
    token = shares.share_thread(thread).token
    append_message(thread, "user", "later")
    db.session.commit()
    assert "later" not in contents(shares.snapshot_messages(shares.find_share(token)).items)
    refreshed = shares.share_thread(thread)
    db.session.commit()
    assert refreshed.token == token
    assert contents(shares.snapshot_messages(shares.find_share(token)).items)[-1] == "later"
    assert db.session.scalar(select(func.count()).select_from(SharedMessage)) == 3


def test_the_snapshot_is_the_shown_branch_only(ctx, user):
    thread = create_conversation(user, "Tree")
    first = append_message(thread, "user", "question")
    append_message(thread, "assistant", "old answer")
    append_message(thread, "assistant", "new answer", parent=first.id)
    share = shares.share_thread(thread)
    db.session.commit()
    assert contents(shares.snapshot_messages(share).items) == ["question", "new answer"]


def test_editing_the_thread_does_not_change_the_snapshot(ctx, user):
    thread = add_thread(user, "Plans", messages=2)
    share = shares.share_thread(thread)
    db.session.commit()
    thread.title = "Renamed"
    db.session.commit()
    assert shares.find_share(share.token).display_title == "Plans"


def test_a_reply_still_being_written_is_shared_as_far_as_it_got(ctx, user):
    thread = add_thread(user, "Live", messages=1)
    reply = append_message(thread, "assistant", "half an **ans", status="streaming")
    share = shares.share_thread(thread)
    db.session.commit()
    shared = shares.snapshot_messages(share).items[-1]
    assert shared.is_live and shared.content == "half an **ans"
    assert shared.html is not None and "half an" in shared.html
    assert reply.status == "streaming"  # the thread's own reply is untouched


def test_the_token_is_random_url_safe_and_at_least_128_bits(ctx, user):
    tokens = {shares.share_thread(add_thread(user, f"t{n}")).token for n in range(20)}
    assert len(tokens) == 20
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", token) for token in tokens)  # 24 bytes: 192 bits


@pytest.mark.parametrize(
    "token",
    ["", "short", "x" * 32, "!" * 32, "a" * 33, "a" * 31, "../../etc/passwd", "a" * 10_000],
)
def test_a_malformed_or_unknown_token_is_not_found(ctx, user, token):
    shares.share_thread(add_thread(user, "Plans", messages=1))
    db.session.commit()
    with pytest.raises(NotFound):
        shares.find_share(token)


def test_a_revoked_link_is_not_found(ctx, user):
    thread = add_thread(user, "Plans", messages=1)
    token = shares.share_thread(thread).token
    db.session.commit()
    shares.revoke(thread)
    db.session.commit()
    with pytest.raises(NotFound):
        shares.find_share(token)
    assert db.session.scalar(select(func.count()).select_from(SharedMessage)) == 0


def test_revoking_a_thread_that_is_not_shared_is_not_found(ctx, user):
    with pytest.raises(NotFound):
        shares.revoke(add_thread(user, "Plans"))


def test_a_deleted_thread_takes_its_link_with_it(ctx, user):
    thread = add_thread(user, "Plans", messages=1)
    token = shares.share_thread(thread).token
    db.session.commit()
    delete_for_good(thread)
    db.session.commit()
    with pytest.raises(NotFound):
        shares.find_share(token)
    assert db.session.scalar(select(func.count()).select_from(Share)) == 0


def test_a_disabled_owner_s_links_stop_working_and_come_back_when_enabled(ctx, user, admin_user):
    token = shares.share_thread(add_thread(user, "Plans", messages=1)).token
    db.session.commit()
    set_active(admin_user, user, False)
    db.session.commit()
    with pytest.raises(NotFound):
        shares.find_share(token)
    set_active(admin_user, user, True)
    db.session.commit()
    assert shares.find_share(token).title == "Plans"


def test_the_owners_list_has_only_their_links(ctx, user, other_user):
    mine = shares.share_thread(add_thread(user, "Mine"))
    shares.share_thread(add_thread(other_user, "Theirs"))
    db.session.commit()
    assert [share.id for share in shares.list_shares(user)] == [mine.id]
    with pytest.raises(NotFound):
        shares.revoke_share_of(user, shares.list_shares(other_user)[0].id)


def test_the_owners_list_reads_their_links_by_their_own_index(ctx, user):
    # Not through the account's threads: the settings page would cost what
    # the account holds.
    for i in range(3):
        shares.share_thread(add_thread(user, f"t{i}"))
    db.session.commit()
    plan = query_plan(lambda: shares.list_shares(user))
    assert "ix_shares_user_recent" in plan, plan
    assert "ix_conversations_user" not in plan, plan


def test_a_fork_is_a_thread_of_the_visitor_holding_the_snapshot(ctx, user, other_user):
    thread = add_thread(user, "Plans", messages=3)
    share = shares.share_thread(thread)
    append_message(thread, "user", "not in the snapshot")
    db.session.commit()
    copy = shares.fork_snapshot(other_user, share)
    db.session.commit()
    assert copy.user_id == other_user.id and copy.title == "Plans"
    assert contents(list_messages(copy).items) == ["Message 001", "Message 002", "Message 003"]
    assert copy.message_count == 3


def test_an_admin_revoke_is_audited(ctx, user, admin_user):
    share = shares.share_thread(add_thread(user, "Plans"))
    db.session.commit()
    event = shares.admin_revoke(admin_user, share.id)
    db.session.commit()
    assert (event.action, event.actor_name, event.target_owner_name, event.old_value) == (
        "revoke_share",
        "root",
        "alice",
        "Plans",
    )
    assert db.session.scalar(select(func.count()).select_from(Share)) == 0


def test_the_migrated_schema_keeps_shares_and_audits_their_revocation(make_app):
    app = make_app()
    with app.app_context():
        upgrade()
        root, alice = add_user("root", "admin"), add_user("alice")
        thread = add_thread(alice, "Plans", messages=2)
        share = shares.share_thread(thread)
        db.session.commit()
        assert contents(shares.snapshot_messages(share).items) == ["Message 001", "Message 002"]
        shares.admin_revoke(root, share.id)
        db.session.commit()
        shares.share_thread(thread)
        db.session.commit()
        delete_for_good(thread)
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(SharedMessage)) == 0
        assert db.session.scalar(select(AuditEvent.action)) == "revoke_share"
