"""The consent sheet a person signs: the German text beside the text in their language.

Every text comes from the organisation configuration (controller, purposes with data
categories and named recipients, the separate consent for special categories, that
refusing has no effect, the right to withdraw, the Art. 13 information), so providers
under the GDPR, the KDG or the DSG-EKD print their own legal texts. The German column is
the binding version; the second column is the language the consent was given in (or
the one asked for). Each purpose shows two empty boxes, "yes" and "no", for the person
to tick with a pen: the sheet is what the person signs, so nothing is pre-ticked. The
decisions recorded in the program follow separately at the end, for the counsellor to
compare with the signed sheet. The joint controllers (the state's case database) are
named with their role; persons aged 15 to 17 get a note that they consent themselves
(§ 36 SGB I). Signature lines for the person (or the guardians), the counsellor and,
where one helped, the interpreter.

The few fixed words of the sheet ("Ja, ich willige ein", "Unterschrift") are kept here
in all client languages, because the gettext catalog holds only German and English.
Like the organisation's texts, the non-German wording must be reviewed by a
professional translator before use.
"""

from __future__ import annotations

from typing import Any

from reportlab.platypus import (
    Flowable,
    HRFlowable,
    KeepTogether,
    Paragraph,
    Spacer,
    Table,
)

from intake_app.core.forms import ConsentPurpose
from intake_app.core.forms.expressions.scalars import parse_date_literal
from intake_app.i18n import N_
from intake_app.pdf import fonts
from intake_app.reports.common import PrintContext, RecordSource, page_info, person_name
from intake_app.reports.flowables import SideBySide, TickBox, text_flowable
from intake_app.reports.layout import (
    BORDER,
    CONTENT_WIDTH,
    DANGER,
    MUTED,
    PRIMARY,
    SHADE,
    TEXT,
    RecordStart,
    Styles,
    collector_paused,
    make_styles,
    render,
    table_style,
)
from intake_app.reports.tables import clip

MSG_SHEET_TITLE = N_("Einwilligungserklärung")
MSG_SHEET_PROFILE = N_("Einwilligungserklärung zur Unterschrift")
SHEET_LANGUAGES = ("de", "en", "ar", "uk", "ru", "tr", "fa")
RTL_LANGUAGES = frozenset({"ar", "fa"})

#: Fixed words of the sheet in every client language (reviewed translations needed).
SHEET_TEXTS: dict[str, dict[str, str]] = {
    "yes": {
        "de": "Ja, ich willige ein.",
        "en": "Yes, I consent.",
        "ar": "نعم، أوافق.",
        "uk": "Так, я погоджуюся.",
        "ru": "Да, я согласен / согласна.",
        "tr": "Evet, onay veriyorum.",
        "fa": "بله، موافقم.",
    },
    "no": {
        "de": "Nein, ich willige nicht ein.",
        "en": "No, I do not consent.",
        "ar": "لا، لا أوافق.",
        "uk": "Ні, я не погоджуюся.",
        "ru": "Нет, я не согласен / не согласна.",
        "tr": "Hayır, onay vermiyorum.",
        "fa": "خیر، موافق نیستم.",
    },
    "purposes": {
        "de": "Zwecke der Weitergabe",
        "en": "Purposes of sharing",
        "ar": "أغراض المشاركة",
        "uk": "Цілі передачі даних",
        "ru": "Цели передачи данных",
        "tr": "Paylaşım amaçları",
        "fa": "اهداف انتقال داده‌ها",
    },
    "data": {
        "de": "Daten",
        "en": "Data",
        "ar": "البيانات",
        "uk": "Дані",
        "ru": "Данные",
        "tr": "Veriler",
        "fa": "داده‌ها",
    },
    "recipients": {
        "de": "Empfänger",
        "en": "Recipients",
        "ar": "الجهات المستلمة",
        "uk": "Отримувачі",
        "ru": "Получатели",
        "tr": "Alıcılar",
        "fa": "گیرندگان",
    },
    "special": {
        "de": "Besondere Kategorien personenbezogener Daten (Gesundheit)",
        "en": "Special categories of personal data (health)",
        "ar": "فئات خاصة من البيانات الشخصية (الصحة)",
        "uk": "Особливі категорії персональних даних (здоров'я)",
        "ru": "Особые категории персональных данных (здоровье)",
        "tr": "Özel nitelikli kişisel veriler (sağlık)",
        "fa": "دسته‌های ویژه داده‌های شخصی (سلامت)",
    },
    "voluntary": {
        "de": "Freiwilligkeit und Widerruf",
        "en": "Voluntary consent and withdrawal",
        "ar": "الطوعية والحق في السحب",
        "uk": "Добровільність і відкликання",
        "ru": "Добровольность и отзыв",
        "tr": "Gönüllülük ve geri alma",
        "fa": "داوطلبانه بودن و لغو رضایت",
    },
    "information": {
        "de": "Informationen zum Datenschutz",
        "en": "Data protection information",
        "ar": "معلومات حول حماية البيانات",
        "uk": "Інформація про захист даних",
        "ru": "Информация о защите данных",
        "tr": "Veri koruma hakkında bilgiler",
        "fa": "اطلاعات مربوط به حفاظت از داده‌ها",
    },
    "name": {
        "de": "Familienname, Vorname",
        "en": "Family name, given name",
        "ar": "اسم العائلة، الاسم الأول",
        "uk": "Прізвище, ім'я",
        "ru": "Фамилия, имя",
        "tr": "Soyadı, adı",
        "fa": "نام خانوادگی، نام",
    },
    "joint": {
        "de": "Gemeinsam verantwortliche Stellen",
        "en": "Joint controllers",
        "ar": "الجهات المسؤولة بشكل مشترك",
        "uk": "Спільні розпорядники даних",
        "ru": "Совместные операторы данных",
        "tr": "Ortak veri sorumluları",
        "fa": "نهادهای مسئول مشترک",
    },
    "joint_rights": {
        "de": "Ihre Rechte können Sie bei jeder der verantwortlichen Stellen geltend machen.",
        "en": "You can exercise your rights with each of the controllers.",
        "ar": "يمكنك ممارسة حقوقك لدى أي من الجهات المسؤولة.",
        "uk": "Ви можете реалізувати свої права в будь-якого з розпорядників.",
        "ru": "Вы можете осуществлять свои права у любого из операторов.",
        "tr": "Haklarınızı sorumlu kurumların her birine karşı kullanabilirsiniz.",
        "fa": "می‌توانید حقوق خود را نزد هر یک از نهادهای مسئول اعمال کنید.",
    },
    "tick": {
        "de": "Bitte kreuzen Sie bei jedem Zweck selbst an: Ja oder Nein.",
        "en": "Please tick yourself for each purpose: yes or no.",
        "ar": "يرجى أن تضع علامة بنفسك عند كل غرض: نعم أو لا.",
        "uk": "Будь ласка, самостійно позначте для кожної мети: так або ні.",
        "ru": "Пожалуйста, отметьте сами для каждой цели: да или нет.",
        "tr": "Lütfen her amaç için kendiniz işaretleyin: evet veya hayır.",
        "fa": "لطفاً برای هر هدف خودتان علامت بزنید: بله یا خیر.",
    },
    "birth": {
        "de": "Geburtsdatum",
        "en": "Date of birth",
        "ar": "تاريخ الميلاد",
        "uk": "Дата народження",
        "ru": "Дата рождения",
        "tr": "Doğum tarihi",
        "fa": "تاریخ تولد",
    },
    "case": {
        "de": "Fallnummer",
        "en": "Case number",
        "ar": "رقم الملف",
        "uk": "Номер справи",
        "ru": "Номер дела",
        "tr": "Dosya numarası",
        "fa": "شماره پرونده",
    },
    "place_date": {
        "de": "Ort, Datum",
        "en": "Place, date",
        "ar": "المكان، التاريخ",
        "uk": "Місце, дата",
        "ru": "Место, дата",
        "tr": "Yer, tarih",
        "fa": "محل، تاریخ",
    },
    "sign_person": {
        "de": "Unterschrift der Person",
        "en": "Signature of the person",
        "ar": "توقيع الشخص المعني",
        "uk": "Підпис особи",
        "ru": "Подпись лица",
        "tr": "Kişinin imzası",
        "fa": "امضای شخص",
    },
    "sign_guardian": {
        "de": "Unterschrift der Sorgeberechtigten",
        "en": "Signature of the legal guardian(s)",
        "ar": "توقيع ولي الأمر",
        "uk": "Підпис законного представника",
        "ru": "Подпись законного представителя",
        "tr": "Yasal vasinin imzası",
        "fa": "امضای ولی یا سرپرست قانونی",
    },
    "sign_counsellor": {
        "de": "Unterschrift der Beraterin / des Beraters",
        "en": "Signature of the counsellor",
        "ar": "توقيع المستشار أو المستشارة",
        "uk": "Підпис консультанта",
        "ru": "Подпись консультанта",
        "tr": "Danışmanın imzası",
        "fa": "امضای مشاور",
    },
    "sign_interpreter": {
        "de": "Unterschrift der Dolmetscherin / des Dolmetschers",
        "en": "Signature of the interpreter",
        "ar": "توقيع المترجم أو المترجمة",
        "uk": "Підпис перекладача",
        "ru": "Подпись переводчика",
        "tr": "Tercümanın imzası",
        "fa": "امضای مترجم",
    },
}
WITHDRAWN = "widerrufen am {date}"
GAP = 14.0
#: The list separators of a language (Arabic script has its own comma).
COMMA = {"ar": "، ", "fa": "، "}
SEMICOLON = {"ar": "؛ ", "fa": "؛ "}
#: Ages that consent alone in social law (§ 36 SGB I), with a note on the sheet.
MINOR_AGES = range(15, 18)

MSG_RECORDED = N_("Erfasste Entscheidungen – nur für die Beratungsstelle")
MSG_RECORDED_NOTE = N_(
    "So sind die Entscheidungen im Programm erfasst. Bitte mit den Kreuzen der Person "
    "auf diesem Blatt vergleichen; bei Abweichungen gilt das unterschriebene Blatt."
)
MSG_RECORDED_GRANTED = N_("erteilt")
MSG_RECORDED_REFUSED = N_("nicht erteilt")
MSG_RECORDED_OPEN = N_("noch nicht erfasst")
MSG_RECORDED_WITHDRAWN = N_("widerrufen am {date}")
MSG_RECORDED_PRINT = N_("Gesundheitsangabe auf Ausdrucken verlangt am {date}")
MSG_ART9_SHORT = N_("Besondere Kategorien (Art. 9)")


class _Sheet:
    """Builds the flowables of one consent sheet."""

    def __init__(
        self, source: RecordSource, ctx: PrintContext, client: str, styles: Styles
    ) -> None:
        self.source = source
        self.ctx = ctx
        self.org = ctx.organisation
        self.client = client
        self.styles = styles
        consent = source.answers.get("consent")
        self.consent: dict[str, Any] = consent if isinstance(consent, dict) else {}
        self.langs = ("de",) if client == "de" else ("de", client)
        self.width = CONTENT_WIDTH if client == "de" else (CONTENT_WIDTH - GAP) / 2

    # -- text in one language ------------------------------------------------------------

    def word(self, key: str, lang: str) -> str:
        texts = SHEET_TEXTS[key]
        return texts.get(lang) or texts["de"]

    def para(
        self, text: str, lang: str, *, bold: bool = False, small: bool = False, color: Any = None
    ) -> Flowable:
        """A paragraph in ``lang``: right-to-left and right-aligned for Arabic script."""
        styles = self.styles
        if lang in RTL_LANGUAGES:
            style = styles.bold_rtl if bold else styles.body_rtl
        else:
            style = styles.bold if bold else styles.body
        if small:
            style = styles.small if lang not in RTL_LANGUAGES else styles.cell_rtl
        if color is not None:
            style = style.clone(f"{style.name}_c", textColor=color)
        if lang in RTL_LANGUAGES:
            return text_flowable(text, style, rtl_style=style, align="right")
        return text_flowable(text, style, bold=bold)

    def heading(self, key: str, lang: str) -> Flowable:
        style = self.styles.subheading.clone("sheet_h", textColor=PRIMARY)
        if lang in RTL_LANGUAGES:
            rtl = self.styles.bold_rtl.clone("sheet_h_rtl", textColor=PRIMARY)
            return text_flowable(self.word(key, lang), style, rtl_style=rtl, align="right")
        return Paragraph(fonts.markup(self.word(key, lang)), style)

    def choice(self, checked: bool | None, key: str, lang: str) -> Table:
        """A tick box with its words; the box stands at the reading start of the line."""
        box = TickBox(checked is True, size=10, color=DANGER if checked else MUTED)
        words = self.para(self.word(key, lang), lang, bold=checked is True)
        rtl = lang in RTL_LANGUAGES
        inner = self.width - (6 if rtl else 0)
        cells = [[words, box]] if rtl else [[box, words]]
        widths = [inner - 18, 18] if rtl else [18, inner - 18]
        table = Table(cells, colWidths=widths, hAlign="RIGHT" if rtl else "LEFT")
        table.setStyle(
            table_style(
                [
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ("ALIGN", (0, 0), (-1, -1), "RIGHT" if rtl else "LEFT"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                    ("RIGHTPADDING", (0, 0), (0, 0), 6 if rtl else 0),
                    ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ]
            )
        )
        return table

    # -- blocks: one row of the two columns ----------------------------------------------

    def row(self, build: Any, *, shaded: bool = False) -> Flowable:
        """One block, built per language, side by side (split over pages together)."""
        return SideBySide(
            [build(lang) for lang in self.langs],
            [self.width] * len(self.langs),
            gap=GAP,
            rule=BORDER if len(self.langs) > 1 else None,
            fill=SHADE if shaded else None,
            padding=3.0,
        )

    def _decision(self, part: Any) -> tuple[bool | None, str | None]:
        if not isinstance(part, dict) or not isinstance(part.get("granted"), bool):
            return None, None
        return part["granted"], part.get("withdrawn_on")

    def purpose(self, purpose: ConsentPurpose) -> Flowable:
        def build(lang: str) -> list[Flowable]:
            categories = COMMA.get(lang, ", ").join(
                self.org.category_label(c, lang) for c in purpose.data_categories
            )
            recipients = SEMICOLON.get(lang, "; ").join(r.name for r in purpose.recipients)
            return [
                self.para(purpose.label(lang), lang, bold=True),
                self.para(purpose.description(lang), lang),
                self.para(f"{self.word('data', lang)}: {categories}", lang, small=True),
                self.para(f"{self.word('recipients', lang)}: {recipients}", lang, small=True),
                Spacer(1, 3),
                *self.decision_lines(lang),
            ]

        return self.row(build)

    def special(self) -> Flowable:
        def build(lang: str) -> list[Flowable]:
            return [
                self.heading("special", lang),
                self.para(self.org.text("art9_consent", lang), lang),
                Spacer(1, 3),
                *self.decision_lines(lang),
            ]

        return self.row(build, shaded=True)

    def decision_lines(self, lang: str) -> list[Flowable]:
        """The two empty boxes of one decision, for the person to tick."""
        return [self.choice(False, "yes", lang), self.choice(False, "no", lang)]

    def recorded(self) -> list[Flowable]:
        """The decisions as recorded in the program, apart from the boxes the person
        ticks: for the counsellor, in the language of the printout."""
        tr = self.ctx.tr
        stored = self.consent.get("purposes")
        decided: dict[str, Any] = stored if isinstance(stored, dict) else {}
        rows: list[tuple[str, Any]] = [
            (purpose.label(self.ctx.lang), decided.get(purpose.id)) for purpose in self.org.purposes
        ]
        rows.append((tr(MSG_ART9_SHORT), self.consent.get("art9")))
        data = []
        for label, part in rows:
            granted, withdrawn = self._decision(part)
            if granted is None:
                status = tr(MSG_RECORDED_OPEN)
            elif withdrawn:
                status = tr(MSG_RECORDED_WITHDRAWN).format(date=self.ctx.date(str(withdrawn)))
            else:
                status = tr(MSG_RECORDED_GRANTED if granted else MSG_RECORDED_REFUSED)
            if isinstance(part, dict) and granted and part.get("print_requested_on"):
                status += " · " + tr(MSG_RECORDED_PRINT).format(
                    date=self.ctx.date(str(part["print_requested_on"]))
                )
            data.append(
                [
                    text_flowable(label, self.styles.cell),
                    text_flowable(status, self.styles.cell, bold=bool(withdrawn)),
                ]
            )
        table = Table(data, colWidths=[CONTENT_WIDTH * 0.55, CONTENT_WIDTH * 0.45], hAlign="LEFT")
        table.setStyle(
            table_style(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.35, BORDER),
                    ("LEFTPADDING", (0, 0), (-1, -1), 3),
                    ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        style = self.styles.subheading.clone("recorded_h", textColor=MUTED)
        return [
            KeepTogether(
                [
                    HRFlowable(width="100%", thickness=0.6, color=MUTED, dash=[2, 2]),
                    Paragraph(fonts.markup(tr(MSG_RECORDED)), style),
                    Paragraph(fonts.markup(tr(MSG_RECORDED_NOTE)), self.styles.small),
                    Spacer(1, 2),
                    table,
                ]
            )
        ]

    def joint_controllers(self) -> Flowable | None:
        """Who else is responsible (the state's case database) and for what."""
        parties = self.org.joint_controllers
        if not parties:
            return None

        def build(lang: str) -> list[Flowable]:
            out: list[Flowable] = [self.heading("joint", lang)]
            for party in parties:
                out.append(self.para(party.name, lang, bold=True))
                if party.contact():
                    out.append(self.para(party.contact(), lang, small=True))
                if party.responsibility is not None:
                    out.append(self.para(party.responsibility.get(lang), lang))
            out.append(self.para(self.word("joint_rights", lang), lang))
            return out

        return self.row(build)

    def is_minor(self) -> bool:
        """Whether the person was 15 to 17 years old on the day of the consent."""

        born = self.source.answers.get("birth_date")
        born_day = parse_date_literal(born) if isinstance(born, str) else None
        given = self.consent.get("date")
        on = parse_date_literal(given) if isinstance(given, str) else None
        on = on or self.ctx.today
        if born_day is None:
            return False
        age = on.year - born_day.year - ((on.month, on.day) < (born_day.month, born_day.day))
        return age in MINOR_AGES

    def text_block(self, key: str, heading: str | None = None) -> Flowable:
        def build(lang: str) -> list[Flowable]:
            out: list[Flowable] = [self.heading(heading, lang)] if heading else []
            out.append(self.para(self.org.text(key, lang), lang))
            return out

        return self.row(build)

    def person(self) -> Table:
        answers = self.source.answers

        def text(key: str) -> str:
            value = answers.get(key)
            return value.strip() if isinstance(value, str) else ""

        name = person_name(answers)
        birth = self.ctx.date(text("birth_date")) if text("birth_date") else ""
        rows = [("name", clip(name)), ("birth", birth), ("case", self.source.case_number)]
        label_width = 70.0
        data = []
        for key, value in rows:
            label = " / ".join(dict.fromkeys(self.word(key, lang) for lang in self.langs))
            data.append(
                [
                    text_flowable(label, self.styles.label),
                    text_flowable(value or " ", self.styles.bold, rtl_style=self.styles.bold_rtl),
                ]
            )
        table = Table(
            data, colWidths=[label_width + 60, CONTENT_WIDTH - label_width - 60], hAlign="LEFT"
        )
        table.setStyle(
            table_style(
                [
                    ("BACKGROUND", (0, 0), (-1, -1), SHADE),
                    ("BOX", (0, 0), (-1, -1), 0.6, BORDER),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                    ("LEFTPADDING", (0, 0), (-1, -1), 5),
                ]
            )
        )
        return table

    def signatures(self) -> Flowable:
        """Lines to sign on, each captioned in German and the client language."""
        keys = [
            "place_date",
            "sign_guardian" if self.consent.get("given_by") == "guardian" else "sign_person",
            "sign_counsellor",
        ]
        if self.consent.get("interpreter") is True:
            keys.append("sign_interpreter")
        half = (CONTENT_WIDTH - GAP) / 2
        cells: list[list[Flowable | str]] = []
        for start in range(0, len(keys), 2):
            row: list[Flowable | str] = []
            for key in keys[start : start + 2]:
                parts: list[Flowable] = [
                    Spacer(1, 30),
                    HRFlowable(width="100%", thickness=0.8, color=TEXT, spaceAfter=2),
                ]
                parts += [self.para(self.word(key, lang), lang, small=True) for lang in self.langs]
                guardian = self.consent.get("guardian_name")
                if key == "sign_guardian" and isinstance(guardian, str) and guardian.strip():
                    parts.append(
                        text_flowable(
                            clip(guardian.strip()), self.styles.bold, rtl_style=self.styles.bold_rtl
                        )
                    )
                row.append(parts)
            while len(row) < 2:
                row.append("")
            cells.append(row)
        table = Table(cells, colWidths=[half, half + GAP], hAlign="LEFT", spaceBefore=6)
        table.setStyle(
            table_style(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("RIGHTPADDING", (0, 0), (0, -1), GAP),
                    ("LEFTPADDING", (1, 0), (1, -1), GAP),
                    ("RIGHTPADDING", (1, 0), (1, -1), 0),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                ]
            )
        )
        return KeepTogether([table])

    # -- the whole sheet -----------------------------------------------------------------

    def story(self, index: int) -> list[Flowable]:
        form = self.source.form
        consent_question = form.get("consent")
        ctx = self.ctx
        info = page_info(
            self.source, ctx, title=ctx.tr(MSG_SHEET_TITLE), profile=ctx.tr(MSG_SHEET_PROFILE)
        )

        def title(lang: str) -> list[Flowable]:
            text = consent_question.label(lang) if consent_question else self.word("purposes", lang)
            style = self.styles.title.clone("sheet_title", fontSize=13, leading=17)
            rtl = style.clone("sheet_title_rtl", leading=20)
            return [
                text_flowable(text, style, rtl_style=rtl, align="right"),
                self.para(self.org.name(lang), lang, small=True),
            ]

        out: list[Flowable] = [
            RecordStart(info, index),
            self.row(title),
            Spacer(1, 4),
            self.person(),
            Spacer(1, 6),
            self.text_block("consent_intro"),
        ]
        out.append(
            self.row(
                lambda lang: [
                    self.heading("purposes", lang),
                    self.para(self.word("tick", lang), lang),
                ]
            )
        )
        out.extend(self.purpose(purpose) for purpose in self.org.purposes)
        out.append(self.special())
        out.append(self.text_block("refusal_no_effect", "voluntary"))
        out.append(self.text_block("withdrawal"))
        if self.consent.get("given_by") == "guardian" and "minors" in self.org.texts:
            out.append(self.text_block("minors"))
        elif self.is_minor() and "minors_15_17" in self.org.texts:
            out.append(self.text_block("minors_15_17"))
        joint = self.joint_controllers()
        if joint is not None:
            out.append(joint)
        out.append(self.text_block("art13_information", "information"))
        if self.consent.get("interpreter") is True and "interpreter_confirmation" in self.org.texts:
            out.append(self.text_block("interpreter_confirmation"))
        out.append(self.signatures())
        out.extend(self.recorded())
        return out


def client_language(source: RecordSource, ctx: PrintContext, requested: str | None) -> str:
    """The second column's language: as asked, else the consent's, else English."""
    for lang in (
        requested,
        source.answers.get("consent", {}).get("language")
        if isinstance(source.answers.get("consent"), dict)
        else None,
    ):
        if lang in SHEET_LANGUAGES and lang in ctx.organisation.languages:
            return str(lang)
    return "en"


def consent_sheet_story(
    source: RecordSource,
    *,
    ctx: PrintContext,
    client_lang: str | None = None,
    index: int = 0,
    styles: Styles | None = None,
) -> list[Flowable]:
    """The flowables of one consent sheet."""
    client = client_language(source, ctx, client_lang)
    return _Sheet(source, ctx, client, styles or make_styles(size=8.6)).story(index)


def build_consent_sheet(
    source: RecordSource, *, ctx: PrintContext, client_lang: str | None = None
) -> bytes:
    """One consent sheet as PDF bytes (nothing is written to disk)."""
    with collector_paused():  # see layout.collector_paused
        story = consent_sheet_story(source, ctx=ctx, client_lang=client_lang)
        data, _pages = render(
            story,
            title=f"{ctx.tr(MSG_SHEET_TITLE)} {source.case_number}",
            author=ctx.organisation.name(ctx.lang),
            lang=ctx.lang,
        )
    return data
