"""Read YAML into plain values that remember their line numbers.

Form files are edited by people who are not programmers, so the reader is deliberately
simple and strict: every scalar is kept as *text* (``YText``) and converted later by the
schema, which knows what type it expects. That avoids the YAML 1.1 traps (``NO`` for
Norway becoming ``False``, ``2026.10`` becoming the float ``2026.1``). Maps and lists remember
their lines, duplicate keys are an error (PyYAML would keep the last one silently), and
aliases are refused (they allow "billion laughs" expansions and confuse readers).
Only the composer of PyYAML's ``SafeLoader`` is used; nothing is ever constructed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from intake_app.i18n import _

if TYPE_CHECKING:
    import yaml

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 40


class YText(str):
    """A scalar from the file: its text plus where it stood and how it was written."""

    line: int
    column: int
    plain: bool
    block: bool
    raw: str | None

    def __new__(
        cls, value: str, *, line: int, column: int, style: str | None, raw: str | None = None
    ) -> YText:
        text = super().__new__(cls, value)
        text.line = line
        text.column = column
        text.plain = not style  # PyYAML says None for plain scalars, libyaml says ""
        text.block = style in ("|", ">")
        text.raw = raw  # the source text of a scalar that spans several lines
        return text

    def locate(self, column: int) -> tuple[int, int]:
        """File line and column of character ``column`` (1-based) of the value.

        Escapes in quoted text may shift the column slightly. Multi-line scalars are folded
        or unindented by YAML, so there the position is found by counting the non-blank
        characters before it in the value and in the source.
        """
        if self.raw is None:
            return self.line, self.column + (0 if self.plain else 1) + column - 1
        body, line, offset = self.raw, self.line, self.column - 1
        if self.block:
            newline = body.find("\n")
            body, line, offset = body[newline + 1 :], line + 1, 0
        elif not self.plain:
            body, offset = body[1:], offset + 1
        wanted = sum(1 for char in str(self)[: max(column - 1, 0)] if not char.isspace())
        seen = 0
        for position, char in enumerate(body):
            if char.isspace():
                continue
            if seen == wanted:
                start = body.rfind("\n", 0, position)
                if start < 0:
                    return line, offset + position + 1
                return line + body.count("\n", 0, position), position - start
            seen += 1
        return line + body.count("\n"), 1


class YMap(dict[str, Any]):
    """A mapping from the file with the line of the mapping and of each key."""

    line: int
    key_lines: dict[str, int]

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines = {}

    def line_of(self, key: str) -> int:
        """The line of ``key`` if present, else the mapping's own line."""
        return self.key_lines.get(key, self.line)


class YList(list[Any]):
    """A sequence from the file with its line and the line of each item."""

    line: int
    item_lines: list[int]

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines = []

    def line_of(self, index: int) -> int:
        """The line of item ``index``."""
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


class YamlProblem(Exception):
    """A file that cannot be read as YAML; ``line`` is 1-based (0 when unknown)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


def _alias_problem(line: int) -> YamlProblem:
    return YamlProblem(
        _(
            "Verweise mit * (YAML-Aliase) werden nicht unterstützt; schreiben Sie den Inhalt aus "
            "oder nutzen Sie value_sets."
        ),
        line,
    )


def _loader_class() -> type:
    """libyaml's composer, about 20 times faster than PyYAML's own where it is built in;
    only composing is used, never constructing."""
    # Deferred: as in load_located.
    import yaml

    loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return loader


def load_located(text: str) -> Any:
    """Parse ``text`` into ``YMap``/``YList``/``YText``/``None`` values.

    Raises:
        YamlProblem: the text is not valid YAML, has duplicate keys or aliases, holds
            more than one document, or is too large or too deeply nested.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise YamlProblem(
            _("Die Datei ist zu groß (höchstens {n} MB).").format(n=MAX_FILE_BYTES // 2**20), 0
        )
    # Deferred: PyYAML loads when a form file is read, not with the program (the sign-in
    # reads none; docs/architecture.md, "Start-up").
    import yaml

    loader = None
    try:
        loader = _loader_class()(text)
        node = loader.get_single_node()
    except yaml.reader.ReaderError as error:
        position = error.position if isinstance(error.position, int) else 0
        raise YamlProblem(
            _(
                "Die Datei enthält ein unzulässiges Steuerzeichen (#x{code:04x}); entfernen Sie es."
            ).format(code=error.character if isinstance(error.character, int) else 0),
            text[:position].count("\n") + 1,
        ) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = error.problem or str(error)
        raise YamlProblem(
            _(
                "Die Datei ist kein gültiges YAML: {problem}. Prüfen Sie Einrückung, "
                "Doppelpunkte und Anführungszeichen."
            ).format(problem=problem),
            line,
        ) from None
    except yaml.YAMLError as error:
        raise YamlProblem(
            _("Die Datei ist kein gültiges YAML: {problem}.").format(problem=error), 0
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        return None
    return _convert(
        node, 0, text, set(), kinds=(yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode)
    )


def _convert(
    node: yaml.Node,
    depth: int,
    source: str,
    seen: set[int],
    line_hint: int | None = None,
    *,
    kinds: tuple[type[yaml.ScalarNode], type[yaml.SequenceNode], type[yaml.MappingNode]],
) -> Any:
    """``node`` as located values; ``kinds``: PyYAML's scalar, sequence and mapping node
    classes (PyYAML itself loads with the first file read)."""
    scalar, sequence, mapping_kind = kinds
    line = node.start_mark.line + 1
    if id(node) in seen:  # an alias: the composer hands out the anchored node again
        raise _alias_problem(line_hint or line)
    seen.add(id(node))
    if depth > MAX_DEPTH:
        raise YamlProblem(
            _("Die Datei ist zu tief verschachtelt (höchstens {n} Ebenen).").format(n=MAX_DEPTH),
            line,
        )
    if isinstance(node, scalar):
        if not node.style and node.value in _NULLS:
            return None
        raw = None
        if node.end_mark.line > node.start_mark.line:
            raw = source[node.start_mark.index : node.end_mark.index]
        return YText(
            node.value, line=line, column=node.start_mark.column + 1, style=node.style, raw=raw
        )
    if isinstance(node, sequence):
        items = YList(line)
        for child in node.value:
            items.append(_convert(child, depth + 1, source, seen, kinds=kinds))
            items.item_lines.append(child.start_mark.line + 1)
        return items
    if isinstance(node, mapping_kind):
        mapping = YMap(line)
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, scalar):
                raise YamlProblem(_("Schlüssel müssen einfacher Text sein."), key_line)
            key = key_node.value
            if key == "<<":
                raise YamlProblem(
                    _("Zusammenführen mit << wird nicht unterstützt; schreiben Sie die Werte aus."),
                    key_line,
                )
            if key in mapping:
                message = _(
                    "Der Schlüssel „{key}“ steht doppelt (zuerst in Zeile {first}); "
                    "löschen Sie einen der beiden."
                )
                raise YamlProblem(message.format(key=key, first=mapping.key_lines[key]), key_line)
            mapping[key] = _convert(value_node, depth + 1, source, seen, key_line, kinds=kinds)
            mapping.key_lines[key] = key_line
        return mapping
    raise YamlProblem(_("Unbekannter YAML-Knoten."), line)  # pragma: no cover


def line_of(value: Any, default: int = 0) -> int:
    """The line a located value came from, or ``default``."""
    return int(getattr(value, "line", default) or default)
