"""Consent that binds referrals: which granted purpose covers passing data to a service.

A referral (section J) records the service, the date, the data categories passed on and
the consent purpose that covers the transfer. A purpose of the organisation file names
its recipients (each with the referral services it stands for, ``services``) and its data
categories. A transfer is covered when, on the referral's date, the purpose is granted and
not withdrawn, the referral's service is among the purpose's recipients and every data
category passed on is among the purpose's categories (docs/security.md, consent).

:func:`purpose_choices` lists the purposes a referral can pick (German names first, the
ones that cover the referral marked); :func:`referral_problems` says in plain words what
is missing. The form engine runs the check on every referral when the organisation is
known, so an uncovered transfer keeps the record from being finalised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from intake_app.core.formats import format_iso_date
from intake_app.core.forms.consent import MSG_SHAPE
from intake_app.core.forms.expressions.checker import parse_date_literal
from intake_app.i18n import N_, translator

if TYPE_CHECKING:
    from intake_app.core.forms.organisation import ConsentPurpose, OrganisationConfig

Translate = Callable[[str], str]

#: Question ids of a referral item (form section J).
REFERRALS = "referrals"
SERVICE = "service"
SERVICE_NAME = "service_name"
DATE = "date"
DATA_PASSED = "data_passed"
CONSENT_PURPOSE = "consent_purpose"
OTHER_SERVICE = "other"

MSG_NO_CONSENT_RECORDED = N_(
    "Es ist noch keine Einwilligung erfasst. Ohne Einwilligung dürfen keine Daten an "
    "{recipient} weitergegeben werden."
)
MSG_UNKNOWN = N_(
    "„{purpose}“ ist kein Zweck der Einwilligungserklärung dieser Stelle; bitte einen der "
    "erteilten Zwecke wählen."
)
MSG_NOT_GRANTED = N_(
    "Die Einwilligung „{purpose}“ wurde nicht erteilt. Ohne sie dürfen keine Daten an "
    "{recipient} weitergegeben werden."
)
MSG_BEFORE_CONSENT = N_(
    "Die Vermittlung ({referral}) liegt vor der Einwilligung vom {consent}; bis dahin "
    "durften keine Daten weitergegeben werden."
)
MSG_WITHDRAWN = N_(
    "Die Einwilligung „{purpose}“ wurde am {withdrawn} widerrufen; seitdem dürfen dafür "
    "keine Daten mehr weitergegeben werden."
)
MSG_RECIPIENT = N_(
    "{recipient} gehört nicht zu den Empfängern der Einwilligung „{purpose}“ "
    "(Empfänger: {recipients})."
)
MSG_CATEGORIES = N_("Die Einwilligung „{purpose}“ deckt diese Daten nicht ab: {categories}.")
MSG_MISSING = N_("Es fehlt die Einwilligung „{purposes}“.")
MSG_NONE_FITS = N_(
    "Auch keine andere Einwilligung dieser Stelle erlaubt die Weitergabe von {categories} an "
    "{recipient}; bitte diese Angaben abwählen."
)
MSG_NO_RECIPIENT = N_(
    "Keine Einwilligung dieser Stelle nennt {recipient} als Empfänger; dorthin dürfen keine "
    "Daten weitergegeben werden."
)
MSG_NOT_TOGETHER = N_(
    "Keine einzelne Einwilligung dieser Stelle deckt alle gewählten Daten zusammen für "
    "{recipient} ab; bitte nur Daten wählen, die eine Einwilligung abdeckt."
)
MSG_PICK = N_("Die erteilte Einwilligung „{purposes}“ deckt diese Weitergabe ab; bitte sie wählen.")
MSG_THIS_SERVICE = N_("diese Stelle")


@dataclass(frozen=True, slots=True)
class PurposeChoice:
    """A purpose a referral can pick: granted on the referral's date.

    Attributes:
        id: the purpose id stored in the referral.
        label: its name in the requested language (German by default).
        covers: whether it covers this referral's recipient and data.
        problems: why it does not, in plain words (empty when it covers).
    """

    id: str
    label: str
    covers: bool
    problems: tuple[str, ...] = ()


def _date(value: Any) -> date | None:
    return parse_date_literal(value) if isinstance(value, str) else None


def _part(consent: Any, purpose_id: str) -> Any:
    if not isinstance(consent, Mapping):
        return None
    purposes = consent.get("purposes")
    return purposes.get(purpose_id) if isinstance(purposes, Mapping) else None


def granted_on(consent: Any, purpose_id: str, on: date) -> bool:
    """Whether ``purpose_id`` is consented on ``on``: granted on or before that day and not
    withdrawn on or before it (a withdrawal blocks every later transfer)."""
    part = _part(consent, purpose_id)
    if not isinstance(part, Mapping) or part.get("granted") is not True:
        return False
    given = _date(consent.get("date"))
    if given is not None and on < given:
        return False
    withdrawn = part.get("withdrawn_on")
    if withdrawn is None:
        return True
    day = _date(withdrawn)
    return day is not None and day > on


def recipient_matches(purpose: ConsentPurpose, service: str | None, name: str = "") -> bool:
    """Whether the referral's service (or, for "other", its name) is a recipient."""
    wanted = name.strip().casefold()
    for recipient in purpose.recipients:
        if service and service != OTHER_SERVICE and service in recipient.services:
            return True
        if wanted and recipient.name.casefold().startswith(wanted[:60]) and len(wanted) >= 4:
            return True
    return False


def uncovered_categories(purpose: ConsentPurpose, categories: Iterable[str]) -> list[str]:
    """The data categories of ``categories`` that ``purpose`` does not name: the one check
    for a referral's data and for what reaches the central office (docs/security.md)."""
    return [category for category in categories if category not in purpose.data_categories]


def _categories(referral: Mapping[str, Any]) -> tuple[str, ...]:
    raw = referral.get(DATA_PASSED)
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, Sequence):
        return tuple(str(item) for item in raw if isinstance(item, str))
    return ()


def _covers(
    purpose: ConsentPurpose,
    referral: Mapping[str, Any],
    org: OrganisationConfig,
    tr: Translate,
    lang: str,
    recipient: str,
) -> list[str]:
    problems = []
    service = referral.get(SERVICE)
    name = referral.get(SERVICE_NAME)
    if not recipient_matches(
        purpose,
        service if isinstance(service, str) else None,
        name if isinstance(name, str) else "",
    ):
        problems.append(
            tr(MSG_RECIPIENT).format(
                recipient=recipient,
                purpose=purpose.label(lang),
                recipients="; ".join(r.name for r in purpose.recipients),
            )
        )
    outside = uncovered_categories(purpose, _categories(referral))
    if outside:
        problems.append(
            tr(MSG_CATEGORIES).format(
                purpose=purpose.label(lang),
                categories=", ".join(org.category_label(c, lang) for c in outside),
            )
        )
    return problems


def _on(referral: Mapping[str, Any], today: date) -> date:
    return _date(referral.get(DATE)) or today


def purpose_choices(
    consent: Any,
    organisation: OrganisationConfig,
    *,
    referral: Mapping[str, Any] | None = None,
    on: date | None = None,
    lang: str = "de",
    recipient: str = "",
) -> list[PurposeChoice]:
    """The purposes granted (and not withdrawn) on the referral's date, in the order of
    the organisation file, by name in ``lang``.

    Args:
        consent: the record's consent answer.
        referral: the referral item (service, date, data passed); when given, each choice
            says whether it covers it.
        on: the day to check when the referral has no date (default: today).
        recipient: the service's name as shown to the user, for the messages.
    """
    tr = translator(lang)
    referral = referral or {}
    day = _on(referral, on or date.today())
    shown = recipient or tr(MSG_THIS_SERVICE)
    out = []
    for purpose in organisation.purposes:
        if not granted_on(consent, purpose.id, day):
            continue
        problems = (
            _covers(purpose, referral, organisation, tr, lang, shown)
            if referral.get(SERVICE) or _categories(referral)
            else []
        )
        out.append(PurposeChoice(purpose.id, purpose.label(lang), not problems, tuple(problems)))
    return out


def referral_problems(
    referral: Mapping[str, Any],
    consent: Any,
    organisation: OrganisationConfig,
    *,
    today: date | None = None,
    tr: Translate | None = None,
    lang: str = "de",
    recipient: str = "",
) -> list[str]:
    """What keeps the chosen consent from covering this referral, in plain words.

    Nothing when no data are passed on or no purpose is chosen yet (the form asks for
    it). ``recipient`` is the service's name as the user sees it ("Jobcenter").
    """
    if not isinstance(referral, Mapping):
        return []
    tr = tr or translator(lang)
    categories = _categories(referral)
    chosen = referral.get(CONSENT_PURPOSE)
    if not categories or not isinstance(chosen, str) or not chosen.strip():
        return []
    chosen = chosen.strip()
    shown = recipient or tr(MSG_THIS_SERVICE)
    if consent is not None and not isinstance(consent, Mapping):
        return [tr(MSG_SHAPE)]
    if not consent or not consent.get("date"):
        return [tr(MSG_NO_CONSENT_RECORDED).format(recipient=shown)]
    day = _on(referral, today or date.today())
    try:
        purpose = organisation.purpose(chosen)
    except KeyError:
        return [
            tr(MSG_UNKNOWN).format(purpose=chosen[:64]),
            *_missing(referral, consent, organisation, tr, lang, shown, day),
        ]
    problems: list[str] = []
    given = _date(consent.get("date"))
    part = _part(consent, purpose.id)
    if not isinstance(part, Mapping) or part.get("granted") is not True:
        problems.append(tr(MSG_NOT_GRANTED).format(purpose=purpose.label(lang), recipient=shown))
    elif given is not None and day < given:
        problems.append(
            tr(MSG_BEFORE_CONSENT).format(referral=_format(day, lang), consent=_format(given, lang))
        )
    elif not granted_on(consent, purpose.id, day):
        withdrawn = _date(part.get("withdrawn_on"))
        problems.append(
            tr(MSG_WITHDRAWN).format(
                purpose=purpose.label(lang),
                withdrawn=_format(withdrawn, lang) if withdrawn else str(part.get("withdrawn_on")),
            )
        )
    problems.extend(_covers(purpose, referral, organisation, tr, lang, shown))
    if problems:
        problems.extend(
            _missing(referral, consent, organisation, tr, lang, shown, day, chosen=purpose.id)
        )
    return problems


def _missing(
    referral: Mapping[str, Any],
    consent: Mapping[str, Any],
    org: OrganisationConfig,
    tr: Translate,
    lang: str,
    shown: str,
    day: date,
    *,
    chosen: str = "",
) -> list[str]:
    """Which consent would cover the referral: granted ones are named to pick instead,
    missing ones as missing; when none of the organisation's purposes fits, say so.
    The chosen purpose, when it fits, was already named by the caller."""
    fitting = [p for p in org.purposes if not _covers(p, referral, org, tr, lang, shown)]
    if chosen in {p.id for p in fitting}:
        fitting = [p for p in fitting if p.id != chosen]
        if not fitting:
            return []
    elif not fitting:
        return [_none_fits(referral, org, tr, lang, shown)]
    granted = [p for p in fitting if granted_on(consent, p.id, day)]
    if granted:
        return [tr(MSG_PICK).format(purposes="“ / „".join(p.label(lang) for p in granted))]
    return [tr(MSG_MISSING).format(purposes="“ / „".join(p.label(lang) for p in fitting))]


def _none_fits(
    referral: Mapping[str, Any], org: OrganisationConfig, tr: Translate, lang: str, shown: str
) -> str:
    """Why no purpose of the organisation covers the referral, naming only what is true:
    no purpose names the recipient; or the data that no purpose for this recipient names;
    or, when each datum is named by one of them, that none names them all together."""
    service = referral.get(SERVICE)
    name = referral.get(SERVICE_NAME)
    for_recipient = [
        p
        for p in org.purposes
        if recipient_matches(
            p, service if isinstance(service, str) else None, name if isinstance(name, str) else ""
        )
    ]
    if not for_recipient:
        return tr(MSG_NO_RECIPIENT).format(recipient=shown)
    blocked = [
        c for c in _categories(referral) if all(c not in p.data_categories for p in for_recipient)
    ]
    if blocked:
        quoted = ", ".join(f"„{org.category_label(c, lang)}“" for c in blocked)
        if lang != "de":
            quoted = ", ".join(f"“{org.category_label(c, lang)}”" for c in blocked)
        return tr(MSG_NONE_FITS).format(categories=quoted, recipient=shown)
    return tr(MSG_NOT_TOGETHER).format(recipient=shown)


def _format(day: date, lang: str) -> str:
    return format_iso_date(day.isoformat(), lang)
