"""Data-protection life cycle: anonymised activity records, erasure requests.

Revision ID: 0004_lifecycle
Revises: 0003_sync
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_lifecycle"
down_revision = "0003_sync"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # What is left of a record after it was purged or erased: counts for statistics,
    # no id, no name, no answer that could point to a person.
    op.create_table(
        "activity_records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("intake_month", sa.String(7), nullable=True),
        sa.Column("site", sa.String(200), nullable=False, server_default=""),
        sa.Column("residence_document", sa.String(60), nullable=True),
        sa.Column("goal_type", sa.String(60), nullable=True),
        sa.Column("referrals", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("finalised", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("removed_month", sa.String(7), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),  # retention | erasure
    )
    op.create_table(
        "erasures",
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("requested_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("central", sa.Boolean(), nullable=False),
        sa.Column("confirmed_at", TS, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("erasures")
    op.drop_table("activity_records")
