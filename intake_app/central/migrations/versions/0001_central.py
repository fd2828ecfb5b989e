"""Central office: devices, batches, record revisions, consent, erasures, quarantine.

Revision ID: 0001_central
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_central"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("server_url", sa.String(500), nullable=False),
        sa.Column("token_hash", sa.String(96), nullable=True),
        sa.Column("token_expires", tz, nullable=True),
        sa.Column("token_used_at", tz, nullable=True),
        sa.Column("public_key_pem", sa.Text(), nullable=True),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("registered_at", tz, nullable=True),
        sa.Column("revoked_at", tz, nullable=True),
        sa.Column("last_batch_at", tz, nullable=True),
        sa.UniqueConstraint("name", name="uq_devices_name"),
    )
    op.create_table(
        "batches",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("sha384", sa.String(96), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received_at", tz, nullable=False),
        sa.Column("stored_receipt", sa.Text(), nullable=True),
        sa.Column("import_receipt", sa.Text(), nullable=True),
        sa.Column("imported_at", tz, nullable=True),
        sa.Column("reason", sa.String(40), nullable=True),
    )
    op.create_index("ix_batches_device_id", "batches", ["device_id"])
    op.create_index("ix_batches_status", "batches", ["status", "received_at"])
    op.create_table(
        "records",
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("form_id", sa.String(200), nullable=False),
        sa.Column("form_version", sa.String(200), nullable=False),
        sa.Column("status", sa.String(40), nullable=True),
        sa.Column("site", sa.String(200), nullable=True),
        sa.Column("counsellor", sa.String(200), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=True),
        sa.Column("finalised_at", sa.String(40), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("imported_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("record_id", "revision", name="pk_records"),
    )
    op.create_table(
        "record_heads",
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(36), nullable=False),
    )
    op.create_table(
        "consent_withdrawals",
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.Column("withdrawn_on", sa.String(40), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("recorded_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("record_id", "purpose", name="pk_consent_withdrawals"),
    )
    op.create_table(
        "erasures",
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("requested_at", sa.String(40), nullable=True),
        sa.Column("erased_at", tz, nullable=False),
    )
    op.create_table(
        "erased_statistics",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("site", sa.String(200), nullable=True),
        sa.Column("month", sa.String(7), nullable=True),
        sa.Column("residence_document", sa.String(100), nullable=True),
        sa.Column("goal_type", sa.String(100), nullable=True),
        sa.Column("referrals", sa.Text(), nullable=False),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("sha384", sa.String(96), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=True),
        sa.Column("device_id", sa.String(36), nullable=True),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("file_name", sa.String(300), nullable=False),
        sa.Column("quarantined_at", tz, nullable=False),
    )
    op.create_index("ix_quarantine_sha384", "quarantine", ["sha384"])


def downgrade() -> None:
    for table in (
        "quarantine",
        "erased_statistics",
        "erasures",
        "consent_withdrawals",
        "record_heads",
        "records",
        "batches",
        "devices",
    ):
        op.drop_table(table)
