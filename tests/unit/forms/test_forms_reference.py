"""Reference lists: maintained sources, German and English names, fast search."""

from __future__ import annotations

import csv
import io
import time

import pytest

from intake_app.assets import form_resource
from intake_app.core.forms import REFERENCE_NAMES, reference_list, requirement_level
from intake_app.core.forms.reference import KLDB_SOURCE, fold, fold_umlauts


def test_names() -> None:
    assert set(REFERENCE_NAMES) == {"country", "language", "occupation", "occupation_group"}
    with pytest.raises(KeyError):
        reference_list("planets")


def test_countries_in_german_and_english() -> None:
    countries = reference_list("country")
    assert len(countries) >= 250
    assert countries.label("DE") == "Deutschland" and countries.label("DE", "en") == "Germany"
    assert countries.label("SY") == "Syrien"
    assert countries.label("UA", "en") == "Ukraine"
    assert "XK" in countries and countries.label("XK") == "Kosovo"
    assert countries.label("??") == "??"
    assert [item.code for item in countries.search("deu")][:1] == ["DE"]
    assert countries.search("syr", limit=1)[0].code == "SY"
    assert "SY" in [item.code for item in countries.search("Arabische Republik")]
    assert countries.search("syrian arab", lang="en")[0].code == "SY"
    assert countries.search("Turkiye")[0].code == "TR"
    assert countries.all()[0].label("de") <= countries.all()[-1].label("de")


def test_languages_are_iso_639_3() -> None:
    languages = reference_list("language")
    assert len(languages) > 7000
    assert languages.label("prs") == "Dari (Afghanisches Persisch)"
    assert languages.label("ara") == "Arabisch" and languages.label("ara", "en") == "Arabic"
    assert languages.label("ukr") == "Ukrainisch"
    codes = [item.code for item in languages.search("kurd", limit=10)]
    assert {"kmr", "ckb"} <= set(codes)
    assert languages.search("ara")[0].code == "ara"
    assert languages.search("ar")[0].code == "ara"  # ISO 639-1 code as alias
    assert languages.search("tigrinya")[0].code == "tir"


def test_kldb_from_the_shipped_file() -> None:
    rows = list(
        csv.DictReader(
            io.StringIO(
                form_resource("reference", "kldb2010-v2020.csv").read_text(encoding="utf-8")
            )
        )
    )
    levels = [int(row["level"]) for row in rows]
    assert [levels.count(level) for level in range(1, 6)] == [10, 37, 144, 703, 1301]
    occupations = reference_list("occupation")
    groups = reference_list("occupation_group")
    assert len(occupations) == 1301 and len(groups) == 144
    assert occupations.source == KLDB_SOURCE
    assert occupations.label("81302").startswith("Berufe in der Gesundheits- und Krankenpflege")
    assert occupations.label("81302", "en") == occupations.label("81302")  # no English source
    assert groups.label("813") == "Gesundheits- und Krankenpflege, Rettungsdienst und Geburtshilfe"
    assert occupations.search("81302")[0].code == "81302"
    found = [item.code for item in occupations.search("Krankenpflege", limit=100)]
    assert "81302" in found
    assert occupations.search("aerztin")  # umlauts spelled out still match
    assert requirement_level("81302") == "2" and requirement_level("813") is None


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("Bäcker", "Back- und Konditorei"),
        ("Baecker", "Back- und Konditorei"),
        ("Elektriker", "elektrik"),
        ("Friseurin", "Friseur"),
    ],
)
def test_a_job_title_finds_its_occupation_group(query: str, found: str) -> None:
    """The list holds the KldB groups' names, not job titles: a word that matches nothing
    is tried shorter (a new counsellor typed "Bäcker" and got nothing)."""
    labels = [item.label("de") for item in reference_list("occupation").search(query, limit=5)]
    assert labels and all(found.casefold() in label.casefold() for label in labels[:2])


def test_a_word_that_matches_nothing_even_shorter_finds_nothing() -> None:
    assert reference_list("occupation").search("Xqzvwrk") == []


def test_kldb_source_is_documented() -> None:
    readme = form_resource("reference", "README.md").read_text(encoding="utf-8")
    assert "Bundesagentur für Arbeit" in readme
    assert "Klassifikation der Berufe 2010 – überarbeitete Fassung 2020" in readme


def test_folding() -> None:
    assert fold("Ärztin") == "arztin"
    assert fold_umlauts("Ärztin") == "aerztin"
    assert fold("Straße") == "strasse"


def test_search_is_fast_enough_for_typing() -> None:
    languages = reference_list("language")
    languages.search("x")  # build the search keys once
    start = time.perf_counter()
    for query in ("a", "ar", "ara", "arab", "dari", "pers", "kurd", "tigr", "som", "ukr"):
        languages.search(query, limit=50)
    assert (time.perf_counter() - start) / 10 < 0.05


#: What people say in counselling, in German and English, and the code it must find
#: among the first three results.
LANGUAGE_QUERIES = [
    ("Farsi", "fas"),
    ("Farsi", "pes"),
    ("Farsi", "prs"),
    ("Dari", "prs"),
    ("Persisch", "fas"),
    ("Kurmandschi", "kmr"),
    ("Kurmanji", "kmr"),
    ("Badini", "kmr"),
    ("Nordkurdisch", "kmr"),
    ("Sorani", "ckb"),
    ("Zentralkurdisch", "ckb"),
    ("Central Kurdish", "ckb"),
    ("Levantinisch", "apc"),
    ("Levantine", "apc"),
    ("Syrisch-Arabisch", "apc"),
    ("Irakisch", "acm"),
    ("Darija", "ary"),
    ("Tigrinya", "tir"),
    ("Tigrinisch", "tir"),
    ("Paschtu", "pus"),
    ("Pashto", "pus"),
    ("Somali", "som"),
    ("Amharisch", "amh"),
    ("Oromo", "orm"),
    ("Romanes", "rom"),
    ("Fulfulde", "ful"),
    ("Zaza", "zza"),
    ("Hazaragi", "haz"),
    ("Belutschi", "bal"),
    ("Ukrainisch", "ukr"),
    ("Ukrainian", "ukr"),
    ("Twi", "aka"),
    ("DGS", "gsg"),
    ("Kirundi", "run"),
    # the name in the language itself (CLDR)
    ("فارسی", "fas"),
    ("ትግርኛ", "tir"),
    ("پښتو", "pus"),
]


@pytest.mark.parametrize(("query", "code"), LANGUAGE_QUERIES)
def test_language_search_finds_the_names_people_use(query: str, code: str) -> None:
    for lang in ("de", "en"):
        found = [item.code for item in reference_list("language").search(query, lang, 3)]
        assert code in found, (query, lang, found)


def test_german_language_labels_are_german() -> None:
    languages = reference_list("language")
    assert languages.label("kmr") == "Kurmandschi (Nordkurdisch)"
    assert languages.label("kmr", "en") == "Kurmanji (Northern Kurdish)"
    assert languages.label("ckb") == "Sorani (Zentralkurdisch)"
    assert languages.label("prs") == "Dari (Afghanisches Persisch)"
    assert languages.label("apc").startswith("Levantinisches Arabisch")
    assert languages.label("apc", "en").startswith("Levantine Arabic")
    english_only = [
        item.code
        for item in languages.all()
        if item.label("de").endswith("Sign Language")
        or " Sign Language (" in item.label("de")
        or item.label("de").endswith(" Arabic")
        or item.label("de").endswith(" Kurdish")
    ]
    assert english_only == []
    assert languages.label("psc") == "Gebärdensprache (Iranian)"


def test_no_english_name_poses_as_german() -> None:
    import re

    from intake_app.core.forms.reference import ENGLISH_NAME_MARK

    languages = reference_list("language")
    assert languages.label("ncq") == "Nord-Katang"
    assert languages.label("ncq", "en") == "Northern Katang"
    assert languages.label("kue") == "Kuman (Papua-Neuguinea)"
    assert languages.label("lgo") == "Lango (Südsudan)"
    assert languages.label("luh") == "Leizhou-Chinesisch"
    assert languages.label("mfm") == "Süd-Marghi"
    english = re.compile(
        r"\b(?:Northern|Southern|Eastern|Western|North|South|East|Central|Chinese|Creole"
        r"|Bay|Valley|River|Lake|Plains|Straits)\b"
    )
    posing = [
        item.label("de")
        for item in languages.all()
        if english.search(item.label("de")) and not item.label("de").endswith(ENGLISH_NAME_MARK)
    ]
    # German names of iso-codes' German translation that keep a place name
    assert posing == ["Plains-Cree", "Plains-Indianer Gebärdensprache", "Südwest-Bay"]
    # the English name still finds the language in the German list
    assert "ncq" in [item.code for item in languages.search("Northern Katang", "de", 3)]
