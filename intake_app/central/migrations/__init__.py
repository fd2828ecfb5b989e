"""Alembic migrations of the central database (separate from the device's migrations)."""
