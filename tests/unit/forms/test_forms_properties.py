"""Property-based tests: no input crashes the parser, checker, evaluator or engine.

Whatever the text, tree, answers or file, the only exception allowed is the typed one
(:class:`ExpressionError` for expressions, :class:`FormLoadError` for files), and the
engine never raises at all.
"""

from __future__ import annotations

import os
import string
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from exprkit import TYPES, MiniEnv, MiniScope
from formkit import TODAY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake_app.core.forms import ExpressionError, Form, evaluate
from intake_app.core.forms.expressions import FUNCTIONS, Evaluator, compile_expression, parse
from intake_app.core.forms.expressions.nodes import (
    Binary,
    Binding,
    Call,
    ListLiteral,
    Literal,
    Logical,
    Name,
    Node,
    SelfRef,
    Unary,
)
from intake_app.core.forms.loader import collect_issues

#: Run longer on demand: FORMS_FUZZ_EXAMPLES=5000 pytest tests/unit/forms/test_forms_properties.py
EXAMPLES = int(os.environ.get("FORMS_FUZZ_EXAMPLES", "300"))
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

TOKENS = [
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
    "=",
    "==",
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
    "0",
    "1",
    "2.5",
    "99999999999999999",
    "'B1'",
    "'2024-02-29'",
    "'x'",
    "'ae'",
    "''",
    '"',
    "'",
    *TYPES,
    *FUNCTIONS,
    "choice",
    "choice_tags",
    "unknown",
    "${x}",
]

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.dates(),
    st.lists(st.text(max_size=3), max_size=3).map(tuple),
    st.dictionaries(st.text(max_size=5), st.booleans(), max_size=3),
)


def env_strategy() -> st.SearchStrategy[MiniEnv]:
    items = st.lists(st.fixed_dictionaries({"n": values, "flag": values}), max_size=3)
    return st.builds(
        MiniEnv,
        st.dictionaries(st.sampled_from(sorted(TYPES)), values),
        items,
        st.just(TODAY),
        st.tuples(values, st.just(("ae",))),
    )


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_parses_or_raises_expression_error(source: str) -> None:
    try:
        tree = parse(source)
    except ExpressionError as error:
        assert error.message
    else:
        assert isinstance(tree, Node)


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join), env_strategy(), st.booleans())
def test_token_soup_compiles_and_evaluates_safely(
    source: str, env: MiniEnv, in_group: bool
) -> None:
    scope = MiniScope(("items",) if in_group else (), self_name="i")
    try:
        expression = compile_expression(source, scope)
    except ExpressionError:
        return
    context = (0,) if in_group and env.items else ()
    if in_group and not env.items:
        return
    try:
        Evaluator(env).evaluate(expression.tree, context)
    except ExpressionError:
        pass


def _bindings() -> st.SearchStrategy[Binding | None]:
    return st.one_of(
        st.none(),
        st.builds(
            Binding,
            st.sampled_from(["question", "choice", "choice_tags", "bogus"]),
            st.sampled_from(sorted(TYPES)),
            st.integers(min_value=0, max_value=2),
        ),
    )


def _name(binding: Binding | None, name: str) -> Name:
    node = Name(name, 1)
    node.binding = binding
    return node


def _self(binding: Binding | None) -> SelfRef:
    node = SelfRef(1)
    node.binding = binding
    return node


literal_values = st.one_of(values, st.just(Decimal("NaN")), st.just(object()))
leaves = st.one_of(
    st.builds(Literal, literal_values, st.just(1)),
    st.builds(_name, _bindings(), st.sampled_from([*TYPES, "x"])),
    st.builds(_self, _bindings()),
)


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    ops = ["+", "-", "*", "/", "=", "!=", "<", "<=", ">", ">=", "in", "not in", "%"]
    return st.one_of(
        st.builds(Unary, st.sampled_from(["not", "-", "?"]), children, st.just(1)),
        st.builds(Binary, st.sampled_from(ops), children, children, st.just(1)),
        st.builds(
            Logical,
            st.sampled_from(["and", "or"]),
            st.lists(children, min_size=1, max_size=4),
            st.just(1),
        ),
        st.builds(ListLiteral, st.lists(children, max_size=4), st.just(1)),
        st.builds(
            Call, st.sampled_from([*FUNCTIONS, "nope"]), st.lists(children, max_size=4), st.just(1)
        ),
    )


trees = st.recursive(leaves, _extend, max_leaves=25)


@SETTINGS
@given(trees, env_strategy(), st.sampled_from([(), (0,), (0, 0)]))
def test_arbitrary_trees_raise_only_expression_error(
    tree: Node, env: MiniEnv, context: tuple[int, ...]
) -> None:
    if context and not env.items:
        context = ()
    evaluator = Evaluator(env)
    try:
        # ``eval`` bypasses the safety net of ``evaluate``: the checks themselves must hold.
        evaluator.eval(tree, context)
    except ExpressionError:
        pass


# -- the engine and the loader -----------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**18), max_value=10**18),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.sampled_from(
            [
                "2026-01-01",
                "B1",
                "yes",
                "SY",
                "ara",
                "81302",
                "25_2_refugee",
                "aufenthaltserlaubnis",
                "12.5",
                "none",
            ]
        ),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_engine_never_raises_on_garbage_answers(intake_form: Form, data: st.DataObject) -> None:
    ids = [question.id for question in intake_form]
    answers: dict[str, Any] = data.draw(
        st.dictionaries(
            st.one_of(st.sampled_from(ids), st.text(max_size=8)), json_values, max_size=25
        )
    )
    if data.draw(st.booleans()):
        answers["qualifications"] = data.draw(
            st.lists(
                st.dictionaries(
                    st.sampled_from(
                        [
                            "isced_level",
                            "qualification_country",
                            "regulated",
                            "recognition_status",
                            "x",
                        ]
                    ),
                    json_values,
                ),
                max_size=3,
            )
        )
    state = evaluate(intake_form, answers, today=date(2026, 3, 2))
    assert isinstance(state.errors, dict)
    for section in intake_form.sections:
        answered, total = state.section_completion(section.id)
        assert 0 <= answered <= total
    for qid in ids:
        state.visible(qid)
    state.choices_for("legal_basis")


yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=15),
    st.sampled_from(["text", "date", "choice", "repeat", "age(x) > 1", "de", "en", "q1", "2026.1"]),
)
yaml_trees = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
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
                    "de",
                    "en",
                    "value",
                    "min",
                    "max",
                    "changes",
                    "rename",
                    "to",
                    "include",
                    "value_sets",
                ]
            ),
            children,
            max_size=5,
        ),
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        yaml_trees.map(lambda tree: yaml.safe_dump(tree, allow_unicode=True)),
        st.text(alphabet=string.printable + "äöü„“", max_size=300),
    )
)
def test_loader_reports_issues_and_never_crashes(tmp_path_factory: Any, text: str) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz")) / "form.yaml"
    path.write_text(text, encoding="utf-8")
    form, issues = collect_issues(path)
    assert form is not None or issues
    for issue in issues:
        assert issue.format().startswith(f"{path}:")
