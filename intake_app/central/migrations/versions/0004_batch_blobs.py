"""Sealed batches in the database (PostgreSQL), so that several receivers can share it.

Revision ID: 0004_batch_blobs
Revises: 0003_pending_instructions
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_batch_blobs"
down_revision = "0003_pending_instructions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_blobs",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("batch_blobs")
