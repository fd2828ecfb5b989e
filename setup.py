"""Package discovery that pyproject.toml alone cannot express.

``resources/`` and ``forms/`` sit at the top of the tree (docs/architecture.md) and are
installed as the data packages ``intake_app.resources`` and ``intake_app.forms``, so that
code reads them with importlib.resources from a checkout, a wheel or the desktop build
alike. Their folders (fonts, locale, reference data) and the migration ``versions`` folders
hold no ``__init__.py``; they are listed as namespace packages so that setuptools ships
them on purpose, not by a fallback it warns about.
"""

from setuptools import find_namespace_packages, setup


def _data_packages(name: str, folder: str) -> list[str]:
    found = find_namespace_packages(where=folder, exclude=["*__pycache__*"])
    return [name, *(f"{name}.{sub}" for sub in found)]


setup(
    packages=[
        *find_namespace_packages(include=["intake_app", "intake_app.*"], exclude=["*__pycache__*"]),
        *_data_packages("intake_app.resources", "resources"),
        *_data_packages("intake_app.forms", "forms"),
    ],
    package_dir={"intake_app.resources": "resources", "intake_app.forms": "forms"},
)
