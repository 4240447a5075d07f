"""CSV lists whose header or rows were split by separators outside double quotes."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.base import Limits, ReadHints, SourceRow
from adapters.table.adapter import TableAdapter
from adapters.table.csv_header import WIDTH_SAMPLE_ROWS, check_header_width
from adapters.table.grid import GridRow
from adapters.table.header import Header
from gateway.errors import GatewayError
from gateway.text import match_key
from tests.adapters.test_table_adapter import read, write_csv

WIDE_HINTS = ReadHints(
    columns=frozenset(match_key(c) for c in [
        "Mã học sinh", "Họ và tên", "Ngày sinh", "Ngày tháng năm sinh", "Giới tính",
        "Số nhà, đường",
    ]),
    required=frozenset(match_key(c) for c in ["Mã học sinh", "Họ và tên"]),
)
SPLIT_HEADER = "STT,Mã học sinh,Họ và tên,Ngày, tháng, năm sinh,Giới tính"
PUPILS = ["1,0101,Nguyễn Văn An,05/09/2013,Nam", "2,0102,Trần Thị Bình,12/01/2013,Nữ"]


def keys(rows: list[SourceRow]) -> list[str | None]:
    return [row.error.key if row.error else None for row in rows]


def notice_error(path: Path, key: str) -> GatewayError:
    """Return the error of the notice ``key`` from reading ``path``."""
    with TableAdapter().open(path, Limits(), WIDE_HINTS) as package:
        for stream in package.streams():
            list(stream.rows)
    return next(notice.error for notice in package.notices if notice.error.key == key)


def test_header_split_by_comma_repaired(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [SPLIT_HEADER, *PUPILS])

    result = read(path, WIDE_HINTS)

    assert result.streams[0].headers == [
        "STT", "Mã học sinh", "Họ và tên", "Ngày, tháng, năm sinh", "Giới tính", "_block", "_sheet",
    ]
    assert result.column("Ngày, tháng, năm sinh") == ["05/09/2013", "12/01/2013"]
    assert result.column("Giới tính") == ["Nam", "Nữ"]
    assert result.notices == [("warning", "table.header_repaired")]


def test_repaired_header_notice_names_file_and_name(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [SPLIT_HEADER, *PUPILS])

    error = notice_error(path, "table.header_repaired")

    assert error.place.file == "lop.csv"
    assert error.place.row == 1
    assert error.params["names"] == '"Ngày, tháng, năm sinh"'
    assert "lop.csv" in error.message("vi")
    assert '"Ngày, tháng, năm sinh"' in error.message("en")


def test_header_split_without_spaces_repaired(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [
        "STT,Mã học sinh,Họ và tên,Ngày,tháng,năm sinh,Giới tính", *PUPILS,
    ])

    result = read(path, WIDE_HINTS)

    assert result.column("Ngày, tháng, năm sinh") == ["05/09/2013", "12/01/2013"]


def test_two_split_names_repaired_and_wide_row_rejected(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [
        SPLIT_HEADER + ",Số nhà, đường",
        "1,0101,Nguyễn Văn An,05/09/2013,Nam,Số 7 Lê Lợi",
        "2,0102,Trần Thị Bình,12/01/2013,Nữ,Số 5, Lê Lợi",
        "3,0103,Lê Thị Cúc,01/02/2013,Nữ,",
    ])

    result = read(path, WIDE_HINTS)

    assert result.streams[0].headers[3:6] == ["Ngày, tháng, năm sinh", "Giới tính", "Số nhà, đường"]
    assert keys(result.rows[0]) == [None, "csv.too_many_cells", None]
    assert result.column("Số nhà, đường") == ["Số 7 Lê Lợi", ""]
    assert result.column("Mã học sinh") == ["0101", "0103"]


def test_header_split_unknown_name_rejects_table(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [
        "STT,Ghi chú, nhận xét,Mã học sinh,Họ và tên,Ngày sinh,Giới tính",
        "1,Tốt,0101,Nguyễn Văn An,05/09/2013,Nam",
        "2,Khá,0102,Trần Thị Bình,12/01/2013,Nữ",
    ])

    result = read(path, WIDE_HINTS)

    assert result.streams == []
    assert result.notices == [("error", "table.header_wider_than_rows")]


def test_rejected_header_notice_counts_columns_and_cells(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [
        "STT,Ghi chú, nhận xét,Mã học sinh,Họ và tên,Ngày sinh,Giới tính",
        "1,Tốt,0101,Nguyễn Văn An,05/09/2013,Nam",
    ])

    error = notice_error(path, "table.header_wider_than_rows")

    assert error.place.file == "lop.csv"
    assert error.place.row == 1
    assert error.params["columns"] == 7
    assert error.params["cells"] == 6
    assert error.params["separator"] == ","
    assert "double quotes" in error.message("en")
    assert "ngoặc kép" in error.message("vi")


def test_rejected_table_leaves_other_files_read(tmp_path: Path):
    folder = tmp_path / "truong"
    folder.mkdir()
    write_csv(folder / "6A1.csv", [
        "STT,Ghi chú, nhận xét,Mã học sinh,Họ và tên,Ngày sinh,Giới tính",
        "1,Tốt,0101,Nguyễn Văn An,05/09/2013,Nam",
    ])
    write_csv(folder / "6A2.csv", ["STT,Mã học sinh,Họ và tên,Ngày sinh,Giới tính", *PUPILS])

    result = read(folder, WIDE_HINTS)

    assert [stream.file for stream in result.streams] == ["6A2.csv"]
    assert result.column("Mã học sinh") == ["0101", "0102"]
    assert result.notices == [("error", "table.header_wider_than_rows")]


def test_semicolon_header_split_not_repaired(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [
        "STT;Mã học sinh;Họ và tên;Ngày; tháng; năm sinh;Giới tính",
        "1;0101;Nguyễn Văn An;05/09/2013;Nam", "2;0102;Trần Thị Bình;12/01/2013;Nữ",
    ])

    error = notice_error(path, "table.header_wider_than_rows")

    assert error.params["separator"] == ";"


def test_header_split_found_past_search_window(tmp_path: Path):
    # 49 blank lines put the header near the end of the rows read to find it, so
    # the sample reads rows beyond them, and every one must still be read.
    pupils = [f"{n},{n:04d},Học sinh {n},05/09/2013,Nam" for n in range(1, 13)]
    path = write_csv(tmp_path / "lop.csv", [""] * 49 + [SPLIT_HEADER, *pupils])

    result = read(path, WIDE_HINTS)

    assert result.notices == [("warning", "table.header_repaired")]
    assert result.column("Mã học sinh") == [f"{n:04d}" for n in range(1, 13)]
    assert result.lines() == list(range(51, 63))


def test_short_rows_of_different_widths_read_as_empty(tmp_path: Path):
    # A writer that drops trailing empty cells: no notice, missing cells read as empty.
    path = write_csv(tmp_path / "lop.csv", [
        "STT,Mã học sinh,Họ và tên,Ngày sinh,Giới tính,Ghi chú",
        "1,0101,Nguyễn Văn An,05/09/2013",
        "2,0102,Trần Thị Bình,12/01/2013,Nữ",
        "3,0103,Lê Thị Cúc",
    ])

    result = read(path, WIDE_HINTS)

    assert result.notices == []
    assert result.column("Giới tính") == ["", "Nữ", ""]
    assert result.column("Ngày sinh") == ["05/09/2013", "12/01/2013", ""]


def test_trailing_empty_cells_are_no_mismatch(tmp_path: Path):
    # Excel writes every cell of its range, the header's too.
    path = write_csv(tmp_path / "lop.csv", [
        "STT,Mã học sinh,Họ và tên,Ngày sinh,Giới tính,,,",
        "1,0101,Nguyễn Văn An,05/09/2013,Nam,,,,,",
        "2,0102,Trần Thị Bình,12/01/2013,,,,",
    ])

    result = read(path, WIDE_HINTS)

    assert result.notices == []
    assert keys(result.rows[0]) == [None, None]
    assert result.column("Giới tính") == ["Nam", ""]


def test_row_with_comma_rejected_between_good_rows(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [
        "STT,Mã học sinh,Họ và tên,Ngày sinh,Giới tính",
        "1,0101,Nguyễn Văn An,05/09/2013,Nam",
        "2,0102,Nguyễn, Văn Bình,12/01/2013,Nam",
        "3,0103,Lê Thị Cúc,01/02/2013,Nữ",
    ])

    result = read(path, WIDE_HINTS)

    assert keys(result.rows[0]) == [None, "csv.too_many_cells", None]
    assert result.column("Mã học sinh") == ["0101", "0103"]
    error = result.rows[0][1].error
    assert error.place.file == "lop.csv"
    assert error.place.row == 3
    assert error.params["cells"] == 6
    assert error.params["columns"] == 5
    assert "double quotes" in error.message("en")
    assert "ngoặc kép" in error.message("vi")


def test_row_with_empty_extra_cells_read(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [
        "STT,Mã học sinh,Họ và tên,Ngày sinh,Giới tính",
        "1,0101,Nguyễn Văn An,05/09/2013,Nam,,",
    ])

    result = read(path, WIDE_HINTS)

    assert keys(result.rows[0]) == [None]
    assert result.column("Giới tính") == ["Nam"]


def _header(text: str) -> Header:
    row = GridRow(line=1, cells=text.split(","))
    return Header(names=list(row.cells), parts=[(cell,) for cell in row.cells], rows=[row])


def _rows(*widths: int) -> list[GridRow]:
    return [GridRow(line=n + 2, cells=["x"] * width) for n, width in enumerate(widths)]


@pytest.mark.parametrize(("header", "widths", "names", "row_cells"), [
    ("a,Ngày,tháng,năm sinh,b", (3, 3), ["a", "Ngày, tháng, năm sinh", "b"], None),
    ("a,Ngày,tháng,năm sinh,b", (3, 4, 3), ["a", "Ngày, tháng, năm sinh", "b"], None),
    ("a,Ngày,tháng,năm sinh,b", (4, 4), None, 4),
    ("a,Ngày,tháng,năm sinh,b", (4, 3, 4), None, None),
    ("a,Ngày,tháng,năm sinh,b", (4, 5, 4), None, None),
    ("a,b,c,d", (4, 4), None, None),
    ("a,b,c,d,,", (4, 4), None, None),
    ("a,b,c,d", (2, 3), None, None),
    ("a,b,c,d,e,f", (4, 4, 5), None, 4),
    ("a,b,c,d", (), None, None),
], ids=[
    "repaired", "repaired-beside-wide-row", "surplus-does-not-match-join",
    "narrower-row-means-dropped-cells", "row-reaches-last-column", "same-width",
    "trailing-empty-header-cells", "different-widths", "most-rows-one-width", "no-rows",
])
def test_check_header_width_cases(header: str, widths: tuple[int, ...], names: list[str] | None,
                                  row_cells: int | None):
    original = _header(header)

    result = check_header_width(original, iter(_rows(*widths)), WIDE_HINTS)

    assert result.header.names == (names if names is not None else original.names)
    assert result.repaired == ([names[1]] if names is not None else [])
    assert result.row_cells == row_cells


def test_check_header_width_ambiguous_join_rejected():
    hints = ReadHints(columns=frozenset({match_key("a b"), match_key("b c")}))

    result = check_header_width(_header("a,b,c"), iter(_rows(2, 2)), hints)

    assert result.repaired == []
    assert result.row_cells == 2


def test_check_header_width_reads_bounded_sample():
    rows = iter(_rows(*[5] * (WIDTH_SAMPLE_ROWS + 5)))

    check_header_width(_header("a,Ngày,tháng,năm sinh,b"), rows, WIDE_HINTS)

    assert len(list(rows)) == 5
