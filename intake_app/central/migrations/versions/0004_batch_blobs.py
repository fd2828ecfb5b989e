"""Sealed batches in the database (PostgreSQL), so that several receivers can share it;
on PostgreSQL a device's registered key, once set, and its revocation cannot be undone by
any role (a receiver's role may register a device, docs/security.md, "Central office").

Revision ID: 0004_batch_blobs
Revises: 0003_pending_instructions
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_batch_blobs"
down_revision = "0003_pending_instructions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_blobs",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(_GUARD)
        op.execute(
            "CREATE TRIGGER devices_guard BEFORE UPDATE ON devices "
            "FOR EACH ROW EXECUTE FUNCTION devices_guard()"
        )


_GUARD = """
CREATE FUNCTION devices_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.public_key_pem IS NOT NULL
       AND NEW.public_key_pem IS DISTINCT FROM OLD.public_key_pem THEN
        RAISE EXCEPTION 'a registered device key cannot be replaced'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.status = 'revoked' AND NEW.status IS DISTINCT FROM 'revoked' THEN
        RAISE EXCEPTION 'a revoked device stays revoked'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$
"""


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER devices_guard ON devices")
        op.execute("DROP FUNCTION devices_guard()")
    op.drop_table("batch_blobs")
