"""Case events (contacts, updates, closures, reopenings) of the records, from batch version 2.

Revision ID: 0005_case_events
Revises: 0004_batch_blobs
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_case_events"
down_revision = "0004_batch_blobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # keyed by the event's id: the same event sent twice is stored once (never doubled)
    op.create_table(
        "case_events",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("occurred_on", sa.String(10), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=True),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_case_events_record_id", "case_events", ["record_id"])


def downgrade() -> None:
    op.drop_index("ix_case_events_record_id", table_name="case_events")
    op.drop_table("case_events")
