"""Redaction profiles: what a printout may contain.

The standard profile leaves out every special-category question (GDPR Art. 9: health),
its label and its answer. The profile "with special categories" is used only when the
person printing asks for it, and even then only for records whose separate Art. 9
consent is in force on the day of printing and where the person asked for the health
flag on printouts (the request is recorded with its date, as the Art. 9 consent text
promises); for the others the printout falls back to the standard profile and says so.
Questions marked ``print: false`` (internal notes) are never printed, whatever the
profile.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import Any

from intake_app.core.forms.consent import art9_print_requested
from intake_app.core.forms.model import Form, Question
from intake_app.errors import UsageError
from intake_app.i18n import N_, _


class Profile(enum.StrEnum):
    """The profiles a user can choose (stored in audit entries by value)."""

    STANDARD = "standard"
    SPECIAL = "special_categories"

    @classmethod
    def parse(cls, value: str) -> Profile:
        """The profile named ``value`` (command line, settings)."""
        try:
            return cls(value)
        except ValueError:
            raise UsageError(
                _(
                    "Unbekanntes Profil „{name}“; möglich sind: standard, special_categories."
                ).format(name=value)
            ) from None


PROFILE_LABELS = {
    Profile.STANDARD: N_("Standard (ohne besondere Kategorien)"),
    Profile.SPECIAL: N_("mit besonderen Kategorien (Art. 9)"),
}
MSG_SPECIAL_REFUSED = N_(
    "Besondere Kategorien wurden angefordert, sind aber nicht enthalten: Für diese Akte "
    "liegt keine wirksame gesonderte Einwilligung (Art. 9) vor, oder die Person hat nicht "
    "verlangt, dass die Angabe mitgedruckt wird."
)


@dataclass(frozen=True, slots=True)
class Redaction:
    """The profile in force for one record."""

    requested: Profile
    effective: Profile
    everything: bool = False  # an access request (Art. 15): internal notes too

    @property
    def include_special(self) -> bool:
        """Whether special-category questions are printed."""
        return self.effective is Profile.SPECIAL

    @property
    def downgraded(self) -> bool:
        """True when special categories were asked for but consent does not allow them."""
        return self.requested is Profile.SPECIAL and self.effective is Profile.STANDARD

    def prints(self, question: Question) -> bool:
        """Whether ``question`` (label and answer) may appear on the printout."""
        if self.everything:
            return True
        if question.special_category:
            return self.include_special
        return question.print

    def printable(self, form: Form) -> dict[str, bool]:
        """Question id -> whether the question and every group around it may appear."""
        return {
            question.id: all(
                self.prints(q)
                for q in (*(form.question(group) for group in question.repeat_chain), question)
            )
            for question in form.iter_questions()
        }


#: What an access request shows: everything stored about the person.
EVERYTHING = Redaction(Profile.SPECIAL, Profile.SPECIAL, everything=True)


def redaction_for(requested: Profile, answers: dict[str, Any], *, on: date) -> Redaction:
    """The profile in force for a record: special categories only with Art. 9 consent and
    the person's recorded request to print them."""
    if requested is Profile.SPECIAL and art9_print_requested(answers.get("consent"), on=on):
        return Redaction(requested, Profile.SPECIAL)
    return Redaction(requested, Profile.STANDARD)
