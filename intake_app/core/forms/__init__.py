"""Forms: interview definitions as data, and the engine that runs them (no Qt here).

Public interface used by the rest of the program::

    load_form(path) -> Form                      one file, validated (FormLoadError)
    load_shipped_forms() -> FormRegistry         all forms in forms/, by id and version
    check_files(paths) -> list[str]              "FILE:LINE: message" lines for the CLI
    evaluate(form, answers, *, today, lang) -> FormState
    migrate_answers(answers, from_form, to_form) -> MigrationResult
    load_organisation(path=None) -> OrganisationConfig
    reference_list(name) -> ReferenceList        countries, languages, occupations

See ``docs/forms.md`` for the file format and the expression language.
"""

from __future__ import annotations

from intake_app.core.forms.consent import art9_granted, granted_purposes, withdraw
from intake_app.core.forms.engine import (
    FormState,
    MissingAnswer,
    answer_path,
    evaluate,
    initial_answers,
    new_item,
)
from intake_app.core.forms.errors import ExpressionError, FormIssue, FormLoadError
from intake_app.core.forms.loader import load_form
from intake_app.core.forms.migration import MigrationResult, check_succession, migrate_answers
from intake_app.core.forms.model import (
    CLIENT_LANGUAGES,
    REQUIRED_LANGUAGES,
    ChangeKind,
    Choice,
    Constraint,
    Form,
    FormChange,
    LocalText,
    Question,
    QuestionType,
    Section,
)
from intake_app.core.forms.organisation import (
    ConsentPurpose,
    LegalFramework,
    OrganisationConfig,
    Party,
    Recipient,
    load_organisation,
)
from intake_app.core.forms.reference import (
    REFERENCE_NAMES,
    ReferenceItem,
    ReferenceList,
    reference_list,
    requirement_level,
)
from intake_app.core.forms.registry import (
    FormRegistry,
    check_files,
    load_registry,
    load_shipped_forms,
)

__all__ = [
    "CLIENT_LANGUAGES",
    "REFERENCE_NAMES",
    "REQUIRED_LANGUAGES",
    "ChangeKind",
    "Choice",
    "ConsentPurpose",
    "Constraint",
    "ExpressionError",
    "Form",
    "FormChange",
    "FormIssue",
    "FormLoadError",
    "FormRegistry",
    "FormState",
    "LegalFramework",
    "LocalText",
    "MigrationResult",
    "MissingAnswer",
    "OrganisationConfig",
    "Party",
    "Question",
    "QuestionType",
    "Recipient",
    "ReferenceItem",
    "ReferenceList",
    "Section",
    "answer_path",
    "art9_granted",
    "check_files",
    "check_succession",
    "evaluate",
    "granted_purposes",
    "initial_answers",
    "load_form",
    "load_organisation",
    "load_registry",
    "load_shipped_forms",
    "migrate_answers",
    "new_item",
    "reference_list",
    "requirement_level",
    "withdraw",
]
