"""Malformed form files: each kind of mistake gives its own message with file and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from intake_app.core.forms import FormLoadError, check_files, load_form
from intake_app.errors import ValidationError

HEAD = """\
form: demo
version: "1"
title: {de: Demo, en: Demo}
"""

GOOD = (
    HEAD
    + """\
sections:
  - id: main
    label: {de: Haupt, en: Main}
    questions:
      - id: birth_date
        type: date
        label: {de: Geburtsdatum, en: Date of birth}
      - id: doc
        type: choice
        label: {de: Dokument, en: Document}
        choices:
          - {value: ae, label: {de: AE, en: RP}}
          - {value: duldung, label: {de: Duldung, en: Toleration}}
"""
)


def _question(body: str) -> str:
    return GOOD + body


# (name, file text, expected line, expected question id or None, expected fragment)
CASES: list[tuple[str, str, int, str | None, str]] = [
    ("yaml syntax", HEAD + "sections:\n  - id: main\n   label: x\n", 6, None, "kein gültiges YAML"),
    ("empty file", "", 0, None, "leer"),
    ("top level is a list", "- form: x\n", 1, None, "keine Liste"),
    (
        "missing version",
        "form: demo\ntitle: {de: D, en: D}\nsections: []\n",
        1,
        None,
        "„version“ fehlt",
    ),
    ("bad version", GOOD.replace('version: "1"', "version: eins"), 2, None, "keine Versionsnummer"),
    ("unknown top-level key", GOOD + "sektions: []\n", 17, None, "Meinten Sie „sections“"),
    ("duplicate yaml key", GOOD.replace("title:", "form: again\ntitle:"), 3, None, "steht doppelt"),
    ("yaml alias", GOOD + "value_sets: &a {}\ndescription: *a\n", 18, None, "Aliase"),
    (
        "unknown type",
        _question("      - id: x\n        type: datum\n        label: {de: X, en: X}\n"),
        18,
        "x",
        "unbekannter Typ „datum“. Meinten Sie „date“?",
    ),
    (
        "missing type",
        _question("      - id: x\n        label: {de: X, en: X}\n"),
        17,
        "x",
        "„type“ fehlt",
    ),
    (
        "invalid id",
        _question("      - id: Birth-Date\n        type: text\n        label: {de: X, en: X}\n"),
        17,
        None,
        "keine gültige Kennung",
    ),
    (
        "reserved id",
        _question("      - id: choice\n        type: text\n        label: {de: X, en: X}\n"),
        17,
        None,
        "reserviertes Wort",
    ),
    (
        "duplicate question id",
        _question("      - id: doc\n        type: text\n        label: {de: X, en: X}\n"),
        17,
        "doc",
        "steht doppelt (zuerst in Zeile 11)",
    ),
    (
        "missing English label",
        _question("      - id: x\n        type: text\n        label: {de: X}\n"),
        19,
        "x",
        "der Text für en fehlt",
    ),
    (
        "label without languages",
        _question("      - id: x\n        type: text\n        label: Nur Deutsch\n"),
        19,
        "x",
        "Texte je Sprache",
    ),
    (
        "comma in flow text",
        _question("      - id: x\n        type: text\n        label: {de: A, B, en: C}\n"),
        19,
        "x",
        "Anführungszeichen",
    ),
    (
        "unknown key with suggestion",
        _question(
            "      - id: x\n        type: text\n        lable: {de: X, en: X}\n"
            "        label: {de: X, en: X}\n"
        ),
        19,
        "x",
        "Meinten Sie „label“",
    ),
    (
        "key of another type",
        _question(
            "      - id: x\n        type: date\n        label: {de: X, en: X}\n"
            "        choices: [{value: a, label: {de: A, en: A}}]\n"
        ),
        20,
        "x",
        "gibt es bei Typ „date“ nicht",
    ),
    (
        "choice without choices",
        _question("      - id: x\n        type: choice\n        label: {de: X, en: X}\n"),
        17,
        "x",
        "„choices“ fehlt",
    ),
    (
        "duplicate choice value",
        _question(
            "      - id: x\n        type: choice\n        label: {de: X, en: X}\n"
            "        choices:\n          - {value: a, label: {de: A, en: A}}\n"
            "          - {value: a, label: {de: B, en: B}}\n"
        ),
        22,
        "x",
        "„a“ steht doppelt",
    ),
    (
        "unknown value set",
        _question(
            "      - id: x\n        type: choice\n        label: {de: X, en: X}\n"
            "        choices: documents\n"
        ),
        20,
        "x",
        "unbekannte Werteliste „documents“",
    ),
    (
        "unknown reference list",
        _question(
            "      - id: x\n        type: reference\n        reference: contry\n"
            "        label: {de: X, en: X}\n"
        ),
        19,
        "x",
        "Meinten Sie „country“",
    ),
    (
        "repeat min above max",
        _question(
            "      - id: kids\n        type: repeat\n        label: {de: K, en: K}\n"
            "        min: 5\n        max: 2\n        questions:\n"
            "          - {id: kid_age, type: integer, label: {de: A, en: A}}\n"
        ),
        20,
        "kids",
        "größer als „max“",
    ),
    (
        "expression syntax error",
        _question(
            "      - id: x\n        type: text\n        label: {de: X, en: X}\n"
            "        relevant: age(birth_date) >\n"
        ),
        20,
        "x",
        "relevant: Unerwartet",
    ),
    (
        "unknown question in expression",
        _question(
            "      - id: x\n        type: text\n        label: {de: X, en: X}\n"
            "        relevant: birth_dat < today()\n"
        ),
        20,
        "x",
        "unbekannte Frage „birth_dat“. Meinten Sie „birth_date“? (Spalte 19)",
    ),
    (
        "type mismatch in expression",
        _question(
            "      - id: x\n        type: text\n        label: {de: X, en: X}\n"
            "        relevant: birth_date > 18\n"
        ),
        20,
        "x",
        "links steht ein Datum, rechts eine ganze Zahl",
    ),
    (
        "wrong arity",
        _question(
            "      - id: x\n        type: text\n        label: {de: X, en: X}\n"
            "        relevant: age() > 18\n"
        ),
        20,
        "x",
        "age() bekommt 0 Argument(e)",
    ),
    (
        "unknown choice value in expression",
        _question(
            "      - id: x\n        type: text\n        label: {de: X, en: X}\n"
            "        relevant: doc = 'aufenthaltserlaubnis'\n"
        ),
        20,
        "x",
        "keine Auswahl von „doc“; möglich sind: ae, duldung",
    ),
    (
        "calculation of the wrong type",
        _question(
            "      - id: x\n        type: integer\n        label: {de: X, en: X}\n"
            "        calculate: birth_date\n"
        ),
        20,
        "x",
        "„calculate“ ergibt ein Datum",
    ),
    (
        "circular relevance",
        _question(
            "      - id: a1\n        type: yes_no\n        label: {de: A, en: A}\n"
            "        relevant: b1\n"
            "      - id: b1\n        type: yes_no\n        label: {de: B, en: B}\n"
            "        relevant: a1\n"
        ),
        17,
        "a1",
        "im Kreis",
    ),
    (
        "constraint without message",
        _question(
            "      - id: x\n        type: integer\n        label: {de: X, en: X}\n"
            "        constraint: . > 0\n"
        ),
        20,
        "x",
        "fehlt „constraint_message“",
    ),
    (
        "default of the wrong type",
        _question(
            "      - id: x\n        type: integer\n        label: {de: X, en: X}\n"
            "        default: viele\n"
        ),
        20,
        "x",
        "„default“: Bitte eine ganze Zahl",
    ),
    (
        "question of another repeat",
        _question(
            "      - id: kids\n        type: repeat\n        label: {de: K, en: K}\n"
            "        questions:\n          - {id: kid_age, type: integer, label: {de: A, en: A}}\n"
            "      - id: x\n        type: text\n        label: {de: X, en: X}\n"
            "        relevant: kid_age > 3\n"
        ),
        25,
        "x",
        "gehört zur Wiederholungsgruppe „kids“",
    ),
    (
        "special category without Art. 9 guard",
        _question(
            "      - id: health\n        type: yes_no\n        special_category: true\n"
            "        label: {de: G, en: H}\n"
        ),
        17,
        "health",
        "Art. 9",
    ),
    (
        "client-facing text missing a client language",
        HEAD.replace("title:", "client_languages: [ar, uk]\ntitle:")
        + GOOD[len(HEAD) :]
        + "      - id: note1\n        type: note\n        client_facing: true\n"
        "        label: {de: Hinweis, en: Note, ar: ملاحظة}\n",
        21,
        "note1",
        "der Text für uk fehlt",
    ),
    (
        "rename to a missing question",
        GOOD.replace(
            'version: "1"',
            'version: "2"\nprevious_version: "1"\nchanges:\n  - rename: old_name\n    to: new_name',
        ),
        5,
        None,
        "„new_name“ gibt es in diesem Formular nicht",
    ),
    (
        "removal of a question that still exists",
        GOOD.replace(
            'version: "1"', 'version: "2"\nprevious_version: "1"\nchanges:\n  - remove: doc'
        ),
        5,
        None,
        "gibt es in diesem Formular noch",
    ),
    (
        "changes without previous version",
        GOOD.replace('version: "1"', 'version: "1"\nchanges:\n  - remove: gone'),
        3,
        None,
        "previous_version",
    ),
    ("include outside the folder", GOOD + "include: [../secret.yaml]\n", 17, None, "ohne „..“"),
    ("missing include", GOOD + "include: [reference/none.yaml]\n", 17, None, "gibt es weder"),
    ("control character", GOOD + 'description: {de: "a\x01", en: b}\n', 17, None, "Steuerzeichen"),
]


@pytest.mark.parametrize(
    ("name", "text", "line", "qid", "fragment"), CASES, ids=[case[0] for case in CASES]
)
def test_each_mistake_has_its_message(
    write_form: Callable[..., Path],
    name: str,
    text: str,
    line: int,
    qid: str | None,
    fragment: str,
) -> None:
    path = write_form(text)
    with pytest.raises(FormLoadError) as caught:
        load_form(path)
    issues = caught.value.issues
    matching = [issue for issue in issues if fragment in issue.message]
    assert matching, [issue.format() for issue in issues]
    issue = matching[0]
    assert issue.file == str(path)
    assert issue.line == line, issue.format()
    assert issue.question_id == qid
    formatted = issue.format()
    assert formatted.startswith(f"{path}:{line}: ")
    if qid:
        assert f"Frage „{qid}“" in formatted


def test_at_least_fifteen_kinds() -> None:
    assert len(CASES) >= 15


def test_good_file_is_valid(write_form: Callable[..., Path]) -> None:
    path = write_form(GOOD)
    assert check_files([path]) == []
    form = load_form(path)
    assert [q.id for q in form] == ["birth_date", "doc"]


def test_error_is_a_validation_error_with_all_issues(write_form: Callable[..., Path]) -> None:
    path = write_form(
        _question(
            "      - id: x\n        type: datum\n        label: {de: X, en: X}\n"
            "      - id: y\n        type: text\n        label: {de: Y}\n"
        )
    )
    with pytest.raises(ValidationError) as caught:
        load_form(path)
    assert isinstance(caught.value, FormLoadError)
    assert len(caught.value.issues) == 2
    assert "1 weitere" in str(caught.value)


def test_check_files_lines(write_form: Callable[..., Path]) -> None:
    good = write_form(GOOD, "good.yaml")
    bad = write_form(
        _question("      - id: x\n        type: datum\n        label: {de: X, en: X}\n"), "bad.yaml"
    )
    lines = check_files([good, bad])
    assert lines == [
        f"{bad}:18: Frage „x“: unbekannter Typ „datum“. Meinten Sie „date“? "
        "Möglich sind: text, long_text, integer, decimal, date, yes_no, choice, "
        "multi_choice, reference, cefr, repeat, note, consent."
    ]


def test_check_files_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert check_files([missing]) == [f"{missing}:0: Die Datei gibt es nicht."]


def test_block_scalar_expression_error_points_at_its_line(
    write_form: Callable[..., Path],
) -> None:
    path = write_form(
        _question(
            "      - id: x\n        type: text\n        label: {de: X, en: X}\n"
            "        relevant: >-\n          doc = 'ae'\n          and birth_dat < today()\n"
        )
    )
    lines = check_files([path])
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}:22: Frage „x“: relevant: unbekannte Frage „birth_dat“")
    assert lines[0].endswith("(Spalte 15)")


def test_several_problems_in_one_run(write_form: Callable[..., Path]) -> None:
    text = GOOD.replace('version: "1"', "version: x") + (
        "      - id: y\n        type: text\n        label: {de: Y, en: Y}\n"
        "        relevant: doc = 'nope'\n"
    )
    lines = check_files([write_form(text)])
    assert any("Versionsnummer" in line for line in lines)
    assert any("„nope“ ist keine Auswahl" in line for line in lines)


def test_yaml_values_stay_text_and_nulls_are_null() -> None:
    from intake_app.core.forms.yamlload import YText, load_located

    tree = load_located("a: NO\nb: 2026.10\nc: null\nd: ~\ne:\nf: 'null'\ng: yes\n")
    assert tree["a"] == "NO" and tree["b"] == "2026.10" and tree["g"] == "yes"
    assert tree["c"] is None and tree["d"] is None and tree["e"] is None
    assert isinstance(tree["f"], YText) and tree["f"] == "null" and not tree["f"].plain
    assert tree["a"].plain and tree.line_of("g") == 7


@pytest.mark.parametrize("loader", ["SafeLoader", "CSafeLoader"])
def test_pure_python_and_libyaml_readers_agree(
    monkeypatch: pytest.MonkeyPatch, loader: str
) -> None:
    import yaml

    from intake_app.core.forms import yamlload

    if not hasattr(yaml, loader):
        loader = "SafeLoader"
    chosen = getattr(yaml, loader)
    monkeypatch.setattr(yamlload, "_loader_class", lambda: chosen)
    tree = yamlload.load_located("a: x\nb: >-\n  one\n  two\nc: null\n")
    assert tree == {"a": "x", "b": "one two", "c": None}
    assert tree["a"].plain and tree["b"].locate(5) == (4, 3)
    with pytest.raises(yamlload.YamlProblem) as caught:
        yamlload.load_located("a: &x 1\nb: *x\n")
    assert caught.value.line == 2
    with pytest.raises(yamlload.YamlProblem) as caught:
        yamlload.load_located("a: 1\na: 2\n")
    assert caught.value.line == 2
