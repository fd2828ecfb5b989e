"""The expression language: syntax, type checking, null semantics and functions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from exprkit import DAY, MiniEnv, compiled, run

from intake_app.core.forms import ExpressionError
from intake_app.core.forms.expressions import parse
from intake_app.core.forms.expressions.evaluator import Evaluator
from intake_app.core.forms.expressions.nodes import Binary, Literal, Logical
from intake_app.core.forms.expressions.parser import MAX_DEPTH
from intake_app.errors import ValidationError

# -- syntax ---------------------------------------------------------------------------------


def test_precedence_and_or_not_comparison() -> None:
    tree = parse("not a = 1 and b or c")
    assert isinstance(tree, Logical) and tree.op == "or"
    first = tree.operands[0]
    assert isinstance(first, Logical) and first.op == "and"


def test_arithmetic_binds_tighter_than_comparison() -> None:
    tree = parse("1 + 2 * 3 >= 7")
    assert isinstance(tree, Binary) and tree.op == ">="
    assert isinstance(tree.left, Binary) and tree.left.op == "+"


def test_double_equals_and_not_in_are_accepted() -> None:
    assert parse("a == 1").op == "="  # type: ignore[attr-defined]
    assert parse("a not in [1, 2]").op == "not in"  # type: ignore[attr-defined]


def test_negative_literals_are_folded() -> None:
    tree = parse("-5")
    assert isinstance(tree, Literal) and tree.value == -5


@pytest.mark.parametrize(
    ("source", "column", "fragment"),
    [
        ("", 1, "leer"),
        ("a = ", 5, "Unerwartet"),
        ("(a = 1", 7, "„)“"),
        ("a < b < c", 7, "verketten"),
        ("a && b", 3, "„and“"),
        ("${age} > 3", 1, "${"),
        ("'open", 1, "Anführungszeichen"),
        ("3abc", 2, "Leerzeichen"),
        ("a = 1 b", 7, "Ende des Ausdrucks"),
        ("f(1,", 5, "Unerwartet"),
        ("a # b", 3, "Zeichen"),
        ("'\\q'", 2, "Escape"),
        ("1234567890123456789012", 1, "Stellen"),
    ],
)
def test_syntax_errors_have_a_column(source: str, column: int, fragment: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(source)
    assert caught.value.column == column
    assert fragment in str(caught.value)


def test_syntax_error_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        parse("(((")


def test_deep_nesting_is_refused_clearly() -> None:
    with pytest.raises(ExpressionError, match="verschachtelt"):
        parse("(" * (MAX_DEPTH + 5) + "1" + ")" * (MAX_DEPTH + 5))
    with pytest.raises(ExpressionError, match="verschachtelt"):
        parse("not " * 200 + "true")
    with pytest.raises(ExpressionError, match="verschachtelt"):
        parse(" + ".join(["1"] * 200))


def test_long_and_chains_stay_shallow() -> None:
    tree = parse(" and ".join(["b"] * 150))
    assert isinstance(tree, Logical) and len(tree.operands) == 150 and tree.depth == 2


def test_too_long_source_is_refused() -> None:
    with pytest.raises(ExpressionError, match="zu lang"):
        parse("1" + " + 1" * 2000)


# -- type checking --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("unknown_q = 1", "unknown question"),
        ("dt > 5", "desselben Typs"),
        ("t < 'a'", "ordnet nur"),
        ("b + 1", "passt nicht"),
        ("age(t)", "muss ein Datum sein"),
        ("age()", "erwartet"),
        ("agee(dt)", "Meinten Sie „age“"),
        ("doc = 'aufenthalt'", "keine Auswahl von „doc“"),
        ("'w' in multi", "keine Auswahl von „multi“"),
        ("selected(multi, 'q')", "keine Auswahl"),
        ("lvl >= 'B3'", "kein Sprachniveau"),
        ("dt < '2024-13-01'", "kein gültiges Datum"),
        ("dt + 1.5", "ganze Tage"),
        ("multi = 'x'", "selected"),
        ("i in 3", "Liste"),
        ("n > 1", "inside a group"),
        ("count(t)", "count()"),
        ("matches(t, t)", "Anführungszeichen"),
        ("matches(t, '[')", "ungültig"),
        ("round(d, i)", "feste ganze Zahl"),
        ("if(b, 1, 'x')", "selben Typ"),
        ("choice = 'x'", "choice_filter"),
        (". = 1", "no self"),
        ("[1, 'a']", "selben Typ"),
        ("items = 1", "vergleicht nur"),
        ("sum(items, flag)", "nur Zahlen"),
    ],
)
def test_type_errors_are_load_errors(source: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compiled(source)
    assert fragment in str(caught.value)
    assert caught.value.column is not None


def test_condition_must_be_boolean() -> None:
    with pytest.raises(ExpressionError, match="Bedingung"):
        compiled("i + 1", condition=True)
    assert compiled("b", condition=True).type.kind.value == "bool"


def test_references_are_collected() -> None:
    expression = compiled("age(dt) > i and any(items, n > 1)")
    assert expression.references == {"dt", "i", "items", "n"}


def test_text_literals_become_typed_values() -> None:
    tree = compiled("lvl >= 'b1'").tree
    assert isinstance(tree, Binary) and tree.right.value == 3  # type: ignore[attr-defined]
    tree = compiled("dt < '2024-01-31'").tree
    assert tree.right.value == date(2024, 1, 31)  # type: ignore[attr-defined]


# -- evaluation and null semantics ----------------------------------------------------------


def test_kleene_logic() -> None:
    env = MiniEnv({"b": True, "c": None})
    assert run("b and c", env) is None
    assert run("b or c", env) is True
    assert run("not c", env) is None
    env = MiniEnv({"b": False, "c": None})
    assert run("b and c", env) is False
    assert run("b or c", env) is None


def test_comparisons_and_arithmetic_with_null_are_null() -> None:
    env = MiniEnv({"i": None})
    assert run("i = 3", env) is None
    assert run("i != 3", env) is None
    assert run("i + 1", env) is None
    assert run("i in [1, 2]", env) is None
    assert run("answered(i)", env) is False
    assert run("coalesce(i, 7)", env) == 7


def test_numbers_are_exact() -> None:
    assert run("0.1 + 0.2 = 0.3") is True
    assert run("7 / 2") == Decimal("3.5")
    assert run("round(7 / 3, 2)") == Decimal("2.33")
    assert run("round(2.5)") == 3
    assert run("-3 - -4") == 1
    env = MiniEnv({"d": Decimal("12.5"), "i": 2})
    assert run("d * i", env) == Decimal("25.0")


def test_date_arithmetic() -> None:
    env = MiniEnv({"dt": date(2026, 1, 31)})
    assert run("dt + 1", env) == date(2026, 2, 1)
    assert run("dt - 31", env) == date(2025, 12, 31)
    assert run("today() - dt", env) == 30
    assert run("add_months(dt, 1)", env) == date(2026, 2, 28)
    assert run("add_months(dt, -13)", env) == date(2024, 12, 31)
    assert run("year(dt) * 100 + month(dt)", env) == 202601
    assert run("dt < '2026-02-01'", env) is True
    assert run("date('2024-02-29') + 365") == date(2025, 2, 28)


def test_age_counts_completed_years() -> None:
    assert run("age(dt)", MiniEnv({"dt": date(2008, 3, 2)})) == 18
    assert run("age(dt)", MiniEnv({"dt": date(2008, 3, 3)})) == 17
    assert run("age(dt, '2030-01-01')", MiniEnv({"dt": date(2000, 6, 1)})) == 29
    assert run("age(dt)", MiniEnv({"dt": None})) is None


def test_cefr_levels_are_ordered() -> None:
    env = MiniEnv({"lvl": 3})  # B1
    assert run("lvl >= 'A2'", env) is True
    assert run("lvl > 'B1'", env) is False
    assert run("lvl in ['B1', 'B2']", env) is True
    assert run("min(lvl, 'A2')", env) == 2


def test_multi_choice_functions() -> None:
    env = MiniEnv({"multi": ("x", "z")})
    assert run("selected(multi, 'x')", env) is True
    assert run("selected(multi, 'y')", env) is False
    assert run("'z' in multi", env) is True
    assert run("count(multi)", env) == 2
    assert run("len(multi)", env) == 2
    assert run("selected(multi, 'x')", MiniEnv({"multi": None})) is False


def test_repeat_functions() -> None:
    env = MiniEnv(items=[{"n": 1, "flag": True}, {"n": 5, "flag": False}, {"n": None}])
    assert run("count(items)", env) == 3
    assert run("count(items, n > 1)", env) == 1
    assert run("any(items, flag)", env) is True
    assert run("all(items, flag)", env) is False
    assert run("sum(items, n)", env) == 6
    assert run("max(items, n)", env) == 5
    assert run("min(items, n)", env) == 1
    assert run("answered(items)", env) is True
    assert run("answered(items)", MiniEnv()) is False
    assert run("all(items, flag)", MiniEnv()) is True


def test_child_sees_its_own_item() -> None:
    env = MiniEnv(items=[{"n": 1}, {"n": 7}])
    assert run("n * 2", env, context=(1,), chain=("items",)) == 14


def test_text_functions() -> None:
    env = MiniEnv({"t": "DO-2026-0042"})
    assert run("matches(t, '[A-Z]{2}-[0-9]{4}-[0-9]{4}')", env) is True
    assert run("matches(t, '[0-9]+')", env) is False
    assert run("len(t)", env) == 12
    assert run("t + '/1'", env) == "DO-2026-0042/1"
    assert run("latin(t)", MiniEnv({"t": "Müller-Özdemir"})) is True
    assert run("latin(t)", MiniEnv({"t": "Коваленко"})) is False
    assert run("number(t)", MiniEnv({"t": "12,5"})) == Decimal("12.5")
    assert run("number(t)", MiniEnv({"t": "abc"})) is None
    assert run("len(t)", MiniEnv({"t": None})) == 0


def test_if_and_coalesce() -> None:
    assert run("if(b, 1, 2)", MiniEnv({"b": True})) == 1
    assert run("if(b, 1, 2)", MiniEnv({"b": None})) == 2
    assert run("coalesce(i, d, 3)", MiniEnv({"d": Decimal("1.5")})) == Decimal("1.5")


def test_consent_functions() -> None:
    consent = {
        "purposes": {
            "central_office": {"granted": True, "withdrawn_on": None},
            "jobcenter": {"granted": True, "withdrawn_on": "2026-03-02"},
            "later": {"granted": True, "withdrawn_on": "2026-04-01"},
        },
        "art9": {"granted": True, "withdrawn_on": None},
    }
    env = MiniEnv({"consent": consent})
    assert run("consented(consent, 'central_office')", env) is True
    assert run("consented(consent, 'jobcenter')", env) is False  # withdrawn today
    assert run("consented(consent, 'later')", env) is True
    assert run("consented(consent, 'unknown')", env) is False
    assert run("art9_consented(consent)", env) is True
    assert run("art9_consented(consent)", MiniEnv()) is False


def test_choice_filter_names() -> None:
    from intake_app.core.forms.expressions.types import Kind, Type

    choice_type = Type(Kind.TEXT, domain=frozenset({"16a", "60a"}), owner="basis")
    env = MiniEnv({"doc": "ae"}, choice=("16a", ("ae", "fiktion")))
    assert run("doc in choice_tags", env, choice=choice_type) is True
    env = MiniEnv({"doc": "duldung"}, choice=("16a", ("ae",)))
    assert run("doc in choice_tags", env, choice=choice_type) is False
    assert run("choice != '60a'", env, choice=choice_type) is True


@pytest.mark.parametrize(
    ("source", "values", "fragment"),
    [
        ("i / (i - i)", {"i": 3}, "Division durch null"),
        ("i * i * i * i", {"i": 10**5}, "außerhalb"),
        ("dt + i", {"dt": date(9999, 12, 30), "i": 5}, "Datum"),
        ("add_months(dt, i)", {"dt": DAY, "i": 10**6}, "Datum"),
    ],
)
def test_runtime_failures_raise_expression_error(
    source: str, values: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ExpressionError, match=fragment):
        run(source, MiniEnv(values))


def test_unchecked_tree_with_wrong_types_raises_typed_error() -> None:
    tree = parse("1 + 'a'")  # never checked: the evaluator must still be safe
    with pytest.raises(ExpressionError):
        Evaluator(MiniEnv()).evaluate(tree)
    with pytest.raises(ExpressionError):
        Evaluator(MiniEnv()).evaluate(parse("unbound_name"))
