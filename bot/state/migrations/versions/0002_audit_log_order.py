"""The audit log gets an ``id`` key: the order entries were written in.

On SQLite the log was read newest first by ``at`` and then the hidden ``rowid``; PostgreSQL has
no such column, so the order becomes a real one. On SQLite the table is rebuilt with each row's
``rowid`` as its ``id`` (same order, no row lost); on PostgreSQL a ``BIGSERIAL`` key is added.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COLUMNS = "guild_id, at, user_id, action, target, result, detail"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("ALTER TABLE audit_log ADD COLUMN id BIGSERIAL PRIMARY KEY")
        return
    op.create_table(
        "audit_log_new",
        sa.Column("id", ID, primary_key=True),
        sa.Column("guild_id", ID, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.execute(
        f"INSERT INTO audit_log_new (id, {COLUMNS}) SELECT rowid, {COLUMNS} FROM audit_log"
    )
    op.drop_table("audit_log")
    op.rename_table("audit_log_new", "audit_log")
    op.create_index("audit_by_server", "audit_log", ["guild_id", "at"])


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("id")
