"""The profile root a device names when it registers.

From registration version 3 a device names its profile root in the registration, covered
by the proof keyed with its enrolment token; the importer pins that root with the device
key at the first batch, so even the device's first signed batch must come from it
(docs/security.md, "Batches signed by their sender"). The receiver writes the column as
it writes the registration; it cannot forge the proof that covers it (run
``db receiver-role`` again after this upgrade).

Revision ID: 0009_registration_root
Revises: 0008_batch_authors
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_registration_root"
down_revision = "0008_batch_authors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("devices", sa.Column("registration_root", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("devices", "registration_root")
