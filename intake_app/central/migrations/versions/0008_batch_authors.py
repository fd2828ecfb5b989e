"""The profile root each device's batches are signed from, and who sent a waiting
instruction.

From batch format version 4 every batch names the user who sent it, proven from the
device's profile root (docs/security.md, "Batches signed by their sender"). The importer
pins that root at a device's first signed batch, beside the device key it trusts; an
instruction that waits for its record keeps its sender, who must be entitled to the
record when it arrives; a case a supervisor moved within the team has its owner in
``record_owners``.

Revision ID: 0008_batch_authors
Revises: 0007_handovers
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_batch_authors"
down_revision = "0007_handovers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.add_column("device_pins", sa.Column("profile_root_kid", sa.String(32), nullable=True))
    op.add_column("device_pins", sa.Column("profile_root_public", sa.Text(), nullable=True))
    op.add_column("device_pins", sa.Column("profile_root_pinned_at", tz, nullable=True))
    op.add_column("pending_instructions", sa.Column("author", sa.Text(), nullable=True))
    op.create_table(
        "record_owners",
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("counsellor", sa.String(200), nullable=False),
        sa.Column("reassignment_id", sa.String(36), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("moved_at", sa.String(40), nullable=True),
        sa.Column("recorded_at", tz, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("record_owners")
    op.drop_column("pending_instructions", "author")
    op.drop_column("device_pins", "profile_root_pinned_at")
    op.drop_column("device_pins", "profile_root_public")
    op.drop_column("device_pins", "profile_root_kid")
