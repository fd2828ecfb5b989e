"""The audit heads devices name in their batches, and the cut or rewritten logs noticed.

Revision ID: 0002_audit_heads
Revises: 0001_central
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_audit_heads"
down_revision = "0001_central"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "device_audit_heads",
        sa.Column("device_id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("seen_at", tz, nullable=False),
    )
    op.create_table(
        "device_audit_problems",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("known_seq", sa.BigInteger(), nullable=False),
        sa.Column("noted_at", tz, nullable=False),
    )
    op.create_index("ix_device_audit_problems_device_id", "device_audit_problems", ["device_id"])


def downgrade() -> None:
    op.drop_index("ix_device_audit_problems_device_id", "device_audit_problems")
    op.drop_table("device_audit_problems")
    op.drop_table("device_audit_heads")
