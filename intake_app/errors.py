"""The exception hierarchy shared by every layer.

One root (:class:`IntakeError`) so callers can tell our errors from bugs. Errors caused by
the environment or by the user carry a message meant for people (already translated);
anything else that escapes is a bug and is logged with its traceback.
"""

from __future__ import annotations

import enum


class IntakeError(Exception):
    """Root of all errors the program raises on purpose.

    ``str(error)`` is a complete sentence for the user, in the current language.
    """

    exit_code: int = 1


class UsageError(IntakeError):
    """The command line or an input file is wrong; the user can fix it (exit 2)."""

    exit_code = 2


class ValidationError(UsageError):
    """Input that does not pass validation (a password too short, an unknown role)."""


class KnownError(IntakeError):
    """A condition of the environment with a known remedy: disk full, locked database...

    Attributes:
        kind: a short machine-readable tag the UI can react to.
    """

    def __init__(self, message: str, *, kind: str = "environment") -> None:
        super().__init__(message)
        self.kind = kind


class ProfileError(KnownError):
    """The profile folder is missing, already exists, is damaged, or newer than this program."""


class AuthError(IntakeError):
    """Wrong user name or password, a deactivated account, or a throttled log-in."""

    def __init__(self, message: str, *, retry_after: float = 0.0, kind: str = "") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        #: "wrong": the name or password did not open the vault entry
        self.kind = kind


class PermissionDenied(IntakeError):
    """The signed-in user's role does not allow the action (enforced in ``core``)."""


class NotFound(IntakeError):
    """A record, user or file that was asked for does not exist (or is not visible)."""


class ConflictError(IntakeError):
    """The action conflicts with the current state (a finalised record, an existing user)."""


class SyncErrorKind(enum.StrEnum):
    """Why a sync failed, so the UI can react per kind."""

    NETWORK = "network"
    AUTH = "auth"
    REJECTED = "rejected"
    NOT_ENROLLED = "not_enrolled"
    CANCELLED = "cancelled"
    STORAGE = "storage"


class SyncError(IntakeError):
    """A sync failed; ``kind`` says why; ``refusal`` is the office's reason code when it
    answered with a refusal (``too_large``, ``batch_id_conflict`` ...)."""

    def __init__(self, message: str, *, kind: SyncErrorKind, refusal: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.refusal = refusal
