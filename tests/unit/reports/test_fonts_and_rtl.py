"""Right-to-left text for reportlab: shaping, visual order, mirrored brackets, fonts."""

from __future__ import annotations

import unicodedata

import pytest
from reportlab.pdfbase import pdfmetrics

from intake_app.pdf import fonts
from intake_app.reports.flowables import RtlParagraph, chunks, qr_matrix
from intake_app.reports.layout import make_styles


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def test_fonts_register_once_and_cover_the_scripts() -> None:
    fonts.register_fonts()
    fonts.register_fonts()
    latin = pdfmetrics.getFont(fonts.LATIN).face.charToGlyph
    arabic = pdfmetrics.getFont(fonts.ARABIC).face.charToGlyph
    for char in "AÄßçğışЖЁЇєґ":
        assert ord(char) in latin, char
    for char in "ابتثپچژگکی،؟" + "ﻻﺍﻟ":  # Persian letters and presentation forms
        assert ord(char) in arabic, char
    assert fonts.font_for("ش") == fonts.ARABIC
    assert fonts.font_for("Ж") == fonts.LATIN
    assert fonts.font_for("→") == fonts.SYMBOLS
    assert fonts.font_for("ش", bold=True) == fonts.ARABIC_BOLD


def test_arabic_is_shaped_and_reversed_for_drawing() -> None:
    shown = fonts.visual("الحسن", rtl=True)
    # joining forms (presentation forms) in visual order: the last letter comes first
    assert all(0xFE70 <= ord(c) <= 0xFEFF for c in shown)
    assert nfkc(shown)[::-1] == "الحسن"


def test_lam_alef_becomes_the_ligature() -> None:
    shown = fonts.visual("لا", rtl=True)
    assert len(shown) == 1 and nfkc(shown) == "لا"


def test_persian_zero_width_non_joiner_is_kept() -> None:
    shown = fonts.visual("می‌شود", rtl=True)
    assert "\u200c" in shown
    assert nfkc(shown)[::-1] == "می‌شود"


def test_numbers_and_latin_keep_their_direction_inside_arabic() -> None:
    shown = fonts.visual("ولد في 1990 في حلب", rtl=True)
    assert "1990" in shown
    shown = fonts.visual("مركز العمل (Jobcenter Musterstadt)", rtl=True)
    assert shown.startswith("(Jobcenter Musterstadt)")  # brackets mirrored back


@pytest.mark.parametrize(
    ("text", "rtl", "expected_start"),
    [
        ("سعيد (Jobcenter) [x]", True, "[x] (Jobcenter) "),
        ("Al-Hassan (الحسن)", False, "Al-Hassan ("),
        ("Arbeitsmarktintegration.", True, ".Arbeitsmarktintegration"),
    ],
)
def test_brackets_and_full_stops_follow_the_paragraph_direction(
    text: str, rtl: bool, expected_start: str
) -> None:
    assert fonts.visual(text, rtl=rtl).startswith(expected_start)


def test_left_to_right_text_is_left_alone() -> None:
    assert fonts.visual("Шевченко, Олена", rtl=False) == "Шевченко, Олена"
    assert fonts.base_direction("Шевченко") == "L"
    assert fonts.base_direction("123 الحسن") == "R"


def test_markup_escapes_and_marks_arabic_runs() -> None:
    text = fonts.markup("Al-Hassan <b> & (الحسن)")
    assert "&lt;b&gt; &amp;" in text
    assert f'<font name="{fonts.ARABIC}">' in text
    assert "<b>" not in text


def test_short_rtl_runs_stay_on_one_line() -> None:
    text = fonts.markup("Name: ليلى الحسن")
    assert "\xa0" in text  # a no-break space joins the two words of the run


def test_tounicode_maps_shaped_glyphs_to_typed_letters() -> None:
    cmap = fonts._to_unicode_cmap("X", [0, 0xFEE3, 0xFEFB, ord("A")])
    assert "<01> <0645>" in cmap  # meem initial form -> meem
    assert "<02> <06440627>" in cmap  # lam-alef ligature -> lam, alef (logical order)
    assert "<03> <0041>" in cmap


def test_rtl_paragraph_breaks_lines_in_logical_order() -> None:
    style = make_styles().body_rtl
    words = ["كلمة" + str(i) for i in range(40)]
    paragraph = RtlParagraph(" ".join(words), style)
    _width, height = paragraph.wrap(120, 10_000)
    lines = paragraph._lines
    assert lines is not None and len(lines) > 3
    assert lines[0].split()[0] == words[0]  # the first words stand on the first line
    assert " ".join(lines).split() == words
    assert height == pytest.approx(len(lines) * style.leading)
    first, rest = paragraph.split(120, style.leading * 2.5)
    assert first._lines == lines[:2] and rest._lines == lines[2:]


def test_directions_are_resolved_for_the_whole_paragraph() -> None:
    lines = [
        "الجهة المسؤولة هي: Stadt Musterstadt, Kommunales Integrationszentrum –",
        "Beratungsstelle Arbeitsmarktintegration.",
    ]
    first, second = fonts.visual_lines(lines, rtl=True)
    # the dash between two Latin words stays with them, though the line ends there
    assert first.startswith("Stadt Musterstadt, Kommunales Integrationszentrum –")
    assert fonts.visual(lines[0], rtl=True).startswith("–")  # the line alone would move it
    assert second == ".Beratungsstelle Arbeitsmarktintegration"  # the sentence ends left


def test_chunks_cut_long_text_at_spaces() -> None:
    text = ("wort " * 2000).strip()
    pieces = chunks(text, 500)
    assert all(len(piece) <= 500 for piece in pieces)
    assert " ".join(pieces).split() == text.split()
    assert chunks("x" * 1200, 500) == ["x" * 500, "x" * 500, "x" * 200]


def test_qr_matrix_is_square_and_stable() -> None:
    matrix = qr_matrix("3f2a7c1e-5b7d-4c3e-9a1f-0123456789ab")
    assert len(matrix) == len(matrix[0]) >= 21
    assert matrix == qr_matrix("3f2a7c1e-5b7d-4c3e-9a1f-0123456789ab")
    assert matrix != qr_matrix("3f2a7c1e-5b7d-4c3e-9a1f-0123456789ac")
