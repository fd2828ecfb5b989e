"""Small helpers shared by the command modules (no Qt, no storage)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence

from intake_app.i18n import _


def add_new_password_option(parser: argparse.ArgumentParser) -> None:
    """``--new-password-file FILE`` (else env ``INTAKE_NEW_PASSWORD``, else a prompt)."""
    parser.add_argument(
        "--new-password-file",
        metavar="FILE",
        help=_("Datei mit dem neuen Passwort (Variable INTAKE_NEW_PASSWORD)"),
    )


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """Format rows as an aligned plain-text table."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines
