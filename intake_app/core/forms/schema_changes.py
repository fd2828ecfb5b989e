"""The ``changes`` section of a form file: what a version changed since its predecessor."""

from __future__ import annotations

import re

from intake_app.core.forms.model import ChangeKind, FormChange
from intake_app.core.forms.schema_common import Reader
from intake_app.core.forms.yamlload import YMap, YText
from intake_app.i18n import _

PATH_RE = re.compile(r"[a-z][a-z0-9_]{0,63}(\.[a-z][a-z0-9_]{0,63}){0,3}")


def read_changes(
    read: Reader, tree: YMap, previous: str | None, languages: tuple[str, ...]
) -> list[FormChange]:
    """The ``changes`` list of a form file: renames, removals, recodes and year_month."""
    value = tree.get("changes")
    if value is None:
        return []
    items = read.sequence(value, tree.line_of("changes"), None, _("„changes“"))
    if items is None:
        return []
    if items and previous is None:
        read.add(
            tree.line_of("changes"),
            None,
            _(
                "„changes“ beschreibt Unterschiede zur Vorversion; geben Sie dazu "
                "„previous_version“ an."
            ),
        )
    changes = []
    for index, item in enumerate(items):
        entry = read.mapping(item, items.line_of(index), None, _("Eine Änderung"))
        if entry is None:
            continue
        read.keys(
            entry,
            ("rename", "to", "remove", "recode", "year_month", "values", "note"),
            None,
            _("einer Änderung"),
        )
        kinds = [
            kind
            for kind in ("rename", "remove", "recode", "year_month")
            if entry.get(kind) is not None
        ]
        if len(kinds) != 1:
            read.add(
                entry.line,
                None,
                _(
                    "Jede Änderung braucht genau eines von „rename“, „remove“, „recode“ "
                    "oder „year_month“."
                ),
            )
            continue
        kind = ChangeKind(kinds[0])
        path = _path(read, entry, kinds[0])
        note = read.local_text(entry, "note", None, languages=languages)
        if path is None:
            continue
        if kind in (ChangeKind.RENAME, ChangeKind.YEAR_MONTH):
            target = _path(read, entry, "to") if entry.get("to") is not None else None
            if target is None:
                if entry.get("to") is None:
                    read.add(
                        entry.line,
                        None,
                        _("„{kind}: {path}“ braucht „to:“ mit der neuen Kennung.").format(
                            kind=kind.value, path=path
                        ),
                    )
                continue
            if target.count(".") != path.count("."):
                read.add(
                    entry.line_of("to"),
                    None,
                    _(
                        "„{kind}“ kann eine Frage nicht in eine andere Gruppe verschieben "
                        "(„{path}“ → „{to}“)."
                    ).format(kind=kind.value, path=path, to=target),
                )
                continue
            changes.append(FormChange(kind, path, target, note=note, line=entry.line))
        elif kind is ChangeKind.RECODE:
            values = _recode_values(read, entry, path)
            if values is not None:
                changes.append(FormChange(kind, path, values=values, note=note, line=entry.line))
        else:
            changes.append(FormChange(kind, path, note=note, line=entry.line))
    return changes


def _path(read: Reader, entry: YMap, key: str) -> str | None:
    value = entry.get(key)
    if not isinstance(value, YText) or not PATH_RE.fullmatch(value):
        read.add(
            entry.line_of(key),
            None,
            _("„{key}“: „{value}“ ist keine Frage-Kennung (in Gruppen: gruppe.frage).").format(
                key=key, value=value
            ),
        )
        return None
    return str(value)


def _recode_values(read: Reader, entry: YMap, path: str) -> dict[str, str] | None:
    mapping = read.mapping(
        entry.get("values"),
        entry.line_of("values"),
        None,
        _("„values“ von „recode: {path}“").format(path=path),
    )
    if mapping is None:
        return None
    values: dict[str, str] = {}
    for old, new in mapping.items():
        if not isinstance(new, YText):
            read.add(
                mapping.line_of(old),
                None,
                _("„recode: {path}“: der neue Wert für „{old}“ fehlt.").format(path=path, old=old),
            )
            continue
        values[old] = str(new)
    return values
