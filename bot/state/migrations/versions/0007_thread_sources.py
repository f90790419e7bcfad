"""Threads as a source (issue 24): the channels whose solved threads a server's collection holds
(which threads count as solved, and the backfill's cursor, so a restart resumes it), and each
thread read from them (its document, whether it was solved, the newest message read).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "thread_channels",
        sa.Column("channel_id", ID, primary_key=True, autoincrement=False),
        sa.Column("guild_id", ID, nullable=False),
        sa.Column("collection", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("solved_by", sa.Text, nullable=False),
        sa.Column("tag", sa.Text),
        sa.Column("added_at", sa.Float, nullable=False),
        sa.Column("backfill_before", sa.Text),
        sa.Column("backfilled_at", sa.Float),
    )
    op.create_index("thread_channels_by_server", "thread_channels", ["guild_id"])
    op.create_table(
        "thread_documents",
        sa.Column("thread_id", ID, primary_key=True, autoincrement=False),
        sa.Column("channel_id", ID, nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("solved", sa.Integer, nullable=False),
        sa.Column("last_message_id", ID),
        sa.Column("read_at", sa.Float, nullable=False),
    )
    op.create_index("thread_documents_by_channel", "thread_documents", ["channel_id"])


def downgrade() -> None:
    op.drop_index("thread_documents_by_channel", "thread_documents")
    op.drop_table("thread_documents")
    op.drop_index("thread_channels_by_server", "thread_channels")
    op.drop_table("thread_channels")
