"""Sync: the device's identity, the log of built batches, forms installed from the office.

Revision ID: 0003_sync
Revises: 0002_records
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_sync"
down_revision = "0002_records"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "device",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("enrolment_token", sa.Text(), nullable=True),
        sa.Column("registered", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("enrolled_at", TS, nullable=False),
        sa.Column("registered_at", TS, nullable=True),
        sa.Column("last_sync_at", TS, nullable=True),
        sa.Column("last_success_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_table(
        "sync_batches",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("transport", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha384", sa.String(96), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("instructions", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("receipt", sa.LargeBinary(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_sync_batches_state", "sync_batches", ["state"])
    op.create_table(
        "installed_forms",
        sa.Column("form_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(32), primary_key=True),
        sa.Column("filename", sa.String(120), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha384", sa.String(96), nullable=False),
        sa.Column("published_at", sa.String(32), nullable=False),
        sa.Column("installed_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("installed_forms")
    op.drop_index("ix_sync_batches_state", "sync_batches")
    op.drop_table("sync_batches")
    op.drop_table("device")
