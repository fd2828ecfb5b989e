"""Alembic environment of the central database: always run with an open connection.

``intake_app.central.db.upgrade`` passes the connection in
``config.attributes["connection"]``; the same migrations run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from alembic import context

from intake_app.central.db import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable by running alembic by hand
    raise RuntimeError("migrations run from intake_app.central.db.upgrade, with a connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transactional_ddl=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
