"""One gettext catalog for the interface, the PDFs and the command line.

Message ids in the code are German (German is the primary language and therefore always
complete); ``resources/locale/en/LC_MESSAGES/intake.po`` translates them to English.
``core`` and ``reports`` have no Qt, so they translate with :func:`_` from here; the Qt
layer installs Qt's own catalog (``qtbase_de.qm``) in addition.

Compiled ``.mo`` files are built for the packaged program; a checkout without them
compiles the ``.po`` source in memory on first use (Babel), so nothing generated needs
to be committed.
"""

from __future__ import annotations

import gettext
import io
import locale
import os
import threading
from collections.abc import Callable

from intake_app.assets import resource

DOMAIN = "intake"
DEFAULT_LANGUAGE = "de"
LANGUAGES: tuple[str, ...] = ("de", "en")
LANGUAGE_NAMES = {"de": "Deutsch", "en": "English"}

_lock = threading.Lock()
_catalogs: dict[str, gettext.NullTranslations] = {}
_current_language = DEFAULT_LANGUAGE


def _load_catalog(language: str) -> gettext.NullTranslations:
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    folder = resource("locale", language, "LC_MESSAGES")
    mo = folder.joinpath(f"{DOMAIN}.mo")
    po = folder.joinpath(f"{DOMAIN}.po")
    if mo.is_file() and (not po.is_file() or _is_newer(mo, po)):
        with mo.open("rb") as handle:
            return gettext.GNUTranslations(handle)
    if not po.is_file():
        return gettext.NullTranslations()
    # Deferred: Babel compiles the .po source only in a checkout without .mo files, and
    # only for a language other than German (docs/architecture.md, "Start-up").
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def _is_newer(first: object, second: object) -> bool:
    try:
        return os.stat(str(first)).st_mtime >= os.stat(str(second)).st_mtime
    except OSError:
        return True


def catalog(language: str) -> gettext.NullTranslations:
    """Return the (cached) translations for ``language``; German needs none."""
    known = _catalogs.get(language)  # the common case: asked for by its code, loaded
    if known is not None:
        return known
    language = normalise_language(language)
    with _lock:
        if language not in _catalogs:
            _catalogs[language] = _load_catalog(language)
        return _catalogs[language]


def normalise_language(value: str | None) -> str:
    """Map ``"en_GB.UTF-8"`` or ``"EN"`` to a supported language code, German otherwise."""
    if not value:
        return DEFAULT_LANGUAGE
    code = value.replace("-", "_").split("_")[0].split(".")[0].lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def set_language(language: str) -> str:
    """Switch the process-wide language for messages; returns the language now in use."""
    global _current_language
    _current_language = normalise_language(language)
    catalog(_current_language)
    return _current_language


def current_language() -> str:
    """The language messages are currently translated to."""
    return _current_language


def language_from_environment() -> str:
    """The language asked for by ``INTAKE_LANG``, else by the system locale, else German."""
    explicit = os.environ.get("INTAKE_LANG")
    if explicit:
        return normalise_language(explicit)
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if not value:
            continue
        if value.split(".")[0] in ("C", "POSIX"):
            # The C and POSIX locales name no language. Python's own lookup would map
            # C.UTF-8 to en_US, so it is not asked: German, the program's language.
            return DEFAULT_LANGUAGE
        return normalise_language(value)
    try:
        system = locale.getlocale()[0]
    except ValueError:  # pragma: no cover - broken locale settings
        system = None
    return normalise_language(system)


def _(message: str) -> str:
    """Translate ``message`` (a German message id) into the current language."""
    return catalog(_current_language).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """Translate a message with a count (German ids for singular and plural)."""
    return catalog(_current_language).ngettext(singular, plural, count)


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it yet (translated at use)."""
    return message


def translator(language: str) -> Callable[[str], str]:
    """A ``gettext`` function fixed to one language (a PDF printed in English on request)."""
    translations = catalog(language)
    return translations.gettext
