"""Errors of the sync format: every malformed, tampered or untrusted input is one of these.

Each error carries a short machine-readable ``reason`` (used in logs, quarantine entries
and HTTP refusals) and a German sentence for people (``str(error)``). Readers of batches,
receipts and signed documents raise nothing else on arbitrary input.
"""

from __future__ import annotations

from intake_app.errors import IntakeError, UsageError
from intake_app.i18n import _


class BatchError(IntakeError):
    """A batch is malformed, tampered with, too large or cannot be opened.

    Attributes:
        reason: a short tag such as ``"truncated"`` or ``"bad_signature"``.
    """

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(
            message or _("Das Datenpaket ist ungültig ({reason}).").format(reason=reason)
        )
        self.reason = reason


class SignatureError(IntakeError):
    """A signed document (receipt, enrolment, form, key set) is malformed or not genuine.

    Attributes:
        reason: a short tag such as ``"bad_signature"`` or ``"unknown_key"``.
    """

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(
            message or _("Das signierte Dokument ist ungültig ({reason}).").format(reason=reason)
        )
        self.reason = reason


class ReceiptError(SignatureError):
    """A receipt is not genuine or does not belong to the batch it should answer."""


class EnrolmentError(UsageError):
    """An enrolment or registration file is invalid, expired or already used (exit 2).

    Attributes:
        reason: a short tag such as ``"expired"`` or ``"malformed"``.
    """

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(
            message or _("Die Registrierungsdatei ist ungültig ({reason}).").format(reason=reason)
        )
        self.reason = reason
