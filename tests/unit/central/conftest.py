"""Fixtures of the central office tests: one office per test, on SQLite and PostgreSQL.

The ``postgres`` variants connect to ``INTAKE_TEST_PG_URL`` (default: the local server
that ``.ci/run`` starts) in a fresh schema and fail, not skip, when it is unreachable.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.central.harness import Central, make_central, pg_schema_url

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def central(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Central]:
    """An office on each database backend."""
    if request.param == "sqlite":
        office = make_central(tmp_path / "office")
        yield office
        office.engine.dispose()
        return
    with pg_schema_url() as url:
        office = make_central(tmp_path / "office", url=url)
        yield office
        office.engine.dispose()


@pytest.fixture
def sqlite_central(tmp_path: Path) -> Iterator[Central]:
    """An office on SQLite only (for tests about files and HTTP, not the database)."""
    office = make_central(tmp_path / "office")
    yield office
    office.engine.dispose()
