"""Whether a device's batch named every audit head of the device, and when it was made.

From this version a device names, in every batch, the hash now at every number its
earlier batches named as their audit head (docs/batch-format.md §4). The importer notes,
with each head it keeps, whether the batch that brought it named them, and the batch's
``created`` time: a batch that no longer names the newest such head below its own is
reported as a cut log, and a head below the highest seen only when its batch was made
after the one that brought the highest (an older batch that arrives late is no cut;
docs/security.md, "Device: integrity of roles and the audit log"). Heads kept before this
upgrade came from batches that did not name them, and are compared only when a batch
names them.

Revision ID: 0010_audit_named
Revises: 0009_registration_root
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_audit_named"
down_revision = "0009_registration_root"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "device_audit_heads",
        sa.Column("names_heads", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("device_audit_heads", sa.Column("created", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_audit_heads") as batch:
        batch.drop_column("created")
        batch.drop_column("names_heads")
