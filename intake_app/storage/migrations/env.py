"""Alembic environment: always run programmatically with an open connection.

``intake_app.storage.migrate`` passes the connection of the encrypted database in
``config.attributes["connection"]``; there is no URL or ini file, because the key only
exists in memory.
"""

from __future__ import annotations

from alembic import context

from intake_app.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable by running alembic by hand
    raise RuntimeError("migrations run from intake_app.storage.migrate, with a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    transactional_ddl=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
