"""The state schema as citebot kept it before migrations (commit 2211a28).

Each store used to create its own tables with ``CREATE TABLE IF NOT EXISTS``, so a state file
written by an earlier citebot holds some or all of these tables and no ``alembic_version``. This
revision therefore creates only what is missing and keeps every row that is there: a new database
gets everything, an old file gains what it lacked (answers written before places gain an empty
``place``, whose buttons are refused).

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen here: later schema changes are later revisions, never edits of this one.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NOT_EMPTY = sa.literal_column("question") != ""


def _tables() -> dict[
    str, tuple[list[sa.schema.SchemaItem], list[tuple[str, list[str], dict[str, Any]]]]
]:
    """Each table's columns and constraints, and its indexes (name, columns, options)."""
    return {
        "votes": (
            [
                sa.Column("id", ID, primary_key=True),
                sa.Column("answer_key", sa.Text, nullable=False),
                sa.Column("question", sa.Text, nullable=False),
                sa.Column("passage_ids", sa.Text, nullable=False),
                sa.Column("vote", sa.Integer, sa.CheckConstraint("vote IN (-1, 1)"),
                          nullable=False),
                sa.Column("user_hash", sa.Text, nullable=False),
                sa.Column("created_at", sa.Text, nullable=False),
                sa.UniqueConstraint("answer_key", "user_hash"),
            ],
            [
                (
                    "votes_with_question_by_age",
                    ["created_at"],
                    {"sqlite_where": NOT_EMPTY, "postgresql_where": NOT_EMPTY},
                )
            ],
        ),
        "answers": (
            [
                sa.Column("answer_key", sa.Text, primary_key=True),
                sa.Column("question", sa.Text, nullable=False),
                sa.Column("k", sa.Integer, nullable=False),
                sa.Column("passage_offset", sa.Integer, nullable=False),
                sa.Column("passage_ids", sa.Text, nullable=False),
                sa.Column("private", sa.Integer, nullable=False),
                sa.Column("created_at", sa.Float, nullable=False),
                sa.Column("place", sa.Text, nullable=False, server_default=""),
            ],
            [("answers_by_age", ["created_at"], {})],
        ),
        "conversation_turns": (
            [
                sa.Column("message_id", ID, primary_key=True, autoincrement=False),
                sa.Column("channel_id", ID, nullable=False),
                sa.Column("user_id", ID, nullable=False),
                sa.Column("at", sa.Float, nullable=False),
                sa.Column("turns", sa.Text, nullable=False),
            ],
            [
                ("conversation_latest", ["channel_id", "user_id", "at"], {}),
                ("conversation_age", ["at"], {}),
            ],
        ),
        "server_settings": (
            [
                sa.Column("guild_id", ID, primary_key=True, autoincrement=False),
                sa.Column("include_default", sa.Integer, nullable=False, server_default="1"),
                sa.Column("manager_role_id", ID),
            ],
            [],
        ),
        "audit_log": (
            [
                sa.Column("guild_id", ID, nullable=False),
                sa.Column("at", sa.Float, nullable=False),
                sa.Column("user_id", ID, nullable=False),
                sa.Column("action", sa.Text, nullable=False),
                sa.Column("target", sa.Text, nullable=False),
                sa.Column("result", sa.Text, nullable=False),
                sa.Column("detail", sa.Text, nullable=False),
            ],
            [("audit_by_server", ["guild_id", "at"], {})],
        ),
        "removed_servers": (
            [
                sa.Column("guild_id", ID, primary_key=True, autoincrement=False),
                sa.Column("removed_at", sa.Float, nullable=False),
            ],
            [],
        ),
    }


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    present = set(inspector.get_table_names())
    for name, (columns, indexes) in _tables().items():
        if name not in present:
            op.create_table(name, *columns)
            existing_indexes: set[str | None] = set()
        else:
            existing_indexes = {index["name"] for index in inspector.get_indexes(name)}
        for index_name, index_columns, options in indexes:
            if index_name not in existing_indexes:
                op.create_index(index_name, name, index_columns, **options)
    if "answers" in present:
        answer_columns = {column["name"] for column in inspector.get_columns("answers")}
        if "place" not in answer_columns:
            op.add_column(
                "answers", sa.Column("place", sa.Text, nullable=False, server_default="")
            )


def downgrade() -> None:
    for name in reversed(list(_tables())):
        op.drop_table(name)
