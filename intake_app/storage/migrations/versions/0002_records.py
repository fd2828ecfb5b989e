"""Records: intakes with answers as JSON, revisions, consent withdrawals, outbox, search.

Revision ID: 0002_records
Revises: 0001_foundation
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_records"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("pk", sa.Integer(), primary_key=True),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sync_state", sa.String(16), nullable=False, server_default="local"),
        sa.Column("delivered_revision", sa.Integer(), nullable=True),
        sa.Column("form_id", sa.String(64), nullable=False),
        sa.Column("form_version", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("site", sa.String(200), nullable=False, server_default=""),
        sa.Column("case_number", sa.String(40), nullable=False),
        sa.Column("family_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("given_names", sa.String(200), nullable=False, server_default=""),
        sa.Column("family_name_latin", sa.String(200), nullable=False, server_default=""),
        sa.Column("given_names_latin", sa.String(200), nullable=False, server_default=""),
        sa.Column("sort_name", sa.String(400), nullable=False, server_default=""),
        sa.Column("birth_date", sa.String(10), nullable=True),
        sa.Column("residence_valid_until", sa.String(10), nullable=True),
        sa.Column("revision_reason", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("finalised_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
    )
    op.create_index("ux_records_id", "records", ["id"], unique=True)
    op.create_index("ux_records_case_number", "records", ["case_number"], unique=True)
    op.create_index("ix_records_owner", "records", ["owner_id"])
    op.create_index("ix_records_status", "records", ["status"])
    op.create_index("ix_records_sync_state", "records", ["sync_state"])
    op.create_index("ix_records_updated", "records", ["updated_at"])
    op.create_index("ix_records_sort_name", "records", ["sort_name"])
    op.create_index("ix_records_birth_date", "records", ["birth_date"])
    op.create_index("ix_records_residence_until", "records", ["residence_valid_until"])

    # The answers live in their own table: the list columns above stay narrow, so sorting
    # and filtering 100,000 records never reads (or walks the overflow pages of) the JSON.
    op.create_table(
        "record_data",
        sa.Column(
            "pk", sa.Integer(), sa.ForeignKey("records.pk", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("answers", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("retired_answers", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("position", sa.Text(), nullable=False, server_default="{}"),
    )

    op.create_table(
        "record_revisions",
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.String(64), nullable=False),
        sa.Column("form_version", sa.String(32), nullable=False),
        sa.Column("answers", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("finalised_at", TS, nullable=False),
        sa.Column("finalised_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "revision"),
    )

    op.create_table(
        "consent_withdrawals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("purpose", sa.String(80), nullable=False),
        sa.Column("withdrawn_on", sa.String(10), nullable=False),
        sa.Column("recorded_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_consent_withdrawals_record", "consent_withdrawals", ["record_id"])

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("batch_id", sa.String(36), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_outbox_state", "outbox", ["state"])
    op.create_index("ix_outbox_record", "outbox", ["record_id"])
    op.create_index("ix_outbox_batch", "outbox", ["batch_id"])

    # Search over names in any script, case number and birth date. The indexed text is
    # normalised in Python (accents and Arabic vowel marks removed, umlauts also spelt
    # out), so "Muller" and "Mueller" find "Müller". rowid = records.pk.
    op.execute(
        "CREATE VIRTUAL TABLE records_fts USING fts5("
        "terms, tokenize = \"unicode61 remove_diacritics 2\", prefix = '2 3')"
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS records_fts")
    op.drop_table("outbox")
    op.drop_table("consent_withdrawals")
    op.drop_table("record_revisions")
    op.drop_table("record_data")
    op.drop_table("records")
