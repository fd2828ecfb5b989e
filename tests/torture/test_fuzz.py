"""Item 4: fuzzing the batch reader, the form loader and the expression evaluator.

Each target takes ``scale.fuzz_inputs`` generated inputs from hypothesis (100,000 in the
full run) and, where ``atheris`` is installed, as many again from atheris in a separate
process (coverage-guided mutation of the seeds, see ``helpers/fuzz_atheris.py``). Nothing
may raise but the typed error of the target (:class:`BatchError`, :class:`FormLoadError`,
:class:`ExpressionError`); the counts of each outcome are reported.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from intake_app.core.forms import load_organisation
from intake_app.demo.data import generate
from tests.torture.conftest import ROOT, Figures, Scale, Stopwatch, child_env
from tests.torture.helpers.fuzz_targets import (
    SEED_FORMS,
    BatchTarget,
    ExpressionTarget,
    form_target,
)

pytestmark = pytest.mark.torture


def _settings(examples: int) -> Any:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", "2026-01-01", "intake", "complete", "zlib", "none", "erasure"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=25,
)


# -- 1. the batch reader -----------------------------------------------------------------

INTERESTING = [0, 1, 2, 14, 96, 255, 256, 1713, 65535, 65536, 2**31 - 1, 2**32 - 1]


@st.composite
def mutated_batch(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A genuine batch with 1-6 mutations: flips, cuts, insertions, length fields..."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete", "u16", "u32", "splice"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif kind in ("u16", "u32"):
            size = 2 if kind == "u16" else 4
            value = draw(st.sampled_from(INTERESTING)) % (256**size)
            data[pos : pos + size] = value.to_bytes(size, "big")
        elif kind == "splice":
            other = draw(st.sampled_from(seeds))
            start = draw(st.integers(0, len(other) - 1))
            data[pos:] = other[start:]
    return bytes(data)


@st.composite
def sealed_input(draw: st.DrawFn, target: BatchTarget) -> tuple[bytes, dict[str, Any]]:
    """A plaintext and header overrides for a correctly sealed and signed batch."""
    source = draw(st.sampled_from(["json", "seed", "bytes"]))
    if source == "json":
        value = draw(
            st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {
                        "records": st.lists(json_values, max_size=3),
                        "instructions": st.lists(json_values, max_size=3),
                    }
                ),
            )
        )
        plain = json.dumps(value, ensure_ascii=False).encode("utf-8")
    elif source == "seed":
        seed = bytearray(draw(st.sampled_from(target.payload_seeds)))
        pos = draw(st.integers(0, len(seed) - 1))
        seed[pos : pos + draw(st.integers(0, 8))] = draw(st.binary(max_size=8))
        plain = bytes(seed)
    else:
        plain = draw(st.binary(max_size=200))
    kwargs: dict[str, Any] = {"compression": draw(st.sampled_from(["zlib", "none"]))}
    header = target.manifest_for(plain) if draw(st.booleans()) else {}
    for key in draw(
        st.lists(
            st.sampled_from(
                [
                    "payload_length",
                    "record_count",
                    "records",
                    "instructions",
                    "compression",
                    "created",
                    "recovery_key_id",
                    "version",
                    "format",
                    "extra",
                ]
            ),
            max_size=2,
        )
    ):
        header[key] = draw(json_values)
    kwargs["header"] = header
    body = draw(st.sampled_from(["normal", "bomb", "garbage", "truncated"]))
    if body == "bomb":
        kwargs["body"] = zlib.compress(b"[" * 5_000_000)
    elif body == "garbage":
        kwargs["body"] = draw(st.binary(max_size=64))
    elif body == "truncated":
        kwargs["body"] = zlib.compress(plain)[: draw(st.integers(0, 20))]
    return plain, kwargs


def test_fuzz_batch_reader(scale: Scale, figures: Figures) -> None:
    target = BatchTarget()
    outcomes: Counter[str] = Counter()
    sealed_share = max(scale.fuzz_inputs // 10, 50)

    @_settings(scale.fuzz_inputs - sealed_share)
    @given(st.data())
    def raw(data: st.DataObject) -> None:
        outcomes[target.check_bytes(data.draw(mutated_batch(target.seeds)))] += 1

    @_settings(sealed_share)
    @given(st.data())
    def sealed(data: st.DataObject) -> None:
        plain, kwargs = data.draw(sealed_input(target))
        outcomes[target.check_sealed(plain, **kwargs)] += 1

    with Stopwatch() as watch:
        raw()
        sealed()
    runs = sum(outcomes.values())
    assert runs >= scale.fuzz_inputs, f"only {runs} inputs ran"
    assert len(outcomes) > 5, f"the inputs reached too few outcomes: {outcomes}"
    _report(figures, "batch reader (hypothesis)", runs, watch.seconds, outcomes)


# -- 2. the form loader ------------------------------------------------------------------

FORM_KEYS = [
    "form",
    "version",
    "title",
    "sections",
    "id",
    "type",
    "label",
    "questions",
    "choices",
    "relevant",
    "calculate",
    "required",
    "constraint",
    "constraint_message",
    "constraints",
    "de",
    "en",
    "ar",
    "value",
    "min",
    "max",
    "changes",
    "rename",
    "to",
    "include",
    "value_sets",
    "previous_version",
    "choice_filter",
    "reference",
    "default",
    "tags",
    "client_languages",
    "special_category",
    "print",
    "client_facing",
    "item_label",
]
FORM_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=20),
    st.sampled_from(
        [
            "text",
            "long_text",
            "date",
            "choice",
            "multi_choice",
            "repeat",
            "integer",
            "decimal",
            "yes_no",
            "consent",
            "note",
            "reference",
            "cefr",
            "country",
            "age(x) > 1",
            "today()",
            "sum(jobs, years)",
            "reference/residence.yaml",
            "../../etc/passwd",
            "/etc/passwd",
            "1.0",
            "2026.1",
            "fuzz",
            "person",
        ]
    ),
)
FORM_TREES = st.recursive(
    FORM_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(FORM_KEYS), inner, max_size=6),
    ),
    max_leaves=40,
)
YAML_TOKENS = [
    ":",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&a ",
    "*a",
    "<<: *a",
    "!!python/object:os.system",
    "!!binary",
    "\t",
    "\n",
    "\r\n",
    "\x00",
    "\ufeff",
    "'",
    '"',
    "#",
    "|",
    ">",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "? ",
    "~",
    "yes",
    "no",
    "NO",
    "0x1F",
    "1e309",
    ".inf",
    "ﬁ",
    "\u202e",
    "x" * 5000,
    "[" * 2000,
    "{a: " * 500,
]


@st.composite
def form_text(draw: st.DrawFn) -> bytes:
    """Form-shaped YAML, a damaged seed form, or raw bytes."""
    import yaml

    kind = draw(st.sampled_from(["tree", "seed", "seed", "bytes"]))
    if kind == "tree":
        tree = draw(FORM_TREES)
        return yaml.safe_dump(tree, allow_unicode=True).encode("utf-8")
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    text = draw(st.sampled_from(SEED_FORMS))
    for _ in range(draw(st.integers(1, 5))):
        pos = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "dup_line", "replace"]))
        if op == "insert":
            text = text[:pos] + draw(st.sampled_from(YAML_TOKENS)) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 40)) :]
        elif op == "dup_line":
            lines = text.splitlines(keepends=True)
            index = draw(st.integers(0, len(lines) - 1))
            lines.insert(index, lines[index])
            text = "".join(lines)
        else:
            text = text[:pos] + draw(st.text(max_size=6)) + text[pos + 6 :]
    return text.encode("utf-8", "surrogatepass")


def test_fuzz_form_loader(scale: Scale, figures: Figures) -> None:
    outcomes: Counter[str] = Counter()

    @_settings(scale.fuzz_inputs)
    @given(form_text())
    def run(data: bytes) -> None:
        outcomes[form_target(data)] += 1

    with Stopwatch() as watch:
        run()
    runs = sum(outcomes.values())
    assert runs >= scale.fuzz_inputs, f"only {runs} inputs ran"
    assert outcomes["loaded"] > 0 and outcomes["refused"] > 0, outcomes
    _report(figures, "form loader (hypothesis)", runs, watch.seconds, outcomes)


# -- 3. the expression evaluator ---------------------------------------------------------


def _answer_sets(target: ExpressionTarget) -> list[dict[str, Any]]:
    import random
    from datetime import date

    organisation = load_organisation(None)
    sets: list[dict[str, Any]] = [{}]
    for seed in range(3):
        answers, _complete = generate(
            target.form,
            organisation=organisation,
            rng=random.Random(seed),
            today=date(2026, 3, 2),
            complete=True,
            case_number="FUZZ-2026-00001",
            counsellor="fuzz",
        )
        sets.append(answers)
    return sets


def test_fuzz_expression_evaluator(scale: Scale, figures: Figures) -> None:
    target = ExpressionTarget()
    answer_sets = _answer_sets(target)
    functions = sorted(
        __import__("intake_app.core.forms.expressions", fromlist=["FUNCTIONS"]).FUNCTIONS
    )
    tokens = [
        "(",
        ")",
        "[",
        "]",
        ",",
        ".",
        "+",
        "-",
        "*",
        "/",
        "%",
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "and",
        "or",
        "not",
        "in",
        "true",
        "false",
        "null",
        "0",
        "1",
        "-1",
        "2.5",
        "1e400",
        "99999999999999999999999",
        "'2024-02-29'",
        "'B1'",
        "'x'",
        "''",
        "'",
        '"',
        "choice",
        "choice_tags",
        "today()",
        *functions,
        *target.ids,
    ]
    garbage = st.one_of(json_values, st.dates().map(str), st.just(float("nan")))
    outcomes: Counter[str] = Counter()

    atoms = st.one_of(
        st.sampled_from(target.ids),
        st.sampled_from(["true", "false", "null", "today()", "'2026-02-29'", "'B1'", "''"]),
        st.integers(-(10**30), 10**30).map(str),
        st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
        st.text(max_size=8).map(lambda t: "'" + t.replace("'", "") + "'"),
    )
    grammar = st.recursive(
        atoms,
        lambda inner: st.one_of(
            st.tuples(
                inner,
                st.sampled_from(
                    ["+", "-", "*", "/", "%", "=", "!=", "<", ">=", "and", "or", "in", "not in"]
                ),
                inner,
            ).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            inner.map(lambda e: f"not {e}"),
            st.tuples(st.sampled_from(functions), st.lists(inner, max_size=3)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"
            ),
            st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        ),
        max_leaves=12,
    )

    @st.composite
    def source(draw: st.DrawFn) -> str:
        kind = draw(st.sampled_from(["grammar", "grammar", "tokens", "seed", "text"]))
        if kind == "grammar":
            return draw(grammar)
        if kind == "tokens":
            return " ".join(draw(st.lists(st.sampled_from(tokens), max_size=20)))
        if kind == "text":
            return draw(st.text(max_size=120))
        text = draw(st.sampled_from(target.seeds))
        pos = draw(st.integers(0, len(text)))
        return text[:pos] + draw(st.sampled_from(tokens)) + text[pos + draw(st.integers(0, 4)) :]

    @st.composite
    def answers(draw: st.DrawFn) -> dict[str, Any]:
        base = dict(draw(st.sampled_from(answer_sets)))
        for qid in draw(st.lists(st.sampled_from(target.ids), max_size=4)):
            base[qid] = draw(garbage)
        return base

    @_settings(scale.fuzz_inputs)
    @given(source(), answers(), st.integers(0, 8), st.booleans())
    def run(text: str, values: dict[str, Any], where: int, condition: bool) -> None:
        outcomes[target.check(text, values, where=where, condition=condition)] += 1

    with Stopwatch() as watch:
        run()
    runs = sum(outcomes.values())
    assert runs >= scale.fuzz_inputs, f"only {runs} inputs ran"
    assert outcomes["value"] > 0 and outcomes["refused"] > 0, outcomes
    _report(figures, "expression evaluator (hypothesis)", runs, watch.seconds, outcomes)


# -- atheris (where it installs) ---------------------------------------------------------

HAS_ATHERIS = importlib.util.find_spec("atheris") is not None


# Defined only where atheris is installed (scripts/torture.sh installs it), so that a
# machine without it neither skips nor pretends to run these.
if HAS_ATHERIS:

    @pytest.mark.parametrize("target", ["batch", "form", "expression"])
    def test_atheris(target: str, tmp_path: Path, scale: Scale, figures: Figures) -> None:
        """Coverage-guided fuzzing in a separate process (libFuzzer via atheris)."""
        with Stopwatch() as watch:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tests.torture.helpers.fuzz_atheris",
                    target,
                    str(scale.fuzz_inputs),
                    str(tmp_path),
                ],
                cwd=ROOT,
                env=child_env(),
                capture_output=True,
                text=True,
                timeout=6 * 3600,
            )
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-8000:]
        report = json.loads(done.stdout.strip().splitlines()[-1])
        runs = int(report["runs"])
        assert runs >= scale.fuzz_inputs
        outcomes = Counter(report["outcomes"])
        assert sum(outcomes.values()) == runs
        corpus = len(list((tmp_path / "corpus").iterdir()))
        _report(figures, f"{target} (atheris)", runs, watch.seconds, outcomes)
        figures.add("4", f"{target} (atheris)", "corpus entries at the end", corpus)


def _report(figures: Figures, test: str, runs: int, seconds: float, outcomes: Counter[str]) -> None:
    figures.add("4", test, "inputs", runs)
    figures.add("4", test, "other exceptions", 0)
    figures.add("4", test, "rate", round(runs / max(seconds, 1e-9)), "inputs/s")
    top = ", ".join(f"{k} {v}" for k, v in outcomes.most_common(8))
    figures.add("4", test, "outcomes", top)
