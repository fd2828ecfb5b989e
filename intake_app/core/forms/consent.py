"""The consent block's answer: its shape, validation and the purposes it grants.

Stored shape (all dates ISO ``YYYY-MM-DD``)::

    {
      "date": "2026-03-02",            # when consent was given (required)
      "language": "ar",                # language of the text version used (required)
      "interpreter": true,             # an interpreter explained it (required)
      "interpreter_language": "prs",   # ISO 639-3, optional
      "given_by": "person",            # or "guardian" (under 15, § 1629 BGB), optional
      "guardian_name": "…",            # the guardian who consented (with "guardian")
      "organisation": "nrw-default",   # id of the organisation configuration, optional
      "text_version": "2026-01",       # version of its consent texts, optional
      "purposes": {                    # one entry per purpose id of the organisation
        "central_office": {"granted": true, "withdrawn_on": null},
        "jobcenter_language_course": {"granted": false, "withdrawn_on": null}
      },
      "art9": {"granted": false, "withdrawn_on": null,   # special categories, Art. 9 (2)(a)
               "print_requested_on": null}   # the person asked for them on printouts
    }

A purpose counts as consented from ``date`` until the day before ``withdrawn_on``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from intake_app.core.forms.expressions.scalars import parse_date_literal
from intake_app.core.forms.model import CLIENT_LANGUAGES, REQUIRED_LANGUAGES
from intake_app.i18n import N_

Translate = Callable[[str], str]
CONSENT_LANGUAGES: tuple[str, ...] = REQUIRED_LANGUAGES + CLIENT_LANGUAGES
GIVEN_BY = ("person", "guardian")
KEYS = frozenset(
    {
        "date",
        "language",
        "interpreter",
        "interpreter_language",
        "given_by",
        "guardian_name",
        "organisation",
        "text_version",
        "purposes",
        "art9",
    }
)

MSG_SHAPE = N_(
    "Die Einwilligung ist beschädigt (erwartet werden Datum, Sprache, Dolmetschung und Zwecke)."
)
MSG_DATE = N_("Bitte das Datum der Einwilligung angeben.")
MSG_FUTURE = N_("Das Datum der Einwilligung liegt in der Zukunft.")
MSG_LANGUAGE = N_("Bitte die Sprache der verwendeten Fassung angeben ({languages}).")
MSG_INTERPRETER = N_("Bitte angeben, ob eine Dolmetscherin oder ein Dolmetscher erklärt hat.")
MSG_GIVEN_BY = N_("„Erteilt durch“ muss „person“ oder „guardian“ sein.")
MSG_GUARDIAN_NAME = N_(
    "Bitte den Namen der oder des Sorgeberechtigten angeben, die oder der eingewilligt hat "
    "(höchstens 200 Zeichen)."
)
MSG_PURPOSE = N_("Zweck „{purpose}“: bitte „erteilt“ oder „nicht erteilt“ festhalten.")
MSG_UNKNOWN_PURPOSE = N_(
    "Der Zweck „{purpose}“ gehört nicht zur Einwilligungserklärung dieser Stelle."
)
MSG_WITHDRAWN = N_(
    "Zweck „{purpose}“: das Widerrufsdatum ist ungültig oder liegt vor der Einwilligung."
)
MSG_WITHDRAWN_NOT_GRANTED = N_(
    "Zweck „{purpose}“: ein Widerruf ist nur möglich, wenn die Einwilligung erteilt war."
)
MSG_KEY = N_("Unbekannte Angabe „{key}“ in der Einwilligung.")
MSG_PRINT_REQUEST = N_(
    "Der Wunsch, die Gesundheitsangabe mitzudrucken, braucht ein gültiges Datum ab der "
    "Einwilligung und eine erteilte Einwilligung für besondere Kategorien."
)


def _part(name: str, value: Any, given: date | None, tr: Translate) -> list[str]:
    if not isinstance(value, dict) or not isinstance(value.get("granted"), bool):
        return [tr(MSG_PURPOSE).format(purpose=name)]
    withdrawn = value.get("withdrawn_on")
    if withdrawn is None:
        return []
    if not value["granted"]:
        return [tr(MSG_WITHDRAWN_NOT_GRANTED).format(purpose=name)]
    day = parse_date_literal(withdrawn) if isinstance(withdrawn, str) else None
    if day is None or (given is not None and day < given):
        return [tr(MSG_WITHDRAWN).format(purpose=name)]
    return []


def validate_consent(
    raw: Any,
    *,
    tr: Translate,
    today: date,
    purposes: Iterable[str] | None = None,
    languages: Iterable[str] = CONSENT_LANGUAGES,
) -> tuple[bool, list[str]]:
    """Check a consent answer.

    Returns:
        ``(complete, errors)``: complete when date, language, interpreter, every purpose
        (of ``purposes`` when known, else at least one) and the Art. 9 decision are
        recorded; errors list what is invalid (in the language of ``tr``).
    """
    if raw is None:
        return False, []
    if not isinstance(raw, dict):
        return False, [tr(MSG_SHAPE)]
    errors: list[str] = [tr(MSG_KEY).format(key=str(key)[:40]) for key in raw if key not in KEYS]
    complete = True
    given = parse_date_literal(raw["date"]) if isinstance(raw.get("date"), str) else None
    if raw.get("date") is None:
        complete = False
    elif given is None:
        errors.append(tr(MSG_DATE))
    elif given > today:
        errors.append(tr(MSG_FUTURE))
    languages = tuple(languages)
    if raw.get("language") is None:
        complete = False
    elif raw["language"] not in languages:
        errors.append(tr(MSG_LANGUAGE).format(languages=", ".join(languages)))
    if raw.get("interpreter") is None:
        complete = False
    elif not isinstance(raw["interpreter"], bool):
        errors.append(tr(MSG_INTERPRETER))
    if raw.get("given_by") is not None and raw["given_by"] not in GIVEN_BY:
        errors.append(tr(MSG_GIVEN_BY))
    guardian = raw.get("guardian_name")
    if guardian is not None and (not isinstance(guardian, str) or len(guardian) > 200):
        errors.append(tr(MSG_GUARDIAN_NAME))
    elif raw.get("given_by") == "guardian" and not (guardian or "").strip():
        complete = False  # consent by a guardian names the guardian
    decided = raw.get("purposes")
    if decided is None:
        decided = {}
    if not isinstance(decided, dict):
        return False, [*errors, tr(MSG_SHAPE)]
    known = None if purposes is None else tuple(purposes)
    for name, value in decided.items():
        if known is not None and name not in known:
            errors.append(tr(MSG_UNKNOWN_PURPOSE).format(purpose=str(name)[:40]))
            continue
        errors.extend(_part(str(name), value, given, tr))
    if known is None:
        complete = complete and bool(decided)
    else:
        complete = complete and all(name in decided for name in known)
    art9 = raw.get("art9")
    if art9 is None:
        complete = False
    else:
        errors.extend(_part("art9", art9, given, tr))
        requested = art9.get("print_requested_on") if isinstance(art9, dict) else None
        if requested is not None:
            day = parse_date_literal(requested) if isinstance(requested, str) else None
            if (
                day is None
                or art9.get("granted") is not True
                or (given is not None and day < given)
                or day > today
            ):
                errors.append(tr(MSG_PRINT_REQUEST))
    return complete and not errors, errors


def _active(part: Any, on: date) -> bool:
    if not isinstance(part, dict) or part.get("granted") is not True:
        return False
    withdrawn = part.get("withdrawn_on")
    if withdrawn is None:
        return True
    day = parse_date_literal(withdrawn) if isinstance(withdrawn, str) else None
    return day is not None and day > on


def granted_purposes(consent: Any, *, on: date | None = None) -> frozenset[str]:
    """Purpose ids consented and not withdrawn on ``on`` (today by default).

    Export and sync use this: withdrawn purposes stop being passed on.
    """
    if not isinstance(consent, dict) or not isinstance(consent.get("purposes"), dict):
        return frozenset()
    day = on or date.today()
    return frozenset(name for name, part in consent["purposes"].items() if _active(part, day))


def art9_granted(consent: Any, *, on: date | None = None) -> bool:
    """Whether the separate consent for special categories is in force on ``on``."""
    return isinstance(consent, dict) and _active(consent.get("art9"), on or date.today())


def art9_print_requested(consent: Any, *, on: date | None = None) -> bool:
    """Whether the person asked for the special categories on printouts (the request is
    recorded with its date) and the Art. 9 consent is in force on ``on``.

    The Art. 9 consent text promises that the health flag is printed only when the
    person asks for it; the printout profile "with special categories" needs both.
    """
    day = on or date.today()
    if not art9_granted(consent, on=day):
        return False
    requested = consent["art9"].get("print_requested_on")
    when = parse_date_literal(requested) if isinstance(requested, str) else None
    return when is not None and when <= day


def withdraw(consent: dict[str, Any], purpose: str, *, on: date) -> dict[str, Any]:
    """A copy of ``consent`` with ``purpose`` (or ``"art9"``) withdrawn on ``on``."""
    result = dict(consent)
    if purpose == "art9":
        part = dict(result.get("art9") or {})
        part["withdrawn_on"] = on.isoformat()
        result["art9"] = part
        return result
    purposes = {name: dict(value) for name, value in (result.get("purposes") or {}).items()}
    if purpose not in purposes or purposes[purpose].get("granted") is not True:
        raise KeyError(purpose)
    purposes[purpose]["withdrawn_on"] = on.isoformat()
    result["purposes"] = purposes
    return result
