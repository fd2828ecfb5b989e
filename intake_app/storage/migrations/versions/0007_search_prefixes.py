"""Search index with prefixes of one to four letters (fast search-as-you-type).

The case list searches while the user types, so its first keystrokes ask for every word
beginning with one or two letters, and a case number (``ABCD-2026-00042``) starts with two
words of four that nearly every record shares. FTS5 answers a prefix from a prefix index
of that length by reading one list; without one it merges the lists of every word with
that beginning, for all records, on every keystroke. The table is rebuilt with
``prefix = '1 2 3 4'``; its indexed text is copied over unchanged (the folding of names,
case numbers and birth dates is done in Python before indexing).

Revision ID: 0007_search_prefixes
Revises: 0006_case_events
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0007_search_prefixes"
down_revision = "0006_case_events"
branch_labels = None
depends_on = None

_CREATE = (
    "CREATE VIRTUAL TABLE records_fts USING fts5("
    "terms, tokenize = \"unicode61 remove_diacritics 2\", prefix = '{prefix}')"
)


def _rebuild(prefix: str) -> None:
    # A client table: each record store is rebuilt the same way when it is next opened
    # (storage/stores.py, ensure_client_tables); here it is the profile database's copy,
    # which still holds the records of a profile from before the record stores.
    op.execute("ALTER TABLE records_fts RENAME TO records_fts_rebuilt")
    op.execute(_CREATE.format(prefix=prefix))
    op.execute(
        "INSERT INTO records_fts (rowid, terms) SELECT rowid, terms FROM records_fts_rebuilt"
    )
    op.execute("DROP TABLE records_fts_rebuilt")


def upgrade() -> None:
    _rebuild("1 2 3 4")


def downgrade() -> None:
    _rebuild("2 3")
