"""Hand-over through the office: device encryption keys, recipients, sealed hand-overs.

Revision ID: 0007_handovers
Revises: 0006_device_pins
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_handovers"
down_revision = "0006_device_pins"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "device_encryption_keys",
        sa.Column("device_id", sa.String(36), primary_key=True),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("registered_at", tz, nullable=False),
    )
    op.create_table(
        "handover_recipients",
        sa.Column("recipient_id", sa.String(64), primary_key=True),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("set_at", tz, nullable=False),
    )
    op.create_table(
        "handovers",
        sa.Column("handover_id", sa.String(36), primary_key=True),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("from_device_id", sa.String(36), nullable=False),
        sa.Column("to_device_id", sa.String(36), nullable=True),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column("document", sa.Text(), nullable=True),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("created_at", tz, nullable=False),
    )
    op.create_index("ix_handovers_record_id", "handovers", ["record_id"])
    op.create_index("ix_handovers_to_device_id", "handovers", ["to_device_id"])


def downgrade() -> None:
    op.drop_table("handovers")
    op.drop_table("handover_recipients")
    op.drop_table("device_encryption_keys")
