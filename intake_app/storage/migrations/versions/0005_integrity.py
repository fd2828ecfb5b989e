"""Signed user rows, per-user signing keys, signed audit entries, the trust state.

Revision ID: 0005_integrity
Revises: 0004_lifecycle
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_integrity"
down_revision = "0004_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows stay unsigned until the first administrator signs in (docs/security.md,
    # "Device: integrity of roles and the audit log", migration).
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("key_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("signed_by", sa.String(32), nullable=True))
        batch.add_column(sa.Column("signature", sa.Text(), nullable=True))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("signer", sa.String(32), nullable=True))
        batch.add_column(sa.Column("signature", sa.Text(), nullable=True))
    with op.batch_alter_table("sync_batches") as batch:
        batch.add_column(sa.Column("audit_seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("audit_hash", sa.String(64), nullable=True))
    op.create_table(
        "user_keys",
        sa.Column("kid", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("certified_by", sa.String(32), nullable=True),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("wrapped", sa.Text(), nullable=True),
    )
    op.create_index("ix_user_keys_user_id", "user_keys", ["user_id"])
    op.create_table(
        "trust_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("root_kid", sa.String(32), nullable=False),
        sa.Column("root_public", sa.Text(), nullable=False),
        sa.Column("root_recovery_wrap", sa.Text(), nullable=True),
        sa.Column("anchor_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("anchor_hash", sa.String(64), nullable=False, server_default=""),
        sa.Column("anchor_signer", sa.String(32), nullable=True),
        sa.Column("anchor_signature", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("trust_state")
    op.drop_index("ix_user_keys_user_id", "user_keys")
    op.drop_table("user_keys")
    with op.batch_alter_table("sync_batches") as batch:
        batch.drop_column("audit_hash")
        batch.drop_column("audit_seq")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("signature")
        batch.drop_column("signer")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("signature")
        batch.drop_column("signed_by")
        batch.drop_column("key_id")
