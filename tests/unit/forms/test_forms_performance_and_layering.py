"""The engine is fast enough to run after every keystroke, and has no Qt in it."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from formkit import PERSONAS, TODAY

from intake_app.core.forms import Form, evaluate, load_organisation


def test_evaluate_real_form_well_under_ten_milliseconds(intake_form: Form) -> None:
    organisation = load_organisation()
    answers = [make() for make in PERSONAS.values()]
    for item in answers:  # warm up (reference lists, translations)
        evaluate(intake_form, item, today=TODAY, organisation=organisation)
    timings = []
    for _ in range(25):
        for item in answers:
            start = time.perf_counter()
            evaluate(intake_form, item, today=TODAY, organisation=organisation)
            timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 0.010, f"median {statistics.median(timings) * 1000:.2f} ms"


def test_forms_package_imports_no_qt() -> None:
    code = (
        "import sys\n"
        "from intake_app.core.forms import load_shipped_forms, evaluate, load_organisation\n"
        "form = load_shipped_forms().latest('intake')\n"
        "evaluate(form, {}, organisation=load_organisation())\n"
        "bad = [name for name in sys.modules if name.startswith('PySide6')]\n"
        "print(','.join(bad))\n"
        "raise SystemExit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
