"""Device keys pinned by the importer, and the registration proof beside each device.

Devices registered before this revision have no proof: their key as it stands now is
pinned (docs/security.md, "Device keys the importer trusts"). A device still pending must
be enrolled again (its token's proof key was never kept).

Revision ID: 0006_device_pins
Revises: 0005_case_events
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_device_pins"
down_revision = "0005_case_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.add_column("devices", sa.Column("registration_proof", sa.String(96), nullable=True))
    pins = op.create_table(
        "device_pins",
        sa.Column("device_id", sa.String(36), primary_key=True),
        sa.Column("proof_key", sa.String(96), nullable=True),
        sa.Column("public_key_pem", sa.Text(), nullable=True),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("pinned_at", tz, nullable=True),
        sa.Column("revoked_at", tz, nullable=True),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT device_id, public_key_pem, key_id, registered_at, revoked_at FROM devices "
            "WHERE public_key_pem IS NOT NULL"
        )
    ).all()
    if rows:
        op.bulk_insert(
            pins,
            [
                {
                    "device_id": r.device_id,
                    "proof_key": None,
                    "public_key_pem": r.public_key_pem,
                    "key_id": r.key_id,
                    "pinned_at": r.registered_at,
                    "revoked_at": r.revoked_at,
                }
                for r in rows
            ],
        )


def downgrade() -> None:
    op.drop_table("device_pins")
    op.drop_column("devices", "registration_proof")
