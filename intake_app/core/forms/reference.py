"""Large reference lists for questions of type ``reference``, searchable for the UI.

* ``country``: ISO 3166-1 (alpha-2 codes) from ``pycountry``, with the common names of
  the Unicode CLDR (``babel``) in German and English, plus ``XK`` (Kosovo, the
  user-assigned code used by the EU and German authorities).
* ``language``: ISO 639-3 living languages (three-letter codes, so that Dari ``prs``,
  Kurmanji ``kmr`` and Sorani ``ckb`` can be told apart), names from CLDR where it has
  them, else from the iso-codes translations shipped with ``pycountry``. Search aliases
  come from iso-codes (inverted names such as "Kurdish, Northern", with their German
  translations), from CLDR (the name of each language in itself, e.g. "فارسی", and
  regional names such as ``fa_AF`` "Dari"), and from :data:`LANGUAGE_NAMES`: the names
  people use in counselling ("Farsi", "Kurmandschi", "Sorani", "Levantinisch") and
  German names where neither source has one (no English label in a German list).
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
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from babel import Locale

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

        Order: exact code, code prefix, a whole name or alias, name starting with the
        query, a word of the name starting with it, the query anywhere; within each,
        entries in the requested language's name first, then common entries, then
        shorter names. A word that matches nothing is tried shorter, down to its first
        four letters (a job title against the occupation groups' names).
        """
        needle = fold(query.strip())
        if not needle:
            return self._items[:limit] if limit else list(self._items)
        if self._keys is None:
            self._keys = [self._search_keys(item) for item in self._items]
        found = self._matches(needle, lang)
        if not found and needle.isalpha():
            found = self._stem_matches(needle, lang)
        return found[:limit] if limit else found

    def _stem_matches(self, needle: str, lang: str) -> list[ReferenceItem]:
        """Nothing for the whole word: its stem, never shorter than four letters (a job
        title against the occupation groups' names: "Bäcker" finds the "Back-"
        occupations, "Elektriker" the "Bauelektrik" ones), also with umlauts spelled out
        ("Baecker")."""
        plain = needle.replace("ae", "a").replace("oe", "o").replace("ue", "u")
        for word in dict.fromkeys((needle, plain)):
            shorter = word
            while len(shorter) > 4:
                shorter = shorter[:-1]
                found = self._matches(shorter, lang)
                if found:
                    return found
        return []

    def _matches(self, needle: str, lang: str) -> list[ReferenceItem]:
        """Entries matching the folded ``needle``, best first (see :meth:`search`)."""
        assert self._keys is not None
        scored: list[tuple[int, int, int, str, ReferenceItem]] = []
        for item, (codes, names) in zip(self._items, self._keys, strict=True):
            score = self._score(needle, codes, names)
            if score is None:
                continue
            label = item.label(lang)
            in_lang = 0 if needle in fold(label) else 1
            scored.append((score, in_lang, item.rank, label, item))
        scored.sort(key=lambda entry: (entry[0], entry[1], entry[2], len(entry[3]), entry[3]))
        return [entry[4] for entry in scored]

    @staticmethod
    def _score(needle: str, codes: tuple[str, ...], names: str) -> int | None:
        if needle in codes:
            return 0
        if any(code.startswith(needle) for code in codes):
            return 1
        position = names.find(needle)
        if position < 0:
            return None
        if f" | {names} | ".find(f" | {needle} | ") >= 0:
            return 2  # a whole name or alias ("Farsi" for Dari as well as for Persian)
        if position == 0 or names.find(" | " + needle) >= 0:
            return 3
        if names[position - 1] in " -(/,":
            return 4
        return 5


# -- builders ------------------------------------------------------------------------------


def _translation(domain: str, lang: str) -> Callable[[str], str]:
    # Deferred: pycountry (its databases) loads when a country or language list is first
    # built, not at start-up (docs/architecture.md, "Imports inside functions").
    import pycountry

    try:
        return gettext.translation(domain, pycountry.LOCALES_DIR, languages=[lang]).gettext
    except OSError:  # pragma: no cover - pycountry always ships these
        return lambda text: text


def _build_countries() -> ReferenceList:
    # Deferred: pycountry, see _translation.
    import pycountry

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


#: Names people use for languages common in counselling, per ISO 639-3 code: the German
#: label, the English label (None: keep the CLDR/iso-codes one) and further search names.
#: German labels are added where CLDR and iso-codes only have an English name.
LANGUAGE_NAMES: dict[str, tuple[str | None, str | None, tuple[str, ...]]] = {
    "fas": ("Persisch (Farsi)", "Persian (Farsi)", ("Farsi", "Parsi", "Farsi/Dari")),
    "pes": (
        "Persisch (Iran, Farsi)",
        "Iranian Persian (Farsi)",
        ("Farsi", "Iranisch", "Persian", "Farsi/Dari"),
    ),
    "prs": (
        "Dari (Afghanisches Persisch)",
        "Dari (Afghan Persian)",
        ("Farsi", "Afghanisch", "Farsi/Dari", "Parsi", "Persisch Afghanistan"),
    ),
    "haz": ("Hazaragi", None, ("Hazara", "Hazaragi-Dari")),
    "tgk": (None, None, ("Tadschikisch-Persisch", "Tajik Persian")),
    "kur": (None, None, ("Kurdî", "Kurdi")),
    "kmr": (
        "Kurmandschi (Nordkurdisch)",
        "Kurmanji (Northern Kurdish)",
        ("Kurmandschi", "Kurmanci", "Kurmanji", "Kurmancî", "Badini", "Behdini", "Bahdini"),
    ),
    "ckb": (
        "Sorani (Zentralkurdisch)",
        "Sorani (Central Kurdish)",
        ("Sorani", "Soranî", "Kurdisch Sorani"),
    ),
    "sdh": ("Südkurdisch (Feyli, Kelhuri)", None, ("Feyli", "Faili", "Kalhori", "Kelhuri")),
    "zza": ("Zazaki", "Zazaki", ("Zaza", "Dimli", "Kirmanjki")),
    "apc": (
        "Levantinisches Arabisch (Syrien, Libanon, Jordanien, Palästina)",
        "Levantine Arabic (Syria, Lebanon, Jordan, Palestine)",
        (
            "Levantinisch",
            "Syrisch-Arabisch",
            "Syrisch",
            "Libanesisch",
            "Jordanisch",
            "Palästinensisch",
            "Schami",
            "Shami",
            "Syrian Arabic",
        ),
    ),
    "acm": (
        "Irakisches Arabisch (Mesopotamisch)",
        "Iraqi Arabic (Mesopotamian)",
        ("Irakisch", "Iraqi"),
    ),
    "afb": ("Golf-Arabisch", None, ("Khaleeji", "Kuwaitisch")),
    "ary": (None, None, ("Darija", "Marokkanisch")),
    "arq": ("Algerisches Arabisch", None, ("Darja", "Algerisch")),
    "aeb": ("Tunesisches Arabisch", None, ("Tunesisch", "Tounsi")),
    "ayl": ("Libysches Arabisch", None, ("Libysch",)),
    "apd": (None, None, ("Sudanesisch",)),
    "mey": ("Hassania-Arabisch", "Hassaniya Arabic", ("Hassania", "Hassaniya")),
    "arb": (None, None, ("Hocharabisch", "Fusha", "Modern Standard Arabic")),
    "tir": ("Tigrinya (Tigrinisch)", None, ("Tigrinisch", "Tigrigna", "Tigrinja")),
    "tig": (None, None, ("Tigré",)),
    "amh": (None, None, ("Amharic", "Amhara")),
    "orm": (None, None, ("Afaan Oromoo", "Oromiffa")),
    "som": (None, None, ("Somalisch",)),
    "pus": (None, None, ("Paschto", "Pashto", "Pashtu", "Afghanisch")),
    "bal": ("Belutschi", None, ("Belutschisch", "Balochi")),
    "urd": (None, None, ("Urdu",)),
    "pan": (None, None, ("Pandschabi", "Punjabi", "Panjabi")),
    "ful": ("Ful (Fulfulde, Pulaar)", "Fula (Fulfulde, Pulaar)", ("Fulfulde", "Fulani", "Peul")),
    "fuf": ("Pular (Guinea)", None, ("Pular", "Fula Guinea")),
    "rom": ("Romani (Romanes)", "Romani", ("Romanes", "Romani chib", "Roma")),
    "hbs": ("Serbokroatisch (Bosnisch, Kroatisch, Serbisch)", None, ("BKS", "Jugoslawisch")),
    "sqi": (None, None, ("Shqip",)),
    "aka": (None, None, ("Twi", "Asante")),
    "pcm": (None, None, ("Pidgin", "Naija")),
    "lin": (None, None, ("Kongolesisch",)),
    "rhg": (None, None, ("Ruáingga",)),
    "hyw": ("Westarmenisch", None, ("Western Armenian",)),
    "gsg": ("Deutsche Gebärdensprache (DGS)", "German Sign Language (DGS)", ("DGS",)),
    "run": (None, None, ("Kirundi", "Ikirundi", "Burundisch")),
}

_SIGN_LANGUAGE = re.compile(r"(?P<name>.+) Sign Language(?P<abbr> \([A-Z]+\))?")


#: Compass words of English language names and their German prefix ("Northern Katang"
#: -> "Nord-Katang", "Marghi South" -> "Süd-Marghi").
_COMPASS = {
    "Northern": "Nord", "North": "Nord", "Southern": "Süd", "South": "Süd",
    "Eastern": "Ost", "East": "Ost", "Western": "West", "West": "West",
    "Northwest": "Nordwest", "Northeast": "Nordost", "Southwest": "Südwest",
    "Southeast": "Südost", "Central": "Zentral",
}  # fmt: skip
#: Last words of English language names and their German form ("Leizhou Chinese" ->
#: "Leizhou-Chinesisch").
_KIND = {"Chinese": "Chinesisch", "Pidgin": "Pidgin", "Creole": "Kreolisch"}
#: Words that show a label is still English after the rules: such a label is marked.
_ENGLISH_WORDS = re.compile(
    r"\b(?:" + "|".join([*(w for w in _COMPASS if w != "West"), "Chinese", "Creole", "Bay",
    "Valley", "River", "Lake", "Plains", "Straits", "New", "Sign Language"]) + r")\b"
)  # fmt: skip
#: Marks a name that exists only in English (no German name in CLDR or iso-codes).
ENGLISH_NAME_MARK = " (engl. Name)"
_PARENTHESIS = re.compile(r"\((?P<inner>[^()]+)\)")


def _german_label(label: str, english: str, territories: dict[str, str]) -> str:
    """A German label where CLDR and iso-codes have only the English name.

    Sign languages become "Gebärdensprache (…)", country names in brackets are
    translated from CLDR ("(South Sudan)" -> "(Südsudan)"), compass words become German
    prefixes and "Chinese", "Pidgin", "Creole" German endings. What is still English then
    is marked with ``ENGLISH_NAME_MARK``, so the German list shows no English name as if it
    were German (the English name stays a search alias).
    """
    if label != english:
        if label.startswith("Gebärdensprache ("):
            return _PARENTHESIS.sub(
                lambda m: f"({territories.get(m['inner'], m['inner'])})", label, count=1
            )
        return label
    match = _SIGN_LANGUAGE.fullmatch(label)
    if match:
        name = territories.get(match["name"], match["name"])
        return f"Gebärdensprache ({name}){match['abbr'] or ''}"
    text = _PARENTHESIS.sub(lambda m: f"({territories.get(m['inner'], m['inner'])})", label)
    head, bracket, rest = text.partition(" (")
    words = head.split(" ")
    prefix = ""
    if len(words) > 1 and words[0] in _COMPASS:
        prefix, words = _COMPASS[words[0]], words[1:]
    elif len(words) > 1 and words[-1] in _COMPASS:
        prefix, words = _COMPASS[words[-1]], words[:-1]
    suffix = ""
    if len(words) > 1 and words[-1] in _KIND:
        suffix, words = _KIND[words[-1]], words[:-1]
    if prefix or suffix:
        core = "-".join(words)
        head = "-".join(part for part in (prefix, core, suffix) if part)
    text = head + (bracket + rest if bracket else "")
    if _ENGLISH_WORDS.search(text):
        text += ENGLISH_NAME_MARK
    return text


#: Languages whose own name (CLDR autonym) is a search alias: those common among the
#: people counselled. Each costs a CLDR locale load (about 10 ms), so not all of CLDR.
AUTONYM_LANGUAGES: tuple[str, ...] = (
    "am", "ar", "az", "bg", "bn", "bs", "ckb", "el", "fa", "ff", "fr", "ha", "hi", "hr",
    "hy", "ig", "ka", "kk", "ku", "ky", "ln", "mk", "ne", "om", "pa", "pl", "ps", "ro",
    "ru", "sd", "so", "sq", "sr", "sw", "ta", "tg", "ti", "tk", "tr", "ug", "uk", "ur",
    "uz", "vi", "wo", "yo", "zh",
)  # fmt: skip


def _autonyms() -> dict[str, str]:
    """CLDR's name of a language in the language itself ("fa" -> "فارسی")."""
    names: dict[str, str] = {}
    for identifier in AUTONYM_LANGUAGES:
        try:
            name = Locale.parse(identifier).get_display_name(identifier)
        except (ValueError, LookupError):  # pragma: no cover - a locale CLDR lacks
            continue
        if name:
            names[identifier] = name
    return names


def _build_languages() -> ReferenceList:
    # Deferred: pycountry, see _translation.
    import pycountry

    cldr = {lang: Locale(lang).languages for lang in ("de", "en")}
    german_territories = Locale("de").territories
    territories = {
        name: german_territories[code]
        for code, name in Locale("en").territories.items()
        if code in german_territories
    }
    iso_de = _translation("iso639-3", "de")
    autonyms = _autonyms()
    # regional CLDR names as aliases of the ISO 639-3 code they denote
    regional = {"prs": ("fa_AF",), "arb": ("ar_001",)}
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
        inverted = getattr(language, "inverted_name", None)
        if inverted:
            aliases += [inverted, iso_de(inverted)]
        aliases += [autonyms[key] for key in keys if key in autonyms]
        for variant in regional.get(code, ()):
            aliases += [cldr[lang][variant] for lang in ("de", "en") if variant in cldr[lang]]
        if alpha_2:
            aliases.append(alpha_2)
        bibliographic = getattr(language, "bibliographic", None)
        if bibliographic:
            aliases.append(bibliographic)
        rank = 0 if (alpha_2 or german) else 1
        if code in LANGUAGE_NAMES:
            de_name, en_name, extra = LANGUAGE_NAMES[code]
            aliases += [labels["de"], labels["en"], *extra]
            labels = {"de": de_name or labels["de"], "en": en_name or labels["en"]}
            rank = 0
        labels["de"] = _german_label(labels["de"], labels["en"], territories)
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
