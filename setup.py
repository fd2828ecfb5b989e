"""Package discovery that pyproject.toml alone cannot express.

``resources/`` and ``forms/`` sit at the top of the tree (DESIGN.md) and are installed as
the data packages ``intake_app.resources`` and ``intake_app.forms``, so that code reads
them with importlib.resources from a checkout, a wheel or the desktop build alike.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["intake_app", "intake_app.*"]),
        "intake_app.resources",
        "intake_app.forms",
    ],
    package_dir={"intake_app.resources": "resources", "intake_app.forms": "forms"},
)
