"""Organisation configuration: consent purposes and legal texts are data, per provider."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from intake_app.assets import resource
from intake_app.core.forms import (
    FormLoadError,
    LegalFramework,
    OrganisationConfig,
    load_organisation,
)

EXAMPLE = Path(str(resource("config", "examples", "organisation-caritas-example.yaml")))
ALL = ("de", "en", "ar", "uk", "ru", "tr", "fa")


@pytest.fixture(scope="module")
def default() -> OrganisationConfig:
    return load_organisation()


def test_default_configuration(default: OrganisationConfig) -> None:
    assert default.legal_framework is LegalFramework.GDPR
    assert default.languages == ALL
    assert default.purpose_ids[0] == "central_office"
    assert "LDI NRW" in default.supervisory_authority.name
    assert default.joint_controllers and default.joint_controllers[0].responsibility
    for purpose in default.purposes:
        assert purpose.recipients and purpose.data_categories
        for lang in ALL:
            assert purpose.label(lang) and purpose.description(lang)
        for category in purpose.data_categories:
            assert default.category_label(category, "ar") != category


def test_texts_in_every_language(default: OrganisationConfig) -> None:
    for key in (
        "consent_intro",
        "refusal_no_effect",
        "withdrawal",
        "art9_consent",
        "art13_information",
    ):
        texts = {lang: default.text(key, lang) for lang in ALL}
        assert len(set(texts.values())) == len(ALL), key
        for text in texts.values():
            assert "{" not in text
    info = default.text("art13_information", "de")
    assert default.controller.name in info and default.data_protection_officer.name in info
    for right in ("Auskunft", "Berichtigung", "Löschung", "Einschränkung", "Widerspruch"):
        assert right in info
    assert "Art. 9" in default.text("art9_consent", "de")


def test_church_provider_is_only_configuration(default: OrganisationConfig) -> None:
    caritas = load_organisation(EXAMPLE)
    assert caritas.legal_framework is LegalFramework.KDG
    assert "Katholisches Datenschutzzentrum" in caritas.supervisory_authority.name
    assert "central_office" in caritas.purpose_ids
    assert caritas.purpose_ids != default.purpose_ids
    assert "§ 15 KDG" in caritas.text("art13_information", "de")
    assert "DSGVO" not in caritas.text("art13_information", "de")
    assert "KDG" in caritas.text("art9_consent", "uk")
    assert "e. V.." not in caritas.text("art13_information", "de")


ORG = """\
organisation:
  id: mini
  name: {de: Mini, en: Mini}
text_version: "1"
legal_framework: gdpr
languages: [de, en]
controller: {name: Stadt}
data_protection_officer: {name: DSB}
supervisory_authority: {name: LDI}
data_categories:
  identity: {de: Name, en: Name}
purposes:
  - id: central_office
    label: {de: Zentrale, en: Central}
    description: {de: Weitergabe, en: Transfer}
    data_categories: [identity]
    recipients:
      - {id: office, name: Zentralstelle}
texts:
  consent_intro: {de: "Verantwortlich: {controller}", en: "Controller: {controller}"}
  refusal_no_effect: {de: Freiwillig, en: Voluntary}
  withdrawal: {de: Widerruf, en: Withdrawal}
  art9_consent: {de: Art. 9, en: Art. 9}
  art13_information: {de: "DSB: {dpo}; Aufsicht: {authority}", en: "DPO: {dpo}"}
"""


def test_minimal_file(write_form: Callable[..., Path]) -> None:
    config = load_organisation(write_form(ORG, "org.yaml"))
    assert config.text("consent_intro") == "Verantwortlich: Stadt"
    assert config.purpose("central_office").recipients[0].name == "Zentralstelle"


@pytest.mark.parametrize(
    ("old", "new", "line", "fragment"),
    [
        ("legal_framework: gdpr", "legal_framework: church", 5, "gdpr, kdg oder dsg_ekd"),
        ("  - id: central_office", "  - id: other_purpose", 13, "„central_office“"),
        (
            "    label: {de: Zentrale, en: Central}",
            "    label: {de: Zentrale}",
            14,
            "der Text für en fehlt",
        ),
        (
            "    data_categories: [identity]",
            "    data_categories: [health]",
            16,
            "Unbekannte Datenkategorie „health“",
        ),
        (
            "      - {id: office, name: Zentralstelle}",
            "      - {id: office}",
            18,
            "konkrete Stelle",
        ),
        ('"Controller: {controller}"', '"Controller: {boss}"', 20, "{boss}"),
        ("  withdrawal: {de: Widerruf, en: Withdrawal}\n", "", 20, "„withdrawal“ fehlt"),
        ("languages: [de, en]", "languages: [de, en, ar]", 3, "der Text für ar fehlt"),
    ],
)
def test_mistakes_are_reported(
    write_form: Callable[..., Path], old: str, new: str, line: int, fragment: str
) -> None:
    assert old in ORG
    path = write_form(ORG.replace(old, new), "org.yaml")
    with pytest.raises(FormLoadError) as caught:
        load_organisation(path)
    matching = [issue for issue in caught.value.issues if fragment in issue.message]
    assert matching, [issue.format() for issue in caught.value.issues]
    assert matching[0].line == line, matching[0].format()
    assert matching[0].file == str(path)
