"""The central database: tables, engine, schema upgrades (SQLite or PostgreSQL).

Tables are declared with SQLAlchemy Core and created only by the Alembic migrations in
``intake_app/central/migrations`` (separate from the device's migrations). The same code
runs on SQLite (the default, one file in the office home) and PostgreSQL
(``postgresql+psycopg://...``) for a state-wide installation with several receivers.

Record revisions are keyed by (record id, revision); ``record_heads`` points at the
highest revision of each record, so a late or replayed old revision never rolls a record
back. Erased records leave only an anonymised row in ``erased_statistics``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from intake_app.errors import KnownError, UsageError
from intake_app.i18n import _

log = logging.getLogger("intake.central")

metadata = sa.MetaData()

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("device_id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | active | revoked
    sa.Column("server_url", sa.String(500), nullable=False),
    sa.Column("token_hash", sa.String(96), nullable=True),
    sa.Column("token_expires", sa.DateTime(timezone=True), nullable=True),
    sa.Column("token_used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("public_key_pem", sa.Text(), nullable=True),
    sa.Column("key_id", sa.String(32), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_batch_at", sa.DateTime(timezone=True), nullable=True),
    #: The device's proof over its key, keyed with its token (checked by the importer).
    sa.Column("registration_proof", sa.String(96), nullable=True),
    #: The profile root the registration names (version 3), covered by that proof.
    sa.Column("registration_root", sa.Text(), nullable=True),
    sa.UniqueConstraint("name", name="uq_devices_name"),
)

#: The device keys the importer trusts, written only by office commands (``enrol``,
#: ``import``); a receiver's role has no privilege on it (docs/security.md, "Device keys
#: the importer trusts"). ``proof_key`` checks the registration proof until the key is
#: pinned; a key in ``devices`` that differs from ``public_key_pem`` is not trusted.
device_pins = sa.Table(
    "device_pins",
    metadata,
    sa.Column("device_id", sa.String(36), primary_key=True),
    sa.Column("proof_key", sa.String(96), nullable=True),
    sa.Column("public_key_pem", sa.Text(), nullable=True),
    sa.Column("key_id", sa.String(32), nullable=True),
    sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    #: The profile root the device's batches name their senders from, pinned with the
    #: device key where its registration named one, else at its first signed batch
    #: (docs/security.md, "Batches signed by their sender"); enrolling the device again
    #: clears it.
    sa.Column("profile_root_kid", sa.String(32), nullable=True),
    sa.Column("profile_root_public", sa.Text(), nullable=True),
    sa.Column("profile_root_pinned_at", sa.DateTime(timezone=True), nullable=True),
)

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("batch_id", sa.String(36), primary_key=True),
    sa.Column("device_id", sa.String(36), nullable=False, index=True),
    sa.Column("sha384", sa.String(96), nullable=False),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("source", sa.String(10), nullable=False),  # http | folder
    sa.Column("status", sa.String(16), nullable=False),  # stored | imported | quarantined
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("stored_receipt", sa.Text(), nullable=True),
    sa.Column("import_receipt", sa.Text(), nullable=True),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reason", sa.String(40), nullable=True),
    sa.Index("ix_batches_status", "status", "received_at"),
)

# The sealed bytes of each batch the receiver stored, on PostgreSQL (docs/security.md,
# "Central office: keys, receiver and importer"): ciphertext, written in the same
# transaction as the batch's row. SQLite installations keep them in ``batches/``.
batch_blobs = sa.Table(
    "batch_blobs",
    metadata,
    sa.Column("batch_id", sa.String(36), primary_key=True),
    sa.Column("device_id", sa.String(36), nullable=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
)

records = sa.Table(
    "records",
    metadata,
    sa.Column("record_id", sa.String(36), primary_key=True),
    sa.Column("revision", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("device_id", sa.String(36), nullable=False),
    sa.Column("batch_id", sa.String(36), nullable=False),
    sa.Column("form_id", sa.String(200), nullable=False),
    sa.Column("form_version", sa.String(200), nullable=False),
    sa.Column("status", sa.String(40), nullable=True),
    sa.Column("site", sa.String(200), nullable=True),
    sa.Column("counsellor", sa.String(200), nullable=True),
    sa.Column("created_at", sa.String(40), nullable=True),
    sa.Column("finalised_at", sa.String(40), nullable=True),
    sa.Column("document", sa.Text(), nullable=False),  # the whole record as JSON
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
)

record_heads = sa.Table(
    "record_heads",
    metadata,
    sa.Column("record_id", sa.String(36), primary_key=True),
    sa.Column("revision", sa.Integer(), nullable=False),
    sa.Column("device_id", sa.String(36), nullable=False),
)

consent_withdrawals = sa.Table(
    "consent_withdrawals",
    metadata,
    sa.Column("record_id", sa.String(36), primary_key=True),
    sa.Column("purpose", sa.String(200), primary_key=True),
    sa.Column("revision", sa.Integer(), nullable=True),
    sa.Column("withdrawn_on", sa.String(40), nullable=False),
    sa.Column("batch_id", sa.String(36), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

erasures = sa.Table(
    "erasures",
    metadata,
    sa.Column("record_id", sa.String(36), primary_key=True),
    sa.Column("device_id", sa.String(36), nullable=False),
    sa.Column("batch_id", sa.String(36), nullable=False),
    sa.Column("requested_at", sa.String(40), nullable=True),
    sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
)

erased_statistics = sa.Table(
    "erased_statistics",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("site", sa.String(200), nullable=True),
    sa.Column("month", sa.String(7), nullable=True),
    sa.Column("residence_document", sa.String(100), nullable=True),
    sa.Column("goal_type", sa.String(100), nullable=True),
    sa.Column("referrals", sa.Text(), nullable=False),  # JSON list of services
)

case_events = sa.Table(
    "case_events",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("record_id", sa.String(36), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("occurred_on", sa.String(10), nullable=False),
    sa.Column("data", sa.Text(), nullable=False),  # the event's details as JSON
    sa.Column("recorded_at", sa.String(40), nullable=True),
    sa.Column("device_id", sa.String(36), nullable=False),
    sa.Column("batch_id", sa.String(36), nullable=False),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
)

#: Each device's HPKE key for hand-overs, taken from a batch the device signed with its
#: pinned key; written only by the importer (docs/security.md, "Hand-over through the
#: office").
device_encryption_keys = sa.Table(
    "device_encryption_keys",
    metadata,
    sa.Column("device_id", sa.String(36), primary_key=True),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("public_key", sa.Text(), nullable=False),  # base64 of the 1,665 bytes
    sa.Column("batch_id", sa.String(36), nullable=False),
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
)

#: Which device takes over cases for a recipient of the organisation file, and under which
#: consent purpose that recipient is named; set by the office (``devices recipient``).
handover_recipients = sa.Table(
    "handover_recipients",
    metadata,
    sa.Column("recipient_id", sa.String(64), primary_key=True),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("device_id", sa.String(36), nullable=False),
    sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
)

#: Hand-overs: sealed for the receiving device (``document``) or refused (``reason``).
handovers = sa.Table(
    "handovers",
    metadata,
    sa.Column("handover_id", sa.String(36), primary_key=True),
    sa.Column("record_id", sa.String(36), nullable=False, index=True),
    sa.Column("from_device_id", sa.String(36), nullable=False),
    sa.Column("to_device_id", sa.String(36), nullable=True, index=True),
    sa.Column("recipient", sa.String(64), nullable=False),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # sealed | refused
    sa.Column("reason", sa.String(40), nullable=True),
    sa.Column("document", sa.Text(), nullable=True),
    sa.Column("request", sa.Text(), nullable=False),  # the instruction as JSON
    sa.Column("batch_id", sa.String(36), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

#: Whose case a record is at the office when a supervisor moved it within the team (a
#: ``reassignment``, docs/batch-format.md §5); without a row, the counsellor its current
#: revision names (docs/security.md, "Batches signed by their sender").
record_owners = sa.Table(
    "record_owners",
    metadata,
    sa.Column("record_id", sa.String(36), primary_key=True),
    sa.Column("counsellor", sa.String(200), nullable=False),
    sa.Column("reassignment_id", sa.String(36), nullable=False),
    sa.Column("batch_id", sa.String(36), nullable=False),
    sa.Column("moved_at", sa.String(40), nullable=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

pending_instructions = sa.Table(
    "pending_instructions",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("record_id", sa.String(36), nullable=False, index=True),
    sa.Column("device_id", sa.String(36), nullable=False),
    sa.Column("batch_id", sa.String(36), nullable=False),
    sa.Column("instruction", sa.Text(), nullable=False),  # the instruction as JSON
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    #: who sent it, ``{"username", "role"}`` as JSON (None: a batch before version 4)
    sa.Column("author", sa.Text(), nullable=True),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("sha384", sa.String(96), nullable=False, index=True),
    sa.Column("batch_id", sa.String(36), nullable=True),
    sa.Column("device_id", sa.String(36), nullable=True),
    sa.Column("source", sa.String(10), nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("file_name", sa.String(300), nullable=False),
    sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
)

SCRIPT_LOCATION = "intake_app.central:migrations"


# The audit heads each device named in its batches (docs/security.md, "Device: integrity
# of roles and the audit log"): what the office saw, and what did not fit.
device_audit_heads = sa.Table(
    "device_audit_heads",
    metadata,
    sa.Column("device_id", sa.String(36), primary_key=True),
    sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("batch_id", sa.String(36), nullable=False),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    # whether the batch named every head of the device's earlier batches, and its
    # header's ``created`` (migration 0010)
    sa.Column("names_heads", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("created", sa.String(20), nullable=True),
)

device_audit_problems = sa.Table(
    "device_audit_problems",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("device_id", sa.String(36), nullable=False, index=True),
    sa.Column("batch_id", sa.String(36), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # cut | rewritten
    sa.Column("seq", sa.BigInteger(), nullable=False),  # what the batch named
    sa.Column("known_seq", sa.BigInteger(), nullable=False),  # what the office had seen
    sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def create_db_engine(url: str) -> Engine:
    """An engine for ``url``: SQLite with WAL and FULL sync, or PostgreSQL via psycopg 3.

    Raises:
        UsageError: the URL is not a SQLite or PostgreSQL URL this program can use.
    """
    try:
        parsed = sa.engine.make_url(url)
    except ArgumentError:
        raise UsageError(_("Die Datenbank-Adresse ist ungültig.")) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = sa.create_engine(parsed, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() not in ("psycopg", "psycopg2"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return sa.create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
        except NoSuchModuleError:  # pragma: no cover - psycopg is a dependency
            raise UsageError(_("Der PostgreSQL-Treiber psycopg fehlt.")) from None
    raise UsageError(
        _("Nur SQLite (sqlite:///…) und PostgreSQL (postgresql+psycopg://…) werden unterstützt.")
    )


def unreachable(exc: BaseException) -> KnownError:
    """The plain message for a database that cannot be reached."""
    return KnownError(
        _("Die zentrale Datenbank ist nicht erreichbar. Bitte Adresse und Server prüfen."),
        kind="database",
    )


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Create or upgrade the central schema to the newest revision, in one transaction."""
    config = _config()
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise unreachable(exc) from exc


def check_schema(engine: Engine) -> None:
    """Refuse a database that was not set up (or is newer than this program)."""
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        raise unreachable(exc) from exc
    if current != head_revision():
        raise KnownError(
            _(
                "Die zentrale Datenbank hat nicht den erwarteten Stand ({current}). "
                "Bitte »intake-central init« bzw. »db upgrade« ausführen."
            ).format(current=current or "leer"),
            kind="schema",
        )


#: What a receiver may do, table by table (docs/central-office.md, "A database role of its
#: own"): read the schema version and the devices, register a device, note its last batch,
#: store a batch with its receipt. It cannot read or change a stored batch, and has no
#: privilege at all on records, consent withdrawals, erasures or statistics.
RECEIVER_PRIVILEGES: tuple[tuple[str, str], ...] = (
    ("alembic_version", "SELECT"),
    ("devices", "SELECT"),
    (
        "devices",
        "UPDATE (status, public_key_pem, key_id, registered_at, token_used_at, last_batch_at, "
        "registration_proof, registration_root)",
    ),
    ("batches", "SELECT, INSERT"),
    ("batches", "UPDATE (stored_receipt)"),
    ("batch_blobs", "INSERT"),
    # sealed hand-overs are handed to the receiving device; only ciphertext and ids
    ("handovers", "SELECT (handover_id, to_device_id, status, document)"),
)

_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def set_up_receiver_role(engine: Engine, role: str, *, password: str | None = None) -> str:
    """Create (or correct) the PostgreSQL role a receiver logs in with, in the schema of
    ``engine``: it gets :data:`RECEIVER_PRIVILEGES` and loses every other privilege on the
    schema's tables. Returns the schema name.

    Raises:
        UsageError: not PostgreSQL, or the role name is not a plain lower-case name.
    """
    if not _ROLE_NAME.fullmatch(role):
        raise UsageError(
            _(
                "Der Rollenname darf nur Kleinbuchstaben, Ziffern und _ enthalten "
                "(höchstens 63 Zeichen)."
            )
        )
    if engine.dialect.name != "postgresql":
        raise UsageError(_("Eine eigene Rolle für den Empfangsserver gibt es nur mit PostgreSQL."))
    from psycopg import sql  # Deferred: only this command composes SQL with literals

    check_schema(engine)
    with engine.begin() as conn:
        schema = str(conn.exec_driver_sql("SELECT current_schema()").scalar_one())
        owner = str(conn.exec_driver_sql("SELECT current_user").scalar_one())
        if role == owner:
            raise UsageError(
                _("Der Empfangsserver braucht eine andere Rolle als die des Importers.")
            )
        exists = conn.execute(
            sa.text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
        ).first()
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        name, where = sql.Identifier(role), sql.Identifier(schema)
        if exists is None:
            cursor.execute(sql.SQL("CREATE ROLE {} LOGIN").format(name))
        if password is not None:
            # Only the SCRAM verifier reaches the server (and any statement log).
            verifier = conn.connection.dbapi_connection.pgconn.encrypt_password(  # type: ignore[union-attr]
                password.encode("utf-8"), role.encode("utf-8"), b"scram-sha-256"
            )
            cursor.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    name, sql.Literal(verifier.decode("ascii"))
                )
            )
        cursor.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(where, name))
        cursor.execute(
            sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(where, name)
        )
        cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(where, name))
        for table, privilege in RECEIVER_PRIVILEGES:
            cursor.execute(
                sql.SQL("GRANT " + privilege + " ON {}.{} TO {}").format(
                    where, sql.Identifier(table), name
                )
            )
    log.info("receiver role set up: role=%s schema=%s", role, schema)
    return schema


def open_database(url: str, *, create: bool = False) -> Engine:
    """Open the central database; ``create`` runs the migrations first."""
    engine = create_db_engine(url)
    if create:
        upgrade(engine)
    else:
        check_schema(engine)
    return engine
