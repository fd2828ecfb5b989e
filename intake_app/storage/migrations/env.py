"""Alembic environment: always run programmatically with an open connection.

``intake_app.storage.migrate`` passes the connection of the encrypted database in
``config.attributes["connection"]``; there is no URL or ini file, because the key only
exists in memory.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import intake_app.storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable by running alembic by hand
    raise RuntimeError("migrations run from intake_app.storage.migrate, with a connection")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=True,
    transactional_ddl=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
