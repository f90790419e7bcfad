"""Pages removed by hand from a crawled source (issue 22): a page of a site that a manager
removed (``/docs remove``, ``citebot remove``) is recorded here, so the site's syncs do not bring
it back while the site still lists it. Removing the source, or adding the page again by its
address, deletes the row.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "source_exclusions",
        sa.Column("source_id", ID, primary_key=True, autoincrement=False),
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("excluded_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("source_exclusions")
