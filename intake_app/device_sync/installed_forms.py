"""Form versions the central office published and this device installed (in the database)."""

from __future__ import annotations

from importlib.abc import Traversable
from typing import cast

from sqlalchemy import select

from intake_app.storage.database import Database
from intake_app.storage.models import InstalledForm


class MemoryFormSource:
    """A form file held in memory (a published form from the database) for the loader."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self._data = data

    def read_bytes(self) -> bytes:
        return self._data

    def is_file(self) -> bool:
        return True

    def __str__(self) -> str:
        return self.name

    def as_source(self) -> Traversable:
        """This object typed as what the form loader reads (it needs name, read_bytes,
        is_file)."""
        return cast(Traversable, self)


def installed_form_sources(db: Database) -> list[MemoryFormSource]:
    """Form files installed from the office, to load beside the shipped ones."""
    with db.read() as session:
        rows = session.scalars(select(InstalledForm)).all()
    return [MemoryFormSource(f"installed/{row.filename}", row.content) for row in rows]
