"""The English catalog is complete: every message id in the code, translated, same fields."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from intake_app.i18n import catalog, language_from_environment, set_language

ROOT = Path(__file__).parents[3]
PO = ROOT / "resources" / "locale" / "en" / "LC_MESSAGES" / "intake.po"
KEYWORDS = {"_": None, "N_": None, "tr": None, "_t": None, "ngettext": (1, 2)}
FIELD = re.compile(r"\{[^{}]*\}")


def _code_ids() -> set[str]:
    ids = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT / "intake_app"),
        method_map=[("**.py", "python")],
        keywords=KEYWORDS,
    ):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def _catalog():  # type: ignore[no-untyped-def]
    with PO.open("rb") as handle:
        return read_po(handle)


def test_every_message_in_the_code_is_translated() -> None:
    translated = {}
    for entry in _catalog():
        if not entry.id:
            continue
        key = entry.id[0] if isinstance(entry.id, tuple) else entry.id
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if all(strings) and not entry.fuzzy:
            translated[key] = entry
    ids = _code_ids()
    assert len(ids) > 1000, "extraction found too few messages: the check would be empty"
    missing = sorted(ids - set(translated))
    assert missing == [], f"{len(missing)} message(s) without English: {missing[:10]}"


def test_placeholders_survive_translation() -> None:
    wrong = []
    for entry in _catalog():
        if not entry.id or not entry.string:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set(FIELD.findall(ids[0]))
        for text in strings:
            if set(FIELD.findall(text)) != wanted:
                wrong.append(ids[0])
    assert wrong == []


def test_switching_language_switches_messages() -> None:
    try:
        set_language("en")
        assert catalog("en").gettext("Benutzername oder Passwort ist falsch.") != (
            "Benutzername oder Passwort ist falsch."
        )
    finally:
        set_language("de")


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"LANG": "C.UTF-8"}, "de"),
        ({"LANG": "C.utf8"}, "de"),
        ({"LANG": "POSIX"}, "de"),
        ({"LC_ALL": "C", "LANG": "en_GB.UTF-8"}, "de"),
        ({"LANG": "en_GB.UTF-8"}, "en"),
        ({"LC_MESSAGES": "en_US.UTF-8", "LANG": "C.UTF-8"}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "de"),
        ({"INTAKE_LANG": "en", "LANG": "C.UTF-8"}, "en"),
    ],
)
def test_the_c_and_posix_locales_give_german(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: str
) -> None:
    for name in ("INTAKE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert language_from_environment() == expected


#: A translation call inside an f-string's braces: the message extractor does not see it,
#: so it would never reach the catalog (the English interface would show German).
_CALL_IN_FSTRING = re.compile(r"""\bf(["']).*?\{[^}]*\b(?:_|tr|_t|ngettext)\(\s*["']""")


def test_no_message_hides_inside_an_f_string() -> None:
    hidden = []
    for path in sorted((ROOT / "intake_app").rglob("*.py")):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if _CALL_IN_FSTRING.search(line):
                hidden.append(f"{path.relative_to(ROOT)}:{number}")
    assert hidden == [], f"translation calls inside f-strings (not extracted): {hidden}"


def test_the_check_sees_a_call_inside_an_f_string() -> None:
    assert _CALL_IN_FSTRING.search("""x = f"<h2>{html.escape(tr('Noch offen'))}</h2>\"""")
    assert not _CALL_IN_FSTRING.search("""x = f"<h2>{still_open}</h2>\"""")
