"""The organisation configuration: who is responsible, and what a person can consent to.

Consent texts are legal texts of the provider, not of the program: a municipal provider
works under the GDPR directly, a Catholic one under the KDG, a Protestant one under the
DSG-EKD, each with its own supervisory authority. So controller, joint controllers, data
protection officer, purposes with data categories and named recipients, and the texts
the person reads (Art. 13 information, "refusing has no effect", "withdraw at any time",
the separate Art. 9 consent) all come from a YAML file; the default ships in
``resources/config/organisation-default.yaml``.
"""

from __future__ import annotations

import dataclasses
import enum
import string
from dataclasses import dataclass, field
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from intake_app.assets import resource
from intake_app.core.forms.errors import FormIssue, FormLoadError
from intake_app.core.forms.loader import parse_file
from intake_app.core.forms.model import REQUIRED_LANGUAGES, LocalText
from intake_app.core.forms.schema_common import ID_RE, LANGUAGE_RE, Issues, Reader
from intake_app.core.forms.yamlload import YMap
from intake_app.i18n import _

DEFAULT_FILE = ("config", "organisation-default.yaml")
CENTRAL_OFFICE = "central_office"
TEXT_KEYS = (
    "consent_intro",
    "refusal_no_effect",
    "withdrawal",
    "art9_consent",
    "art13_information",
)
OPTIONAL_TEXT_KEYS = ("interpreter_confirmation", "minors", "minors_15_17")
#: Texts of the access export (Art. 15 GDPR), printed in German and English only.
ACCESS_TEXT_KEYS = ("retention", "rights", "data_source")
PLACEHOLDERS = ("controller", "dpo", "authority")


class LegalFramework(enum.StrEnum):
    """The data protection law the provider falls under."""

    GDPR = "gdpr"
    KDG = "kdg"
    DSG_EKD = "dsg_ekd"


@dataclass(frozen=True, slots=True)
class Party:
    """A controller, joint controller, data protection officer or supervisory authority."""

    name: str
    address: str = ""
    email: str = ""
    phone: str = ""
    website: str = ""
    responsibility: LocalText | None = None

    def contact(self) -> str:
        """Address and contact in one line."""
        return ", ".join(
            part for part in (self.address, self.email, self.phone, self.website) if part
        )


@dataclass(frozen=True, slots=True)
class Recipient:
    """A named recipient of data under a purpose."""

    id: str
    name: str
    description: LocalText | None = None
    #: the referral services (form section J, ``service``) this recipient stands for
    services: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConsentPurpose:
    """One purpose a person can consent to (or refuse) on its own."""

    id: str
    label_text: LocalText
    description_text: LocalText
    data_categories: tuple[str, ...]
    recipients: tuple[Recipient, ...]
    #: ``handover: true``: the recipients are sites or municipalities of the programme that
    #: take a case over through the central office (docs/security.md, "Hand-over through
    #: the office"); a hand-over to one of them needs this purpose granted.
    handover: bool = False

    def label(self, lang: str = "de") -> str:
        """Short name of the purpose."""
        return self.label_text.get(lang)

    def description(self, lang: str = "de") -> str:
        """What the data are used for, by whom."""
        return self.description_text.get(lang)


@dataclass(frozen=True, slots=True)
class OrganisationConfig:
    """A validated organisation configuration."""

    id: str
    name_text: LocalText
    text_version: str
    legal_framework: LegalFramework
    languages: tuple[str, ...]
    controller: Party
    data_protection_officer: Party
    supervisory_authority: Party
    purposes: tuple[ConsentPurpose, ...]
    data_categories: dict[str, LocalText]
    texts: dict[str, LocalText]
    joint_controllers: tuple[Party, ...] = ()
    source: str = ""
    _purposes: dict[str, ConsentPurpose] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._purposes.update({purpose.id: purpose for purpose in self.purposes})

    def name(self, lang: str = "de") -> str:
        """The organisation's name."""
        return self.name_text.get(lang)

    @property
    def purpose_ids(self) -> tuple[str, ...]:
        """Ids of all purposes, in order."""
        return tuple(purpose.id for purpose in self.purposes)

    def purpose(self, purpose_id: str) -> ConsentPurpose:
        """The purpose with ``purpose_id``; raises ``KeyError``."""
        return self._purposes[purpose_id]

    def handover_recipients(self) -> tuple[tuple[ConsentPurpose, Recipient], ...]:
        """Every site or municipality a case can be handed over to, with the purpose
        (``handover: true``) under which the person consents to it."""
        return tuple(
            (purpose, recipient)
            for purpose in self.purposes
            if purpose.handover
            for recipient in purpose.recipients
        )

    def category_label(self, category: str, lang: str = "de") -> str:
        """The name of a data category."""
        text = self.data_categories.get(category)
        return text.get(lang) if text else category

    def text(self, key: str, lang: str = "de") -> str:
        """A legal text in ``lang`` with {controller}, {dpo}, {authority} filled in."""
        template = self.texts[key].get(lang)
        values = {
            "controller": self.controller.name,
            "dpo": f"{self.data_protection_officer.name}, {self.data_protection_officer.contact()}",
            "authority": f"{self.supervisory_authority.name}, "
            f"{self.supervisory_authority.contact()}",
        }
        text = template.format(**values)
        for value in values.values():  # "… e. V.." after a name that ends with a full stop
            if value.endswith("."):
                text = text.replace(value + ".", value)
        return text


class _OrganisationReader:
    """Validates the located YAML of an organisation file."""

    def __init__(self, issues: Issues) -> None:
        self.issues = issues
        self.read = Reader(issues)
        self.languages: tuple[str, ...] = REQUIRED_LANGUAGES

    def local(self, mapping: YMap, key: str, *, required: bool = True) -> LocalText | None:
        if mapping.get(key) is None:
            if required:
                self.read.add(
                    mapping.line,
                    None,
                    _("„{key}“ fehlt; bitte in allen Sprachen ({langs}) angeben.").format(
                        key=key, langs=", ".join(self.languages)
                    ),
                )
            return None
        text = self.read.local_text(
            mapping, key, None, languages=self.languages, required=self.languages
        )
        if text is not None:
            self._placeholders(text, mapping.line_of(key), key)
        return text

    def _placeholders(self, text: LocalText, line: int, key: str) -> None:
        for lang, value in text.texts.items():
            try:
                names = [
                    name
                    for _lit, name, _spec, _conv in string.Formatter().parse(value)
                    if name is not None
                ]
            except ValueError:
                names = ["{"]
            unknown = [name for name in names if name not in PLACEHOLDERS]
            if unknown:
                message = _(
                    "„{key}“ ({lang}): unbekannter Platzhalter „{{{name}}}“; möglich sind "
                    "{{controller}}, {{dpo}}, {{authority}}; geschweifte Klammern sonst "
                    "verdoppeln."
                )
                self.read.add(line, None, message.format(key=key, lang=lang, name=unknown[0]))

    def party(self, tree: YMap, key: str, *, with_role: bool = False) -> Party | None:
        value = tree.get(key)
        if value is None:
            self.read.add(
                tree.line,
                None,
                _("„{key}“ fehlt; bitte Name und Anschrift angeben.").format(key=key),
            )
            return None
        mapping = self.read.mapping(value, tree.line_of(key), None, f"„{key}“")
        if mapping is None:
            return None
        allowed = ("name", "address", "email", "phone", "website") + (
            ("responsibility",) if with_role else ()
        )
        self.read.keys(mapping, allowed, None, f"„{key}“")
        if not self.read.require(mapping, "name", None, f"„{key}“"):
            return None
        responsibility = self.local(mapping, "responsibility") if with_role else None
        return Party(
            self.read.text(mapping, "name", None) or "",
            self.read.text(mapping, "address", None) or "",
            self.read.text(mapping, "email", None) or "",
            self.read.text(mapping, "phone", None) or "",
            self.read.text(mapping, "website", None) or "",
            responsibility,
        )

    def build(self, tree: Any) -> OrganisationConfig | None:
        read = self.read
        mapping = read.mapping(tree, 1, None, _("Die Organisationsdatei"))
        if mapping is None:
            return None
        read.keys(
            mapping,
            (
                "organisation",
                "text_version",
                "legal_framework",
                "languages",
                "controller",
                "joint_controllers",
                "data_protection_officer",
                "supervisory_authority",
                "data_categories",
                "purposes",
                "texts",
            ),
            None,
            _("der Organisationsdatei"),
        )
        self.languages = self._languages(mapping)
        org = read.mapping(
            mapping.get("organisation"), mapping.line_of("organisation"), None, _("„organisation“")
        )
        org_id = read.identifier(org, "id", None, _("„organisation“")) if org else None
        name = self.local(org, "name") if org else None
        text_version = read.text(mapping, "text_version", None)
        if text_version is None:
            read.add(
                mapping.line,
                None,
                _("„text_version“ fehlt; sie wird mit jeder Einwilligung gespeichert."),
            )
        framework = self._framework(mapping)
        controller = self.party(mapping, "controller")
        dpo = self.party(mapping, "data_protection_officer")
        authority = self.party(mapping, "supervisory_authority")
        joint = self._joint(mapping)
        categories = self._categories(mapping)
        purposes = self._purposes(mapping, categories)
        texts = self._texts(mapping)
        if (
            None in (org_id, name, text_version, framework, controller, dpo, authority)
            or purposes is None
            or texts is None
        ):
            return None
        assert org_id and name and text_version and framework and controller and dpo and authority
        return OrganisationConfig(
            org_id,
            name,
            text_version,
            framework,
            self.languages,
            controller,
            dpo,
            authority,
            tuple(purposes),
            categories,
            texts,
            tuple(joint),
        )

    def _languages(self, mapping: YMap) -> tuple[str, ...]:
        items = self.read.sequence(
            mapping.get("languages"), mapping.line_of("languages"), None, _("„languages“")
        )
        result = list(REQUIRED_LANGUAGES)
        for index, item in enumerate(items or ()):
            if not isinstance(item, str) or not LANGUAGE_RE.fullmatch(item):
                self.read.add(
                    items.line_of(index) if items else 0,
                    None,
                    _("„languages“: „{lang}“ ist kein Sprachcode.").format(lang=item),
                )
            elif item not in result:
                result.append(str(item))
        return tuple(result)

    def _framework(self, mapping: YMap) -> LegalFramework | None:
        raw = mapping.get("legal_framework")
        try:
            return LegalFramework(str(raw))
        except ValueError:
            self.read.add(
                mapping.line_of("legal_framework"),
                None,
                _("„legal_framework“ muss gdpr, kdg oder dsg_ekd sein, nicht „{value}“.").format(
                    value=raw
                ),
            )
            return None

    def _joint(self, mapping: YMap) -> list[Party]:
        items = mapping.get("joint_controllers")
        if items is None:
            return []
        sequence = self.read.sequence(
            items, mapping.line_of("joint_controllers"), None, _("„joint_controllers“")
        )
        parties = []
        for index, item in enumerate(sequence or ()):
            holder = YMap(sequence.line_of(index) if sequence else 0)
            holder["joint_controller"] = item
            holder.key_lines["joint_controller"] = holder.line
            party = self.party(holder, "joint_controller", with_role=True)
            if party is not None:
                parties.append(party)
        return parties

    def _categories(self, mapping: YMap) -> dict[str, LocalText]:
        value = self.read.mapping(
            mapping.get("data_categories"),
            mapping.line_of("data_categories"),
            None,
            _("„data_categories“"),
        )
        result: dict[str, LocalText] = {}
        for key in value or {}:
            if not ID_RE.fullmatch(key):
                self.read.add(
                    value.line_of(key) if value else 0,
                    None,
                    _("„{key}“ ist keine gültige Kennung einer Datenkategorie.").format(key=key),
                )
                continue
            text = self.local(value, key) if value else None
            if text is not None:
                result[key] = text
        return result

    def _purposes(
        self, mapping: YMap, categories: dict[str, LocalText]
    ) -> list[ConsentPurpose] | None:
        read = self.read
        items = read.sequence(
            mapping.get("purposes"), mapping.line_of("purposes"), None, _("„purposes“")
        )
        if items is None:
            return None
        purposes: list[ConsentPurpose] = []
        seen: set[str] = set()
        for index, item in enumerate(items):
            entry = read.mapping(item, items.line_of(index), None, _("Ein Zweck"))
            if entry is None:
                continue
            read.keys(
                entry,
                ("id", "label", "description", "data_categories", "recipients", "handover"),
                None,
                _("einem Zweck"),
            )
            purpose_id = read.identifier(entry, "id", None, _("Ein Zweck"))
            if purpose_id in seen:
                read.add(
                    entry.line_of("id"),
                    None,
                    _("Der Zweck „{id}“ steht doppelt.").format(id=purpose_id),
                )
                continue
            label = self.local(entry, "label")
            description = self.local(entry, "description")
            cats = self._purpose_categories(entry, categories)
            recipients = self._recipients(entry)
            handover = read.boolean(entry, "handover", None, False)
            if purpose_id and label and description and cats and recipients:
                seen.add(purpose_id)
                purposes.append(
                    ConsentPurpose(purpose_id, label, description, cats, recipients, handover)
                )
        if CENTRAL_OFFICE not in seen:
            read.add(
                items.line,
                None,
                _(
                    "Der Zweck „central_office“ (Weitergabe an die Zentrale des "
                    "Programms) fehlt; jede Organisation im Programm muss ihn anbieten."
                ),
            )
        return purposes

    def _purpose_categories(self, entry: YMap, categories: dict[str, LocalText]) -> tuple[str, ...]:
        items = self.read.sequence(
            entry.get("data_categories"),
            entry.line_of("data_categories"),
            None,
            _("„data_categories“ eines Zwecks"),
        )
        result = []
        for index, item in enumerate(items or ()):
            if item not in categories:
                self.read.add(
                    items.line_of(index) if items else 0,
                    None,
                    _(
                        "Unbekannte Datenkategorie „{cat}“; definieren Sie sie unter "
                        "„data_categories“."
                    ).format(cat=item),
                )
                continue
            result.append(str(item))
        return tuple(result)

    def _recipients(self, entry: YMap) -> tuple[Recipient, ...]:
        items = self.read.sequence(
            entry.get("recipients"), entry.line_of("recipients"), None, _("„recipients“")
        )
        result = []
        for index, item in enumerate(items or ()):
            recipient = self.read.mapping(
                item,
                items.line_of(index) if items else 0,
                None,
                _("Eine Empfängerin/ein Empfänger"),
            )
            if recipient is None:
                continue
            self.read.keys(
                recipient, ("id", "name", "description", "services"), None, _("„recipients“")
            )
            rid = self.read.identifier(recipient, "id", None, _("Ein Empfänger"))
            name = self.read.text(recipient, "name", None)
            if name is None:
                self.read.add(
                    recipient.line,
                    None,
                    _("Empfänger ohne „name“; bitte die konkrete Stelle nennen."),
                )
            description = self.local(recipient, "description", required=False)
            services = self._services(recipient)
            if rid and name:
                result.append(Recipient(rid, name, description, services))
        if items is not None and not items:
            self.read.add(
                items.line,
                None,
                _(
                    "Ein Zweck braucht mindestens eine namentlich "
                    "genannte Empfängerin oder einen Empfänger."
                ),
            )
        return tuple(result)

    def _services(self, recipient: YMap) -> tuple[str, ...]:
        raw = recipient.get("services")
        if raw is None:
            return ()
        items = self.read.sequence(
            raw, recipient.line_of("services"), None, _("„services“ eines Empfängers")
        )
        result = []
        for index, item in enumerate(items or ()):
            if not isinstance(item, str) or not ID_RE.fullmatch(item):
                self.read.add(
                    items.line_of(index) if items else 0,
                    None,
                    _(
                        "„services“: „{value}“ ist keine Kennung einer Stelle aus den "
                        "Vermittlungen (z. B. jobcenter)."
                    ).format(value=item),
                )
                continue
            result.append(str(item))
        return tuple(result)

    def _texts(self, mapping: YMap) -> dict[str, LocalText] | None:
        texts = self.read.mapping(
            mapping.get("texts"), mapping.line_of("texts"), None, _("„texts“")
        )
        if texts is None:
            return None
        self.read.keys(texts, TEXT_KEYS + OPTIONAL_TEXT_KEYS + ACCESS_TEXT_KEYS, None, _("„texts“"))
        result: dict[str, LocalText] = {}
        for key in TEXT_KEYS + OPTIONAL_TEXT_KEYS:
            text = self.local(texts, key, required=key in TEXT_KEYS)
            if text is not None:
                result[key] = text
        for key in ACCESS_TEXT_KEYS:
            if texts.get(key) is None:
                continue
            text = self.read.local_text(
                texts, key, None, languages=self.languages, required=REQUIRED_LANGUAGES
            )
            if text is not None:
                self._placeholders(text, texts.line_of(key), key)
                result[key] = text
        return result


def load_organisation(path: Path | Traversable | None = None) -> OrganisationConfig:
    """Load and validate an organisation file (the shipped default when ``path`` is None).

    Raises:
        FormLoadError: listing every problem with file and line.
    """
    source = path if path is not None else resource(*DEFAULT_FILE)
    label = str(source) if isinstance(source, Path) else "resources/" + "/".join(DEFAULT_FILE)
    issues = Issues(label)
    tree = parse_file(source, issues, label)
    config = None
    if tree is not None:
        reader = _OrganisationReader(issues)
        config = reader.build(tree)
    if issues or config is None:
        raise FormLoadError(
            issues.items or [FormIssue(label, 0, None, _("Ungültige Organisationsdatei."))]
        )
    return dataclasses.replace(config, source=label)
