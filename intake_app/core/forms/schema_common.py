"""Building blocks of form-file validation: the issue collector, scalars, texts, choices.

Every check reports a :class:`FormIssue` with the line and what to fix, and returns a
usable value (or None) so that one pass finds as many problems as possible.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from intake_app.core.forms.errors import FormIssue
from intake_app.core.forms.model import REQUIRED_LANGUAGES, Choice, LocalText
from intake_app.core.forms.yamlload import YList, YMap, YText, line_of
from intake_app.i18n import _

ID_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
VALUE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
LANGUAGE_RE = re.compile(r"[a-z]{2,3}")
RESERVED_IDS = frozenset({"and", "or", "not", "in", "true", "false", "choice", "choice_tags"})
MAX_TEXT = 20_000
MAX_CHOICES = 500


class Issues:
    """Collects the problems of one load; ``file`` is the label used in messages."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[FormIssue] = []

    def add(self, line: int, qid: str | None, message: str, *, file: str | None = None) -> None:
        """Record one problem."""
        self.items.append(FormIssue(file or self.file, line, qid, message))

    def __bool__(self) -> bool:
        return bool(self.items)


def suggestion(word: str, options: Iterable[str]) -> str:
    """A "did you mean" sentence, or ''."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return _(" Meinten Sie „{word}“?").format(word=close[0]) if close else ""


class Reader:
    """Typed access to located YAML values that reports problems to an :class:`Issues`."""

    def __init__(self, issues: Issues, file: str | None = None) -> None:
        self.issues = issues
        self.file = file

    def add(self, line: int, qid: str | None, message: str) -> None:
        """Record a problem (in this reader's file)."""
        self.issues.add(line, qid, message, file=self.file)

    def mapping(self, value: Any, line: int, qid: str | None, what: str) -> YMap | None:
        """``value`` if it is a mapping, else report and return None."""
        if isinstance(value, YMap):
            return value
        self.add(
            line_of(value, line),
            qid,
            _("{what} muss eine Zuordnung mit „schlüssel: wert“-Zeilen sein.").format(what=what),
        )
        return None

    def sequence(self, value: Any, line: int, qid: str | None, what: str) -> YList | None:
        """``value`` if it is a list, else report and return None."""
        if isinstance(value, YList):
            return value
        self.add(
            line_of(value, line),
            qid,
            _("{what} muss eine Liste sein (Zeilen, die mit „- “ beginnen).").format(what=what),
        )
        return None

    def keys(
        self, mapping: YMap, allowed: Iterable[str], qid: str | None, what: str, *, hint: str = ""
    ) -> None:
        """Report keys of ``mapping`` that are not in ``allowed``."""
        allowed = tuple(allowed)
        for key in mapping:
            if key not in allowed:
                self.add(
                    mapping.line_of(key),
                    qid,
                    _(
                        "unbekannter Schlüssel „{key}“ in {what}.{suggest} Erlaubt sind: "
                        "{allowed}.{hint}"
                    ).format(
                        key=key,
                        what=what,
                        suggest=suggestion(key, allowed),
                        allowed=", ".join(sorted(allowed)),
                        hint=hint,
                    ),
                )

    def require(self, mapping: YMap, key: str, qid: str | None, what: str) -> bool:
        """Report when ``key`` is missing; True when present."""
        if mapping.get(key) is None:
            self.add(
                mapping.line_of(key),
                qid,
                _("„{key}“ fehlt in {what}; bitte ergänzen.").format(key=key, what=what),
            )
            return False
        return True

    def text(self, mapping: YMap, key: str, qid: str | None) -> str | None:
        """A non-empty single text under ``key`` (None when absent or reported)."""
        value = mapping.get(key)
        if value is None:
            return None
        if not isinstance(value, YText) or not value.strip():
            self.add(
                mapping.line_of(key),
                qid,
                _("„{key}“ muss ein einfacher, nicht leerer Text sein.").format(key=key),
            )
            return None
        if len(value) > MAX_TEXT:
            self.add(
                mapping.line_of(key),
                qid,
                _("„{key}“ ist zu lang (höchstens {n} Zeichen).").format(key=key, n=MAX_TEXT),
            )
            return None
        return str(value)

    def boolean(self, mapping: YMap, key: str, qid: str | None, default: bool) -> bool:
        """``true``/``false`` (also yes/no, ja/nein) under ``key``."""
        value = mapping.get(key)
        if value is None:
            return default
        parsed = parse_bool(value)
        if parsed is None:
            self.add(
                mapping.line_of(key),
                qid,
                _("„{key}“ muss true oder false sein, nicht „{value}“.").format(
                    key=key, value=value
                ),
            )
            return default
        return parsed

    def integer(
        self, mapping: YMap, key: str, qid: str | None, *, minimum: int = 0, maximum: int = 10**9
    ) -> int | None:
        """A whole number in a range under ``key``."""
        value = mapping.get(key)
        if value is None:
            return None
        text = str(value).strip() if isinstance(value, YText) else ""
        if not re.fullmatch(r"-?[0-9]{1,10}", text) or not minimum <= int(text) <= maximum:
            self.add(
                mapping.line_of(key),
                qid,
                _(
                    "„{key}“ muss eine ganze Zahl von {low} bis {high} sein, nicht „{value}“."
                ).format(key=key, low=minimum, high=maximum, value=value),
            )
            return None
        return int(text)

    def identifier(self, mapping: YMap, key: str, qid: str | None, what: str) -> str | None:
        """A snake_case id under ``key``."""
        value = mapping.get(key)
        if value is None:
            self.add(
                mapping.line,
                qid,
                _("{what} hat keine „{key}“; bitte ergänzen.").format(what=what, key=key),
            )
            return None
        if not isinstance(value, YText) or not ID_RE.fullmatch(value):
            self.add(
                mapping.line_of(key),
                qid,
                _(
                    "„{value}“ ist keine gültige Kennung: nur Kleinbuchstaben a–z, Ziffern und "
                    "_, am Anfang ein Buchstabe, höchstens 64 Zeichen (z. B. birth_date)."
                ).format(value=value),
            )
            return None
        if value in RESERVED_IDS:
            self.add(
                mapping.line_of(key),
                qid,
                _(
                    "„{value}“ ist ein reserviertes Wort der Ausdruckssprache; wählen Sie eine "
                    "andere Kennung."
                ).format(value=value),
            )
            return None
        return str(value)

    def local_text(
        self,
        mapping: YMap,
        key: str,
        qid: str | None,
        *,
        languages: tuple[str, ...],
        required: tuple[str, ...] = REQUIRED_LANGUAGES,
    ) -> LocalText | None:
        """A text per language (``de:``, ``en:``, …) under ``key``."""
        value = mapping.get(key)
        if value is None:
            return None
        line = mapping.line_of(key)
        if isinstance(value, YText):
            self.add(
                line,
                qid,
                _(
                    "„{key}“ braucht Texte je Sprache, z. B. „{key}: {{de: …, en: …}}“ "
                    "(mindestens {langs})."
                ).format(key=key, langs=", ".join(required)),
            )
            return None
        texts = self.mapping(value, line, qid, f"„{key}“")
        if texts is None:
            return None
        result: dict[str, str] = {}
        for lang, text in texts.items():
            if lang not in languages:
                if LANGUAGE_RE.fullmatch(lang):
                    message = _(
                        "„{key}“: unbekannte Sprache „{lang}“; möglich sind {langs} "
                        "(weitere Sprachen unter client_languages angeben)."
                    )
                else:
                    message = _(
                        "„{key}“: „{lang}“ ist kein Sprachcode. Steht in einem Text in "
                        "{{…}} ein Komma oder Doppelpunkt? Dann setzen Sie den Text in "
                        "Anführungszeichen."
                    )
                self.add(
                    texts.line_of(lang),
                    qid,
                    message.format(key=key, lang=lang, langs=", ".join(languages)),
                )
                continue
            if not isinstance(text, YText) or not text.strip():
                self.add(
                    texts.line_of(lang),
                    qid,
                    _("„{key}“: der Text für „{lang}“ ist leer oder kein Text.").format(
                        key=key, lang=lang
                    ),
                )
                continue
            result[lang] = str(text).strip()
        missing = [lang for lang in required if lang not in result and lang not in texts]
        if missing:
            self.add(
                line,
                qid,
                _("„{key}“: der Text für {langs} fehlt; bitte ergänzen.").format(
                    key=key, langs=", ".join(missing)
                ),
            )
            if "de" not in result:
                return None
        return LocalText(result) if result else None

    def choices(
        self, value: Any, line: int, qid: str | None, *, languages: tuple[str, ...]
    ) -> tuple[Choice, ...] | None:
        """A list of choices (``value``, ``label``, optional ``tags``)."""
        items = self.sequence(value, line, qid, _("„choices“"))
        if items is None:
            return None
        if not items:
            self.add(items.line, qid, _("die Auswahlliste ist leer; tragen Sie Auswahlen ein."))
            return None
        if len(items) > MAX_CHOICES:
            self.add(
                items.line,
                qid,
                _("zu viele Auswahlen (höchstens {n}); verwenden Sie eine Referenzliste.").format(
                    n=MAX_CHOICES
                ),
            )
            return None
        result: list[Choice] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            item_line = items.line_of(index)
            entry = self.mapping(item, item_line, qid, _("Eine Auswahl"))
            if entry is None:
                continue
            self.keys(entry, ("value", "label", "tags"), qid, _("einer Auswahl"))
            raw = entry.get("value")
            if raw is None or not isinstance(raw, YText) or not VALUE_RE.fullmatch(raw):
                self.add(
                    entry.line_of("value"),
                    qid,
                    _(
                        "Auswahl {n}: „value“ fehlt oder ist ungültig („{value}“); erlaubt sind "
                        "Buchstaben, Ziffern, _ . -, höchstens 64 Zeichen."
                    ).format(n=index + 1, value=raw if raw is not None else ""),
                )
                continue
            if raw in seen:
                self.add(
                    entry.line_of("value"),
                    qid,
                    _("der Auswahlwert „{value}“ steht doppelt (zuerst in Zeile {first}).").format(
                        value=raw, first=seen[raw]
                    ),
                )
                continue
            seen[raw] = entry.line_of("value")
            if entry.get("label") is None:
                self.add(
                    entry.line,
                    qid,
                    _("Auswahl „{value}“ hat kein „label“; bitte ergänzen.").format(value=raw),
                )
                continue
            label = self.local_text(entry, "label", qid, languages=languages)
            tags = self.tags(entry, qid)
            if label is not None:
                result.append(Choice(str(raw), label, tags, entry.line))
        return tuple(result)

    def tags(self, entry: YMap, qid: str | None) -> tuple[str, ...]:
        """The optional ``tags`` list of a choice."""
        value = entry.get("tags")
        if value is None:
            return ()
        items = self.sequence(value, entry.line_of("tags"), qid, _("„tags“"))
        if items is None:
            return ()
        tags = []
        for index, tag in enumerate(items):
            if not isinstance(tag, YText) or not VALUE_RE.fullmatch(tag):
                self.add(
                    items.line_of(index),
                    qid,
                    _("„tags“: „{tag}“ ist kein gültiger Wert.").format(tag=tag),
                )
                continue
            tags.append(str(tag))
        return tuple(tags)


def parse_bool(value: Any) -> bool | None:
    """``true``/``false`` written in the usual ways, else None."""
    if isinstance(value, YText):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "ja", "on"):
            return True
        if lowered in ("false", "no", "nein", "off"):
            return False
    return None
