"""The attacked site of tests/helpers/key_site.py as a fixture here."""

from tests.helpers.key_site import site  # noqa: F401 - a fixture
