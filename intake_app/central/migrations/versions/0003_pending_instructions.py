"""Erasures and consent withdrawals for record ids the office has not seen yet wait here.

Revision ID: 0003_pending_instructions
Revises: 0002_audit_heads
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_pending_instructions"
down_revision = "0002_audit_heads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_instructions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_pending_instructions_record_id", "pending_instructions", ["record_id"])


def downgrade() -> None:
    op.drop_index("ix_pending_instructions_record_id", table_name="pending_instructions")
    op.drop_table("pending_instructions")
