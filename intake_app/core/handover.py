"""Hand-over of a case to another site through the central office: the device's own check.

A case goes to another site or municipality of the programme only through the office and
only where the person consented to that recipient (docs/security.md, "Hand-over through the
office"). The recipients are those of the organisation file's purposes marked
``handover: true``; the consent for that purpose must be granted and not withdrawn on the
day of the request. The office checks again whatever the device checked; this check only
spares the person a request that cannot succeed and says why at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from intake_app.core.forms.organisation import ConsentPurpose, OrganisationConfig, Recipient
from intake_app.core.forms.referral_consent import granted_on
from intake_app.errors import ConflictError
from intake_app.i18n import N_, _

#: Why the device refuses a hand-over before asking the office: tag and sentence.
REFUSALS: dict[str, str] = {
    "unknown_recipient": N_(
        "„{recipient}“ ist keine Empfangsstelle für Übergaben in der Organisationsdatei."
    ),
    "no_consent": N_(
        "Die Person hat der Weitergabe an {name} nicht zugestimmt; die Akte wird nicht übergeben."
    ),
    "consent_withdrawn": N_(
        "Die Person hat ihre Einwilligung zur Weitergabe an {name} widerrufen; die Akte wird "
        "nicht übergeben."
    ),
}


class HandoverRefused(ConflictError):
    """A hand-over the device refuses up front; ``reason`` is a tag of :data:`REFUSALS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class HandoverTarget:
    """Where a case may go: the recipient and the purpose the person consented to."""

    purpose: ConsentPurpose
    recipient: Recipient


def handover_targets(organisation: OrganisationConfig) -> list[HandoverTarget]:
    """Every recipient of a ``handover`` purpose, in the order of the organisation file."""
    return [HandoverTarget(p, r) for p, r in organisation.handover_recipients()]


def check_handover(
    consent: Any, organisation: OrganisationConfig, recipient_id: str, *, on: date
) -> HandoverTarget:
    """The target when the person's consent allows the hand-over to ``recipient_id`` on
    ``on``.

    Raises:
        HandoverRefused: ``unknown_recipient``, ``no_consent`` or ``consent_withdrawn``,
            with the sentence to show.
    """
    target = next(
        (t for t in handover_targets(organisation) if t.recipient.id == recipient_id), None
    )
    if target is None:
        raise HandoverRefused(
            "unknown_recipient",
            _(REFUSALS["unknown_recipient"]).format(recipient=recipient_id),
        )
    if granted_on(consent, target.purpose.id, on):
        return target
    purposes = consent.get("purposes") if isinstance(consent, dict) else None
    state = purposes.get(target.purpose.id) if isinstance(purposes, dict) else None
    withdrawn = (
        isinstance(state, dict) and state.get("granted") is True and bool(state.get("withdrawn_on"))
    )
    reason = "consent_withdrawn" if withdrawn else "no_consent"
    raise HandoverRefused(reason, _(REFUSALS[reason]).format(name=target.recipient.name))
