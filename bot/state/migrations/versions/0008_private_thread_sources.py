"""A source channel that ``@everyone`` cannot view, accepted by a manager (issue 24's per-channel
override): its threads are quoted only inside that channel.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("thread_channels") as table:
        table.add_column(sa.Column("private", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("thread_channels") as table:
        table.drop_column("private")
