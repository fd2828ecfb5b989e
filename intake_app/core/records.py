"""Intake records in the domain: status, sync state, search keys, list columns.

A record has a UUID and a revision number. It starts as a draft (revision 1); finalising
locks it and snapshots the revision for delivery; changing a finalised record opens the
next revision (with a reason) as a draft again. The central office receives finalised
revisions only, and a record counts as delivered when a verified receipt names its id
and its current revision.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from intake_app.i18n import N_, _

#: Default of the setting ``records.expiry_warning_days``: residence permits expiring
#: within this many days are highlighted (interview, list, overview and printouts).
EXPIRY_WARNING_DAYS = 8 * 7


class RecordStatus(enum.StrEnum):
    """Where a record is in its life."""

    DRAFT = "draft"
    COMPLETE = "complete"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return _(_STATUS_LABELS[self.value])


class SyncState(enum.StrEnum):
    """How far the record's current revision has travelled to the central office."""

    LOCAL = "local"  # a draft: nothing to send
    PENDING = "pending"  # finalised, waiting in the outbox
    SENT = "sent"  # in a batch, no receipt yet
    DELIVERED = "delivered"  # a verified receipt names this revision

    @property
    def label(self) -> str:
        return _(_SYNC_LABELS[self.value])


_STATUS_LABELS = {
    "draft": N_("Entwurf"),
    "complete": N_("Abgeschlossen"),
    "closed": N_("Fall beendet"),
}
_SYNC_LABELS = {
    "local": N_("nur lokal"),
    "pending": N_("wartet auf Übermittlung"),
    "sent": N_("gesendet, Quittung ausstehend"),
    "delivered": N_("übermittelt"),
}


class OutboxKind(enum.StrEnum):
    """What an outbox item carries."""

    RECORD = "record"
    CONSENT_WITHDRAWAL = "consent_withdrawal"
    ERASURE = "erasure"
    CASE_EVENT = "case_event"
    #: a hand-over to another site through the office (docs/batch-format.md §5)
    HANDOVER = "handover"
    #: the device's own HPKE public key, sent once (docs/batch-format.md §5)
    DEVICE_KEY = "device_key"
    #: a case moved to another counsellor: the office's owner of the case follows
    #: (docs/batch-format.md §5; a supervisor's sync sends it)
    REASSIGNMENT = "reassignment"


# -- search ----------------------------------------------------------------------------

_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_FOLD = str.maketrans(
    {
        "ß": "ss",
        "ё": "е",
        "ı": "i",
        "ø": "o",
        "đ": "d",
        "ł": "l",
        "æ": "ae",
        # Arabic script: Persian/Dari and Arabic spellings of the same letters
        "ی": "ي",
        "ى": "ي",
        "ئ": "ي",
        "ک": "ك",
        "ة": "ه",
        "ۀ": "ه",
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ؤ": "و",
    }
)
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def fold(text: str) -> str:
    """Case- and accent-insensitive form: "Müller" -> "muller", "Алёна" -> "алена"."""
    text = _ARABIC_MARKS.sub("", text.casefold().translate(_FOLD))
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def search_terms(*values: str | None) -> str:
    """Indexed text for a record: folded words, plus German umlauts spelt out.

    "Müller" is indexed as "muller mueller", so both "Muller" and "Mueller" find it.
    """
    words: list[str] = []
    for value in values:
        if not value:
            continue
        lowered = value.casefold()
        for variant in (fold(lowered), fold(lowered.translate(_UMLAUTS))):
            for word in _NON_WORD.split(variant):
                if word and word not in words:
                    words.append(word)
    return " ".join(words)


def date_terms(iso: str | None) -> list[str]:
    """A birth date as searchable words: "1990-04-01" -> "01.04.1990", "1990-04-01"."""
    if not iso:
        return []
    try:
        day = date.fromisoformat(iso)
    except ValueError:
        return []
    return [day.strftime("%d.%m.%Y"), day.isoformat()]


def fts_query(text: str) -> str | None:
    """Turn what the user typed into an FTS5 query (every word a prefix; None: no search).

    Dates typed as 01.04.1990 become a phrase of their parts, so they match the indexed
    birth date. The result never contains FTS5 syntax from the input.
    """
    folded = fold(text.strip())
    words = [word for word in _NON_WORD.split(folded) if word]
    if not words:
        return None
    date_like = re.fullmatch(r"\s*\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\s*", text)
    if date_like:
        parts = re.split(r"[./-]", text.strip())
        day, month, year = (p.zfill(2) for p in parts)
        return f'"{day} {month} {year}"'
    queries = [_word_query(word) for word in words]
    # FTS5 joins phrases by a space, but a group in parentheses only by an explicit AND
    return (" AND " if any(q.startswith("(") for q in queries) else " ").join(queries)


#: the Arabic definite article, written joined to the name it belongs to ("الحسن")
_ARTICLE = "ال"
_ARABIC_LETTER = re.compile(r"[\u0620-\u064a\u066e-\u06d3]")


def _word_query(word: str) -> str:
    """One typed word as a prefix query; an Arabic word without the article also as the
    start of a name that has it: "حسن" finds "الحسن", as "hassan" finds "Al-Hassan"."""
    if _ARABIC_LETTER.match(word) and not word.startswith(_ARTICLE):
        return f'("{word}"* OR "{_ARTICLE}{word}"*)'
    return f'"{word}"*'


# -- values copied from the answers into list columns -----------------------------------


@dataclass(frozen=True, slots=True)
class IndexFields:
    """The answers shown in lists and used for search."""

    family_name: str = ""
    given_names: str = ""
    family_name_latin: str = ""
    given_names_latin: str = ""
    birth_date: str | None = None
    residence_valid_until: str | None = None

    @property
    def sort_name(self) -> str:
        family = self.family_name_latin or self.family_name
        given = self.given_names_latin or self.given_names
        return fold(f"{family} {given}").strip()

    def terms(self, case_number: str) -> str:
        return search_terms(
            self.family_name,
            self.given_names,
            self.family_name_latin,
            self.given_names_latin,
            case_number,
            *date_terms(self.birth_date),
        )


def _text(answers: dict[str, Any], key: str) -> str:
    value = answers.get(key)
    return value.strip() if isinstance(value, str) else ""


def _iso_date(answers: dict[str, Any], key: str) -> str | None:
    value = answers.get(key)
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        return None


def index_fields(answers: dict[str, Any]) -> IndexFields:
    """Pick the list and search columns out of a record's answers."""
    return IndexFields(
        family_name=_text(answers, "family_name"),
        given_names=_text(answers, "given_names"),
        family_name_latin=_text(answers, "family_name_latin"),
        given_names_latin=_text(answers, "given_names_latin"),
        birth_date=_iso_date(answers, "birth_date"),
        residence_valid_until=_effective_expiry(answers),
    )


def _effective_expiry(answers: dict[str, Any]) -> str | None:
    """The date a residence permit really ends: the printed one, or the date until which a
    regulation continues a § 24 permit (expiry warnings must not fire for those)."""
    if answers.get("residence_continued") is True and answers.get("legal_basis") == "24":
        continued = _iso_date(answers, "residence_continued_until")
        if continued:
            return continued
    return _iso_date(answers, "residence_valid_until")


def expiry_state(
    valid_until: str | None,
    *,
    today: date | None = None,
    warning_days: int = EXPIRY_WARNING_DAYS,
) -> str:
    """``"expired"``, ``"soon"`` (within ``warning_days``) or ``""`` for a residence permit."""
    if not valid_until:
        return ""
    try:
        until = date.fromisoformat(valid_until)
    except ValueError:
        return ""
    today = today or date.today()
    if until < today:
        return "expired"
    if until <= today + timedelta(days=warning_days):
        return "soon"
    return ""


#: LEFT-TO-RIGHT MARK. A heading that starts with it is laid out left to right even when the
#: name begins in Arabic script, so it reads "Family, Given (Latin)" in that order.
LRM = "\u200e"


def heading_name(fields: IndexFields | Any) -> str:
    """:func:`display_name` for a heading of its own (a label, not a table cell whose
    direction the list sets): the family name first, whatever its script."""
    return LRM + display_name(fields)


def display_name(fields: IndexFields | Any) -> str:
    """ "Family, Given" with the Latin transliteration in brackets when it differs."""
    family = getattr(fields, "family_name", "") or ""
    given = getattr(fields, "given_names", "") or ""
    name = ", ".join(part for part in (family, given) if part)
    latin = ", ".join(
        part
        for part in (
            getattr(fields, "family_name_latin", ""),
            getattr(fields, "given_names_latin", ""),
        )
        if part
    )
    if latin and fold(latin) != fold(name):
        name = f"{name} ({latin})" if name else latin
    return name or _("(noch ohne Namen)")
