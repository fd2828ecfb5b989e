"""The case list: model contract, lazy fetching, search, filters, highlighting."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from intake_app.app import Workspace
from intake_app.core.records import fold
from intake_app.demo.data import add_synthetic_intakes
from intake_app.storage.records import RecordQuery
from intake_app.ui.caselist import CaseListPage
from intake_app.ui.caselist_model import FIRST_PAGE, PAGE_SIZE, CaseListModel
from intake_app.ui.mainwindow import MainWindow
from tests.conftest import COUNSELLOR, SUPERVISOR, ProfileFixture
from tests.helpers.opening import open_record_now

PEOPLE = [
    {"family_name": "Müller", "given_names": "Jana", "birth_date": "1990-04-01"},
    {
        "family_name": "حسن",
        "given_names": "علي",
        "family_name_latin": "Hasan",
        "given_names_latin": "Ali",
        "birth_date": "1985-12-24",
    },
    {
        "family_name": "Шевченко",
        "given_names": "Алёна",
        "family_name_latin": "Shevchenko",
        "given_names_latin": "Alona",
    },
    {"family_name": "Öztürk", "given_names": "Emre"},
]


def _fill(ws: Workspace, people: list[dict[str, str]]) -> list[str]:
    ids = []
    for answers in people:
        row = ws.records.create(form_id="intake", form_version="test")
        ws.records.save(row.id, answers=answers)
        ids.append(row.id)
    return ids


@pytest.fixture
def counsellor(profile: ProfileFixture) -> Iterator[Workspace]:
    ws = profile.sign_in(COUNSELLOR)
    yield ws
    ws.close()


def test_model_passes_qtmodeltester(qtmodeltester: ModelTester, counsellor: Workspace) -> None:
    _fill(counsellor, PEOPLE)
    model = CaseListModel(counsellor.records, show_owner=False)
    qtmodeltester.check(model)
    assert model.rowCount() == len(PEOPLE)


def test_lazy_fetching_pages(qtbot: QtBot, counsellor: Workspace) -> None:
    _fill(
        counsellor, [{"family_name": f"Person{i:04d}"} for i in range(FIRST_PAGE + PAGE_SIZE + 35)]
    )
    model = CaseListModel(counsellor.records, show_owner=False)
    assert model.total == FIRST_PAGE + PAGE_SIZE + 35
    assert model.rowCount() == FIRST_PAGE
    assert model.canFetchMore()
    model.fetchMore()
    assert model.rowCount() == FIRST_PAGE + PAGE_SIZE
    model.fetchMore()
    assert model.rowCount() == FIRST_PAGE + PAGE_SIZE + 35
    assert not model.canFetchMore()
    names = [model.data(model.index(row, CaseListModel.NAME)) for row in range(model.rowCount())]
    assert len(set(names)) == model.total  # every record once, none skipped at a page edge


def test_a_window_taller_than_the_first_page_reads_on_until_it_is_full(
    qtbot: QtBot, counsellor: Workspace
) -> None:
    _fill(counsellor, [{"family_name": f"Person{i:04d}"} for i in range(FIRST_PAGE + 40)])
    page = CaseListPage(counsellor.records, counsellor.actor)
    qtbot.addWidget(page)
    page.table.verticalHeader().setDefaultSectionSize(40)
    page.resize(1200, FIRST_PAGE * 40 + 600)  # room for more rows than the first page
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() == FIRST_PAGE + 40)
    assert page.table.viewport().height() > FIRST_PAGE * 40  # the first page did not fill it


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Muller", "Müller"),
        ("mueller", "Müller"),
        ("MÜL", "Müller"),
        ("01.04.1990", "Müller"),
        ("hasan", "حسن"),
        ("حسن", "حسن"),
        ("алена", "Шевченко"),
        ("shev", "Шевченко"),
        ("ozturk", "Öztürk"),
        ("oeztuerk", "Öztürk"),
    ],
)
def test_search_as_you_type(qtbot: QtBot, counsellor: Workspace, typed: str, expected: str) -> None:
    _fill(counsellor, PEOPLE)
    page = CaseListPage(counsellor.records, counsellor.actor)
    qtbot.addWidget(page)
    page.search.setText(typed)  # not keyClicks: non-ASCII text
    qtbot.waitUntil(lambda: page.model.total == 1, timeout=3000)
    assert page.model.summary(0).family_name == expected


def test_search_by_case_number_and_no_hit(qtbot: QtBot, counsellor: Workspace) -> None:
    ids = _fill(counsellor, PEOPLE)
    case_number = counsellor.records.get(ids[2]).case_number
    page = CaseListPage(counsellor.records, counsellor.actor)
    qtbot.addWidget(page)
    qtbot.keyClicks(page.search, case_number)
    qtbot.waitUntil(lambda: page.model.total == 1, timeout=3000)
    assert page.model.summary(0).id == ids[2]
    page.search.setText("zzzznobody")
    qtbot.waitUntil(lambda: page.model.total == 0, timeout=3000)
    assert "0 Aufnahmen" in page.count_label.text()


def test_status_filter_and_sorting(qtbot: QtBot, counsellor: Workspace) -> None:
    _fill(counsellor, PEOPLE)
    # finalising needs complete answers: one synthetic intake, complete and finalised
    add_synthetic_intakes(counsellor, count=1, seed=4, complete_share=1.0)
    (done,) = counsellor.records.list(RecordQuery(status="complete"), limit=5)
    page = CaseListPage(counsellor.records, counsellor.actor)
    qtbot.addWidget(page)
    page.status.setCurrentIndex(page.status.findData("complete"))
    assert page.model.total == 1 and page.model.summary(0).id == done.id
    page.status.setCurrentIndex(page.status.findData("draft"))
    assert page.model.total == len(PEOPLE)
    page.status.setCurrentIndex(0)
    page.table.sortByColumn(CaseListModel.NAME, Qt.SortOrder.AscendingOrder)
    names = [
        fold(page.model.summary(r).family_name_latin or page.model.summary(r).family_name)
        for r in range(page.model.rowCount())
    ]
    assert names == sorted(names)


def test_expiring_permits_are_highlighted(qtbot: QtBot, counsellor: Workspace) -> None:
    soon = (date.today() + timedelta(days=20)).isoformat()
    later = (date.today() + timedelta(days=200)).isoformat()
    _fill(
        counsellor,
        [
            {"family_name": "Bald", "residence_valid_until": soon},
            {"family_name": "Spaet", "residence_valid_until": later},
        ],
    )
    model = CaseListModel(counsellor.records, show_owner=False)
    rows = {model.summary(r).family_name: r for r in range(model.rowCount())}
    bald = model.index(rows["Bald"], CaseListModel.RESIDENCE)
    spaet = model.index(rows["Spaet"], CaseListModel.RESIDENCE)
    assert model.data(bald, Qt.ItemDataRole.BackgroundRole) is not None
    assert "56 Tagen" in model.data(bald, Qt.ItemDataRole.ToolTipRole)
    assert model.data(spaet, Qt.ItemDataRole.BackgroundRole) is None
    only = counsellor.records.list(RecordQuery(expiring_only=True))
    assert [s.family_name for s in only] == ["Bald"]


def test_counsellor_sees_own_supervisor_sees_all(qtbot: QtBot, profile: ProfileFixture) -> None:
    mine = profile.sign_in(COUNSELLOR)
    _fill(mine, PEOPLE[:2])
    mine.close()
    other = profile.sign_in(SUPERVISOR)
    _fill(other, PEOPLE[2:])
    page = CaseListPage(other.records, other.actor)
    qtbot.addWidget(page)
    assert page.model.total == 4
    assert not page.table.isColumnHidden(CaseListModel.OWNER)
    counsellor_id = next(oid for oid, name in other.records.owners() if name == COUNSELLOR)
    page.owner.setCurrentIndex(page.owner.findData(counsellor_id))
    assert page.model.total == 2
    other.close()
    mine = profile.sign_in(COUNSELLOR)
    assert mine.records.count(RecordQuery()) == 2
    mine.close()


def test_main_window_switches_from_empty_state_to_list(qtbot: QtBot, counsellor: Workspace) -> None:
    window = MainWindow(counsellor, autolock_minutes=10)
    qtbot.addWidget(window)
    assert window.stack.currentWidget() is window.empty
    _fill(counsellor, PEOPLE[:1])
    assert window.cases is not None
    window.cases.refresh()
    assert window.stack.currentWidget() is window.cases
    window.close()


def test_back_from_a_record_the_list_shows_and_selects_it(
    qtbot: QtBot, counsellor: Workspace
) -> None:
    """Back from a record far down the list, the list shows that record, selected, not
    wherever it was scrolled before."""
    ids = []
    for i in range(50):  # records of the real form, so that they open
        record_id = counsellor.new_intake()
        made = counsellor.records.get(record_id).answers
        counsellor.records.save(record_id, answers={**made, "family_name": f"Person{i:03d}"})
        ids.append(record_id)
    window = MainWindow(counsellor, autolock_minutes=10)
    qtbot.addWidget(window)
    window.resize(1100, 600)
    window.show()
    assert window.cases is not None
    table, model = window.cases.table, window.cases.model
    row = model.rowCount() - 1
    record_id = model.summary(row).id
    assert record_id in ids
    open_record_now(window, record_id)
    assert window.record_page is not None
    window.show_list()
    assert window.stack.currentWidget() is window.cases
    assert table.currentIndex().row() == row
    assert [i.row() for i in table.selectionModel().selectedRows()] == [row]
    shown = table.visualRect(model.index(row, 0))
    assert table.viewport().rect().intersects(shown)
    window.close()


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("حيدري", "حیدری"), ("كريمي", "کریمی"), ("فاطمة", "فاطمه"), ("احمد", "أحمد")],
)
def test_arabic_and_persian_spellings_find_each_other(
    counsellor: Workspace, typed: str, stored: str
) -> None:
    _fill(counsellor, [{"family_name": stored}])
    hits = counsellor.records.list(RecordQuery(search=typed))
    assert [s.family_name for s in hits] == [stored]


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("حسن", ["الحسن", "حسن"]),
        ("الحس", ["الحسن"]),
        ("hass", ["Al-Hassan"]),
        ("علي", ["علي"]),
        ("حسن hass", []),  # two words, each of them a group or a phrase: all must match
        ("hass حسن", []),
        ("محمد حسن", ["الحسن"]),
    ],
)
def test_an_arabic_name_is_found_without_its_article(
    counsellor: Workspace, typed: str, found: list[str]
) -> None:
    """The article is written joined to the name: a counsellor types "حسن" for "الحسن"."""
    _fill(
        counsellor,
        [
            {"family_name": "الحسن", "given_names": "محمد"},
            {"family_name": "حسن"},
            {"family_name": "Al-Hassan"},
            {"family_name": "علي"},
            {"family_name": "محسن"},  # the word inside another: no hit
        ],
    )
    hits = counsellor.records.list(RecordQuery(search=typed))
    assert sorted(s.family_name for s in hits) == sorted(found)


@pytest.mark.parametrize(
    ("narrow", "wide", "narrows"),
    [
        ("Shevc", "Shev", True),
        ("Shev", "Shevc", False),
        ("حسنا", "حسن", True),  # both with their article's alternative
        ("حسن", "حسنا", False),
        ("حسن ali", "ali", True),
        ("ali", "حسن", False),
        ("01.04.1990", "01", False),  # a date phrase narrows nothing
    ],
)
def test_a_narrower_search_is_known_with_the_article_alternatives(
    narrow: str, wide: str, narrows: bool
) -> None:
    from intake_app.core.records import fts_query
    from intake_app.storage.records import _narrows

    assert _narrows(str(fts_query(narrow)), str(fts_query(wide))) is narrows


def test_one_warning_period_setting_is_read_everywhere(
    qtbot: QtBot, profile: ProfileFixture, counsellor: Workspace
) -> None:
    """The list filter, the row highlight, the overview, the interview's computed flag and
    the printout all follow ``records.expiry_warning_days``."""
    from intake_app.core.interview import InterviewSession
    from intake_app.reports.service import ReportService

    in_100 = (date.today() + timedelta(days=100)).isoformat()
    _fill(counsellor, [{"family_name": "Hundert", "residence_valid_until": in_100}])
    model = CaseListModel(counsellor.records, show_owner=False)
    assert (
        model.data(model.index(0, CaseListModel.RESIDENCE), Qt.ItemDataRole.BackgroundRole) is None
    )
    assert counsellor.records.list(RecordQuery(expiring_only=True)) == []
    admin = profile.sign_in()
    try:
        admin.settings.put("records.expiry_warning_days", 120)
    finally:
        admin.close()
    assert counsellor.expiry_warning_days == 120
    model = CaseListModel(counsellor.records, show_owner=False)
    index = model.index(0, CaseListModel.RESIDENCE)
    assert model.data(index, Qt.ItemDataRole.BackgroundRole) is not None
    assert "120 Tagen" in model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert [s.family_name for s in counsellor.records.list(RecordQuery(expiring_only=True))] == [
        "Hundert"
    ]
    page = CaseListPage(counsellor.records, counsellor.actor)
    qtbot.addWidget(page)
    assert "120" in page.expiring.text()
    form = counsellor.current_form()
    session = InterviewSession(
        form=form,
        answers={"residence_document": "duldung", "residence_valid_until": in_100},
        expiry_warning_days=counsellor.expiry_warning_days,
    )
    assert session.state.computed["residence_expiring"] is True
    assert ReportService(counsellor).context().expiry_warning_days == 120
    supervisor = profile.sign_in(SUPERVISOR)
    try:
        overview = supervisor.lifecycle.overview()
    finally:
        supervisor.close()
    assert overview.expiry_warning_days == 120
    assert overview.expiring_permits == 1


def test_a_search_matching_many_records_of_a_small_store_walks_the_sort_index(
    counsellor: Workspace,
) -> None:
    """More than one record in SMALL_STORE_SHARE of a small store matching: the page is
    found by walking the sort index (storage/records.py, _plan), with the same rows in the
    same order as the search index would give them."""
    from intake_app.storage.records import SMALL_STORE_SHARE, RecordService

    people = [
        {"family_name": f"Kanarien{i:03d}" if i % 2 else f"Fink{i:03d}", "given_names": "Eva"}
        for i in range(2 * SMALL_STORE_SHARE + 20)
    ]
    _fill(counsellor, people)
    wanted = sorted(p["family_name"] for p in people if p["family_name"].startswith("Kanarien"))
    service = counsellor.records
    assert isinstance(service, RecordService)  # her own store only
    for typed in ("kanarien", "KANAR", "kan"):
        query = RecordQuery(search=typed, sort="name", descending=False)
        _where, params = service._where(query)
        with counsellor.db.raw_read() as conn:
            assert service._plan(conn, query, params), typed
        assert service.count(query) == len(wanted)
        assert [s.family_name for s in service.list(query, limit=200)] == wanted
        page = service.list(query, offset=10, limit=5)
        assert [s.family_name for s in page] == wanted[10:15]


@pytest.mark.parametrize("walk_rows", [20_000, 0], ids=["walking the index", "sorting"])
def test_a_broad_search_takes_its_page_from_the_first_rows_of_the_sort_order(
    counsellor: Workspace, monkeypatch: pytest.MonkeyPatch, walk_rows: int
) -> None:
    """storage/records.py, list_rows: a search matching more than twice the rows asked
    for looks for its page among the first rows of the sort order, and runs the query of
    _plan when they do not hold the page; either way the rows and their order are those
    of every match sorted (here computed in Python). The page is read from the first
    rows by walking the sort index again (a store of up to WALK_ROWS records) or by
    sorting their sort values (a larger one: WALK_ROWS 0 here)."""
    from intake_app.storage import records
    from intake_app.storage.records import RecordService

    monkeypatch.setattr(records, "WALK_ROWS", walk_rows)

    people = [
        {"family_name": f"Fink{i:03d}" if i % 10 == 0 else f"Kanarien{i:03d}"} for i in range(200)
    ] + [{"family_name": f"Zeisig{i:03d}"} for i in range(60)]
    _fill(counsellor, people)
    service = counsellor.records
    assert isinstance(service, RecordService)
    names = sorted(p["family_name"] for p in people)
    took_head = fell_back = 0
    for typed, prefix in (("kanarien", "Kanarien"), ("zeis", "Zeisig"), ("ZEISIG0", "Zeisig0")):
        for descending in (False, True):
            wanted = [n for n in names if n.startswith(prefix)]
            wanted = wanted[::-1] if descending else wanted
            query = RecordQuery(search=typed, sort="name", descending=descending)
            for offset, limit in ((0, 20), (0, 200), (15, 10), (len(wanted) - 5, 20)):
                before = len(service._sparse_heads)
                rows = service.list(query, offset=offset, limit=limit)
                assert [s.family_name for s in rows] == wanted[offset : offset + limit], (
                    typed,
                    descending,
                    offset,
                    limit,
                )
                fell_back += len(service._sparse_heads) > before
                took_head += len(rows) == limit and len(service._sparse_heads) == before
            assert service.count(query) == len(wanted)
    # both ways were taken: Zeisig comes last in ascending order (not among the first
    # rows), first in descending order
    assert took_head and fell_back, (took_head, fell_back)
    # the same with another condition besides the search (it applies to the first rows)
    drafts = RecordQuery(search="kanarien", status="draft", sort="name", descending=False)
    assert [s.family_name for s in service.list(drafts, limit=30)] == [
        n for n in names if n.startswith("Kanarien")
    ][:30]
    assert service.list(RecordQuery(search="kanarien", status="complete"), limit=30) == []


def test_a_search_narrowing_one_without_matches_asks_nothing_until_the_list_reloads(
    qtbot: QtBot, profile: ProfileFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A supervisor's list over several stores (storage/site_records.py): a store where a
    search found nothing is not asked again while the search narrows; the list's reload
    after a change elsewhere, a cleared search and SEARCH_MEMORY seconds ask it again."""
    from intake_app.storage import records
    from intake_app.storage.records import _narrows

    assert _narrows('"shevc"*', '"shev"*')
    assert _narrows('"al"* "h"*', '"al"*')
    assert _narrows('"al"* "h"*', '"h"*')
    assert not _narrows('"shev"*', '"shevc"*')
    assert not _narrows('"al"*', '"al"* "h"*')
    assert not _narrows('"01 04 1990"', '"01"*')
    mine = profile.sign_in(COUNSELLOR)
    _fill(mine, PEOPLE[:2])
    supervisor = profile.sign_in(SUPERVISOR)
    _fill(supervisor, PEOPLE[2:])
    page = CaseListPage(supervisor.records, supervisor.actor)
    qtbot.addWidget(page)
    for typed, total in (("Ö", 1), ("Öz", 1), ("Özt", 1), ("Xy", 0), ("Xylo", 0)):
        page.search.setText(typed)
        page.apply_filters()
        assert page.model.total == total, typed
        assert page.count_label.text() == f"{total} Aufnahme{'n' if total != 1 else ''}"
    # a record the counsellor adds in her own window (not through this list's services)
    _fill(mine, [{"family_name": "Xylophon", "given_names": "Ida"}])
    page.search.setText("Xylop")
    page.apply_filters()
    assert page.model.total == 0  # "Xylo" found nothing here, so "Xylop" asks no store
    page.refresh()  # what the main window does after a change elsewhere
    assert page.model.total == 1
    assert page.model.summary(0).family_name == "Xylophon"

    def shown(typed: str) -> int:
        page.search.setText(typed)
        page.apply_filters()
        return page.model.total

    assert shown("Zaunk") == 0
    _fill(mine, [{"family_name": "Zaunkönig"}])
    assert shown("Zaunko") == 0  # (remembered)
    assert shown("") == 6
    assert shown("Zaunko") == 1  # a cleared search forgets
    assert shown("Quit") == 0
    _fill(mine, [{"family_name": "Quitte"}])
    monkeypatch.setattr(records, "SEARCH_MEMORY", 0.0)
    assert shown("Quitt") == 1  # remembered no longer than SEARCH_MEMORY
    mine.close()
    supervisor.close()


def test_a_supervisors_list_merges_the_stores_in_order_page_by_page(
    profile: ProfileFixture,
) -> None:
    """storage/site_records.py: every store hands out its rows in the list's order and
    the pages are merged from their heads; scrolling on, jumping and searching give the
    rows of one sorted list."""
    mine = profile.sign_in(COUNSELLOR)
    _fill(mine, [{"family_name": f"Amsel{i:03d}"} for i in range(0, 90, 3)])
    mine.close()
    supervisor = profile.sign_in(SUPERVISOR)
    _fill(supervisor, [{"family_name": f"Amsel{i:03d}"} for i in range(90) if i % 3])
    names = [f"Amsel{i:03d}" for i in range(90)]
    try:
        for descending in (False, True):
            wanted = names[::-1] if descending else names
            query = RecordQuery(sort="name", descending=descending)
            got: list[str] = []
            while len(got) < len(wanted) + 7:  # scrolling on, past the end
                page = supervisor.records.list(query, offset=len(got), limit=7)
                if not page:
                    break
                got += [s.family_name for s in page]
            assert got == wanted
            jumped = supervisor.records.list(query, offset=40, limit=11)
            assert [s.family_name for s in jumped] == wanted[40:51]
            search = RecordQuery(search="amsel0", sort="name", descending=descending)
            found = [s.family_name for s in supervisor.records.list(search, limit=200)]
            assert found == [n for n in wanted if n.startswith("Amsel0")]
    finally:
        supervisor.close()
