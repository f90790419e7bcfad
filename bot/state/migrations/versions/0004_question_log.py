"""The question log (issue 23): each question asked in a server, whether it was found, the
passages shown, a keyed hash of the asker and the question's embedding as int8; whether a server
logs questions; and the reason given with a 👎.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "question_log",
        sa.Column("id", ID, primary_key=True),
        sa.Column("guild_id", ID, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("collection", sa.Text, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("found", sa.Integer, nullable=False),
        sa.Column("passage_ids", sa.Text, nullable=False),
        sa.Column("answer_key", sa.Text),
        sa.Column("user_hash", sa.Text, nullable=False),
        sa.Column("vector", sa.LargeBinary),
    )
    op.create_index("question_log_by_server", "question_log", ["guild_id", "at"])
    op.create_index("question_log_by_age", "question_log", ["at"])
    op.create_index("question_log_by_asker", "question_log", ["user_hash"])
    op.create_index("question_log_by_answer", "question_log", ["answer_key"])
    with op.batch_alter_table("server_settings") as table:
        table.add_column(
            sa.Column("log_questions", sa.Integer, nullable=False, server_default="1")
        )
    with op.batch_alter_table("votes") as table:
        table.add_column(sa.Column("reason", sa.Text, nullable=False, server_default=""))
        table.add_column(sa.Column("reason_text", sa.Text, nullable=False, server_default=""))
    op.create_index("votes_by_voter", "votes", ["user_hash"])


def downgrade() -> None:
    op.drop_index("votes_by_voter", "votes")
    with op.batch_alter_table("votes") as table:
        table.drop_column("reason_text")
        table.drop_column("reason")
    with op.batch_alter_table("server_settings") as table:
        table.drop_column("log_questions")
    op.drop_table("question_log")
