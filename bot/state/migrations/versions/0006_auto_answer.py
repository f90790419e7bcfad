"""Answering where questions are (issue 24): the channels (text or forum) of a server whose new
messages or posts the bot answers without a mention, whether it stays quiet when the sources do
not answer them, and the threads marked solved (by the asker or a manager, with the **Solved**
button), which a channel's threads as a source can read later.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("server_settings") as batch:
        batch.add_column(
            sa.Column("auto_answer_quiet", sa.Integer, nullable=False, server_default="1")
        )
    op.create_table(
        "auto_answer_channels",
        sa.Column("guild_id", ID, primary_key=True, autoincrement=False),
        sa.Column("channel_id", ID, primary_key=True, autoincrement=False),
        sa.Column("added_at", sa.Float, nullable=False),
    )
    op.create_table(
        "solved_threads",
        sa.Column("thread_id", ID, primary_key=True, autoincrement=False),
        sa.Column("guild_id", ID, nullable=False),
        sa.Column("channel_id", ID, nullable=False),
        sa.Column("solved_at", sa.Float, nullable=False),
        sa.Column("by_hash", sa.Text, nullable=False),
    )
    op.create_index(
        "solved_threads_by_channel", "solved_threads", ["guild_id", "channel_id", "solved_at"]
    )


def downgrade() -> None:
    op.drop_index("solved_threads_by_channel", table_name="solved_threads")
    op.drop_table("solved_threads")
    op.drop_table("auto_answer_channels")
    with op.batch_alter_table("server_settings") as batch:
        batch.drop_column("auto_answer_quiet")
