"""Small cells: primary and secondary suppression (docs/central-office.md §6, "Small cells").

A count from 1 to ``min_count - 1`` could point at a person; it is shown as ``<5`` (primary
suppression). A suppressed cell must also not be recomputable from a sum: wherever a sum
is shown with its parts (a column and its total, the closing reasons and the cases
closed, …) and exactly one of them, sum or part, is hidden, the smallest other part that
is not zero is hidden as well, shown as ``x`` (secondary suppression, the usual practice
of official statistics). When no other part can be hidden, the sum is. This repeats until
no sum line holds exactly one hidden cell.

Zero is shown: an empty cell names no one. ``min_count = 1`` hides nothing.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

#: What a funder or the KIM database is given unless asked otherwise.
MIN_COUNT = 5
#: A cell hidden only so that a small one cannot be computed from a sum.
SECONDARY = "x"

K = TypeVar("K", bound=Hashable)

#: A sum line: the key of the sum and the keys of its parts.
Line = tuple[K, Sequence[K]]


def primary(min_count: int) -> str:
    """How a small count is shown: ``<5``."""
    return f"<{min_count}"


def hidden_cells(
    cells: Mapping[K, int], lines: Iterable[tuple[K, Sequence[K]]], *, min_count: int = MIN_COUNT
) -> dict[K, str]:
    """The cells to hide, each with what is shown instead (``<N`` or ``x``).

    ``cells``: every count shown (missing keys count as 0); ``lines``: every shown sum
    with its parts.
    """
    if min_count < 1:
        raise ValueError("min_count must be at least 1")
    lines = list(lines)
    small = {key for key, value in cells.items() if 0 < value < min_count}
    hidden = set(small)
    changed = True
    while changed:
        changed = False
        for total, parts in lines:
            members = [total, *parts]
            if sum(1 for key in members if key in hidden) != 1:
                continue
            # one hidden member of a sum line is the sum of the others (or their
            # difference): hide the smallest part that is not zero, else the sum
            others = [p for p in parts if p not in hidden and cells.get(p, 0) > 0]
            if others:
                hidden.add(min(others, key=lambda p: (cells[p], repr(p))))
            elif total not in hidden:
                hidden.add(total)
            else:
                continue
            changed = True
    return {key: (primary(min_count) if key in small else SECONDARY) for key in hidden}


def shown(
    cells: Mapping[K, int], lines: Iterable[tuple[K, Sequence[K]]], *, min_count: int = MIN_COUNT
) -> dict[K, str]:
    """Every cell as it is shown: the count, ``<N`` or ``x``."""
    hidden = hidden_cells(cells, lines, min_count=min_count)
    return {key: hidden.get(key, str(value)) for key, value in cells.items()}
