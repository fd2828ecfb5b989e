"""What every printout needs to know: the record, who prints it, when, in which language.

:class:`RecordSource` is a plain snapshot of one record (the service reads it from
storage), so the PDF builders need no database and can be tested and benchmarked alone.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from babel.dates import format_datetime

from intake_app.core.formats import babel_locale, format_iso_date
from intake_app.core.forms import Form, OrganisationConfig
from intake_app.core.records import EXPIRY_WARNING_DAYS
from intake_app.i18n import N_, translator

if TYPE_CHECKING:
    from intake_app.reports.layout import PageInfo

log = logging.getLogger("intake.reports")

MSG_CONFIDENTIAL = N_("Vertraulich – personenbezogene Daten")
MSG_PAGE_OF = N_("Seite {page} von {pages}")
MSG_PRINTED = N_("Gedruckt von {user} am {time} · Profil: {profile}")
MSG_REFERENCE = N_("Formular {form} {version} · Akte {record}")
MSG_CASE = N_("Fallnummer {case}")
MSG_COUNSELLOR = N_("Beratung: {name}")
MSG_DATE = N_("Gespräch am {date}")

#: Names of the consent languages, in the language of the printout.
LANGUAGE_NAMES = {
    "de": N_("Deutsch"),
    "en": N_("Englisch"),
    "ar": N_("Arabisch"),
    "uk": N_("Ukrainisch"),
    "ru": N_("Russisch"),
    "tr": N_("Türkisch"),
    "fa": N_("Dari/Farsi"),
}


@dataclass(frozen=True, slots=True)
class RecordSource:
    """A snapshot of one record for printing.

    Attributes:
        withdrawals: ``(purpose, withdrawn_on ISO date)`` as recorded, oldest first.
    """

    record_id: str
    case_number: str
    status: str
    revision: int
    form: Form
    answers: dict[str, Any]
    finalised_at: datetime | None = None
    owner_name: str = ""
    withdrawals: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PrintContext:
    """Who prints, when, in which language, under which organisation."""

    organisation: OrganisationConfig
    printed_by: str
    printed_at: datetime
    lang: str = "de"
    extra: dict[str, Any] = field(default_factory=dict)
    #: the setting ``records.expiry_warning_days`` (expiry highlights)
    expiry_warning_days: int = EXPIRY_WARNING_DAYS

    @property
    def today(self) -> date:
        """The day of printing (expiry highlights and computed ages use it)."""
        return self.printed_at.date()

    def tr(self, message: str) -> str:
        """Translate a German message id into the printout's language."""
        return translator(self.lang)(message)

    def date(self, iso: str | None) -> str:
        """An ISO date in the printout's format."""
        return format_iso_date(iso, self.lang)

    def time(self) -> str:
        """The moment of printing, e.g. ``24.11.2026, 17:30``."""
        return _moment(self.printed_at, self.printed_at.isoformat(), self.lang)

    def language_name(self, code: str | None) -> str:
        """The name of a consent language (``"ar"`` -> ``"Arabisch"``)."""
        if not code:
            return ""
        name = LANGUAGE_NAMES.get(code)
        return self.tr(name) if name else code


@lru_cache(maxsize=32)
def _moment(moment: datetime, iso: str, lang: str) -> str:
    """The moment of printing as text: the same for every record of a print job (each
    record's footer states it), so Babel formats it once. ``iso`` (with the offset) is
    part of the key: equal moments in other time zones read differently."""
    pattern = "dd.MM.yyyy, HH:mm" if lang == "de" else "dd/MM/yyyy, HH:mm"
    return format_datetime(moment, pattern, locale=babel_locale(lang))


def counsellor_of(source: RecordSource) -> str:
    """The counsellor named in the record (else the owner's name)."""
    value = source.answers.get("counsellor_name")
    return value.strip() if isinstance(value, str) and value.strip() else source.owner_name


def page_info(source: RecordSource, ctx: PrintContext, *, title: str, profile: str) -> PageInfo:
    """Header and footer texts for the pages of one record."""
    # Deferred: the page layout loads reportlab, needed only when printing
    # (docs/architecture.md, "Imports inside functions").
    from intake_app.reports.layout import PageInfo

    tr = ctx.tr
    parts = [tr(MSG_CASE).format(case=source.case_number)]
    counsellor = counsellor_of(source)
    if counsellor:
        parts.append(tr(MSG_COUNSELLOR).format(name=counsellor))
    intake_date = source.answers.get("intake_date")
    if isinstance(intake_date, str) and intake_date:
        parts.append(tr(MSG_DATE).format(date=ctx.date(intake_date)))
    return PageInfo(
        record_id=source.record_id,
        title=title,
        subtitle=" · ".join(parts),
        confidential=tr(MSG_CONFIDENTIAL),
        printed=tr(MSG_PRINTED).format(user=ctx.printed_by, time=ctx.time(), profile=profile),
        reference=tr(MSG_REFERENCE).format(
            form=source.form.id, version=source.form.version, record=source.record_id
        ),
        page_of=tr(MSG_PAGE_OF),
    )


def _right_to_left(text: str) -> bool:
    """Whether the first strong letter is right-to-left (rule P2 of UAX #9)."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind == "L":
            return False
        if kind in ("R", "AL"):
            return True
    return False


def person_name(answers: Mapping[str, Any]) -> str:
    """ "Family, Given", the Latin transliteration first, the original script after.

    Names in Arabic script are joined with the Arabic comma (U+060C), as every list in
    those languages.
    """

    def text(key: str) -> str:
        value = answers.get(key)
        return value.strip() if isinstance(value, str) else ""

    def join(family: str, given: str) -> str:
        comma = "، " if _right_to_left(family + given) else ", "
        return comma.join(part for part in (family, given) if part)

    name = join(text("family_name"), text("given_names"))
    latin = join(text("family_name_latin"), text("given_names_latin"))
    if latin and latin != name:
        return f"{latin} ({name})" if name else latin
    return name
