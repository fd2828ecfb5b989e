"""Form versions the central office published and this device installed (in the database).

An installed form is kept as the document the office root signed, and checked against
that root every time the forms are read (docs/security.md, "Forms the office
published"): the profile database that holds it opens with every user's password, and a
form decides what a counsellor is asked and where each answer goes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.abc import Traversable
from typing import cast

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from intake_app.device_sync.status import device_row
from intake_app.storage import integrity
from intake_app.storage.database import Database
from intake_app.storage.models import InstalledForm
from intake_app.sync.errors import SignatureError
from intake_app.sync.identity import DeviceIdentity

log = logging.getLogger("intake.sync")


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


@dataclass(frozen=True, slots=True)
class InstalledForms:
    """The installed forms that check, and the names of those that do not."""

    sources: list[MemoryFormSource]
    refused: list[str]


def form_keys(db: Database) -> Mapping[str, ec.EllipticCurvePublicKey]:
    """The office root keys an installed form must be signed with: the root pinned at
    enrolment, while the device identity is the one an administrator confirmed (see
    device_sync/pin.py); none on a device not enrolled or whose identity does not check."""
    # Deferred: the pin's check loads the enrolment and batch formats (cryptography's
    # signatures among them); only a device with installed forms asks, when it reads them.
    from intake_app.device_sync.pin import problem

    with db.read() as session:
        row = device_row(session)
        if row is None:
            return {}
        try:
            identity = DeviceIdentity.from_json(row.identity)
        except ValueError:
            return {}
        signers = integrity.check_state(session).signers
    if problem(identity, signers) is not None:
        return {}
    return identity.root_keys()


def installed_form_sources(db: Database) -> InstalledForms:
    """Form files installed from the office, each checked against the office root, to load
    beside the shipped ones; a row whose signature does not check (put in outside the
    program, or kept by a version that stored the bare file) is left out and named."""
    with db.read() as session:
        rows = session.scalars(select(InstalledForm)).all()
    if not rows:
        return InstalledForms([], [])
    # Deferred: the published-form format loads the batch format and cryptography's
    # signatures; the sign-in and the first page read no form (docs/architecture.md).
    from intake_app.sync.published_forms import verify_published_form

    trusted = form_keys(db)
    sources, refused = [], []
    for row in rows:
        try:
            form = verify_published_form(
                bytes(row.content), trusted=trusted, form_id=row.form_id, version=row.version
            )
        except SignatureError:
            refused.append(f"{row.form_id} {row.version}")
            continue
        sources.append(MemoryFormSource(f"installed/{form.filename}", form.content))
    if refused:
        log.error("%d installed form(s) are not signed by the office root", len(refused))
    return InstalledForms(sources, refused)
