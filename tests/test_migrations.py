"""The migrations build exactly the schema the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from tests.factories import insert_old_user, raw_uuid
from webapp.database import render_migration_item
from webapp.extensions import db
from webapp.search_index import include_object


def schema_differences(app) -> list:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "render_item": render_migration_item, "include_object": include_object},
        )
        return compare_metadata(context, db.metadata)


def tables(app) -> set[str]:
    with app.app_context():
        return set(inspect(db.engine).get_table_names())


def test_upgrade_from_empty_builds_the_models_schema(make_app):
    app = make_app()
    with app.app_context():
        upgrade()
    assert schema_differences(app) == []
    assert {"users", "conversations", "messages", "audit_events", "api_tokens"} <= tables(app)


def test_downgrade_to_base_and_upgrade_again(make_app):
    app = make_app()
    with app.app_context():
        upgrade()
        downgrade(revision="base")
    assert tables(app) <= {"alembic_version"}
    with app.app_context():
        upgrade()
    assert schema_differences(app) == []


def test_cascades_work_in_the_migrated_schema(make_app):
    from webapp.accounts import create_user, delete_user
    from webapp.conversations import append_message, create_conversation
    from webapp.models import ApiToken, Message
    from webapp.tokens import create_token

    app = make_app()
    with app.app_context():
        upgrade()
        user = create_user("carol", "correct horse battery")
        conversation = create_conversation(user)
        append_message(conversation, "user", "hello")
        create_token(user, "cli")
        db.session.commit()
        delete_user(user)
        db.session.commit()
        assert db.session.query(Message).count() == 0
        assert db.session.query(ApiToken).count() == 0


def test_audit_events_outlive_what_they_name_in_the_migrated_schema(make_app):
    from sqlalchemy import select

    from tests.factories import add_thread, add_user
    from webapp.administration import delete_account, rename_thread
    from webapp.models import AuditEvent

    app = make_app()
    with app.app_context():
        upgrade()
        root, other, alice = add_user("root", "admin"), add_user("other", "admin"), add_user("alice")
        rename_thread(root, add_thread(alice, "before", messages=2), "after")
        db.session.commit()
        delete_account(other, alice)
        delete_account(other, root)
        db.session.commit()
        db.session.expire_all()
        logged = db.session.execute(
            select(
                AuditEvent.action, AuditEvent.actor_id, AuditEvent.actor_name, AuditEvent.target_owner_name
            ).order_by(AuditEvent.id)
        ).all()
        assert logged == [
            ("rename_thread", None, "root", "alice"),
            ("delete_user", other.id, "other", "alice"),
            ("delete_user", other.id, "other", "root"),
        ]


def test_the_tree_migration_makes_every_existing_thread_one_branch(make_app):
    """Threads written before messages had parents keep every message, in
    order, on one shown branch that ends at their last."""
    import uuid

    from sqlalchemy import text

    app = make_app()
    with app.app_context():
        upgrade(revision="0005")
        thread, empty = uuid.uuid4(), uuid.uuid4()
        with db.engine.begin() as connection:
            insert_old_user(connection)
            for conversation_id, count in ((thread, 3), (empty, 0)):
                connection.execute(
                    text(
                        "INSERT INTO conversations (id, user_id, message_count, created_at, updated_at)"
                        " VALUES (:id, 1, :count, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {
                        "id": raw_uuid(connection, conversation_id),
                        "count": count,
                    },
                )
            for position in (1, 2, 3):
                connection.execute(
                    text(
                        "INSERT INTO messages (conversation_id, position, role, content, status, created_at)"
                        " VALUES (:thread, :position, :role, :content, 'complete', CURRENT_TIMESTAMP)"
                    ),
                    {
                        "thread": raw_uuid(connection, thread),
                        "position": position,
                        "role": "user" if position % 2 else "assistant",
                        "content": f"m{position}",
                    },
                )
        upgrade()
        from webapp.branches import list_messages
        from webapp.models import Conversation

        migrated = db.session.get(Conversation, thread)
        assert [m.content for m in list_messages(migrated).items] == ["m1", "m2", "m3"]
        assert db.session.get(Conversation, empty).current_message_id is None


def test_existing_share_links_learn_their_owner_and_keep_their_snapshot(make_app):
    import uuid

    from sqlalchemy import text

    from webapp import shares
    from webapp.models import User

    app = make_app()
    with app.app_context():
        upgrade(revision="0012")
        thread = uuid.uuid4()
        with db.engine.begin() as connection:
            insert_old_user(connection, 7)
            key = raw_uuid(connection, thread)
            for statement, values in [
                (
                    "INSERT INTO conversations (id, user_id, message_count, pinned, archived, created_at, updated_at)"
                    " VALUES (:id, 7, 0, false, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                    {"id": key},
                ),
                (
                    "INSERT INTO shares (id, conversation_id, token, token_hash, title, message_count, created_at,"
                    " updated_at) VALUES (3, :id, 'tok', 'hash', 'Plans', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                    {"id": key},
                ),
                (
                    "INSERT INTO shared_messages (share_id, position, role, content, status, created_at)"
                    " VALUES (3, 1, 'user', 'hello', 'complete', CURRENT_TIMESTAMP)",
                    {},
                ),
            ]:
                connection.execute(text(statement), values)
        upgrade()
        assert [share.id for share in shares.list_shares(db.session.get(User, 7))] == [3]
        db.session.remove()  # its transaction would hold the table the downgrade alters
        downgrade(revision="0012")
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT content FROM shared_messages")).scalars().all() == ["hello"]
