"""Embedded fonts and right-to-left text for reportlab.

Two font families ship in ``resources/fonts`` (Noto, SIL Open Font License): Noto Sans
for Latin and Cyrillic, Noto Sans Arabic for Arabic and Dari/Farsi; Noto Sans Symbols
fills in the few signs neither has (the arrow in "B1 → B2"), Noto Sans Ethiopic the
Ge'ez script of Tigrinya and Amharic names. They are embedded as
subsets in every PDF, so a printout looks the same everywhere and every name can be read
back as text.

reportlab draws glyphs left to right and does no shaping, so Arabic-script text is
prepared here: ``arabic_reshaper`` picks the joining form of every letter (initial,
medial, final, isolated; the lam-alef ligature), and ``python-bidi`` puts the characters
into visual order (the Unicode Bidirectional Algorithm, numbers and Latin words inside
keep their direction). The content stream then holds the glyphs in visual order, which
is what PDF text extractors (pypdf, poppler, pdf.js) expect: they turn right-to-left
runs back into logical order. The fonts' ToUnicode maps are written so that a shaped
glyph reads back as the letter that was typed (U+FEE3 "meem, initial form" -> U+0645),
so copying or searching a name gives the stored text, not presentation forms.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from xml.sax.saxutils import escape

import arabic_reshaper
from bidi import get_display
from bidi.mirror import MIRRORED
from reportlab import rl_config
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import SUBSETN, TTFont

from intake_app.assets import resource_path

LATIN = "IntakeSans"
LATIN_BOLD = "IntakeSans-Bold"
ARABIC = "IntakeArabic"
ARABIC_BOLD = "IntakeArabic-Bold"
SYMBOLS = "IntakeSymbols"
ETHIOPIC = "IntakeEthiopic"
ETHIOPIC_BOLD = "IntakeEthiopic-Bold"

FONT_FILES: dict[str, str] = {
    LATIN: "NotoSans-Regular.ttf",
    LATIN_BOLD: "NotoSans-Bold.ttf",
    ARABIC: "NotoSansArabic-Regular.ttf",
    ARABIC_BOLD: "NotoSansArabic-Bold.ttf",
    SYMBOLS: "NotoSansSymbols-Regular.ttf",
    ETHIOPIC: "NotoSansEthiopic-Regular.ttf",
    ETHIOPIC_BOLD: "NotoSansEthiopic-Bold.ttf",
}

#: Runs of right-to-left text shorter than this stay on one line inside left-to-right
#: text (their words are joined by no-break spaces): a wrapped run would show its
#: words in the wrong line order.
KEEP_TOGETHER = 60

log = logging.getLogger("intake.reports")
_lock = threading.Lock()
_registered = False

# Keep what was typed: no deleted vowel marks, no word ligatures (only lam-alef, which
# Arabic writing requires).
_RESHAPER = arabic_reshaper.ArabicReshaper(
    configuration={
        "delete_harakat": False,
        "support_ligatures": True,
        "ARABIC LIGATURE ALLAH": False,
    }
)

_ARABIC_SCRIPT = (
    (0x0600, 0x06FF),
    (0x0750, 0x077F),
    (0x0870, 0x08FF),
    (0xFB50, 0xFDFF),
    (0xFE70, 0xFEFF),
)
_PRESENTATION_FORMS = ((0xFB50, 0xFDFF), (0xFE70, 0xFEFF))
_ARABIC_RE = re.compile("[\u0600-\u06ff\u0750-\u077f\u0870-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
#: Text Noto Sans draws on its own (Latin with accents, Cyrillic, common punctuation).
_LATIN_ONLY = re.compile(
    "[\u0020-\u007e\u00a0-\u024f\u0400-\u04ff\u2013\u2014\u2018-\u201e\u2022\u2026\u20ac]*"
)
#: Where right-to-left letters live (a quick test before asking unicodedata).
_RTL_RE = re.compile(
    "[\u0590-\u08ff\u200f\ufb1d-\ufdff\ufe70-\ufeff\U00010800-\U00010fff\U0001e800-\U0001efff]"
)


def _in(code: int, ranges: Iterable[tuple[int, int]]) -> bool:
    return any(low <= code <= high for low, high in ranges)


def _to_unicode_target(code: int) -> str:
    """What a glyph reads back as: presentation forms as the letters they show."""
    char = chr(code)
    if _in(code, _PRESENTATION_FORMS):
        base = unicodedata.normalize("NFKC", char).strip()
        if base:
            return base
    return char


def _to_unicode_cmap(fontname: str, subset: list[int]) -> str:
    """A ToUnicode CMap for one subset (like reportlab's, with base letters)."""
    return _cached_cmap(fontname, tuple(subset))


@lru_cache(maxsize=256)
def _cached_cmap(fontname: str, subset: tuple[int, ...]) -> str:
    """:func:`_to_unicode_cmap`, made once per subset: a batch or the next printout with
    the same letters (every page's header and footer) reuses it."""
    lines = []
    for index, code in enumerate(subset):
        target = _to_unicode_target(code).encode("utf-16-be").hex().upper()
        lines.append(f"<{index:02X}> <{target}>")
    return "\n".join(
        [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            "/CIDSystemInfo",
            f"<< /Registry ({fontname})",
            f"/Ordering ({fontname})",
            "/Supplement 0",
            ">> def",
            f"/CMapName /{fontname} def",
            "/CMapType 2 def",
            "1 begincodespacerange",
            f"<00> <{len(subset) - 1:02X}>",
            "endcodespacerange",
            f"{len(subset)} beginbfchar",
            *lines,
            "endbfchar",
            "endcmap",
            "CMapName currentdict /CMap defineresource pop",
            "end",
            "end",
        ]
    )


class ReadableTTFont(TTFont):  # type: ignore[misc]
    """A TrueType font whose subsets read back as typed letters (see module docstring).

    Same as :meth:`TTFont.addObjects` of reportlab 4/5, except for the ToUnicode map.
    """

    def splitString(
        self, text: str, doc: pdfdoc.PDFDocument, encoding: str = "utf-8", remember: bool = True
    ) -> list[tuple[int, bytes]]:
        """The text as ``(subset, codes)`` runs, remembered per document: a label, a
        heading or a word of the footer comes back on every page and record, and its
        letters keep their codes for the whole document (the subsets only grow).

        ``remember=False``: the caller keeps what it makes of the runs itself (the
        printouts' line writer), so they are not kept here a second time."""
        state = self.state.get(doc)
        cache: dict[str, list[tuple[int, bytes]]] | None = (
            getattr(state, "intake_runs", None) if state is not None else None
        )
        if cache is not None:
            runs = cache.get(text)
            if runs is not None:
                return runs
            # letters that all have a code in the first subset already: the same bytes
            # reportlab's loop over the letters gives, translated in one step
            first: set[str] = state.intake_first
            if text and isinstance(text, str) and first.issuperset(text):
                runs = [(0, text.translate(state.assignments).encode("latin-1"))]
                if remember:
                    cache[text] = runs
                return runs
        runs = TTFont.splitString(self, text, doc, encoding)
        if cache is None and isinstance(text, str):
            state = self.state[doc]
            cache = state.intake_runs = {}
            state.intake_first = set()
        if cache is not None and remember:
            cache[text] = runs
        if cache is not None and isinstance(text, str):
            assignments = state.assignments
            for char in set(text):
                code = assignments.get(ord(char))
                if code is not None and code < 256 and char != "\xa0":
                    state.intake_first.add(char)
        return runs

    def addObjects(self, doc: pdfdoc.PDFDocument) -> None:
        try:
            state = self.state[doc]
        except KeyError:
            state = self.state[doc] = TTFont.State(self._asciiReadable)
        state.frozen = 1
        for n, subset in enumerate(state.subsets):
            internal_name = self.getSubsetInternalName(n, doc)[1:]
            base_font_name = (
                b"".join((SUBSETN(n), b"+", self.face.name, self.face.subfontNameX))
            ).decode("pdfdoc")
            pdf_font = pdfdoc.PDFTrueTypeFont()
            pdf_font.__Comment__ = f"Font {self.fontName} subset {n}"
            pdf_font.Name = internal_name
            pdf_font.BaseFont = base_font_name
            pdf_font.FirstChar = 0
            pdf_font.LastChar = len(subset) - 1
            pdf_font.Widths = pdfdoc.PDFArray(list(map(self.face.getCharWidth, subset)))
            cmap = pdfdoc.PDFStream()
            cmap.content = _to_unicode_cmap(base_font_name, subset)
            if doc.compression:
                cmap.filters = [pdfdoc.PDFZCompress]
            pdf_font.ToUnicode = doc.Reference(cmap, "toUnicodeCMap:" + base_font_name)
            pdf_font.FontDescriptor = self.face.addSubsetObjects(doc, base_font_name, subset)
            doc.Reference(pdf_font, internal_name)
            doc.idToObject["BasicFonts"].dict[internal_name] = pdf_font
        del self.state[doc]


class _NotdefForMissing(dict[int, int]):
    """A character-to-glyph map that draws characters the font lacks as its "missing
    glyph" box, each with its own code, so the text layer still reads the character
    (reportlab would give them all code 0, which reads back as NUL)."""

    def __contains__(self, code: object) -> bool:
        return isinstance(code, int) and code >= 0x20 and not 0xD800 <= code <= 0xDFFF

    def __missing__(self, code: int) -> int:
        return 0


#: Invisible format characters: zero-width non-joiner and joiner, left-to-right and
#: right-to-left marks. Their job is done by shaping and reordering before drawing.
_FORMAT_CHARACTERS = (0x200C, 0x200D, 0x200E, 0x200F)
_ZERO_WIDTH_SPACE = 0x200B


def _hide_format_characters(char_to_glyph: dict[int, int]) -> None:
    """Draw ZWNJ, ZWJ, LRM and RLM with the font's empty zero-width glyph.

    Noto Sans Arabic gives them visible glyphs (a thin stroke, meant for showing
    formatting) that a shaping engine would hide; reportlab draws whatever the font
    maps, so every Dari/Farsi word with a non-joiner ("می‌شود") showed a stroke. The
    character code stays, so the text reads back with its ZWNJ.
    """
    empty = char_to_glyph.get(_ZERO_WIDTH_SPACE)
    if empty is None:
        return
    for code in _FORMAT_CHARACTERS:
        if code in char_to_glyph:
            char_to_glyph[code] = empty


def register_fonts() -> None:
    """Register the embedded fonts with reportlab (once per process; thread-safe)."""
    global _registered
    if _registered:
        return
    with _lock:
        if _registered:
            return
        for name, filename in FONT_FILES.items():
            font = ReadableTTFont(name, str(resource_path("fonts", filename)))
            if name in (LATIN, LATIN_BOLD):  # the last resort draws what no font has
                font.face.charToGlyph = _NotdefForMissing(font.face.charToGlyph)
            _hide_format_characters(font.face.charToGlyph)
            pdfmetrics.registerFont(font)
        for regular, bold in (
            (LATIN, LATIN_BOLD),
            (ARABIC, ARABIC_BOLD),
            (SYMBOLS, SYMBOLS),
            (ETHIOPIC, ETHIOPIC_BOLD),
        ):
            pdfmetrics.registerFontFamily(
                regular, normal=regular, bold=bold, italic=regular, boldItalic=bold
            )
        # streams compressed without the ASCII85 layer: smaller files, and the pure
        # Python ASCII85 encoder was a fifth of the time of a page
        rl_config.useA85 = 0
        _registered = True


@lru_cache(maxsize=8)
def _glyphs(font: str) -> frozenset[int]:
    register_fonts()
    return frozenset(pdfmetrics.getFont(font).face.charToGlyph)


@lru_cache(maxsize=8192)
def font_for(char: str, *, bold: bool = False) -> str:
    """The font that draws ``char``: Arabic script in Noto Sans Arabic, else Noto Sans,
    else whichever embedded font has it (a sign no font has is drawn by Noto Sans as a
    box, never dropped silently)."""
    code = ord(char)
    if _in(code, _ARABIC_SCRIPT):
        return ARABIC_BOLD if bold else ARABIC
    if code in _glyphs(LATIN):
        return LATIN_BOLD if bold else LATIN
    if code in _glyphs(ARABIC):
        return ARABIC_BOLD if bold else ARABIC
    if code in _glyphs(ETHIOPIC):  # Tigrinya, Amharic (Eritrea, Ethiopia)
        return ETHIOPIC_BOLD if bold else ETHIOPIC
    if code in _glyphs(SYMBOLS):
        return SYMBOLS
    return LATIN_BOLD if bold else LATIN


def _is_glue(char: str) -> bool:
    """Spaces and invisible format characters (ZWNJ, ZWJ) between letters."""
    return char in " \xa0" or unicodedata.category(char) == "Cf"


def font_runs(text: str, *, bold: bool = False) -> list[tuple[str, str]]:
    """Split ``text`` into ``(font, text)`` runs, keeping the order of the characters."""
    if _LATIN_ONLY.fullmatch(text):  # the common case: one run in Noto Sans
        return [(LATIN_BOLD if bold else LATIN, text)] if text else []
    return list(_mixed_runs(text, bold))


@lru_cache(maxsize=4096)
def _mixed_runs(text: str, bold: bool) -> tuple[tuple[str, str], ...]:
    """:func:`font_runs` of text in several fonts, made once per text: a right-to-left
    line is measured and drawn, and the same lines come back on every record."""
    runs: list[tuple[str, str]] = []
    for char in text:
        font = font_for(char, bold=bold)
        # spaces and joiners stay in the run they stand in: one text operation per
        # right-to-left run keeps extractors from reordering its words
        if runs and runs[-1][0] != font and _is_glue(char):
            code = 32 if char == "\xa0" else ord(char)  # reportlab draws nbsp as space
            if code in _glyphs(runs[-1][0]):
                font = runs[-1][0]
        if runs and runs[-1][0] == font:
            runs[-1] = (runs[-1][0], runs[-1][1] + char)
        else:
            runs.append((font, char))
    return tuple(runs)


@lru_cache(maxsize=16384)
def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """Width in points of ``text`` (already in visual order) drawn with :func:`font_runs`
    (cached: labels and words repeat on every page and record)."""
    register_fonts()
    return sum(pdfmetrics.stringWidth(run, font, size) for font, run in font_runs(text, bold=bold))


# -- direction ---------------------------------------------------------------------------


def _strong(char: str) -> str:
    kind = unicodedata.bidirectional(char)
    if kind in ("R", "AL"):
        return "R"
    if kind == "L":
        return "L"
    return ""


def has_rtl(text: str) -> bool:
    """True when ``text`` holds any right-to-left letter."""
    return _RTL_RE.search(text) is not None and any(_strong(char) == "R" for char in text)


def base_direction(text: str) -> str:
    """``"R"`` or ``"L"``: the direction of the first strong letter (rule P2 of UAX #9)."""
    for char in text:
        strong = _strong(char)
        if strong:
            return strong
    return "L"


@lru_cache(maxsize=8192)
def shape(text: str) -> str:
    """Arabic letters in their joining forms (logical order kept).

    Cached: a right-to-left paragraph measures each word while breaking lines, and the
    reshaper reads its settings anew on every call."""
    if _ARABIC_RE.search(text) is None:
        return text
    return str(_RESHAPER.reshape(text))


@lru_cache(maxsize=8192)
def visual(text: str, *, rtl: bool) -> str:
    """One line of text, shaped and in visual (left-to-right drawing) order.

    Brackets and other mirrored signs inside right-to-left runs are mirrored (rule L4 of
    UAX #9), so "(Jobcenter)" inside Arabic text keeps its brackets the right way round.
    """
    shaped = shape(text)
    if not rtl and not has_rtl(shaped):
        return shaped
    base = "R" if rtl else "L"
    if any(char in MIRRORED for char in shaped):
        levels = _levels(shaped, base)
        if levels is not None:
            return _reorder(shaped, levels)
    return str(get_display(shaped, base_dir=base))


def visual_lines(lines: list[str], *, rtl: bool) -> list[str]:
    """The lines of one paragraph (broken at spaces, in logical order) in visual order.

    Directions are resolved for the paragraph as a whole and each line is then reordered
    on its own (UAX #9, rules L1-L2), so a dash or comma at the end of a line between two
    Latin words stays with them instead of jumping to the other side.
    """
    if len(lines) <= 1:
        return [visual(line, rtl=rtl) for line in lines]
    shaped = [shape(line) for line in lines]
    whole = " ".join(shaped)
    if not has_rtl(whole) and not rtl:
        return shaped
    levels = _levels(whole, "R" if rtl else "L")
    if levels is None:
        return [visual(line, rtl=rtl) for line in lines]
    out = []
    offset = 0
    for line in shaped:
        out.append(_reorder(line, levels[offset : offset + len(line)]))
        offset += len(line) + 1
    return out


_LEVELS = re.compile(r"levels: \[(.*?)\]", re.S)
_LEVEL = re.compile(r"Level\(\s*(\d+)")
_warned = False


def _levels(text: str, base: str) -> list[int] | None:
    """The resolved embedding level of every character (python-bidi computes them; its
    debug report is the only place that shows them, one level per UTF-8 byte)."""
    global _warned
    report = str(get_display(text, base_dir=base, debug=True))
    match = _LEVELS.search(report)
    per_byte = [int(level) for level in _LEVEL.findall(match.group(1))] if match else []
    levels: list[int] = []
    offset = 0
    for char in text:
        if offset >= len(per_byte):
            break
        levels.append(per_byte[offset])
        offset += len(char.encode("utf-8"))
    if len(levels) != len(text):
        if not _warned:
            log.warning("bidi levels not available; brackets in RTL text are not mirrored")
            _warned = True
        return None
    return levels


def _reorder(text: str, levels: list[int]) -> str:
    """Rules L2 and L4: reverse runs from the highest level down, mirror odd-level signs."""
    order = list(range(len(text)))
    odd = [level for level in levels if level % 2]
    if odd:
        for level in range(max(levels), min(odd) - 1, -1):
            index = 0
            while index < len(order):
                if levels[order[index]] < level:
                    index += 1
                    continue
                end = index
                while end < len(order) and levels[order[end]] >= level:
                    end += 1
                order[index:end] = order[index:end][::-1]
                index = end
    return "".join(MIRRORED.get(text[i], text[i]) if levels[i] % 2 else text[i] for i in order)


def _rtl_runs(text: str) -> list[tuple[bool, str]]:
    """Split left-to-right text into ``(is_rtl, part)``; an RTL part runs from its first
    to its last right-to-left letter (numbers and punctuation between belong to it)."""
    parts: list[tuple[bool, str]] = []
    start = 0
    index = 0
    length = len(text)
    while index < length:
        if _strong(text[index]) != "R":
            index += 1
            continue
        end = index
        probe = index + 1
        while probe < length and _strong(text[probe]) != "L":
            if _strong(text[probe]) == "R" or unicodedata.category(text[probe]) == "Mn":
                end = probe
            probe += 1
        if index > start:
            parts.append((False, text[start:index]))
        parts.append((True, text[index : end + 1]))
        start = index = end + 1
    if start < length:
        parts.append((False, text[start:]))
    return parts


def _font_markup(text: str) -> str:
    out = []
    for font, run in font_runs(text):
        if font in (LATIN, LATIN_BOLD):
            out.append(escape(run))
        else:
            out.append(f'<font name="{font}">{escape(run)}</font>')
    return "".join(out)


def markup(text: str) -> str:
    """Paragraph markup for left-to-right text that may contain any script.

    XML special characters are escaped; Arabic-script runs are shaped, put in visual
    order and set in the Arabic font (bold follows an enclosing ``<b>``). Short runs are
    kept on one line.
    """
    if not has_rtl(text):
        return _font_markup(text) if any(ord(c) > 0x24F for c in text) else escape(text)
    out = []
    for rtl, part in _rtl_runs(text):
        if not rtl:
            out.append(_font_markup(part))
            continue
        shown = visual(part, rtl=True)
        if len(shown) <= KEEP_TOGETHER:
            shown = shown.replace(" ", "\xa0")
        out.append(_font_markup(shown))
    return "".join(out)
