"""Fixtures of the form tests: the shipped interview and a helper to write form files."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from intake_app.core.forms import Form, load_shipped_forms


@pytest.fixture(scope="session")
def intake_form() -> Form:
    """The shipped intake interview, version 2026.1."""
    return load_shipped_forms().get("intake", "2026.1")


@pytest.fixture
def write_form(tmp_path: Path) -> Callable[..., Path]:
    """Write a (dedented) form text to a file and return its path."""

    def write(text: str, name: str = "form.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write
