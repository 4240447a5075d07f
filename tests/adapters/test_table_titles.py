"""The school named in the title rows above a table's header, kept on the table's stream."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest
from openpyxl import Workbook

from adapters.base import INPUT_TITLE_SCHOOLS, TITLE_SCHOOL, Limits
from adapters.table.adapter import TableAdapter
from adapters.table.titles import school_in_line
from tests.adapters.test_table_adapter import HINTS, STUDENT_COLUMNS, read, student, write_csv, write_xlsx
from tests.support.xls import save_as_xls

LISTING = replace(HINTS, title_schools=True)


@pytest.mark.parametrize(("line", "school"), [
    ("TRƯỜNG TH AN BÌNH", "TRƯỜNG TH AN BÌNH"),
    ("Trường Tiểu học An Bình", "Trường Tiểu học An Bình"),
    ("trường thcs nguyễn du", "trường thcs nguyễn du"),
    ("Trường: THCS Nguyễn Du", "THCS Nguyễn Du"),
    ("TÊN TRƯỜNG: TH An Bình", "TH An Bình"),
    ("Đơn vị: TRƯỜNG TH AN BÌNH", "TRƯỜNG TH AN BÌNH"),
    ("TRƯỜNG LÊ QUÝ ĐÔN", "TRƯỜNG LÊ QUÝ ĐÔN"),
    ("PHÒNG GD&ĐT NINH KIỀU - TRƯỜNG TH AN BÌNH", "TRƯỜNG TH AN BÌNH"),
    ("PHÒNG GD&ĐT NINH KIỀU / TRƯỜNG TH AN BÌNH", "TRƯỜNG TH AN BÌNH"),
    ("PHÒNG GD&ĐT NINH KIỀU TRƯỜNG TH AN BÌNH", "TRƯỜNG TH AN BÌNH"),
    ("DANH SÁCH HỌC SINH TRƯỜNG TIỂU HỌC AN BÌNH", "TRƯỜNG TIỂU HỌC AN BÌNH"),
    ("TRƯỜNG TH AN BÌNH - NĂM HỌC 2025-2026", "TRƯỜNG TH AN BÌNH"),
    (unicodedata.normalize("NFD", "Trường Tiểu học An Bình"), "Trường Tiểu học An Bình"),
    ("PHÒNG GIÁO DỤC VÀ ĐÀO TẠO QUẬN NINH KIỀU", ""),
    ("SỞ GIÁO DỤC VÀ ĐÀO TẠO THÀNH PHỐ CẦN THƠ", ""),
    ("UBND PHƯỜNG AN BÌNH", ""),
    ("SỞ TÀI NGUYÊN VÀ MÔI TRƯỜNG TỈNH X", ""),
    ("DANH SÁCH HỌC SINH", ""),
    ("Trường hợp học sinh chuyển đi thì ghi rõ", ""),
    ("Trường Long, ngày 5 tháng 9 năm 2025", ""),
    ("Trường Long", ""),
    ("TRƯỜNG TIỂU HỌC", ""),
    ("TRUONG TH AN BINH", ""),
], ids=["capitals", "sentence-case", "lower-case", "label", "name-label", "unit-label",
        "capitals-without-type", "authority-dash", "authority-slash", "authority-joined",
        "list-title", "school-year", "nfd", "district-office", "department", "commune",
        "environment-office", "list-title-only", "note", "place-and-date", "commune-name",
        "type-only", "accents-lost"])
def test_school_in_title_line(line: str, school: str) -> None:
    assert school_in_line(line) == school


def two_school_workbook(path: Path) -> Path:
    """Write sheets of two schools: a district office line and a merged title, then a labelled one."""
    workbook = Workbook()
    first = workbook.active
    first.title = "3A"
    for row in [["PHÒNG GD&ĐT NINH KIỀU"], ["TRƯỜNG TH AN BÌNH"], ["DANH SÁCH HỌC SINH"],
                STUDENT_COLUMNS, student(1)]:
        first.append(row)
    first.merge_cells("A2:E2")
    second = workbook.create_sheet("6A")
    for row in [["Trường: THCS Nguyễn Du", None, None, "Độc lập - Tự do - Hạnh phúc"],
                STUDENT_COLUMNS, student(2)]:
        second.append(row)
    third = workbook.create_sheet("Khác")
    for row in [["DANH SÁCH HỌC SINH"], STUDENT_COLUMNS, student(3)]:
        third.append(row)
    workbook.save(path)
    return path


def test_xlsx_sheets_keep_their_title_school(tmp_path: Path) -> None:
    result = read(two_school_workbook(tmp_path / "two.xlsx"))

    titles = [stream.properties.get(TITLE_SCHOOL) for stream in result.streams]
    assert titles == ["TRƯỜNG TH AN BÌNH", "THCS Nguyễn Du", None]
    assert all(INPUT_TITLE_SCHOOLS not in stream.properties for stream in result.streams)
    assert result.column("Mã học sinh", 0) == ["0101000001"]


def test_xls_sheets_keep_their_title_school(tmp_path: Path) -> None:
    path = save_as_xls(two_school_workbook(tmp_path / "two.xlsx"), tmp_path / "two.xls")

    result = read(path)

    titles = [stream.properties.get(TITLE_SCHOOL) for stream in result.streams]
    assert titles == ["TRƯỜNG TH AN BÌNH", "THCS Nguyễn Du", None]


def test_title_schools_of_input_listed(tmp_path: Path) -> None:
    result = read(two_school_workbook(tmp_path / "two.xlsx"), LISTING)

    expected = [["two.xlsx [3A]", "TRƯỜNG TH AN BÌNH"], ["two.xlsx [6A]", "THCS Nguyễn Du"]]
    for stream in result.streams:
        assert json.loads(stream.properties[INPUT_TITLE_SCHOOLS]) == expected
    assert result.notices == []
    assert [len(rows) for rows in result.rows] == [1, 1, 1]


def test_title_schools_of_folder_listed(tmp_path: Path) -> None:
    folder = tmp_path / "lists"
    folder.mkdir()
    write_csv(folder / "a.csv", ["TRƯỜNG TH AN BÌNH", ",".join(STUDENT_COLUMNS),
                                 "1,0101000001,Nguyễn Văn An,01/02/2014,Nam"])
    write_xlsx(folder / "b.xlsx", {"3B": [["TRƯỜNG THCS AN BÌNH"], STUDENT_COLUMNS, student(2)]})

    result = read(folder, LISTING)

    listed = json.loads(result.streams[0].properties[INPUT_TITLE_SCHOOLS])
    assert listed == [["a.csv", "TRƯỜNG TH AN BÌNH"], ["b.xlsx [3B]", "TRƯỜNG THCS AN BÌNH"]]
    assert result.streams[1].properties[INPUT_TITLE_SCHOOLS] == \
        result.streams[0].properties[INPUT_TITLE_SCHOOLS]


def test_csv_title_row_read(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "list.csv", [
        "SỞ GIÁO DỤC VÀ ĐÀO TẠO THÀNH PHỐ CẦN THƠ;;;;",
        "TRƯỜNG THCS NGUYỄN DU;;;;",
        "DANH SÁCH HỌC SINH;;;;",
        ";".join(STUDENT_COLUMNS),
        "1;0101000001;Nguyễn Văn An;01/02/2014;Nam",
    ])

    result = read(path)

    assert result.streams[0].properties[TITLE_SCHOOL] == "TRƯỜNG THCS NGUYỄN DU"
    # The row right above the header is also the block label.
    assert result.cells() == [["1", "0101000001", "Nguyễn Văn An", "01/02/2014", "Nam",
                               "DANH SÁCH HỌC SINH", ""]]


def test_csv_without_title_has_none(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "list.csv", [",".join(STUDENT_COLUMNS),
                                             "1,0101000001,Nguyễn Văn An,01/02/2014,Nam"])

    result = read(path, LISTING)

    assert TITLE_SCHOOL not in result.streams[0].properties
    assert json.loads(result.streams[0].properties[INPUT_TITLE_SCHOOLS]) == []


def test_title_below_header_not_read(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "list.xlsx", {"3A": [
        STUDENT_COLUMNS, student(1), [], [None, None, "TRƯỜNG TH AN BÌNH"],
    ]})

    result = read(path)

    assert TITLE_SCHOOL not in result.streams[0].properties


HTML_PAGE = """<html><head><meta charset="utf-8"></head><body>
{before}
<table>{inside}
<tr><th>STT</th><th>Mã HS</th><th>Họ tên</th><th>Ngày sinh</th></tr>
<tr><td>1</td><td>0101</td><td>Nguyễn Văn An</td><td>01/02/2014</td></tr>
</table>
<table><tr><td>Người lập biểu</td><td>Hiệu trưởng</td></tr></table>
<table><tr><td colspan="4">TRƯỜNG THCS NGUYỄN DU</td></tr>
<tr><th>STT</th><th>Mã HS</th><th>Họ tên</th><th>Ngày sinh</th></tr>
<tr><td>1</td><td>0201</td><td>Trần Thị Bình</td><td>01/02/2013</td></tr>
</table>
</body></html>
"""


@pytest.mark.parametrize(("before", "inside"), [
    ("", '<tr><td colspan="4">PHÒNG GD&amp;ĐT NINH KIỀU<br>TRƯỜNG TH AN BÌNH</td></tr>'),
    ('<table><tr><td>PHÒNG GD&amp;ĐT NINH KIỀU</td><td>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</td></tr>'
     '<tr><td>TRƯỜNG TH AN BÌNH</td><td>Độc lập - Tự do - Hạnh phúc</td></tr></table>', ""),
    ("<div><b>PHÒNG GD&amp;ĐT NINH KIỀU</b><br><b>TRƯỜNG TH AN BÌNH</b></div>"
     "<h3>DANH SÁCH HỌC SINH</h3>", ""),
], ids=["row-of-table", "title-table", "page-heading"])
def test_html_title_school_read(tmp_path: Path, before: str, inside: str) -> None:
    path = tmp_path / "list.xls"
    path.write_text(HTML_PAGE.format(before=before, inside=inside), encoding="utf-8")

    result = read(path, LISTING)

    titles = [stream.properties.get(TITLE_SCHOOL) for stream in result.streams]
    assert titles == ["TRƯỜNG TH AN BÌNH", "TRƯỜNG THCS NGUYỄN DU"]
    assert json.loads(result.streams[0].properties[INPUT_TITLE_SCHOOLS]) == [
        ["list.xls [1]", "TRƯỜNG TH AN BÌNH"], ["list.xls [2]", "TRƯỜNG THCS NGUYỄN DU"]]
    assert result.column("Mã HS", 1) == ["0201"]


CLASS_PAGE = """<html><head><meta charset="utf-8"></head><body>
{title}
<table>{inside}
<tr><th>STT</th><th>Mã HS</th><th>Họ tên</th><th>Ngày sinh</th></tr>
<tr><td>1</td><td>0101</td><td>Nguyễn Văn An</td><td>01/02/2014</td></tr>
</table>
<table><tr><td>Người lập biểu</td><td>Hiệu trưởng</td></tr></table>
<table><tr><td>1</td><td>0201</td><td>x</td></tr></table>
<table>
<tr><th>STT</th><th>Mã HS</th><th>Họ tên</th><th>Ngày sinh</th></tr>
<tr><td>1</td><td>0301</td><td>Trần Thị Bình</td><td>01/02/2013</td></tr>
</table>
</body></html>
"""
CLASS_TITLE_TABLE = (
    '<table><tr><td>TRƯỜNG THCS BÌNH MINH</td><td>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</td></tr>'
    '<tr><td colspan="2">DANH SÁCH HỌC SINH LỚP 6A3 - NĂM HỌC 2025-2026</td></tr></table>')


@pytest.mark.parametrize(("title", "inside", "label"), [
    (CLASS_TITLE_TABLE, "", "DANH SÁCH HỌC SINH LỚP 6A3 - NĂM HỌC 2025-2026"),
    ("<h3>DANH SÁCH HỌC SINH LỚP 6A3</h3>", "", "DANH SÁCH HỌC SINH LỚP 6A3"),
    # A label of the table's own comes first.
    (CLASS_TITLE_TABLE, '<tr><td colspan="4">Lớp: 6A1</td></tr>', "Lớp: 6A1"),
    ("<table><tr><td>TRƯỜNG THCS BÌNH MINH</td></tr></table>", "", ""),
], ids=["title-table", "page-heading", "own-label", "no-class"])
def test_html_class_title_read_as_label(tmp_path: Path, title: str, inside: str,
                                        label: str) -> None:
    path = tmp_path / "list.xls"
    path.write_text(CLASS_PAGE.format(title=title, inside=inside), encoding="utf-8")

    result = read(path)

    assert result.column("_block") == [label]
    # The title goes to the next table with a header only, not to the tables after it.
    assert result.column("_block", 1) == [""]


@pytest.mark.parametrize(("title", "skipped"), [
    (CLASS_TITLE_TABLE, 2),
    ("<table><tr><td>Ghi chú</td><td>x</td></tr></table>", 3),
], ids=["title-table-read", "other-table-skipped"])
def test_html_title_table_not_counted_as_skipped(tmp_path: Path, title: str, skipped: int) -> None:
    path = tmp_path / "list.xls"
    path.write_text(CLASS_PAGE.format(title=title, inside=""), encoding="utf-8")

    with TableAdapter().open(path, Limits(), HINTS) as package:
        for stream in package.streams():
            list(stream.rows)
    counts = [notice.error.params["count"] for notice in package.notices
              if notice.error.key == "table.html_tables_skipped"]

    # The signature table and the table of cells without a header are skipped.
    assert counts == [skipped]
