"""Scan every file under a folder for canary strings in any common text encoding."""

from __future__ import annotations

from pathlib import Path

ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be")


def encodings_of(needle: str) -> list[bytes]:
    """The byte forms a string may take in a file."""
    forms = []
    for variant in {needle, needle.lower(), needle.upper()}:
        for enc in ENCODINGS:
            forms.append(variant.encode(enc))
    return forms


def scan(root: Path, needles: list[str]) -> list[tuple[str, str]]:
    """Return (file, needle) for every file under ``root`` that contains a needle."""
    hits = []
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files, f"nothing to scan under {root}"
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            if any(form in data for form in encodings_of(needle)):
                hits.append((str(path.relative_to(root)), needle))
    return hits
