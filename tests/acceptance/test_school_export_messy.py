"""Messy school-product exports through the ``school-export`` adapter and its shipped mappings.

Each test writes a small list the way products and schools vary it: synonym and
untidy headers, merged headers, signatures, class sheets, identifiers typed as
numbers, dates with a time, a file with only its header. It ingests the list with
``service.ingest`` on SQLite and PostgreSQL, and checks what is stored and what is
rejected, with the place of each rejection.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from gateway.i18n import translate
from gateway.ingest import service
from gateway.store.models import Quarantine, Record
from tests.support.store import StoreHandle

ADAPTER = "school-export"
SCHOOL = ["204001", "Trường THPT Kinh Dương Vương"]
# (pupil code, Ministry identifier, name, birth date, female)
PUPILS = [
    ("2040010001", "9230138366", "Dương Hoàng Hoàng", datetime(2010, 8, 19), False),
    ("2040010002", "8705987105", "Đặng Hữu Thảo", datetime(2010, 10, 23), True),
    ("2040010003", "0351159014", "Mai Tấn Ánh", datetime(2010, 3, 22), True),
]


def write_workbook(path: Path, sheets: dict[str, list[list[object]]],
                   merged: dict[str, list[str]] | None = None) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
        for cells in (merged or {}).get(title, []):
            sheet.merge_cells(cells)
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, datetime):
                    cell.number_format = "DD/MM/YYYY"
    workbook.save(path)
    return path


def stored(source: str, entity: str = "student") -> dict[str, dict[str, Any]]:
    records = Record.select().where((Record.source == source) & (Record.entity == entity)
                                    & (Record.state == "active"))
    return {record.local_id: json.loads(record.data) for record in records}


def rejections(run_id: int) -> list[tuple[Any, ...]]:
    rows = Quarantine.select().where(Quarantine.run == run_id)
    return sorted((q.entity, q.reason, q.sheet, q.row, q.column) for q in rows)


def gender(female: bool) -> str:
    return "Nữ" if female else "Nam"


# Headers --------------------------------------------------------------------------


def test_header_synonyms_read(store: StoreHandle, tmp_path: Path) -> None:
    # "Tên học sinh", "Sinh ngày", "Phái", "Mã HS" and a phone column the mapping does not keep.
    header = ["STT", "Mã HS", "Mã định danh", "Tên học sinh", "Sinh ngày", "Phái", "Điện thoại",
              "Mã trường", "Tên trường", "Lớp"]
    rows = [[n, code, ministry, name, born, gender(female), "0901234567", *SCHOOL, "10A1"]
            for n, (code, ministry, name, born, female) in enumerate(PUPILS, 1)]
    path = write_workbook(tmp_path / "ds.xlsx", {"DS": [header, *rows]})

    report = service.ingest(store.db, store.settings, path, ADAPTER, "synonyms")

    assert report.state == "succeeded"
    students = stored("synonyms")
    assert sorted(students) == [code for code, *_ in PUPILS]
    assert students["2040010002"]["full_name"] == "Đặng Hữu Thảo"
    assert students["2040010002"]["gender"] == "female"
    assert students["2040010002"]["birth_date"] == "2010-10-23"
    assert students["2040010003"]["ministry_id"] == "0351159014"
    assert "phone" not in students["2040010001"]


def test_header_names_with_hints_read(store: StoreHandle, tmp_path: Path) -> None:
    header = ["STT", "Mã học sinh", "Họ và tên học sinh", "Ngày, tháng, năm sinh",
              "Giới tính (Nam/Nữ)", "Mã trường", "Tên trường", "Lớp"]
    rows = [[n, code, name, born, gender(female), *SCHOOL, "10A1"]
            for n, (code, _, name, born, female) in enumerate(PUPILS, 1)]
    ticked = ["STT", "Mã học sinh", "Họ tên học sinh", "Ngày sinh (dd/mm/yyyy)", "Nữ (x)",
              "Mã trường", "Tên trường", "Lớp"]
    path = write_workbook(tmp_path / "ds.xlsx", {
        "10A1": [header, *rows[:2]],
        "10A2": [ticked, [3, PUPILS[2][0], PUPILS[2][2], "22/03/2010", "x", *SCHOOL, "10A2"]],
    })

    report = service.ingest(store.db, store.settings, path, ADAPTER, "hinted")

    assert report.state == "succeeded"
    assert rejections(report.run_id) == []
    students = stored("hinted")
    assert {code: (s["full_name"], s["birth_date"], s["gender"]) for code, s in students.items()} == {
        "2040010001": ("Dương Hoàng Hoàng", "2010-08-19", "male"),
        "2040010002": ("Đặng Hữu Thảo", "2010-10-23", "female"),
        "2040010003": ("Mai Tấn Ánh", "2010-03-22", "female"),
    }


def test_class_names_with_numbers_read(store: StoreHandle, tmp_path: Path) -> None:
    header = ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "Mã trường", "Tên trường", "Lớp"]
    classes = ["6/1", "6.2", "12-A1"]
    rows = [[n, code, name, born, *SCHOOL, label]
            for n, ((code, _, name, born, _), label) in enumerate(zip(PUPILS, classes, strict=True), 1)]
    untitled = ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "Mã trường", "Tên trường"]
    path = write_workbook(tmp_path / "ds.xlsx", {
        "DS": [header, *rows],
        "7.1": [untitled, [1, "2040010004", "Lê Văn Tư", "01/02/2012", *SCHOOL]],
    })

    report = service.ingest(store.db, store.settings, path, ADAPTER, "numbered")

    assert rejections(report.run_id) == []
    names = {record["name"] for record in stored("numbered", "class").values()}
    assert names == {"6/1", "6.2", "12-A1", "7.1"}
    grades = {code: record.get("grade") for code, record in stored("numbered").items()}
    assert grades == {"2040010001": "6", "2040010002": "6", "2040010003": "12", "2040010004": "7"}


def test_class_code_column_read(store: StoreHandle, tmp_path: Path) -> None:
    header = ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "Mã trường", "Tên trường", "Mã lớp"]
    rows = [[n, code, name, born, *SCHOOL, "6A1"]
            for n, (code, _, name, born, _) in enumerate(PUPILS, 1)]
    path = write_workbook(tmp_path / "ds.xlsx", {"DS": [header, *rows]})

    report = service.ingest(store.db, store.settings, path, ADAPTER, "class-code")

    assert rejections(report.run_id) == []
    assert {r["name"] for r in stored("class-code", "class").values()} == {"6A1"}
    assert len(stored("class-code", "enrollment")) == 3
    assert {r.get("grade") for r in stored("class-code").values()} == {"6"}


def test_learner_status_gives_enrollment_status(store: StoreHandle, tmp_path: Path) -> None:
    header = ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "Mã trường", "Tên trường", "Lớp",
              "Trạng thái"]
    statuses = ["Thôi học", "Chuyển đến", ""]
    rows = [[n, code, name, born, *SCHOOL, "6A1", status]
            for n, ((code, _, name, born, _), status) in enumerate(zip(PUPILS, statuses, strict=True), 1)]
    path = write_workbook(tmp_path / "ds.xlsx", {"DS": [header, *rows]})

    report = service.ingest(store.db, store.settings, path, ADAPTER, "status")

    assert rejections(report.run_id) == []
    found = {local_id.split()[0]: record["status"]
             for local_id, record in stored("status", "enrollment").items()}
    assert found == {"2040010001": "left", "2040010002": "transferred_in", "2040010003": "enrolled"}


def test_class_turned_into_date_rejected(store: StoreHandle, tmp_path: Path) -> None:
    header = ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "Mã trường", "Tên trường", "Lớp"]
    code, _, name, born, _ = PUPILS[0]
    path = write_workbook(tmp_path / "ds.xlsx", {"DS": [header, [1, code, name, born, *SCHOOL,
                                                                  datetime(2025, 1, 6)]]})

    report = service.ingest(store.db, store.settings, path, ADAPTER, "dated")

    assert rejections(report.run_id) == [
        ("class", "mapping.value_is_date", "DS", 2, "Lớp"),
        ("enrollment", "mapping.value_is_date", "DS", 2, "Lớp"),
    ]
    assert list(stored("dated")) == [code]


def test_list_without_name_column_not_read(store: StoreHandle, tmp_path: Path) -> None:
    header = ["STT", "Mã học sinh", "Tên gọi", "Ngày sinh", "Mã trường", "Tên trường", "Lớp"]
    row = [1, "2040010001", "An", "19/08/2010", *SCHOOL, "10A1"]
    path = write_workbook(tmp_path / "ds.xlsx", {"DS": [header, row]})

    report = service.ingest(store.db, store.settings, path, ADAPTER, "no-name")

    missing = [n for n in report.notices if n["error"] == "ingest.columns_missing"]
    assert [n["params"]["columns"] for n in missing] == ["Họ đệm + Tên | Họ và tên"]
    assert stored("no-name") == {}


def test_untidy_header_cells_read(store: StoreHandle, tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "Dân tộc")
    header = ["STT", "  Mã  học sinh ", "Họ và\ntên", "NGÀY SINH:", "giới tính :", nfd,
              "Mã trường", "Tên\r\ntrường", "Nam-Nữ"]
    rows = [[n, code, name, born.strftime("%d/%m/%Y"), gender(female), "Kinh", *SCHOOL, ""]
            for n, (code, _, name, born, female) in enumerate(PUPILS, 1)]
    rows[0][3] = "31/02/2010"
    path = write_workbook(tmp_path / "ds.xlsx", {"DS": [["Lớp: 10A1"], header, *rows]})

    report = service.ingest(store.db, store.settings, path, ADAPTER, "untidy")

    assert sorted(stored("untidy")) == ["2040010002", "2040010003"]
    assert stored("untidy")["2040010003"]["ethnicity_code"] == "01"
    # The column is named on one line, as the header reads in Excel.
    assert ("student", "mapping.date_invalid", "DS", 3, "NGÀY SINH:") in rejections(report.run_id)


def test_merged_name_header_gives_whole_names(store: StoreHandle, tmp_path: Path) -> None:
    # "Họ và tên" merged over the family and middle names and the given name.
    header = ["STT", "Mã học sinh", "Họ và tên", None, "Ngày sinh", "Giới tính", "Mã trường",
              "Tên trường", "Lớp"]
    rows = []
    for n, (code, _, name, born, female) in enumerate(PUPILS, 1):
        family_middle, given = name.rsplit(" ", 1)
        rows.append([n, code, family_middle, given, born, gender(female), *SCHOOL, "10A1"])
    path = write_workbook(tmp_path / "ds.xlsx", {"DS": [header, *rows]}, {"DS": ["C1:D1"]})

    service.ingest(store.db, store.settings, path, ADAPTER, "merged-name")

    record = stored("merged-name")["2040010002"]
    assert (record["full_name"], record["family_name"], record["given_name"]) == (
        "Đặng Hữu Thảo", "Đặng", "Thảo")


def test_gender_ticks_under_group_header(store: StoreHandle, tmp_path: Path) -> None:
    top = ["STT", "Mã học sinh", "Họ và tên", "Giới tính", None, "Mã trường", "Tên trường"]
    bottom = [None, None, None, "Nam", "Nữ", None, None]
    rows = [[n, code, name, None if female else "x", "x" if female else None, *SCHOOL]
            for n, (code, _, name, _, female) in enumerate(PUPILS, 1)]
    path = write_workbook(tmp_path / "ds.xlsx", {"DS": [["Lớp: 10A1"], top, bottom, *rows]},
                          {"DS": ["A2:A3", "B2:B3", "C2:C3", "D2:E2", "F2:F3", "G2:G3"]})

    report = service.ingest(store.db, store.settings, path, ADAPTER, "ticks")

    assert rejections(report.run_id) == []
    assert {code: record["gender"] for code, record in stored("ticks").items()} == {
        "2040010001": "male", "2040010002": "female", "2040010003": "female"}


# Blocks and footers ---------------------------------------------------------------


def test_totals_and_signatures_give_no_rejections(store: StoreHandle, tmp_path: Path) -> None:
    header = ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "Giới tính", "Mã trường",
              "Tên trường"]
    rows = [[n, code, name, born, gender(female), *SCHOOL]
            for n, (code, _, name, born, female) in enumerate(PUPILS, 1)]
    footer = [
        ["Tổng số: 3 học sinh", None, None, "Nữ: 2", "Dân tộc: 0"],
        [None, None, None, "Trang 1/1"],
        [None, None, None, None, "Cần Thơ, ngày 05 tháng 9 năm 2025"],
        [None, "NGƯỜI LẬP BIỂU", None, None, "HIỆU TRƯỞNG"],
        [None, "(Ký, ghi rõ họ tên)", None, None, "(Ký tên, đóng dấu)"],
        [None, "Nguyễn Thị Lan", None, None, "Trần Văn Bình"],
    ]
    path = write_workbook(tmp_path / "ds.xlsx", {"DS": [["Lớp: 10A1"], header, *rows, *footer]})

    report = service.ingest(store.db, store.settings, path, ADAPTER, "signed")

    assert rejections(report.run_id) == []
    assert len(stored("signed")) == 3
    assert list(stored("signed", "class")) == ["204001 10A1"]


def test_merged_totals_row_makes_no_school(store: StoreHandle, tmp_path: Path) -> None:
    # "Tổng số" merged over STT, Mã trường and Tên trường, the count under "Mã học sinh".
    header = ["STT", "Mã trường", "Tên trường", "Mã học sinh", "Họ và tên", "Ngày sinh",
              "Giới tính"]
    rows = [[n, *SCHOOL, code, name, born, gender(female)]
            for n, (code, _, name, born, female) in enumerate(PUPILS, 1)]
    totals = ["Tổng số", None, None, len(PUPILS)]
    path = write_workbook(tmp_path / "ds.xlsx", {"Lớp 10A1": [header, *rows, totals]},
                          merged={"Lớp 10A1": ["A5:C5"]})

    report = service.ingest(store.db, store.settings, path, ADAPTER, "totals")

    assert rejections(report.run_id) == []
    assert list(stored("totals", "organization")) == ["204001"]
    assert list(stored("totals", "class")) == ["204001 10A1"]


def test_hidden_old_sheet_gives_no_old_class(store: StoreHandle, tmp_path: Path) -> None:
    # Last year's list on a hidden first sheet, with the same pupils as the current sheet.
    header = ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "Giới tính", "Mã trường",
              "Tên trường"]
    rows = [[n, code, name, born, gender(female), *SCHOOL]
            for n, (code, _, name, born, female) in enumerate(PUPILS, 1)]
    path = write_workbook(tmp_path / "ds.xlsx", {"Năm học 2024-2025": [["Lớp: 9A1"], header, *rows],
                                                 "10A1": [["Lớp: 10A1"], header, *rows]})
    workbook = load_workbook(path)
    workbook["Năm học 2024-2025"].sheet_state = "hidden"
    workbook.save(path)

    report = service.ingest(store.db, store.settings, path, ADAPTER, "hidden-old")

    assert {record["grade"] for record in stored("hidden-old").values()} == {"10"}
    assert {e["class_ref"] for e in stored("hidden-old", "enrollment").values()} == {"204001 10A1"}
    rejected = {(entity, reason, sheet) for entity, reason, sheet, _, _ in rejections(report.run_id)}
    assert rejected == {("student", "ingest.duplicate_local_id", "Năm học 2024-2025"),
                        ("enrollment", "ingest.duplicate_row_reference", "Năm học 2024-2025")}
    assert list(stored("hidden-old", "class")) == ["204001 10A1"]
    assert report.counts["decisions"]["class"]["rows_rejected"] == 1
    left_out = [n for n in report.notices if n["error"] == "ingest.class_rows_rejected"]
    assert [(n["level"], n["params"]["count"]) for n in left_out] == [("warning", 1)]
    assert left_out[0]["params"]["classes"] == "204001 9A1 (ds.xlsx [Năm học 2024-2025]: 3)"


def class_sheets(path: Path, births: dict[str, list[object]]) -> Path:
    """Write one sheet per class, titled by the class, with a pupil per birth date."""
    header = ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "Giới tính", "Mã trường",
              "Tên trường"]
    sheets = {}
    for title, dates in births.items():
        rows = [[n, f"{title}-{n:02d}", f"Học Sinh {n}", born, "Nam", *SCHOOL]
                for n, born in enumerate(dates, 1)]
        sheets[title] = [["Lớp: " + title], header, *rows]
    return write_workbook(path, sheets)


def test_class_of_rejected_rows_not_stored(store: StoreHandle, tmp_path: Path) -> None:
    # Every pupil of 10A2 has an impossible birth date; 10A3 keeps one good pupil.
    path = class_sheets(tmp_path / "ds.xlsx", {"10A1": ["19/08/2010"],
                                               "10A2": ["31/02/2010", "30/02/2010"],
                                               "10A3": ["31/02/2010", "19/08/2010"]})

    report = service.ingest(store.db, store.settings, path, ADAPTER, "rejected-class")

    assert sorted(stored("rejected-class", "class")) == ["204001 10A1", "204001 10A3"]
    notice = next(n for n in report.notices if n["error"] == "ingest.class_rows_rejected")
    assert notice["params"]["count"] == 1
    assert notice["params"]["classes"] == "204001 10A2 (ds.xlsx [10A2]: 3)"
    message = translate(notice["error"], "en", **notice["params"])
    assert "1 class was not stored" in message
    assert "204001 10A2" in translate(notice["error"], "vi", **notice["params"])


def test_stored_class_kept_when_rows_rejected(store: StoreHandle, tmp_path: Path) -> None:
    path = class_sheets(tmp_path / "ds.xlsx", {"10A1": ["19/08/2010"], "10A2": ["19/08/2010"]})
    service.ingest(store.db, store.settings, path, ADAPTER, "kept-class")
    # The label now names the school year, which changes the class record, and its only
    # pupil is a new one whose row is rejected, so that no enrollment keeps the class.
    workbook = load_workbook(path)
    workbook["10A2"]["A1"] = "Lớp: 10A2 - Năm học 2025-2026"
    workbook["10A2"]["B3"] = "10A2-09"
    workbook["10A2"]["D3"] = "31/02/2010"
    workbook.save(path)

    report = service.ingest(store.db, store.settings, path, ADAPTER, "kept-class")

    classes = stored("kept-class", "class")
    assert sorted(classes) == ["204001 10A1", "204001 10A2"]
    assert "school_year" not in classes["204001 10A2"]
    assert report.counts["decisions"]["class"].get("end") is None
    assert report.counts["decisions"]["class"]["rows_rejected"] == 1


def test_class_named_by_kept_enrollment_stored(store: StoreHandle, tmp_path: Path) -> None:
    path = class_sheets(tmp_path / "ds.xlsx", {"10A2": ["19/08/2010"]})
    service.ingest(store.db, store.settings, path, ADAPTER, "named-class")
    # The pupil's row is rejected, but the stored pupil keeps the row's enrollment, which
    # names the class: the class is stored with the school year its label gives now.
    workbook = load_workbook(path)
    workbook["10A2"]["A1"] = "Lớp: 10A2 - Năm học 2025-2026"
    workbook["10A2"]["D3"] = "31/02/2010"
    workbook.save(path)

    report = service.ingest(store.db, store.settings, path, ADAPTER, "named-class")

    assert stored("named-class", "class")["204001 10A2"]["school_year"] == "2025-2026"
    assert "ingest.class_rows_rejected" not in {n["error"] for n in report.notices}


def test_rejected_pupil_row_named_with_sheet(store: StoreHandle, tmp_path: Path) -> None:
    # Two sheets with a row 3 each: the enrollment's rejection names the sheet of the pupil row.
    header = ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "Giới tính", "Mã trường",
              "Tên trường"]
    sheets = {}
    for title, (code, _, name, born, female) in (("10A1", PUPILS[0]), ("10A2", PUPILS[1])):
        birth = "31/02/2010" if title == "10A2" else born
        sheets[title] = [["Lớp: " + title], header, [1, code, name, birth, gender(female), *SCHOOL]]
    path = write_workbook(tmp_path / "ds.xlsx", sheets)

    report = service.ingest(store.db, store.settings, path, ADAPTER, "two-sheets")

    follow_on = Quarantine.get((Quarantine.run == report.run_id)
                               & (Quarantine.reason == "ingest.reference_rejected"))
    params = json.loads(follow_on.params)
    assert (params["target_sheet"], params["target_row"]) == ("10A2", 3)
    assert "ds.xlsx [10A2]" in translate(follow_on.reason, lang="vi", **params)


def test_class_sheets_titled_by_class(store: StoreHandle, tmp_path: Path) -> None:
    header = ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "Giới tính", "Mã trường",
              "Tên trường"]
    sheets = {}
    for title, pupils in (("10A1", PUPILS[:2]), ("11A2", PUPILS[2:])):
        rows = [[n, code, name, born, gender(female), *SCHOOL]
                for n, (code, _, name, born, female) in enumerate(pupils, 1)]
        sheets[title] = [[SCHOOL[1]], [f"DANH SÁCH HỌC SINH LỚP {title}"], header, *rows]
    path = write_workbook(tmp_path / "ds.xlsx", sheets)

    service.ingest(store.db, store.settings, path, ADAPTER, "class-sheets")

    assert sorted(stored("class-sheets", "class")) == ["204001 10A1", "204001 11A2"]
    assert {code: record["grade"] for code, record in stored("class-sheets").items()} == {
        "2040010001": "10", "2040010002": "10", "2040010003": "11"}


def year_title_workbook(path: Path, titles: tuple[str, str],
                        title: str = "Năm học 2025-2026") -> Path:
    """Write two class sheets whose nearest title row names no class: the school year by default."""
    header = ["STT", "Mã học sinh", "Họ và tên", "Mã trường", "Tên trường"]
    sheets = {}
    for sheet, pupils in zip(titles, (PUPILS[:2], PUPILS[2:]), strict=True):
        rows = [[n, code, name, *SCHOOL] for n, (code, _, name, *_) in enumerate(pupils, 1)]
        sheets[sheet] = [["DANH SÁCH HỌC SINH"], [title], header, *rows]
    return write_workbook(path, sheets)


def test_class_from_tab_under_year_title(store: StoreHandle, tmp_path: Path) -> None:
    path = year_title_workbook(tmp_path / "ds.xlsx", ("10A1", "11A2"))

    report = service.ingest(store.db, store.settings, path, ADAPTER, "year-titles")

    assert rejections(report.run_id) == []
    classes = stored("year-titles", "class")
    assert sorted(classes) == ["204001 10A1", "204001 11A2"]
    assert classes["204001 10A1"]["school_year"] == "2025-2026"
    assert {code: record["grade"] for code, record in stored("year-titles").items()} == {
        "2040010001": "10", "2040010002": "10", "2040010003": "11"}
    enrollments = stored("year-titles", "enrollment")
    assert sorted(e["class_ref"] for e in enrollments.values()) == [
        "204001 10A1", "204001 10A1", "204001 11A2"]


@pytest.mark.parametrize(("title", "tabs"), [
    ("HỌC KỲ I - NĂM HỌC 2025-2026", ("10A1", "11A2")),
    ("THCS Thử Nghiệm", ("10A1", "11A2")),
    ("Năm học 2025-2026", ("Lop 10A1", "11A2 (2025-2026)")),
    ("1. DANH SÁCH HỌC SINH NĂM HỌC 2025-2026", ("Lớp10A1", "11A2 - 2025-2026")),
])
def test_class_from_tab_under_other_titles(store: StoreHandle, tmp_path: Path, title: str,
                                           tabs: tuple[str, str]) -> None:
    # A title that is not "Lớp ..." and does not read as a class names none.
    path = year_title_workbook(tmp_path / "ds.xlsx", tabs, title)

    report = service.ingest(store.db, store.settings, path, ADAPTER, "titles")

    assert rejections(report.run_id) == []
    assert sorted(stored("titles", "class")) == ["204001 10A1", "204001 11A2"]
    assert {code: record["grade"] for code, record in stored("titles").items()} == {
        "2040010001": "10", "2040010002": "10", "2040010003": "11"}


def test_label_tail_left_out_of_class(store: StoreHandle, tmp_path: Path) -> None:
    # A label that names the form teacher or the class size after the class.
    header = ["STT", "Mã học sinh", "Họ và tên", "Mã trường", "Tên trường"]
    sheets = {}
    for sheet, label, pupils in (("DS1", "Lớp: 10A1 - GVCN: Lê Văn Tám", PUPILS[:2]),
                                 ("DS2", "Lớp 11A2 (Sĩ số: 1)", PUPILS[2:])):
        rows = [[n, code, name, *SCHOOL] for n, (code, _, name, *_) in enumerate(pupils, 1)]
        sheets[sheet] = [[label], header, *rows]
    path = write_workbook(tmp_path / "ds.xlsx", sheets)

    report = service.ingest(store.db, store.settings, path, ADAPTER, "tails")

    assert rejections(report.run_id) == []
    assert sorted(stored("tails", "class")) == ["204001 10A1", "204001 11A2"]


def test_merged_note_makes_no_school(store: StoreHandle, tmp_path: Path) -> None:
    header = ["STT", "Mã học sinh", "Họ và tên", "Mã trường", "Tên trường"]
    pupils = [[n, code, name, *SCHOOL] for n, (code, _, name, *_) in enumerate(PUPILS, 1)]
    note = ["Ghi chú: 1 học sinh chuyển đến từ học kỳ II"]
    path = write_workbook(tmp_path / "ds.xlsx", {"10A1": [header, pupils[0], note, *pupils[1:]]},
                          {"10A1": ["A3:E3"]})

    report = service.ingest(store.db, store.settings, path, ADAPTER, "note")

    assert rejections(report.run_id) == []
    assert list(stored("note", "organization")) == ["204001"]
    assert list(stored("note", "class")) == ["204001 10A1"]
    assert len(stored("note")) == 3


def test_pupils_grouped_under_class_rows(store: StoreHandle, tmp_path: Path) -> None:
    # One header over the whole school, each class under a merged "Lớp ..." row.
    header = ["STT", "Mã học sinh", "Họ và tên", "Mã trường", "Tên trường"]
    rows: list[list[object]] = [["DANH SÁCH HỌC SINH"], header]
    for title, pupils in (("Lớp 10A1", PUPILS[:2]), ("Lớp 11A2", PUPILS[2:])):
        rows.append([title])
        rows += [[n, code, name, *SCHOOL] for n, (code, _, name, *_) in enumerate(pupils, 1)]
    path = write_workbook(tmp_path / "ds.xlsx", {"DS": rows}, {"DS": ["A3:E3", "A6:E6"]})

    report = service.ingest(store.db, store.settings, path, ADAPTER, "grouped")

    assert rejections(report.run_id) == []
    assert sorted(e["class_ref"] for e in stored("grouped", "enrollment").values()) == [
        "204001 10A1", "204001 10A1", "204001 11A2"]


def test_pupils_grouped_under_bare_class_names(store: StoreHandle, tmp_path: Path) -> None:
    # Class rows without the word "Lớp", in the first column, one with the teacher's name.
    header = ["STT", "Mã học sinh", "Họ và tên", "Mã trường", "Tên trường"]
    rows: list[list[object]] = [["DANH SÁCH HỌC SINH"], header]
    for title, pupils in (("10A1", PUPILS[:2]), ("11A2 - GVCN: Trần Thị Mai", PUPILS[2:])):
        rows.append([title])
        rows += [[n, code, name, *SCHOOL] for n, (code, _, name, *_) in enumerate(pupils, 1)]
    path = write_workbook(tmp_path / "ds.xlsx", {"DS": rows})

    report = service.ingest(store.db, store.settings, path, ADAPTER, "bare-classes")

    assert rejections(report.run_id) == []
    assert sorted(stored("bare-classes", "class")) == ["204001 10A1", "204001 11A2"]
    assert sorted(e["class_ref"] for e in stored("bare-classes", "enrollment").values()) == [
        "204001 10A1", "204001 10A1", "204001 11A2"]


def test_repeated_code_names_other_file(store: StoreHandle, tmp_path: Path) -> None:
    header = ["STT", "Lớp", "Mã học sinh", "Họ và tên", "Mã trường", "Tên trường"]
    folder = tmp_path / "lists"
    folder.mkdir()
    code = PUPILS[0][0]
    # One code, two pupils: two rows that give different records.
    for file, title, name in (("a.xlsx", "10A1", PUPILS[0][2]), ("b.xlsx", "10A2", PUPILS[1][2])):
        write_workbook(folder / file, {title: [header, [1, title, code, name, *SCHOOL]]})

    report = service.ingest(store.db, store.settings, folder, ADAPTER, "two-files")

    rejected = Quarantine.get((Quarantine.run == report.run_id)
                              & (Quarantine.reason == "ingest.duplicate_local_id"))
    assert (rejected.file, json.loads(rejected.params)["first_table"]) == ("b.xlsx", "a.xlsx [10A1]")


def test_title_without_class_rejected_not_merged(store: StoreHandle, tmp_path: Path) -> None:
    # Default sheet titles name no class either: the classes and enrollments are rejected
    # instead of both sheets making one class.
    path = year_title_workbook(tmp_path / "ds.xlsx", ("Sheet1", "Sheet2"))

    report = service.ingest(store.db, store.settings, path, ADAPTER, "year-titles")

    assert stored("year-titles", "class") == {}
    assert len(stored("year-titles")) == 3
    found = rejections(report.run_id)
    assert ("class", "mapping.required_missing_first_virtual", "Sheet1", 4, None) in found
    assert ("enrollment", "mapping.required_missing_first_virtual", "Sheet2", 4, None) in found


@pytest.mark.parametrize(("lang", "class_name"), [pytest.param("vi", "tên lớp", id="vi"),
                                                  pytest.param("en", "class name", id="en")])
def test_no_class_rejection_explains_class_name(store: StoreHandle, tmp_path: Path, lang: str,
                                                class_name: str) -> None:
    path = year_title_workbook(tmp_path / "ds.xlsx", ("Sheet1", "Sheet2"))

    report = service.ingest(store.db, store.settings, path, ADAPTER, "no-class")

    rejected = list(Quarantine.select().where((Quarantine.run == report.run_id)
                                              & (Quarantine.entity == "enrollment")))
    assert len(rejected) == 3
    for row in rejected:
        # The store keeps the field's own name, for the people who edit the mapping.
        assert row.field == "_class_name"
        message = translate(row.reason, lang=lang, **json.loads(row.params))
        place = translate("place.field", lang=lang, field=row.field)
        assert "_class_name" not in message
        assert "_block" not in message
        assert "_sheet" not in message
        assert class_name in message
        assert "_class_name" not in place
        assert class_name in place


# Identifiers and dates -------------------------------------------------------------


def test_list_keyed_by_ministry_identifier(store: StoreHandle, tmp_path: Path) -> None:
    header = ["STT", "Mã định danh", "Họ và tên", "Mã trường", "Tên trường", "Lớp"]
    rows = [[n, ministry, name, *SCHOOL, "10A1"]
            for n, (_, ministry, name, *_) in enumerate(PUPILS, 1)]
    path = write_workbook(tmp_path / "ds.xlsx", {"DS": [header, *rows]})

    report = service.ingest(store.db, store.settings, path, ADAPTER, "ministry-ids")

    assert report.notices == []
    assert sorted(stored("ministry-ids")) == ["0351159014", "8705987105", "9230138366"]
    assert stored("ministry-ids")["0351159014"]["ministry_id"] == "0351159014"
    assert "0351159014 204001 10A1" in stored("ministry-ids", "enrollment")


def test_identifiers_typed_as_numbers(store: StoreHandle, tmp_path: Path) -> None:
    header = ["STT", "Mã học sinh", "Mã định danh Bộ GD&ĐT", "Họ và tên", "Số định danh cá nhân",
              "Mã trường", "Tên trường", "Lớp"]
    rows = [
        [1, "2040010001", 9230138366.0, "Dương Hoàng Hoàng", 92210465243, *SCHOOL, "10A1"],
        [2, "'2040010002", "8705 987 105", "Đặng Hữu Thảo", "'094310991970", *SCHOOL, "10A1"],
        [3, "2040010003", 351159014, "Mai Tấn Ánh", "0923 1066 5713", *SCHOOL, "10A1"],
    ]
    path = tmp_path / "ds.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    for row in [header, *rows]:
        sheet.append(row)
    sheet["C4"].number_format = "0000000000"
    workbook.save(path)

    report = service.ingest(store.db, store.settings, path, ADAPTER, "number-ids")

    assert rejections(report.run_id) == []
    ids = {code: (record.get("ministry_id"), record.get("personal_id"))
           for code, record in stored("number-ids").items()}
    assert ids == {
        "2040010001": ("9230138366", "092210465243"),
        "2040010002": ("8705987105", "094310991970"),
        "2040010003": ("0351159014", "092310665713"),
    }


def test_birth_date_with_midnight_time_read(store: StoreHandle, tmp_path: Path) -> None:
    lines = ["Mã học sinh;Họ và tên;Ngày sinh;Mã trường;Tên trường;Lớp",
             f"2040010001;Dương Hoàng Hoàng;19/08/2010 00:00:00;{';'.join(SCHOOL)};10A1",
             f"2040010002;Đặng Hữu Thảo;23/10/2010 07:30:00;{';'.join(SCHOOL)};10A1"]
    path = tmp_path / "ds.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")

    report = service.ingest(store.db, store.settings, path, ADAPTER, "timed-dates")

    assert stored("timed-dates")["2040010001"]["birth_date"] == "2010-08-19"
    assert ("student", "mapping.date_has_time", None, 3, "Ngày sinh") in rejections(report.run_id)


# Files that change nothing -----------------------------------------------------------


def test_header_only_list_ends_nothing(store: StoreHandle, tmp_path: Path) -> None:
    header = "Mã học sinh,Họ và tên,Mã trường,Tên trường,Lớp"
    path = tmp_path / "ds.csv"
    rows = [f"{code},{name},{','.join(SCHOOL)},10A1" for code, _, name, *_ in PUPILS]
    path.write_text("\r\n".join([header, *rows]) + "\r\n", encoding="utf-8")
    service.ingest(store.db, store.settings, path, ADAPTER, "emptied")
    path.write_text(header + "\r\n", encoding="utf-8")

    report = service.ingest(store.db, store.settings, path, ADAPTER, "emptied")

    levels = {notice["error"]: notice["level"] for notice in report.notices}
    assert levels["table.no_rows"] == "error"
    assert levels["ingest.absent_not_ended"] == "warning"
    assert len(stored("emptied")) == 3
    assert len(stored("emptied", "enrollment")) == 3


def test_stray_byte_rejects_row_ends_nothing(store: StoreHandle, tmp_path: Path) -> None:
    header = "Mã học sinh,Họ và tên,Mã trường,Tên trường,Lớp"
    rows = [f"20400100{n:02d},Nguyễn Thị Hồng Nhung,{','.join(SCHOOL)},10A1" for n in range(1, 10)]
    path = tmp_path / "ds.csv"
    path.write_text("\r\n".join([header, *rows]) + "\r\n", encoding="utf-8")
    service.ingest(store.db, store.settings, path, ADAPTER, "stray-byte")
    # The last name pasted again from a Windows-1258 file: "Lê Thị Hoà", tones as combining bytes.
    pasted = b"2040010009,L\xea Thi\xf2 Hoa\xcc," + f"{','.join(SCHOOL)},10A1".encode()
    path.write_bytes("\r\n".join([header, *rows[:-1]]).encode() + b"\r\n" + pasted + b"\r\n")

    report = service.ingest(store.db, store.settings, path, ADAPTER, "stray-byte")

    assert rejections(report.run_id) == [(None, "csv.invalid_encoding", None, 10, None)]
    levels = {notice["error"]: notice["level"] for notice in report.notices}
    assert levels["table.encoding_invalid_bytes"] == "error"
    # The pupil of the unreadable row keeps the record of the first ingest.
    assert len(stored("stray-byte")) == 9
    assert stored("stray-byte")["2040010009"]["full_name"] == "Nguyễn Thị Hồng Nhung"


# Gender tick columns --------------------------------------------------------------


def tick_list(path: Path, ticks: list[tuple[str, str]]) -> Path:
    """Write a class list with "Giới tính" merged over the tick columns "Nam" and "Nữ"."""
    rows: list[list[object]] = [
        ["DANH SÁCH HỌC SINH LỚP 6A9", None, None, None, None, None, None],
        ["STT", "Mã học sinh", "Họ và tên", "Giới tính", None, "Mã trường", "Tên trường"],
        [None, None, None, "Nam", "Nữ", None, None],
    ]
    for number, (nam, nu) in enumerate(ticks, 1):
        rows.append([number, f"20400100{number:02d}", f"Học Sinh {number}", nam or None,
                     nu or None, *SCHOOL])
    merged = ["D2:E2", "A2:A3", "B2:B3", "C2:C3", "F2:F3", "G2:G3"]
    return write_workbook(path, {"6A9": rows}, {"6A9": merged})


def dropped_rows(report: Any) -> dict[int, tuple[str, str, str]]:
    """Return (field, reason, column) of each ``ingest.field_dropped`` warning by its first row."""
    found = {}
    for notice in report.notices:
        if notice["error"] == "ingest.field_dropped":
            params = notice["params"]
            row = int(params["rows"].split("; ")[0].rsplit(" ", 1)[-1])
            found[row] = (params["field"], params["problem"]["reason"], params["column"])
    return found


def test_tick_pair_gives_gender(store: StoreHandle, tmp_path: Path) -> None:
    ticks = [("x", ""), ("", "x"), ("", ""), ("x", "x"), ("", "Nữ"), ("", "Nam"), ("Nam", "")]
    path = tick_list(tmp_path / "ticks.xlsx", ticks)

    report = service.ingest(store.db, store.settings, path, ADAPTER, "ticks")

    # Since school-export/student v7 a pupil whose ticks cannot be read is stored without gender.
    genders = {code: record.get("gender") for code, record in stored("ticks").items()}
    assert genders == {"2040010001": "male", "2040010002": "female", "2040010003": None,
                       "2040010004": None, "2040010005": "female", "2040010006": None,
                       "2040010007": "male"}
    assert [r for r in rejections(report.run_id) if r[0] == "student"] == []
    assert dropped_rows(report) == {
        6: ("gender", "mapping.ticks_none", "Nam + Nữ"),
        7: ("gender", "mapping.ticks_several", "Nam + Nữ"),
        9: ("gender", "mapping.flag_other_word", "Nữ"),
    }
    (none_ticked,) = [n for n in report.notices if n["error"] == "ingest.field_dropped"
                      and n["params"]["problem"]["reason"] == "mapping.ticks_none"]
    problem = none_ticked["params"]["problem"]
    message = translate(problem["reason"], "vi", **problem["params"])
    assert "Nam, Nữ" in message
    assert "đúng một cột" in message


def test_tick_pair_beside_split_year(store: StoreHandle, tmp_path: Path) -> None:
    # A lone "Nữ" column beside a year column "Năm": read as before, a blank cell is a boy.
    header = ["STT", "Mã học sinh", "Họ và tên", "Năm", "Nữ", "Mã trường", "Tên trường", "Lớp"]
    rows: list[list[object]] = [header,
                                [1, "2040010001", "Học Sinh Một", 2013, None, *SCHOOL, "6A1"],
                                [2, "2040010002", "Học Sinh Hai", 2013, "nữ", *SCHOOL, "6A1"],
                                [3, "2040010003", "Học Sinh Ba", 2013, "Nam", *SCHOOL, "6A1"]]
    path = write_workbook(tmp_path / "year.xlsx", {"6A1": rows})

    report = service.ingest(store.db, store.settings, path, ADAPTER, "year")

    genders = {code: record.get("gender") for code, record in stored("year").items()}
    assert genders == {"2040010001": "male", "2040010002": "female", "2040010003": None}
    assert [r for r in rejections(report.run_id) if r[0] == "student"] == []
    assert dropped_rows(report) == {4: ("gender", "mapping.flag_other_word", "Nữ")}
    (warning,) = [n for n in report.notices if n["error"] == "ingest.field_dropped"]
    problem = warning["params"]["problem"]
    message = translate(problem["reason"], "vi", **problem["params"])
    assert '"Nam"' in message
    assert '"Nữ"' in message

