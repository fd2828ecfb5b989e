"""Large reference lists for questions of type ``reference``, searchable for the UI.

* ``country``: ISO 3166-1 (alpha-2 codes) from ``pycountry``, with the common names of
  the Unicode CLDR (``babel``) in German and English, plus ``XK`` (Kosovo, the
  user-assigned code used by the EU and German authorities).
* ``language``: ISO 639-3 living languages (three-letter codes, so that Dari ``prs``,
  Kurmanji ``kmr`` and Sorani ``ckb`` can be told apart), names from CLDR where it has
  them, else from the iso-codes translations shipped with ``pycountry``.
* ``occupation``: KldB 2010 (revised 2020) occupational types (5 digits), and
  ``occupation_group``: its 3-digit groups; source: Bundesagentur für Arbeit, Statistik,
  Klassifikation der Berufe 2010 – überarbeitete Fassung 2020 (``forms/reference``).

Lists are built on first use and cached for the life of the process.
"""

from __future__ import annotations

import csv
import functools
import gettext
import io
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from intake_app.assets import form_resource
from intake_app.i18n import _

KLDB_FILE = "kldb2010-v2020.csv"
KLDB_SOURCE = (
    "Bundesagentur für Arbeit, Statistik, Klassifikation der Berufe 2010 – "
    "überarbeitete Fassung 2020"
)


def fold(text: str) -> str:
    """Lower-case ``text`` without accents, for searching ("Ärztin" -> "arztin")."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def fold_umlauts(text: str) -> str:
    """Like :func:`fold` but spelling umlauts out ("Ärztin" -> "aerztin")."""
    if text.isascii():
        return text.lower()
    return fold(text.casefold().translate(_UMLAUTS))


@dataclass(frozen=True, slots=True)
class ReferenceItem:
    """One entry: its code, labels per language, and further search terms."""

    code: str
    labels: Mapping[str, str]
    aliases: tuple[str, ...] = ()
    rank: int = 1

    def label(self, lang: str = "de") -> str:
        """The name in ``lang``, else German, else the code."""
        return self.labels.get(lang) or self.labels.get("de") or self.code


class ReferenceList:
    """A searchable code list."""

    def __init__(self, name: str, items: Iterable[ReferenceItem], *, source: str) -> None:
        self.name = name
        self.source = source
        self._items = sorted(items, key=lambda item: (fold(item.label("de")), item.code))
        self._by_code = {item.code: item for item in self._items}
        self._codes = frozenset(self._by_code)
        self._keys: list[tuple[tuple[str, ...], str]] | None = None  # built on first search

    @staticmethod
    def _search_keys(item: ReferenceItem) -> tuple[tuple[str, ...], str]:
        names = [*item.labels.values(), *item.aliases]
        folded = " | ".join(
            dict.fromkeys([fold(name) for name in names] + [fold_umlauts(name) for name in names])
        )
        codes = (
            fold(item.code),
            *(
                fold(alias)
                for alias in item.aliases
                if 2 <= len(alias) <= 4 and alias.isalpha() and (alias.isupper() or alias.islower())
            ),
        )
        return codes, folded

    def all(self) -> list[ReferenceItem]:
        """Every entry, sorted by German name."""
        return list(self._items)

    def codes(self) -> frozenset[str]:
        """All valid codes."""
        return self._codes

    def __contains__(self, code: object) -> bool:
        return code in self._codes

    def __len__(self) -> int:
        return len(self._items)

    def get(self, code: str) -> ReferenceItem | None:
        """The entry with ``code`` or None."""
        return self._by_code.get(code)

    def label(self, code: str, lang: str = "de") -> str:
        """The name of ``code`` in ``lang`` (the code itself when it is unknown)."""
        item = self._by_code.get(code)
        return item.label(lang) if item else code

    def search(self, query: str, lang: str = "de", limit: int = 50) -> list[ReferenceItem]:
        """Entries matching ``query`` by code or name, best first.

        Order: exact code, code prefix, name starting with the query, a word of the name
        starting with it, the query anywhere; within each, entries in the requested
        language's name first, then common entries, then shorter names.
        """
        needle = fold(query.strip())
        if not needle:
            return self._items[:limit] if limit else list(self._items)
        if self._keys is None:
            self._keys = [self._search_keys(item) for item in self._items]
        scored: list[tuple[int, int, int, str, ReferenceItem]] = []
        for item, (codes, names) in zip(self._items, self._keys, strict=True):
            score = self._score(needle, codes, names)
            if score is None:
                continue
            label = item.label(lang)
            in_lang = 0 if needle in fold(label) else 1
            scored.append((score, in_lang, item.rank, label, item))
        scored.sort(key=lambda entry: (entry[0], entry[1], entry[2], len(entry[3]), entry[3]))
        result = [entry[4] for entry in scored]
        return result[:limit] if limit else result

    @staticmethod
    def _score(needle: str, codes: tuple[str, ...], names: str) -> int | None:
        if needle in codes:
            return 0
        if any(code.startswith(needle) for code in codes):
            return 1
        position = names.find(needle)
        if position < 0:
            return None
        if position == 0 or names.find(" | " + needle) >= 0:
            return 2
        if names[position - 1] in " -(/,":
            return 3
        return 4


# -- builders ------------------------------------------------------------------------------


def _translation(domain: str, lang: str) -> Callable[[str], str]:
    import pycountry

    try:
        return gettext.translation(domain, pycountry.LOCALES_DIR, languages=[lang]).gettext
    except OSError:  # pragma: no cover - pycountry always ships these
        return lambda text: text


def _build_countries() -> ReferenceList:
    import pycountry
    from babel import Locale

    cldr = {lang: Locale(lang).territories for lang in ("de", "en")}
    iso_de = _translation("iso3166-1", "de")
    items = []
    for country in pycountry.countries:
        code = country.alpha_2
        english = getattr(country, "common_name", None) or country.name
        labels = {
            "de": cldr["de"].get(code) or iso_de(country.name),
            "en": cldr["en"].get(code) or english,
        }
        aliases = [country.alpha_3, country.name, iso_de(country.name)]
        official = getattr(country, "official_name", None)
        if official:
            aliases += [official, iso_de(official)]
        items.append(ReferenceItem(code, labels, tuple(dict.fromkeys(aliases))))
    items.append(
        ReferenceItem(
            "XK",
            {"de": cldr["de"].get("XK", "Kosovo"), "en": cldr["en"].get("XK", "Kosovo")},
            ("XKX", "RKS"),
        )
    )
    return ReferenceList(
        "country", items, source="ISO 3166-1 (pycountry/iso-codes), Namen: Unicode CLDR (babel)"
    )


def _build_languages() -> ReferenceList:
    import pycountry
    from babel import Locale

    cldr = {lang: Locale(lang).languages for lang in ("de", "en")}
    iso_de = _translation("iso639-3", "de")
    items = []
    for language in pycountry.languages:
        if getattr(language, "type", "") != "L" or getattr(language, "scope", "") not in ("I", "M"):
            continue
        code = language.alpha_3
        alpha_2 = getattr(language, "alpha_2", None)
        keys = [key for key in (alpha_2, code) if key]
        german = next((cldr["de"][k] for k in keys if k in cldr["de"]), None)
        english = next((cldr["en"][k] for k in keys if k in cldr["en"]), None)
        labels = {"de": german or iso_de(language.name), "en": english or language.name}
        aliases = [language.name, iso_de(language.name)]
        if alpha_2:
            aliases.append(alpha_2)
        bibliographic = getattr(language, "bibliographic", None)
        if bibliographic:
            aliases.append(bibliographic)
        rank = 0 if (alpha_2 or german) else 1
        items.append(ReferenceItem(code, labels, tuple(dict.fromkeys(aliases)), rank))
    return ReferenceList(
        "language", items, source="ISO 639-3 (pycountry/iso-codes), Namen: Unicode CLDR (babel)"
    )


def read_kldb() -> list[dict[str, str]]:
    """All rows of the shipped KldB 2010 file (every level)."""
    text = form_resource("reference", KLDB_FILE).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _build_kldb(level: int, name: str) -> ReferenceList:
    items = []
    for row in read_kldb():
        if int(row["level"]) != level:
            continue
        title = row["title"]
        items.append(
            ReferenceItem(
                row["code"],
                {"de": title},
                (row["short_title"],) if row["short_title"] != title else (),
            )
        )
    return ReferenceList(name, items, source=KLDB_SOURCE)


_BUILDERS: dict[str, Callable[[], ReferenceList]] = {
    "country": _build_countries,
    "language": _build_languages,
    "occupation": lambda: _build_kldb(5, "occupation"),
    "occupation_group": lambda: _build_kldb(3, "occupation_group"),
}

#: Names usable as ``reference:`` in a form file.
REFERENCE_NAMES: tuple[str, ...] = tuple(_BUILDERS)

_lock = threading.Lock()


@functools.cache
def _cached(name: str) -> ReferenceList:
    return _BUILDERS[name]()


def reference_list(name: str) -> ReferenceList:
    """The reference list ``name`` (see :data:`REFERENCE_NAMES`), built once.

    Raises:
        KeyError: for an unknown name.
    """
    if name not in _BUILDERS:
        raise KeyError(_("Unbekannte Referenzliste „{name}“.").format(name=name))
    with _lock:
        return _cached(name)


KLDB_REQUIREMENT_LEVELS: dict[str, dict[str, str]] = {
    "1": {"de": "Helfer- und Anlerntätigkeiten", "en": "Unskilled or semi-skilled tasks"},
    "2": {"de": "fachlich ausgerichtete Tätigkeiten", "en": "Skilled tasks"},
    "3": {"de": "komplexe Spezialistentätigkeiten", "en": "Complex specialist tasks"},
    "4": {"de": "hoch komplexe Tätigkeiten", "en": "Highly complex tasks"},
}


def requirement_level(kldb_code: str) -> str | None:
    """The requirement level (fifth digit) of a 5-digit KldB code, or None."""
    if len(kldb_code) == 5 and kldb_code[4] in KLDB_REQUIREMENT_LEVELS:
        return kldb_code[4]
    return None
