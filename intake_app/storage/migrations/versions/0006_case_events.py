"""Case events: follow-up contacts, small updates, closures and reopenings of a case.

Revision ID: 0006_case_events
Revises: 0005_integrity
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_case_events"
down_revision = "0005_integrity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A client table: the profile database's copy stays empty; every record store gets
    # the table when it is next opened (storage/stores.py, ensure_client_tables).
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("occurred_on", sa.String(10), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_case_events_record_id", "case_events", ["record_id"])


def downgrade() -> None:
    op.drop_index("ix_case_events_record_id", "case_events")
    op.drop_table("case_events")
