"""Sources (issue 22): each crawled site or added address of a collection, its schedule and last
sync; each of its pages with the validators of a conditional request and its consecutive misses;
and leases, so one bot process among several runs the scheduled syncs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", ID, primary_key=True),
        sa.Column("collection", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("crawl", sa.Integer, nullable=False),
        sa.Column("schedule", sa.Text, nullable=False),
        sa.Column("added_at", sa.Float, nullable=False),
        sa.Column("synced_at", sa.Float),
        sa.Column("result", sa.Text, nullable=False, server_default=""),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.Column("started_at", sa.Float),
        sa.UniqueConstraint("collection", "url"),
    )
    op.create_table(
        "source_pages",
        sa.Column("source_id", ID, primary_key=True, autoincrement=False),
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("misses", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("holder", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("source_pages")
    op.drop_table("sources")
