"""The case after the intake: follow-up contacts, small updates, closing and reopening.

A finalised record is a case. What happens to it afterwards is kept as **case events**
beside the record's revisions (docs/architecture.md, "Business operations"):

- a **contact** (date, form, interpreter, topics, a short note, the next appointment);
- an **update** of one small part of the answers without a new revision: a referral's
  status, a plan step's status and date, a recognition procedure's stage and dates, a
  new residence document; each names the old and the new value;
- a **closure** (reason, date, outcome details, a note) and a **reopening** (a reason).

This module checks what a user typed and turns it into plain values; storing them is
``storage/records.py``. Every message is German with an English translation.
"""

from __future__ import annotations

import copy
import enum
import functools
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from intake_app.assets import form_resource
from intake_app.core.forms.engine import evaluate
from intake_app.core.forms.reference import reference_list
from intake_app.core.forms.yamlload import YList, YMap, load_located
from intake_app.errors import ValidationError
from intake_app.i18n import N_, _

#: The longest note of a contact, a closure or a reopening (a short note, not a report).
NOTE_MAX = 500
#: Hours a week an outcome may name.
HOURS_MAX = 60


class EventKind(enum.StrEnum):
    """What a case event is."""

    CONTACT = "contact"
    UPDATE = "update"
    CLOSURE = "closure"
    REOPENING = "reopening"

    @property
    def label(self) -> str:
        return _(_EVENT_LABELS[self.value])


_EVENT_LABELS = {
    "contact": N_("Kontakt"),
    "update": N_("Aktualisierung"),
    "closure": N_("Fall beendet"),
    "reopening": N_("Fall wieder eröffnet"),
}


class ContactMode(enum.StrEnum):
    """How a follow-up contact took place."""

    IN_PERSON = "in_person"
    PHONE = "phone"
    VIDEO = "video"
    EMAIL = "email"
    OUTREACH = "outreach"

    @property
    def label(self) -> str:
        return _(_MODE_LABELS[self.value])


_MODE_LABELS = {
    "in_person": N_("Persönlich"),
    "phone": N_("Telefon"),
    "video": N_("Video"),
    "email": N_("E-Mail"),
    "outreach": N_("Aufsuchend"),
}


class ClosureReason(enum.StrEnum):
    """Why a case ended (the statistics count these)."""

    EMPLOYMENT = "employment"
    TRAINING = "training"
    STUDY = "study"
    SELF_EMPLOYMENT = "self_employment"
    MOVED_AWAY = "moved_away"
    UNREACHABLE = "unreachable"
    OTHER_SERVICE = "other_service"
    ENDED_BY_PERSON = "ended_by_person"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _(_REASON_LABELS[self.value])

    @property
    def is_work_or_training(self) -> bool:
        """Employment, training, study or self-employment: an integration outcome."""
        return self in _INTEGRATION


_REASON_LABELS = {
    "employment": N_("Beschäftigung"),
    "training": N_("Ausbildung"),
    "study": N_("Studium"),
    "self_employment": N_("Selbstständigkeit"),
    "moved_away": N_("Weggezogen"),
    "unreachable": N_("Nicht mehr erreichbar"),
    "other_service": N_("Andere Stelle hat übernommen"),
    "ended_by_person": N_("Von der Person beendet"),
    "other": N_("Anderer Grund"),
}
_INTEGRATION = frozenset(
    {
        ClosureReason.EMPLOYMENT,
        ClosureReason.TRAINING,
        ClosureReason.STUDY,
        ClosureReason.SELF_EMPLOYMENT,
    }
)


class ContractType(enum.StrEnum):
    """The contract of a job or training place a case ended with."""

    PERMANENT = "permanent"
    FIXED_TERM = "fixed_term"
    AGENCY = "agency"
    MARGINAL = "marginal"
    APPRENTICESHIP = "apprenticeship"

    @property
    def label(self) -> str:
        return _(_CONTRACT_LABELS[self.value])


_CONTRACT_LABELS = {
    "permanent": N_("Unbefristet"),
    "fixed_term": N_("Befristet"),
    "agency": N_("Zeitarbeit"),
    "marginal": N_("Minijob"),
    "apprenticeship": N_("Ausbildungsvertrag"),
}


# -- topics (forms/reference/followup.yaml) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Topic:
    """A topic a contact can be about, from the form files."""

    value: str
    labels: tuple[tuple[str, str], ...]

    def label(self, lang: str) -> str:
        names = dict(self.labels)
        return names.get(lang) or names.get("de") or self.value


@functools.cache
def contact_topics() -> tuple[Topic, ...]:
    """The topics of ``forms/reference/followup.yaml``, in the file's order."""
    text = form_resource("reference", "followup.yaml").read_text(encoding="utf-8")
    root = load_located(text)
    topics: list[Topic] = []
    entries = root.get("topics") if isinstance(root, YMap) else None
    if not isinstance(entries, YList):
        raise ValueError("followup.yaml: no list 'topics'")
    for entry in entries:
        value = entry.get("value") if isinstance(entry, YMap) else None
        labels = entry.get("label") if isinstance(entry, YMap) else None
        if not isinstance(value, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", value):
            raise ValueError("followup.yaml: a topic without a valid value")
        if not isinstance(labels, YMap) or not isinstance(labels.get("de"), str):
            raise ValueError(f"followup.yaml: topic {value} without a German label")
        topics.append(Topic(value=str(value), labels=tuple((k, str(v)) for k, v in labels.items())))
    if len({t.value for t in topics}) != len(topics):
        raise ValueError("followup.yaml: a topic value appears twice")
    return tuple(topics)


def topic_label(value: str, lang: str) -> str:
    """A topic's name; an unknown (retired) value is shown as it is stored."""
    for topic in contact_topics():
        if topic.value == value:
            return topic.label(lang)
    return value


# -- checking input ---------------------------------------------------------------------


def _note(text: str) -> str:
    text = text.strip()
    if len(text) > NOTE_MAX:
        raise ValidationError(
            _("Die Notiz ist zu lang (höchstens {n} Zeichen).").format(n=NOTE_MAX)
        )
    return text


def _not_future(day: date, today: date, what: str) -> None:
    if day > today:
        raise ValidationError(_("{what} darf nicht in der Zukunft liegen.").format(what=what))


@dataclass(frozen=True, slots=True)
class Contact:
    """A follow-up contact as checked (see :func:`check_contact`)."""

    on: date
    mode: ContactMode
    interpreter: bool = False
    topics: tuple[str, ...] = ()
    note: str = ""
    next_appointment: date | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "interpreter": self.interpreter,
            "topics": list(self.topics),
            "note": self.note,
            "next_appointment": self.next_appointment.isoformat()
            if self.next_appointment
            else None,
        }


def check_contact(
    *,
    on: date,
    mode: str,
    interpreter: bool = False,
    topics: list[str] | tuple[str, ...] = (),
    note: str = "",
    next_appointment: date | None = None,
    today: date | None = None,
) -> Contact:
    """Check a contact as entered; raise :class:`ValidationError` with a plain message."""
    today = today or date.today()
    _not_future(on, today, _("Das Datum des Kontakts"))
    try:
        kind = ContactMode(mode)
    except ValueError:
        raise ValidationError(_("Unbekannte Kontaktform „{mode}“.").format(mode=mode)) from None
    known = {t.value for t in contact_topics()}
    chosen: list[str] = []
    for topic in topics:
        if topic not in known:
            raise ValidationError(_("Unbekanntes Thema „{topic}“.").format(topic=topic))
        if topic not in chosen:
            chosen.append(topic)
    if next_appointment is not None and next_appointment < on:
        raise ValidationError(_("Der nächste Termin liegt vor dem Kontakt."))
    return Contact(
        on=on,
        mode=kind,
        interpreter=bool(interpreter),
        topics=tuple(chosen),
        note=_note(note),
        next_appointment=next_appointment,
    )


@dataclass(frozen=True, slots=True)
class Closure:
    """A case's end as checked (see :func:`check_closure`)."""

    on: date
    reason: ClosureReason
    kldb: str | None = None
    hours: int | None = None
    contract: ContractType | None = None
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason.value,
            "kldb": self.kldb,
            "hours": self.hours,
            "contract": self.contract.value if self.contract else None,
            "note": self.note,
        }


def check_closure(
    *,
    on: date,
    reason: str,
    kldb: str | None = None,
    hours: int | None = None,
    contract: str | None = None,
    note: str = "",
    known_kldb: frozenset[str] | None = None,
    today: date | None = None,
) -> Closure:
    """Check a closing as entered.

    Outcome details (KldB code of the job, hours a week, contract) belong to
    employment, training and self-employment; for other reasons they must stay empty.
    ``known_kldb``: the valid 5-digit codes (the form files' KldB list).
    """
    today = today or date.today()
    _not_future(on, today, _("Das Datum des Fallendes"))
    try:
        why = ClosureReason(reason)
    except ValueError:
        raise ValidationError(
            _("Unbekannter Grund für das Fallende „{reason}“.").format(reason=reason)
        ) from None
    kldb = (kldb or "").strip() or None
    kind: ContractType | None = None
    if contract:
        try:
            kind = ContractType(contract)
        except ValueError:
            raise ValidationError(
                _("Unbekannte Vertragsart „{kind}“.").format(kind=contract)
            ) from None
    details_allowed = why in (
        ClosureReason.EMPLOYMENT,
        ClosureReason.TRAINING,
        ClosureReason.SELF_EMPLOYMENT,
    )
    if not details_allowed and (kldb or hours is not None or kind is not None):
        raise ValidationError(
            _(
                "Beruf, Stunden und Vertragsart gehören nur zu Beschäftigung, Ausbildung "
                "oder Selbstständigkeit."
            )
        )
    if kldb is not None:
        if not re.fullmatch(r"\d{5}", kldb):
            raise ValidationError(_("Der KldB-Code hat fünf Ziffern, z. B. 81302."))
        if known_kldb is None:
            known_kldb = reference_list("occupation").codes()
        if kldb not in known_kldb:
            raise ValidationError(
                _("Den KldB-Code {code} gibt es in der Berufsliste nicht.").format(code=kldb)
            )
    if hours is not None and not 1 <= hours <= HOURS_MAX:
        raise ValidationError(_("Die Wochenstunden liegen zwischen 1 und {n}.").format(n=HOURS_MAX))
    return Closure(on=on, reason=why, kldb=kldb, hours=hours, contract=kind, note=_note(note))


def check_reopening(*, on: date, reason: str, today: date | None = None) -> tuple[date, str]:
    """Check a reopening: a date (not in the future) and a reason of a few words."""
    today = today or date.today()
    _not_future(on, today, _("Das Datum der Wiedereröffnung"))
    text = _note(reason)
    if len(text) < 3:
        raise ValidationError(_("Bitte geben Sie einen Grund für die Wiedereröffnung an."))
    return on, text


def travelling_data(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """What of a case event's details goes to the central office: all but free text (the
    closing reason is a key from a fixed list and travels; a reopening's reason does not)."""
    result = {key: value for key, value in data.items() if key != "note"}
    if kind == EventKind.REOPENING.value:
        result.pop("reason", None)
    return result


# -- describing events (timeline, printouts) --------------------------------------------


def describe_event(kind: str, data: dict[str, Any], lang: str, form: Any = None) -> str:
    """One line about a case event, without its date (the caller shows that); ``form``
    names the questions and choices of an update."""
    if kind == EventKind.CONTACT.value:
        try:
            mode = ContactMode(str(data.get("mode"))).label
        except ValueError:
            mode = str(data.get("mode"))
        head = _("Kontakt ({mode})").format(mode=mode)
        if data.get("interpreter"):
            head = _("Kontakt ({mode}, mit Sprachmittlung)").format(mode=mode)
        parts = [head]
        topics = [topic_label(str(t), lang) for t in data.get("topics") or []]
        if topics:
            parts.append(", ".join(topics))
        if data.get("note"):
            parts.append(str(data["note"]))
        if data.get("next_appointment"):
            parts.append(
                _("nächster Termin {date}").format(date=_german_date(data["next_appointment"]))
            )
        return " – ".join(parts)
    if kind == EventKind.CLOSURE.value:
        try:
            reason = ClosureReason(str(data.get("reason"))).label
        except ValueError:
            reason = str(data.get("reason"))
        parts = [_("Fall beendet: {reason}").format(reason=reason)]
        if data.get("kldb"):
            code = str(data["kldb"])
            title = reference_list("occupation").get(code)
            shown = f"{code} {title.label(lang)}" if title is not None else code
            parts.append(_("KldB {code}").format(code=shown))
        if data.get("hours"):
            parts.append(_("{n} Wochenstunden").format(n=data["hours"]))
        if data.get("contract"):
            try:
                parts.append(ContractType(data["contract"]).label)
            except ValueError:
                parts.append(str(data["contract"]))
        if data.get("note"):
            parts.append(str(data["note"]))
        return " – ".join(parts)
    if kind == EventKind.REOPENING.value:
        return _("Fall wieder eröffnet: {reason}").format(reason=data.get("reason", ""))
    if kind == EventKind.UPDATE.value:
        return describe_update(data, lang, form)
    return str(kind)


def describe_update(data: dict[str, Any], lang: str, form: Any = None) -> str:
    """An update as "what: question old → new, …"."""
    changes = data.get("changes") or {}
    spec = UPDATE_TARGETS.get(str(data.get("target", "")))
    what = spec.label if spec is not None else str(data.get("target", ""))
    if spec is not None and spec.group is not None and data.get("index") is not None:
        what = f"{what} {int(data['index']) + 1}"
    shown = ", ".join(
        f"{_question_label(form, name, lang)}: {_shown(form, name, old, lang)} → "
        f"{_shown(form, name, new, lang)}"
        for name, (old, new) in sorted(changes.items())
    )
    return _("Aktualisiert ({what}): {changes}").format(what=what, changes=shown)


def _question_label(form: Any, name: str, lang: str) -> str:
    try:
        return str(form.question(name).label(lang))
    except (KeyError, AttributeError):
        return name


def _shown(form: Any, name: str, value: object, lang: str) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return _german_date(value)
    return choice_label(form, name, value, lang)


def _german_date(iso: object) -> str:
    try:
        return date.fromisoformat(str(iso)).strftime("%d.%m.%Y")
    except ValueError:
        return str(iso)


# -- small updates without a revision ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpdateTarget:
    """A part of the answers a small update may change: a repeat group's item (``group``)
    or top-level questions (``group`` None), and which of their questions."""

    key: str
    group: str | None
    fields: tuple[str, ...]
    label_text: str

    @property
    def label(self) -> str:
        return _(self.label_text)

    def fields_of(self, form: Any) -> tuple[str, ...]:
        """The fields of this target that ``form`` has: a record keeps the form version it
        was finalised under, and older versions lack fields added later (a plan step's
        status came with 2026.3)."""
        return tuple(name for name in self.fields if _in_group(form, name, self.group))


def _in_group(form: Any, name: str, group: str | None) -> bool:
    """Whether ``form`` has question ``name`` in repeat group ``group`` (None: top level)."""
    try:
        question = form.question(name)
    except (KeyError, AttributeError):
        return False
    return getattr(question, "parent_id", None) == group


UPDATE_TARGETS: dict[str, UpdateTarget] = {
    target.key: target
    for target in (
        UpdateTarget("referral", "referrals", ("outcome",), N_("Vermittlung")),
        UpdateTarget(
            "plan_step",
            "plan_steps",
            ("status", "status_date", "deadline", "responsible"),
            N_("Nächster Schritt"),
        ),
        UpdateTarget(
            "recognition",
            "qualifications",
            (
                "recognition_status",
                "recognition_body",
                "recognition_applied_on",
                "recognition_documents_deadline",
                "recognition_notice_date",
                "recognition_outcome",
            ),
            N_("Anerkennung"),
        ),
        UpdateTarget(
            "residence",
            None,
            (
                "residence_document",
                "legal_basis",
                "residence_valid_from",
                "residence_valid_until",
                "work_permission",
            ),
            N_("Aufenthaltsdokument"),
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Update:
    """A checked update: the answers after it and what changed (question -> old, new)."""

    target: str
    index: int | None
    on: date
    answers: dict[str, Any]
    changes: dict[str, tuple[Any, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "index": self.index,
            "changes": {name: [old, new] for name, (old, new) in self.changes.items()},
        }


def check_update(
    form: Any,
    answers: dict[str, Any],
    *,
    target: str,
    index: int | None,
    values: dict[str, Any],
    on: date,
    lang: str = "de",
    today: date | None = None,
) -> Update:
    """Apply ``values`` to a copy of ``answers`` and check the result with the form engine.

    Only the questions of the target that the record's form version has may change; a
    value the form refuses (a choice it does not offer, a date in the wrong order, …) is
    refused with the form's own message, so the answers stay as consistent as after an
    interview. A plan step's new status without a date of its own is dated by the update
    (``on``), and the event names that date as a change like any other.
    """
    today = today or date.today()
    _not_future(on, today, _("Das Datum der Änderung"))
    spec = UPDATE_TARGETS.get(target)
    if spec is None:
        raise ValidationError(_("Unbekannte Art der Aktualisierung „{kind}“.").format(kind=target))
    unknown = sorted(set(values) - set(spec.fields))
    if unknown:
        raise ValidationError(
            _("Diese Angaben lassen sich nicht ohne neue Revision ändern: {names}.").format(
                names=", ".join(unknown)
            )
        )
    missing = [name for name in values if name not in spec.fields_of(form)]
    if missing:
        raise ValidationError(
            _(
                "Diese Angaben gibt es in der Formularversion {version} der Akte nicht: "
                "{names}. Sie lassen sich erst nach einer neuen Revision erfassen."
            ).format(version=getattr(form, "version", "?"), names=", ".join(sorted(missing)))
        )
    values = dict(values)
    if (
        "status" in values
        and values["status"] not in (None, "")
        and "status_date" not in values
        and "status_date" in spec.fields_of(form)
    ):
        values["status_date"] = on
    new = copy.deepcopy(answers)
    if spec.group is None:
        holder = new
        prefix = ""
    else:
        items = new.get(spec.group)
        if not isinstance(items, list) or index is None or not 0 <= index < len(items):
            raise ValidationError(_("Diesen Eintrag gibt es in der Akte nicht."))
        holder = items[index]
        if not isinstance(holder, dict):
            raise ValidationError(_("Diesen Eintrag gibt es in der Akte nicht."))
        prefix = f"{spec.group}[{index}]."
    changes: dict[str, tuple[Any, Any]] = {}
    for name, value in values.items():
        value = value.isoformat() if isinstance(value, date) else value
        value = None if value == "" else value
        old = holder.get(name)
        if old != value:
            changes[name] = (old, value)
            if value is None:
                holder.pop(name, None)
            else:
                holder[name] = value
    if not changes:
        raise ValidationError(_("Es wurde nichts geändert."))
    before = evaluate(form, answers, today=today, lang=lang)
    after = evaluate(form, new, today=today, lang=lang)
    for path, messages in after.errors.items():
        if path.startswith(prefix) and path[len(prefix) :] in changes and messages:
            if before.errors.get(path) != messages:
                raise ValidationError(messages[0])
    for path, messages in after.errors.items():
        if path not in before.errors and messages:
            raise ValidationError(messages[0])
    hidden = {path for path in after.hidden_answers if path not in before.hidden_answers}
    for name in changes:
        if f"{prefix}{name}" in hidden:
            raise ValidationError(
                _(
                    "Die Angabe „{name}“ passt nicht zu den übrigen Antworten (die Frage "
                    "wird dort nicht gestellt)."
                ).format(name=_question_label(form, name, lang))
            )
    return Update(target=target, index=index, on=on, answers=new, changes=changes)


def update_choices(
    form: Any, answers: dict[str, Any], lang: str
) -> list[tuple[str, int | None, str]]:
    """What a small update can change in this record: (target, item index, label)."""
    result: list[tuple[str, int | None, str]] = []
    for spec in UPDATE_TARGETS.values():
        if not spec.fields_of(form):
            continue  # nothing of it in this form version
        if spec.group is None:
            result.append((spec.key, None, spec.label))
            continue
        items = answers.get(spec.group)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            if (
                spec.key == "recognition"
                and item.get("regulated") != "yes"
                and not any(item.get(name) for name in spec.fields)
            ):
                continue  # no recognition procedure for this qualification
            result.append(
                (spec.key, index, f"{spec.label} {index + 1}: {_item_name(form, spec, item, lang)}")
            )
    return result


def _item_name(form: Any, spec: UpdateTarget, item: dict[str, Any], lang: str) -> str:
    """A short name of a repeat item: its service, step or occupation."""
    for name in ("service", "step", "reference_occupation", "title", "qualification"):
        value = item.get(name)
        if value:
            return choice_label(form, name, value, lang)
    return "–"


def choice_label(form: Any, name: str, value: Any, lang: str) -> str:
    """The label of ``value`` if question ``name`` offers it as a choice, else the value."""
    try:
        question = form.question(name)
    except (KeyError, AttributeError):
        return str(value)
    for choice in getattr(question, "choices", ()):
        if choice.value == value:
            return str(choice.label(lang))
    return str(value)
