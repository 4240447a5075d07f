"""Staff lists: the table adapter reads pupil lists only, and rejects a table that lists staff.

Every list here is synthetic: made-up people of made-up schools.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.base import INPUT_TITLE_SCHOOLS, Limits
from adapters.table.adapter import TableAdapter
from adapters.table.grid import GridRow
from adapters.table.staff import staff_evidence
from gateway.clock import FakeClock, use_clock
from tests.adapters.test_table_adapter import HINTS, STUDENT_COLUMNS, read, student, write_csv, write_xlsx

STAFF_TITLE = "DANH SÁCH CÁN BỘ, GIÁO VIÊN, NHÂN VIÊN"
STAFF_COLUMNS = ["STT", "Mã định danh", "Họ và tên", "Ngày sinh", "Giới tính", "Chức vụ",
                 "Trình độ", "Mã trường", "Tên trường"]
PUPIL_COLUMNS = ["STT", "Mã định danh", "Họ và tên", "Ngày sinh", "Giới tính"]


def born(*years: int) -> list[GridRow]:
    """Return data rows under PUPIL_COLUMNS, one per birth year."""
    return [GridRow(line=number, cells=[str(number), f"79{number:08d}", "Người Thử",
                                        f"05/06/{year}", "Nam"])
            for number, year in enumerate(years, start=5)]


ADULTS = born(1980, 1985, 1991)
PUPILS = born(2013, 2014, 2013)


@pytest.mark.parametrize(("titles", "names", "rows", "staff"), [
    ([STAFF_TITLE], PUPIL_COLUMNS, ADULTS, True),
    (["TRƯỜNG THCS TÂN AN", "Danh sách giáo viên năm học 2025-2026"], PUPIL_COLUMNS, [], True),
    (["DANH SÁCH TRÍCH NGANG CBGVNV"], PUPIL_COLUMNS, PUPILS, True),
    (["Bảng theo dõi nhân sự"], PUPIL_COLUMNS, [], True),
    (["CB-GV-NV"], PUPIL_COLUMNS, [], True),
    ([], ["STT", "Họ và tên", "Ngày sinh", "Chức vụ", "Trình độ chuyên môn"], [], True),
    ([], PUPIL_COLUMNS + ["Chức danh"], ADULTS, True),
    ([], PUPIL_COLUMNS + ["Chức vụ"], PUPILS, False),
    ([], PUPIL_COLUMNS + ["Chức vụ"], born(1980), False),
    ([], PUPIL_COLUMNS, ADULTS, False),
    (["DANH SÁCH HỌC SINH LỚP 6A1 - GVCN: Trần Thị Bích"], PUPIL_COLUMNS, PUPILS, False),
    (["DANH SÁCH LỚP 6A1", "GVCN: Trần Thị Bích"], PUPIL_COLUMNS + ["Ghi chú"], PUPILS, False),
    (["Giáo viên chủ nhiệm: Trần Thị Bích"], PUPIL_COLUMNS + ["Chức vụ"], PUPILS, False),
    (["DANH SÁCH CÁN BỘ LỚP 6A1"], PUPIL_COLUMNS + ["Chức vụ"], PUPILS, False),
    (["Lớp: 6A1", STAFF_TITLE], PUPIL_COLUMNS, [], False),
    ([STAFF_TITLE], ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh"], ADULTS, False),
    ([STAFF_TITLE], ["STT", "Mã định danh", "Họ và tên", "Lớp"], ADULTS, True),
    ([], ["STT", "Họ và tên", "Ngày sinh", "Chức vụ", "Trình độ", "Lớp"], ADULTS, True),
    ([], PUPIL_COLUMNS + ["Lớp", "Chức vụ"], PUPILS, False),
    (["DANH SÁCH LỚP 6A1"], PUPIL_COLUMNS + ["Lớp"], PUPILS, False),
], ids=["staff-title", "teachers-title", "abbreviation", "personnel-sheet", "dashed-abbreviation",
        "two-staff-columns", "staff-column-and-adults", "office-column-pupils",
        "office-column-one-year", "adults-alone", "pupil-title-with-homeroom-teacher",
        "homeroom-teacher-label-and-notes", "homeroom-teacher-label-and-office",
        "class-officers", "class-label", "pupil-code-column", "staff-title-and-homeroom-class",
        "staff-columns-and-homeroom-class", "class-and-office-columns", "class-list-title"])
def test_staff_evidence(titles: list[str], names: list[str], rows: list[GridRow], staff: bool) -> None:
    with use_clock(FakeClock(datetime(2026, 9, 5, tzinfo=UTC))):
        found = staff_evidence(titles, names, rows)
    assert (found is not None) == staff


def test_staff_evidence_names_title_and_columns() -> None:
    found = staff_evidence(["TRƯỜNG THCS TÂN AN", STAFF_TITLE], STAFF_COLUMNS, ADULTS)
    assert found is not None
    assert found.title == STAFF_TITLE
    assert found.columns == ("Chức vụ", "Trình độ")


def staff_sheet(school: str = "TRƯỜNG THCS TÂN AN") -> list[list[object]]:
    return [[school], [STAFF_TITLE], [], STAFF_COLUMNS,
            [1, "7900000001", "Người Thử Một", "05/06/1980", "Nữ", "Hiệu trưởng", "Đại học",
             "0920109", "Trường THCS Tân An"],
            [2, "7900000002", "Người Thử Hai", "07/08/1985", "Nam", "Kế toán", "Cao đẳng",
             "0920109", "Trường THCS Tân An"]]


def test_staff_sheet_not_read_beside_pupils(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "ds.xlsx", {
        "6A1": [["TRƯỜNG THCS TÂN AN"], ["DANH SÁCH HỌC SINH"], STUDENT_COLUMNS, student(1)],
        "CBGVNV": staff_sheet(),
    })
    result = read(path)

    assert [stream.sheet for stream in result.streams] == ["6A1"]
    assert result.notices == [("error", "table.staff_list_title")]


def test_staff_notice_names_file_sheet_and_title(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "can-bo.xlsx", {"CBGVNV": staff_sheet()})
    with TableAdapter().open(path, Limits(), HINTS) as package:
        streams = list(package.streams())
    assert streams == []
    [notice] = package.notices
    assert notice.level == "error"
    assert (notice.error.place.file, notice.error.place.sheet) == ("can-bo.xlsx", "CBGVNV")
    assert notice.error.params["title"] == STAFF_TITLE
    assert notice.error.params["table"] == "can-bo.xlsx [CBGVNV]"


def test_staff_csv_named_by_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "nhan-su.csv", [
        "STT,Mã định danh,Họ và tên,Ngày sinh,Chức danh,Vị trí việc làm",
        "1,7900000001,Người Thử Một,05/06/1980,Giáo viên hạng II,Giáo viên",
    ])
    result = read(path)

    assert result.streams == []
    assert result.notices == [("error", "table.staff_list_columns")]


def test_pupil_list_with_homeroom_teacher_read(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "6a1.xlsx", {"6A1": [
        ["TRƯỜNG THCS TÂN AN"], ["DANH SÁCH HỌC SINH LỚP 6A1 - GVCN: Trần Thị Bích"],
        STUDENT_COLUMNS + ["Chức vụ", "Ghi chú"],
        student(1) + ["Lớp trưởng", "Chuyển đến"], student(2) + ["", ""],
    ]})
    result = read(path)

    assert result.notices == []
    assert len(result.cells()) == 2


def test_title_pass_skips_staff_sheet(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "ds.xlsx", {
        "6A1": [["TRƯỜNG THCS TÂN AN"], ["DANH SÁCH HỌC SINH"], STUDENT_COLUMNS, student(1)],
        "CBGVNV": staff_sheet("TRƯỜNG THCS KHÁC"),
    })
    result = read(path, replace(HINTS, title_schools=True))

    listed = json.loads(result.streams[0].properties[INPUT_TITLE_SCHOOLS])
    assert listed == [["ds.xlsx [6A1]", "TRƯỜNG THCS TÂN AN"]]
