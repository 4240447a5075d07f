"""The table adapter on exports as schools send them: merged headers, signatures, marks, bytes."""

from __future__ import annotations

import re
import unicodedata
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from adapters.base import Limits, ReadHints
from gateway.text import match_key
from tests.adapters.test_table_adapter import (
    STUDENT_COLUMNS,
    read,
    student,
    write_csv,
    write_xlsx,
)
from tests.support.xls import save_as_xls

SPLIT_NAME_HINTS = ReadHints(
    columns=frozenset(match_key(c) for c in ["Mã học sinh", "Họ và tên", "Họ đệm", "Tên", "Nữ",
                                              "Giới tính", "Ngày sinh", "Mã trường"]),
    # As in the shipped mappings, whose school and class records need the school code.
    required=frozenset({match_key("Mã học sinh"), match_key("Mã trường")}),
)
# Windows-1258 bytes of "Hoà": "a" then the combining grave accent (CC).
HOA_CP1258 = b"Hoa\xcc"


def write_merged_xlsx(path: Path, rows: list[list[object]], merged: list[str], *,
                      formats: dict[str, str] | None = None) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "DSHS"
    for row in rows:
        sheet.append(row)
    for cells in merged:
        sheet.merge_cells(cells)
    for cell, number_format in (formats or {}).items():
        sheet[cell].number_format = number_format
    workbook.save(path)
    return path


# Header names -----------------------------------------------------------------


def test_header_line_breaks_become_spaces(tmp_path: Path):
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": [
        ["STT", "Mã  học sinh ", "Họ và\ntên", "Ngày\r\nsinh", "Giới tính"],
        student(1),
    ]})

    result = read(path)

    assert result.streams[0].headers == [*STUDENT_COLUMNS, "_block", "_sheet"]


def test_tick_columns_under_parent_keep_own_names(tmp_path: Path):
    # "Giới tính" over "Nam" and "Nữ": the "Nam" column must not take the name "Giới tính",
    # whose mapping reads "Nam" or "Nữ" words, not ticks.
    path = write_merged_xlsx(tmp_path / "lop.xlsx", [
        ["Mã học sinh", "Họ và tên", "Giới tính", None],
        [None, None, "Nam", "Nữ"],
        ["0101", "Nguyễn Văn An", "x", None],
    ], ["A1:A2", "B1:B2", "C1:D1"])

    result = read(path, SPLIT_NAME_HINTS)

    assert result.streams[0].headers == ["Mã học sinh", "Họ và tên", "Giới tính Nam", "Nữ",
                                         "_block", "_sheet"]
    assert result.cells() == [["0101", "Nguyễn Văn An", "x", "", "", "DSHS"]]


# Merged ranges and spanning header cells --------------------------------------------


def test_xlsx_header_merged_over_two_columns_joins_them(tmp_path: Path):
    path = write_merged_xlsx(tmp_path / "lop.xlsx", [
        ["STT", "Mã học sinh", "Họ và tên", None, "Ngày sinh"],
        [1, "0101", "Nguyễn Văn", "An", "01/02/2014"],
        [2, "0102", "Trần Thị", "Bình", "02/03/2014"],
    ], ["C1:D1"])

    result = read(path)

    assert result.streams[0].headers == ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "_block", "_sheet"]
    assert result.column("Họ và tên") == ["Nguyễn Văn An", "Trần Thị Bình"]
    assert result.notices == []


def test_html_header_colspan_joins_name_columns(tmp_path: Path):
    page = ("<table><tr><th>Mã HS</th><th colspan=\"2\">Họ tên</th></tr>"
            "<tr><td>0101</td><td>Nguyễn Văn</td><td>An</td></tr>"
            "<tr><td>0102</td><td colspan=\"2\">Trần Thị Bình</td></tr></table>")
    path = tmp_path / "lop.xls"
    path.write_text(page, encoding="utf-8")

    result = read(path)

    assert result.streams[0].headers == ["Mã HS", "Họ tên", "_block", "_sheet"]
    assert result.column("Họ tên") == ["Nguyễn Văn An", "Trần Thị Bình"]


def test_xlsx_merged_ranges_read_as_spans(tmp_path: Path):
    # A group header over three columns, header cells merged down two rows, a label
    # merged across the table and a school code merged down the pupils of a block.
    path = write_merged_xlsx(tmp_path / "lop.xlsx", [
        ["Lớp: 6A1", None, None, None, None],
        ["STT", "Thông tin học sinh", None, None, "Mã trường"],
        [None, "Mã học sinh", "Họ đệm", "Tên", None],
        [1, "0101", "Nguyễn Văn", "An", "T01"],
        [2, "0102", "Trần Thị", "Bình", None],
    ], ["A1:E1", "A2:A3", "B2:D2", "E2:E3", "E4:E5"])

    result = read(path, SPLIT_NAME_HINTS)

    assert result.streams[0].headers == ["STT", "Mã học sinh", "Họ đệm", "Tên", "Mã trường",
                                         "_block", "_sheet"]
    assert result.streams[0].properties["header_row"] == "2-3"
    assert result.cells() == [
        ["1", "0101", "Nguyễn Văn", "An", "T01", "Lớp: 6A1", "DSHS"],
        ["2", "0102", "Trần Thị", "Bình", "T01", "Lớp: 6A1", "DSHS"],
    ]


def test_xlsx_merge_over_absent_rows(tmp_path: Path):
    # Excel leaves blank rows out of the sheet XML: a merged range over them has nothing to fill.
    path = write_merged_xlsx(tmp_path / "lop.xlsx", [
        ["Mã học sinh", "Họ và tên"], ["0101", "An"], [], [], [], ["0102", "Bình"],
    ], ["A3:B4"])
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = re.sub(rb'<row r="[345]"\s*/>|<row r="[345]"></row>', b"", parts[sheet])
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)

    result = read(path)

    assert result.cells() == [["0101", "An", "", "DSHS"], ["0102", "Bình", "", "DSHS"]]


# Identifiers ------------------------------------------------------------------


def test_xlsx_zero_padded_number_format_keeps_zeros(tmp_path: Path):
    # Numbers that Excel shows as 092214000123 and 0351159014; a plain number stays as it is.
    path = write_merged_xlsx(tmp_path / "lop.xlsx", [
        ["Mã học sinh", "Họ và tên", "Số định danh cá nhân", "Mã định danh"],
        ["0101", "An", 92214000123, 351159014],
        ["0102", "Bình", 92214000124, 351159015],
    ], [], formats={"C2": "000000000000", "D2": "0000000000"})

    result = read(path, hints=None)

    assert result.cells() == [
        ["0101", "An", "092214000123", "0351159014", "", "DSHS"],
        ["0102", "Bình", "92214000124", "351159015", "", "DSHS"],
    ]


@pytest.mark.parametrize("written, read_as", [
    ("'0101000001", "0101000001"),
    ('="0101000001"', "0101000001"),
    ("'+84901234567", "+84901234567"),
    ('="Tổ ""A"""', 'Tổ "A"'),
    ("'Ngọc", "'Ngọc"),
    ("O'Neil", "O'Neil"),
], ids=["apostrophe", "formula", "plus", "formula-quotes", "name-apostrophe", "inner"])
def test_csv_text_marks_removed(tmp_path: Path, written: str, read_as: str):
    quoted = '"' + written.replace('"', '""') + '"'
    path = write_csv(tmp_path / "lop.csv", ["Mã học sinh,Họ và tên", f"{quoted},An"])

    assert read(path).column("Mã học sinh") == [read_as]


# Footers, signatures, page numbers ------------------------------------------------


SIGNED_BLOCK = [
    ["Lớp: 6A1"],
    STUDENT_COLUMNS,
    student(1), student(2),
    ["Tổng số: 2 học sinh", None, None, "Nữ: 0", "Dân tộc: 0"],
    [None, None, None, "Cần Thơ, ngày 05 tháng 9 năm 2025"],
    [None, "NGƯỜI LẬP BIỂU", None, "HIỆU TRƯỞNG"],
    [None, "(Ký, ghi rõ họ tên)", None, "(Ký tên, đóng dấu)"],
    [],
    [None, "Nguyễn Thị Lan", None, "Trần Văn Bình"],
]


def test_signatures_under_required_column_are_footers(tmp_path: Path):
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": SIGNED_BLOCK})

    result = read(path)

    assert result.column("Mã học sinh") == ["0101000001", "0101000002"]
    assert result.notices == [("warning", "table.rows_skipped")]


def test_identifier_in_required_column_never_footer(tmp_path: Path):
    # The last pupil has only a code and a name: an alphanumeric code is not prose.
    rows = [["Lớp: 6A1"], STUDENT_COLUMNS, student(1), [None, "HS2025A", "Lan"],
            [None, "0922 1400 0123", "Mai"]]
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": rows})

    result = read(path)

    assert result.column("Mã học sinh") == ["0101000001", "HS2025A", "0922 1400 0123"]


# Columns of a school export whose totals row puts its count under "Mã học sinh".
SCHOOL_COLUMNS = ["STT", "Mã trường", "Tên trường", "Mã học sinh", "Họ và tên", "Giới tính"]


def school_pupil(number: int) -> list[object]:
    return [number, "092301", "Trường THCS Thử", f"09230100{number:02d}", f"Học Sinh {number}", "Nữ"]


def totals_workbook(path: Path) -> Path:
    """Write a class sheet whose totals row has "Tổng số" merged over columns 1 to 3."""
    return write_merged_xlsx(path, [
        SCHOOL_COLUMNS, school_pupil(1), school_pupil(2),
        ["Tổng số", None, None, 2], [], [None, None, "Người lập biểu", None, "Hiệu trưởng"],
    ], ["A4:C4"])


def test_xlsx_merged_totals_row_is_footer(tmp_path: Path):
    result = read(totals_workbook(tmp_path / "8a3.xlsx"), SPLIT_NAME_HINTS)

    assert result.column("Mã trường") == ["092301", "092301"]
    assert result.lines() == [2, 3]
    assert result.notices == [("warning", "table.rows_skipped")]


def test_xls_merged_totals_row_is_footer(tmp_path: Path):
    xls = save_as_xls(totals_workbook(tmp_path / "8a3.xlsx"), tmp_path / "8a3.xls")

    result = read(xls, SPLIT_NAME_HINTS)

    assert result.lines() == [2, 3]
    assert result.notices == [("warning", "table.rows_skipped")]


def test_html_colspan_totals_row_is_footer(tmp_path: Path):
    head = "".join(f"<th>{name}</th>" for name in SCHOOL_COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell}</td>" for cell in school_pupil(number)) + "</tr>"
        for number in (1, 2)
    )
    path = tmp_path / "ds.xls"
    path.write_text(f"<table><tr>{head}</tr>{body}<tr><td colspan=\"3\">Tổng số</td><td>2</td>"
                    f"<td colspan=\"2\"></td></tr></table>", encoding="utf-8")

    result = read(path, SPLIT_NAME_HINTS)

    assert result.column("Mã học sinh") == ["0923010001", "0923010002"]
    assert result.notices == [("warning", "table.rows_skipped")]


@pytest.mark.parametrize("totals", [
    pytest.param(",Tổng cộng,12,,", id="label-then-count"),
    pytest.param("TỔNG SỐ:,,12,,", id="capitals-and-colon"),
    pytest.param("Cong,,12,1.250,98.5%", id="no-marks-several-sums"),
    pytest.param("Tổng: 2,,,,", id="count-in-label-cell"),
])
def test_csv_totals_row_is_footer(tmp_path: Path, totals: str):
    path = write_csv(tmp_path / "ds.csv", [
        ",".join(STUDENT_COLUMNS), "1,0101,An,x,Nam", "2,0102,Bình,x,Nam", totals,
    ])

    result = read(path)

    assert result.column("Mã học sinh") == ["0101", "0102"]
    assert result.notices == [("warning", "table.rows_skipped")]


def test_totals_row_between_data_rows_skipped(tmp_path: Path):
    # Without a label after it, a totals row between pupils is still no pupil.
    path = write_csv(tmp_path / "ds.csv", [
        ",".join(STUDENT_COLUMNS), "1,0101,An,x,Nam", "Tổng số,7,,,", "2,0102,Bình,x,Nam",
    ])

    result = read(path)

    assert result.column("Mã học sinh") == ["0101", "0102"]
    assert result.lines() == [2, 4]


@pytest.mark.parametrize("row", [
    pytest.param("Tống,0923010001,,,", id="surname-and-identifier"),
    pytest.param("Cộng,0101,An,x,Nam", id="label-then-pupil-cells"),
])
def test_totals_label_with_pupil_cells_stays_data(tmp_path: Path, row: str):
    path = write_csv(tmp_path / "ds.csv", [",".join(STUDENT_COLUMNS), row, "2,0102,Bình,x,Nam"])

    result = read(path)

    assert result.lines() == [2, 3]


@pytest.mark.parametrize("suffix", ["xlsx", "xls", "html"])
def test_cell_limit_in_every_format(tmp_path: Path, suffix: str):
    long_name = "Nguyễn Văn " + "A" * 40
    rows = [["Lớp: 6A1"], STUDENT_COLUMNS, student(1, long_name), student(2)]
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": rows})
    if suffix == "xls":
        path = save_as_xls(path, tmp_path / "lop.xls")
    elif suffix == "html":
        body = "".join("<tr>" + "".join(f"<td>{cell or ''}</td>" for cell in row) + "</tr>"
                       for row in rows)
        path = tmp_path / "lop.htm"
        path.write_text(f"<table>{body}</table>", encoding="utf-8")

    result = read(path, limits=Limits(max_cell_chars=30))

    error = result.rows[0][0].error
    assert error is not None
    assert error.key == "table.cell_too_long"
    assert error.params["column"] == "Họ và tên"
    assert error.place.row == 3
    assert result.column("Mã học sinh") == ["0101000002"]


def test_long_block_label_rejects_rows(tmp_path: Path):
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": [
        ["Lớp: 6A1 " + "x" * 40], STUDENT_COLUMNS, student(1),
    ]})

    result = read(path, limits=Limits(max_cell_chars=30))

    error = result.rows[0][0].error
    assert error is not None
    assert error.key == "table.label_too_long"
    assert error.params["column"] == "_block"
    assert error.params["label_row"] == 1
    assert error.place.row == 3
    assert "above this row, in row 1, has 49 characters" in error.message("en")


def test_long_group_label_names_its_row(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [
        ",".join(STUDENT_COLUMNS), ",".join(map(str, student(1))), "Lớp 6A2 " + "x" * 40,
        ",".join(map(str, student(2))),
    ])

    result = read(path, limits=Limits(max_cell_chars=30))

    error = result.rows[0][1].error
    assert error is not None
    assert error.key == "table.label_too_long"
    assert error.params["label_row"] == 3
    assert error.place.row == 4


def test_page_number_before_repeated_header_keeps_block(tmp_path: Path):
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": [
        ["Lớp: 6A1"], STUDENT_COLUMNS, student(1),
        [None, None, None, "Trang 1/2"],
        STUDENT_COLUMNS, student(2),
        [None, None, None, "Trang 2/2"],
    ]})

    result = read(path)

    assert result.column("_block") == ["Lớp: 6A1", "Lớp: 6A1"]
    assert result.lines() == [3, 6]


def test_merged_group_labels_between_data_rows(tmp_path: Path):
    # One header, the pupils grouped under merged "Lớp ..." rows, a totals row between groups.
    path = write_merged_xlsx(tmp_path / "ds.xlsx", [
        STUDENT_COLUMNS, ["Lớp 6A1"], student(1), student(2), ["Tổng số: 2"],
        ["Lớp 6A2"], student(3),
    ], ["A2:E2", "A5:E5", "A6:E6"])

    result = read(path)

    assert result.column("_block") == ["Lớp 6A1", "Lớp 6A1", "Lớp 6A2"]
    assert result.lines() == [3, 4, 7]


def test_csv_group_label_in_first_column(tmp_path: Path):
    path = write_csv(tmp_path / "ds.csv", [
        ",".join(STUDENT_COLUMNS), "LỚP: 10A1,,,,", "1,0101,An,x,Nam", "Lớp 10A2,,,,",
        "2,0102,Bình,x,Nam",
    ])

    result = read(path)

    assert result.column("_block") == ["LỚP: 10A1", "Lớp 10A2"]


def test_csv_class_name_rows_label_groups(tmp_path: Path):
    # Class names without the word "Lớp", in the first column, where a pupil row has its number.
    path = write_csv(tmp_path / "ds.csv", [
        ",".join(STUDENT_COLUMNS), "6A1,,,,", "1,0101,An,x,Nam", "2,0102,Bình,x,Nam",
        '"10A1 - GVCN: Trần Thị Mai",,,,', "3,0103,Chi,x,Nữ", "6A2 (40 HS),,,,",
        "4,0104,Dũng,x,Nam",
    ])

    result = read(path)

    assert result.column("_block") == ["6A1", "6A1", "10A1 - GVCN: Trần Thị Mai", "6A2 (40 HS)"]
    assert result.lines() == [3, 4, 6, 8]


def test_merged_class_name_row_labels_group(tmp_path: Path):
    # Merged across the table, a class name alone was read as a note and skipped, so the
    # pupils after it kept the class before.
    path = write_merged_xlsx(tmp_path / "ds.xlsx", [
        STUDENT_COLUMNS, ["Lớp 6A1"], student(1), ["Tổng số: 1"], ["6A2"], student(2),
    ], ["A2:E2", "A4:E4", "A5:E5"])

    result = read(path)

    assert result.column("_block") == ["Lớp 6A1", "6A2"]
    assert result.lines() == [3, 6]


@pytest.mark.parametrize("row", [
    pytest.param(",,6A2,,", id="not-first-column"),
    pytest.param("3 học sinh chuyển đi,,,,", id="count-with-space"),
    pytest.param("Mầm 1,,,,", id="preschool-without-lop"),
    pytest.param("13A,,,,", id="grade-above-12"),
    pytest.param("6A2 Nguyễn Văn An,,,,", id="name-after-class"),
])
def test_one_cell_row_not_class_stays_data(tmp_path: Path, row: str):
    path = write_csv(tmp_path / "ds.csv", [
        "Lớp: 6A1", ",".join(STUDENT_COLUMNS), "1,0101,An,x,Nam", row, "2,0102,Bình,x,Nam",
    ])

    result = read(path)

    assert result.column("_block") == ["Lớp: 6A1", "Lớp: 6A1", "Lớp: 6A1"]
    assert result.lines() == [3, 4, 5]


def test_class_name_in_read_first_column_stays_data(tmp_path: Path):
    # The first column is "Lớp", which the mappings read: "6A2" alone there is a pupil row
    # with the other cells empty, not a label.
    columns = ["Lớp", "Mã học sinh", "Họ và tên", "Ngày sinh", "Giới tính"]
    hints = ReadHints(columns=frozenset(match_key(c) for c in columns),
                      required=frozenset({match_key("Mã học sinh")}))
    path = write_csv(tmp_path / "ds.csv", [
        ",".join(columns), "6A1,0101,An,x,Nam", "6A2,,,,", "6A2,0102,Bình,x,Nam",
    ])

    result = read(path, hints)

    assert result.column("Lớp") == ["6A1", "6A2", "6A2"]
    assert result.column("_block") == ["", "", ""]


def test_merged_note_between_data_rows_skipped(tmp_path: Path):
    path = write_merged_xlsx(tmp_path / "ds.xlsx", [
        STUDENT_COLUMNS, student(1), ["Ghi chú: chuyển đến từ học kỳ II"], student(2),
    ], ["A3:E3"])

    result = read(path)

    assert result.lines() == [2, 4]
    assert ("warning", "table.rows_skipped") in result.notices


def test_note_between_data_rows_is_no_group_label(tmp_path: Path):
    path = write_csv(tmp_path / "ds.csv", [
        "Lớp: 6A1", ",".join(STUDENT_COLUMNS), "1,0101,An,x,Nam", "Lớp học thêm buổi chiều,,,,",
        "2,0102,Bình,x,Nam",
    ])

    result = read(path)

    assert result.column("_block") == ["Lớp: 6A1", "Lớp: 6A1", "Lớp: 6A1"]
    assert result.lines() == [3, 4, 5]


# Tables without rows --------------------------------------------------------------


def test_header_only_file_gets_error_notice(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [",".join(STUDENT_COLUMNS)])

    result = read(path)

    assert result.rows == [[]]
    assert result.notices == [("error", "table.no_rows")]


def test_header_only_sheet_beside_data_gets_warning(tmp_path: Path):
    path = write_xlsx(tmp_path / "truong.xlsx", {
        "6A1": [STUDENT_COLUMNS, student(1)],
        "6A2": [STUDENT_COLUMNS],
    })

    result = read(path)

    assert [len(rows) for rows in result.rows] == [1, 0]
    assert result.notices == [("warning", "table.no_rows")]


# Hidden columns -------------------------------------------------------------------


def test_hidden_duplicate_column_yields_name_to_visible(tmp_path: Path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Mã học sinh", "Mã học sinh", "Họ và tên"])
    sheet.append(["CU01", "0101", "An"])
    sheet.column_dimensions["A"].hidden = True
    path = tmp_path / "lop.xlsx"
    workbook.save(path)

    result = read(path)

    assert result.streams[0].headers == ["Mã học sinh (2)", "Mã học sinh", "Họ và tên", "_block", "_sheet"]
    assert result.column("Mã học sinh") == ["0101"]
    assert result.notices == [("warning", "table.duplicate_header")]


# Bytes that do not decode ---------------------------------------------------------


def test_csv_stray_byte_rejects_its_row(tmp_path: Path):
    # Ten names of six toned letters each, against the four bytes of one pasted name.
    lines = [",".join(STUDENT_COLUMNS)]
    lines += [f"{n},010{n},Nguyễn Thị Hồng Nhung {n},01/02/2014,Nữ" for n in range(1, 11)]
    data = "\r\n".join(lines).encode() + b"\r\n11,0111,Tr\xe2\xf2n Thi\xf2 " + HOA_CP1258 + b",x,N\r\n"
    path = tmp_path / "lop.csv"
    path.write_bytes(data)

    result = read(path)

    assert result.streams[0].properties["encoding_reason"] == "mostly_utf8"
    assert result.column("Họ và tên")[0] == "Nguyễn Thị Hồng Nhung 1"
    assert [row.error.key for row in result.rows[0] if row.error] == ["csv.invalid_encoding"]
    assert ("error", "table.encoding_invalid_bytes") in result.notices


def test_html_stray_byte_rejects_its_row(tmp_path: Path):
    rows = "".join(f"<tr><td>010{n}</td><td>Nguyễn Thị Hồng Nhung {n}</td></tr>" for n in (1, 2, 3))
    page = f"<table><tr><td>Mã HS</td><td>Họ tên</td></tr>{rows}".encode()
    page += b"<tr><td>0104</td><td>" + HOA_CP1258 + b"</td></tr></table>"
    path = tmp_path / "lop.xls"
    path.write_bytes(page)

    result = read(path)

    assert len(result.cells()) == 3
    assert [row.error.key for row in result.rows[0] if row.error] == ["table.row_invalid_encoding"]
    assert [row.line for row in result.rows[0] if row.error] == [5]


def test_html_false_utf8_declaration_ignored(tmp_path: Path):
    name = unicodedata.normalize("NFC", "Hoà")
    page = (b'<html><head><meta charset="utf-8"></head><table>'
            b"<tr><td>Ma HS</td><td>Ho ten</td></tr>"
            b"<tr><td>0101</td><td>" + HOA_CP1258 + b"</td></tr></table>")
    path = tmp_path / "lop.xls"
    path.write_bytes(page)

    result = read(path)

    assert result.column("Ho ten") == [name]
    assert result.streams[0].properties["encoding_reason"] == "fallback"
    assert result.notices == [("warning", "table.encoding_fallback")]
