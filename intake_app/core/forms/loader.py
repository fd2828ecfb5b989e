"""Loading form files: read, validate, link; and ``forms check`` for the command line."""

from __future__ import annotations

from importlib.abc import Traversable
from pathlib import Path, PurePosixPath
from typing import Any

from intake_app.assets import form_resource
from intake_app.core.forms.errors import FormIssue, FormLoadError
from intake_app.core.forms.linking import Linker
from intake_app.core.forms.model import Form
from intake_app.core.forms.schema import FormBuilder
from intake_app.core.forms.schema_common import Issues
from intake_app.core.forms.yamlload import YamlProblem, load_located
from intake_app.i18n import _

FormSource = Path | Traversable


def _label(source: FormSource) -> str:
    """How a file is named in messages: the path as given, or the resource's name."""
    if isinstance(source, Path):
        return str(source)
    return f"forms/{source.name}"


def read_text(source: FormSource, issues: Issues, label: str) -> str | None:
    """The file's text as UTF-8 (a BOM is ignored); problems go to ``issues``."""
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        issues.add(0, None, _("Die Datei gibt es nicht."), file=label)
        return None
    except OSError as error:
        issues.add(
            0,
            None,
            _("Die Datei lässt sich nicht lesen: {problem}.").format(
                problem=error.strerror or error
            ),
            file=label,
        )
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        issues.add(
            line,
            None,
            _("Die Datei ist nicht UTF-8-kodiert; speichern Sie sie als UTF-8."),
            file=label,
        )
        return None


def parse_file(source: FormSource, issues: Issues, label: str) -> Any:
    """Read and parse a YAML file into located values (None after a reported problem)."""
    text = read_text(source, issues, label)
    if text is None:
        return None
    try:
        tree = load_located(text)
    except YamlProblem as problem:
        issues.add(problem.line, None, problem.message, file=label)
        return None
    if tree is None:
        issues.add(0, None, _("Die Datei ist leer."), file=label)
    return tree


class _Includes:
    """Resolves ``include:`` paths next to the form file, else among the shipped files."""

    def __init__(self, source: FormSource, issues: Issues) -> None:
        self.source = source
        self.issues = issues

    def __call__(self, path: str, line: int) -> tuple[str, Any] | None:
        relative = PurePosixPath(path)
        if relative.is_absolute() or ".." in relative.parts:
            self.issues.add(
                line,
                None,
                _(
                    "„include“: „{path}“ muss ein relativer Pfad ohne „..“ "
                    "sein, z. B. reference/isced2011.yaml."
                ).format(path=path),
            )
            return None
        candidates: list[FormSource] = []
        if isinstance(self.source, Path):
            candidates.append(self.source.parent.joinpath(*relative.parts))
        candidates.append(form_resource(*relative.parts))
        for candidate in candidates:
            if candidate.is_file():
                label = str(candidate) if isinstance(candidate, Path) else f"forms/{path}"
                tree = parse_file(candidate, self.issues, label)
                return None if tree is None else (label, tree)
        self.issues.add(
            line,
            None,
            _(
                "„include“: die Datei „{path}“ gibt es weder neben dem "
                "Formular noch unter den mitgelieferten Dateien."
            ).format(path=path),
        )
        return None


def collect_issues(source: FormSource) -> tuple[Form | None, list[FormIssue]]:
    """Load ``source`` and return the form (None if unusable) and every problem found."""
    label = _label(source)
    issues = Issues(label)
    tree = parse_file(source, issues, label)
    if tree is None:
        return None, issues.items
    builder = FormBuilder(issues, include=_Includes(source, issues))
    form = builder.build(tree)
    if form is None:
        if not issues:
            issues.add(0, None, _("Die Datei enthält kein gültiges Formular."))
        return None, issues.items
    form.source = label
    form.reindex()
    Linker(form, issues, broken=frozenset(builder.broken_ids)).link(builder.pending)
    return form, issues.items


def load_form(path: FormSource) -> Form:
    """Load and validate one form file.

    Raises:
        FormLoadError: listing every problem (file, line, question, what to fix).
    """
    form, issues = collect_issues(path)
    if issues or form is None:
        raise FormLoadError(issues or [FormIssue(_label(path), 0, None, _("Ungültiges Formular."))])
    return form
