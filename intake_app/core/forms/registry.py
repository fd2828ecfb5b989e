"""All shipped forms, by id and version; opening records and upgrading them."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from intake_app.assets import form_resource, iter_files
from intake_app.core.forms.errors import FormIssue, FormLoadError
from intake_app.core.forms.loader import collect_issues
from intake_app.core.forms.migration import MigrationResult, check_succession, migrate_answers
from intake_app.core.forms.model import Form
from intake_app.errors import NotFound
from intake_app.i18n import _


def version_key(version: str) -> tuple[int, ...]:
    """Sort key of a version string such as ``"2026.1"``."""
    return tuple(int(part) for part in version.split(".") if part.isdigit())


class FormRegistry:
    """Forms by ``(id, version)``; the latest version of each id is used for new records."""

    def __init__(self, forms: Iterable[Form]) -> None:
        self._forms: dict[tuple[str, str], Form] = {}
        for form in forms:
            self._forms[form.key] = form

    def __iter__(self) -> Iterator[Form]:
        return iter(sorted(self._forms.values(), key=lambda f: (f.id, version_key(f.version))))

    def __len__(self) -> int:
        return len(self._forms)

    def ids(self) -> list[str]:
        """The form ids, sorted."""
        return sorted({form_id for form_id, _version in self._forms})

    def versions(self, form_id: str) -> list[str]:
        """The versions of ``form_id``, oldest first."""
        return sorted((v for i, v in self._forms if i == form_id), key=version_key)

    def get(self, form_id: str, version: str) -> Form:
        """The form a record was given under.

        Raises:
            NotFound: the version is not installed.
        """
        form = self._forms.get((form_id, version))
        if form is None:
            raise NotFound(
                _("Das Formular „{id}“ in Version {version} ist nicht installiert.").format(
                    id=form_id, version=version
                )
            )
        return form

    def latest(self, form_id: str) -> Form:
        """The newest version of ``form_id``."""
        versions = self.versions(form_id)
        if not versions:
            raise NotFound(_("Das Formular „{id}“ ist nicht installiert.").format(id=form_id))
        return self._forms[(form_id, versions[-1])]

    def upgrade(
        self,
        answers: Mapping[str, Any],
        form_id: str,
        from_version: str,
        to_version: str | None = None,
    ) -> MigrationResult:
        """Migrate answers step by step from ``from_version`` to ``to_version`` (latest)."""
        target = to_version or self.latest(form_id).version
        versions = self.versions(form_id)
        current = self.get(form_id, from_version)
        result = MigrationResult(dict(answers), form_id=form_id, version=from_version)
        chain = [
            v for v in versions if version_key(from_version) < version_key(v) <= version_key(target)
        ]
        for version in chain:
            nxt = self.get(form_id, version)
            step = migrate_answers(result.answers, current, nxt)
            overlap = set(step.retired) & set(result.retired)
            for key in overlap:  # the same path retired twice: keep both values
                step.retired[f"{key}@{current.version}"] = step.retired.pop(key)
            result = MigrationResult(
                step.answers,
                {**result.retired, **step.retired},
                result.notes + step.notes,
                form_id,
                version,
            )
            current = nxt
        return result

    def check(self) -> list[FormIssue]:
        """Problems between consecutive versions (undeclared removals and the like)."""
        issues: list[FormIssue] = []
        for form in self:
            if form.previous_version is None:
                continue
            previous = self._forms.get((form.id, form.previous_version))
            if previous is None:
                issues.append(
                    FormIssue(
                        form.source,
                        1,
                        None,
                        _(
                            "„previous_version: {version}“: diese Version von „{id}“ ist nicht "
                            "vorhanden; alte Versionen müssen mitgeliefert bleiben, damit Akten "
                            "sich öffnen lassen."
                        ).format(version=form.previous_version, id=form.id),
                    )
                )
                continue
            issues.extend(check_succession(previous, form))
        return issues


def load_registry(paths: Iterable[Path | Any]) -> FormRegistry:
    """Load forms from ``paths`` into a registry; raise one error listing every problem."""
    issues: list[FormIssue] = []
    forms: list[Form] = []
    seen: dict[tuple[str, str], str] = {}
    for path in paths:
        form, problems = collect_issues(path)
        issues.extend(problems)
        if form is None or problems:
            continue
        if form.key in seen:
            issues.append(
                FormIssue(
                    form.source,
                    1,
                    None,
                    _("„{id}“ Version {version} gibt es zweimal (auch in {other}).").format(
                        id=form.id, version=form.version, other=seen[form.key]
                    ),
                )
            )
            continue
        seen[form.key] = form.source
        forms.append(form)
    registry = FormRegistry(forms)
    issues.extend(registry.check())
    if issues:
        raise FormLoadError(issues)
    return registry


@functools.cache
def load_shipped_forms() -> FormRegistry:
    """All forms in ``forms/`` (loaded once per process).

    Raises:
        FormLoadError: a shipped form is invalid (a packaging bug).
    """
    return load_registry(list(iter_files(form_resource(), ".yaml")))


def check_files(paths: list[Path]) -> list[str]:
    """Check form files for ``intake-app forms check``.

    Returns one ``FILE:LINE: message`` line per problem (``[]`` when all are valid).
    A file that names a ``previous_version`` is also checked against that version, taken
    from the other files given or else from the shipped forms.
    """
    lines: list[str] = []
    valid: dict[tuple[str, str], Form] = {}
    for path in paths:
        form, issues = collect_issues(Path(path))
        lines.extend(
            issue.format()
            for issue in sorted(
                issues, key=lambda issue: (issue.file != str(path), issue.file, issue.line)
            )
        )
        if form is not None and not issues:
            valid[form.key] = form
    for form in valid.values():
        if form.previous_version is None:
            continue
        previous = valid.get((form.id, form.previous_version))
        if previous is None:
            try:
                previous = load_shipped_forms().get(form.id, form.previous_version)
            except (FormLoadError, NotFound):
                continue
        lines.extend(issue.format() for issue in check_succession(previous, form))
    return lines
