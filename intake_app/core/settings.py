"""Every setting in one place: name, type, default, description, limits and where it lives.

Profile settings live in the encrypted database (an administrator changes them); device
settings live in the profile's ``profile.json`` because they are needed before anyone
has logged in (the language of the log-in window). Stored settings are upgraded by
versioned steps (:data:`UPGRADES`), in the manner of Picard's ``config_upgrade``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from intake_app.core.records import EXPIRY_WARNING_DAYS
from intake_app.errors import ValidationError
from intake_app.i18n import LANGUAGES, N_, _


class Scope(enum.StrEnum):
    """Where a setting is kept."""

    PROFILE = "profile"  # in the encrypted database
    DEVICE = "device"  # in profile.json, readable before log-in


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """Declaration of one setting.

    ``extra`` holds presentation hints for the settings window: ``help`` (a German
    message id explaining the setting), ``suffix`` and ``step`` for numbers, ``format``
    (``"url"`` is validated as an http(s) address) and ``max_length`` for text.
    """

    key: str
    type: type
    default: Any
    description: str  # German message id, translated when shown
    scope: Scope = Scope.PROFILE
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    multiline: bool = False
    group: str = N_("Allgemein")
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to the declared type, or raise :class:`ValidationError`."""
        label = _(self.description)
        try:
            if self.type is bool:
                if isinstance(value, str):
                    lowered = value.strip().lower()
                    if lowered not in {"true", "false", "1", "0", "ja", "nein", "yes", "no"}:
                        raise ValueError(value)
                    converted: Any = lowered in {"true", "1", "ja", "yes"}
                else:
                    converted = bool(value)
            elif self.type is int:
                if isinstance(value, bool):
                    raise ValueError(value)
                converted = int(value)
            else:
                converted = self.type(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: int(1e999)
            raise ValidationError(
                _("„{label}“: ungültiger Wert „{value}“.").format(label=label, value=value)
            ) from None
        if self.minimum is not None and converted < self.minimum:
            raise ValidationError(
                _("„{label}“ muss mindestens {n} sein.").format(label=label, n=self.minimum)
            )
        if self.maximum is not None and converted > self.maximum:
            raise ValidationError(
                _("„{label}“ darf höchstens {n} sein.").format(label=label, n=self.maximum)
            )
        if self.extra.get("format") == "url" and converted:
            converted = _check_url(str(converted).strip(), label)
        limit = int(self.extra.get("max_length", 10_000))
        if isinstance(converted, str) and len(converted) > limit:
            raise ValidationError(
                _("„{label}“ darf höchstens {n} Zeichen lang sein.").format(label=label, n=limit)
            )
        if self.choices and converted not in self.choices:
            raise ValidationError(
                _("„{label}“: erlaubt sind {choices}.").format(
                    label=label, choices=", ".join(self.choices)
                )
            )
        return converted


def _check_url(value: str, label: str) -> str:
    """An ``http(s)://host`` address without a trailing slash, or a ValidationError."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in value:
        raise ValidationError(
            _(
                "„{label}“: bitte eine Adresse wie https://zentrale.example.de eingeben "
                "(beginnend mit https:// oder http://)."
            ).format(label=label)
        )
    return value.rstrip("/")


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "ui.language",
        str,
        "de",
        N_("Sprache der Oberfläche"),
        Scope.DEVICE,
        choices=LANGUAGES,
        extra={
            "help": N_(
                "Gilt für dieses Gerät, auch für die Anmeldung. Ausdrucke für Klientinnen und "
                "Klienten wählen ihre Sprache beim Drucken."
            )
        },
    ),
    SettingSpec(
        "site.name",
        str,
        "",
        N_("Name des Standorts"),
        group=N_("Organisation"),
        extra={
            "help": N_(
                "Erscheint im Fenstertitel, in neuen Akten und auf Ausdrucken, z. B. "
                "„Kommunales Integrationszentrum Köln, Mülheim“. Gilt ab der nächsten Anmeldung."
            ),
            "max_length": 200,
        },
    ),
    SettingSpec(
        "security.autolock_minutes",
        int,
        10,
        N_("Automatische Sperre nach Minuten ohne Eingabe"),
        minimum=1,
        maximum=120,
        group=N_("Sicherheit"),
        extra={
            "help": N_(
                "Nach dieser Zeit ohne Tastatur- oder Mauseingabe wird das Fenster verdeckt "
                "und verlangt das Passwort. Auf gemeinsam genutzten Geräten höchstens 10 Minuten."
            ),
            "suffix": N_(" Minuten"),
        },
    ),
    SettingSpec(
        "retention.days_after_close",
        int,
        730,
        N_("Aufbewahrung nach Abschluss des Falls (Tage)"),
        minimum=30,
        maximum=3650,
        group=N_("Datenschutz"),
        extra={
            "help": N_(
                "Abgeschlossene Fälle, die die Zentrale bestätigt hat, werden nach dieser Frist "
                "auf diesem Gerät gelöscht. Die Frist legt Ihr Träger im Löschkonzept fest."
            ),
            "suffix": N_(" Tage"),
        },
    ),
    SettingSpec(
        "records.expiry_warning_days",
        int,
        EXPIRY_WARNING_DAYS,
        N_("Vorwarnzeit für ablaufende Aufenthaltstitel (Tage)"),
        minimum=7,
        maximum=365,
        group=N_("Allgemein"),
        extra={
            "help": N_(
                "So viele Tage vor dem Ablauf wird ein Aufenthaltstitel im Interview, in der "
                "Fallliste, in der Übersicht und auf den Ausdrucken als „läuft bald ab“ markiert."
            ),
            "suffix": N_(" Tage"),
        },
    ),
    SettingSpec(
        "print.include_special_categories",
        bool,
        False,
        N_("Besondere Kategorien (Art. 9) standardmäßig drucken"),
        group=N_("Datenschutz"),
        extra={
            "help": N_(
                "Gesundheitsangaben und andere besondere Kategorien erscheinen nur mit der "
                "Einwilligung nach Art. 9 DSGVO auf Ausdrucken. Ist das Feld aus, muss man sie "
                "bei jedem Ausdruck eigens auswählen."
            )
        },
    ),
    SettingSpec(
        "sync.server_url",
        str,
        "",
        N_("Adresse der Zentrale"),
        group=N_("Übermittlung"),
        extra={
            "help": N_(
                "Die Internetadresse, an die abgeschlossene Aufnahmen verschlüsselt gesendet "
                "werden, z. B. https://zentrale.example.de. Sie steht auch in der "
                "Registrierungsdatei der Zentrale."
            ),
            "format": "url",
        },
    ),
    SettingSpec(
        "sync.batch_max_bytes",
        int,
        8 * 1024 * 1024,
        N_("Größte Übermittlungsdatei (Bytes)"),
        minimum=64 * 1024,
        maximum=256 * 1024 * 1024,
        group=N_("Übermittlung"),
        extra={
            "help": N_(
                "Größere Übermittlungen werden auf mehrere Stapel verteilt. Nur ändern, wenn "
                "die Zentrale darum bittet."
            ),
            "suffix": N_(" Bytes"),
            "step": 1024 * 1024,
        },
    ),
    SettingSpec(
        "backup.keep_days",
        int,
        14,
        N_("Sicherungen aufbewahren (Tage)"),
        minimum=1,
        maximum=365,
        group=N_("Sicherung"),
        extra={
            "help": N_(
                "Intake legt bei der ersten Anmeldung eines Tages eine verschlüsselte Sicherung "
                "im Profilordner an. Ältere Sicherungen werden gelöscht; die neueste bleibt immer."
            ),
            "suffix": N_(" Tage"),
        },
    ),
)

SPECS: dict[str, SettingSpec] = {spec.key: spec for spec in SETTINGS}

#: Version of the stored settings layout; raise it together with a new UPGRADES entry.
SETTINGS_VERSION = 1

#: ``UPGRADES[n]`` turns stored settings of version ``n - 1`` into version ``n``.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: lambda values: values,  # the first layout: nothing to convert
}


def spec(key: str) -> SettingSpec:
    """The declaration of ``key``; an unknown key is a usage error."""
    try:
        return SPECS[key]
    except KeyError:
        raise ValidationError(_("Unbekannte Einstellung „{key}“.").format(key=key)) from None


def upgrade(values: dict[str, Any], *, from_version: int) -> dict[str, Any]:
    """Apply every upgrade step after ``from_version`` in order."""
    for version in range(from_version + 1, SETTINGS_VERSION + 1):
        values = UPGRADES[version](dict(values))
    return values
