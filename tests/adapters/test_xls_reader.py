"""Binary Excel 97-2003 workbooks (.xls): read like the same workbook saved as .xlsx."""

from __future__ import annotations

import struct
from datetime import date, datetime
from pathlib import Path

import pytest
import xlwt
from openpyxl import Workbook, load_workbook
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from adapters.base import ReadHints
from gateway.demo import write_vendor_xlsx
from gateway.legacy_text import to_vni_text
from gateway.text import match_key
from tests.adapters.test_table_adapter import read
from tests.support.xls import save_as_xls

HEADER = ["STT", "Mã học sinh", "Mã định danh", "Họ và tên", "Ngày sinh", "Nữ", "Giờ đến"]
VENDOR_HINTS = ReadHints(
    columns=frozenset(match_key(c) for c in ["Mã học sinh", "Mã định danh", "Họ đệm", "Tên",
                                              "Ngày sinh", "Nữ", "Dân tộc"]),
    required=frozenset({match_key("Mã học sinh")}),
)


def class_workbook(path: Path, *, epoch: object = None, hidden_sheet: bool = False) -> Path:
    """Write a class list with a merged title, padded identifiers, dates and a time column."""
    workbook = Workbook()
    if epoch is not None:
        workbook.epoch = epoch
    sheet = workbook.active
    sheet.title = "6A1"
    sheet.append(["DANH SÁCH HỌC SINH LỚP 6A1"])
    sheet.merge_cells("A1:G1")
    sheet.append(HEADER)
    names = ["Nguyễn Văn An", "Trần Thị Bích Ngọc", "Lê Hoàng Việt"]
    for number, name in enumerate(names, 1):
        sheet.append([number, f"0110010{number:03d}", 92214000120 + number, name,
                      datetime(2012, 9, number), "x" if number % 2 else None, 0.3125])
        row = sheet.max_row
        sheet.cell(row, 3).number_format = "000000000000"
        sheet.cell(row, 5).number_format = "dd/mm/yyyy"
        sheet.cell(row, 7).number_format = "hh:mm"
    sheet.column_dimensions["H"].hidden = True
    if hidden_sheet:
        workbook.create_sheet("Cũ").append(["ghi chú"])
        workbook["Cũ"].sheet_state = "hidden"
    workbook.save(path)
    return path


def test_xls_rows_match_xlsx(tmp_path: Path):
    xlsx = class_workbook(tmp_path / "6a1.xlsx")
    xls = save_as_xls(xlsx, tmp_path / "6a1.xls")

    expected, result = read(xlsx), read(xls)

    assert result.streams[0].headers == expected.streams[0].headers
    assert result.cells() == expected.cells()
    assert result.notices == expected.notices
    assert result.streams[0].properties["format"] == "xls"


def test_xls_cells_as_text(tmp_path: Path):
    xls = save_as_xls(class_workbook(tmp_path / "6a1.xlsx"), tmp_path / "6a1.xls")

    result = read(xls)

    assert result.column("Mã định danh") == ["092214000121", "092214000122", "092214000123"]
    assert result.column("Mã học sinh")[0] == "0110010001"
    assert result.column("Ngày sinh") == ["2012-09-01", "2012-09-02", "2012-09-03"]
    assert result.column("Giờ đến")[0] == "07:30:00"
    assert result.column("STT") == ["1", "2", "3"]


def test_xls_1904_date_system(tmp_path: Path):
    xlsx = class_workbook(tmp_path / "mac.xlsx", epoch=CALENDAR_MAC_1904)
    xls = save_as_xls(xlsx, tmp_path / "mac.xls")

    result = read(xls)

    assert result.streams[0].properties["date_system"] == "1904"
    assert result.column("Ngày sinh")[0] == date(2012, 9, 1).isoformat()


def test_xls_hidden_sheet_warned(tmp_path: Path):
    xls = save_as_xls(class_workbook(tmp_path / "a.xlsx", hidden_sheet=True), tmp_path / "a.xls")

    result = read(xls)

    assert ("warning", "table.sheet_hidden") in result.notices
    assert len(result.streams) == 1


@pytest.mark.parametrize("suffix", ["xlsx", "xls"])
def test_hidden_sheet_read_after_visible_ones(tmp_path: Path, suffix: str):
    # Last year's list on a hidden first sheet: the current rows must come first, so that
    # they win the duplicate check.
    workbook = Workbook()
    old = workbook.active
    old.title = "Năm học 2024-2025"
    old.append(["Lớp: 5A1"])
    old.append(HEADER)
    old.append([1, "0110010001"])
    old.sheet_state = "hidden"
    for title in ("6A1", "6A2"):
        current = workbook.create_sheet(title)
        current.append([f"Lớp: {title}"])
        current.append(HEADER)
        current.append([1, "0110010001"])
    path = tmp_path / "lop.xlsx"
    workbook.save(path)
    if suffix == "xls":
        path = save_as_xls(path, tmp_path / "lop.xls")

    result = read(path)

    assert [stream.sheet for stream in result.streams] == ["6A1", "6A2", "Năm học 2024-2025"]
    assert result.lines(2) == [3]
    assert ("warning", "table.sheet_hidden") in result.notices


@pytest.mark.parametrize("suffix", ["xlsx", "xls"])
def test_date_cell_holding_zero_is_day_zero(tmp_path: Path, suffix: str):
    # Excel shows 0 under "DD/MM/YYYY" as 00/01/1900, which is no date, not a time of day.
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "6A1"
    sheet.append(HEADER)
    sheet.append([1, "0110010001", None, "An", 0, None, 0])
    sheet.append([2, "0110010002", None, "Bình", 0.5, None, 0.3125])
    for row in (2, 3):
        sheet.cell(row, 5).number_format = "DD/MM/YYYY"
        sheet.cell(row, 7).number_format = "hh:mm"
    path = tmp_path / "lop.xlsx"
    workbook.save(path)
    if suffix == "xls":
        path = save_as_xls(path, tmp_path / "lop.xls")

    result = read(path, VENDOR_HINTS)

    assert result.column("Ngày sinh") == ["1900-01-00", "1900-01-00T12:00:00"]
    assert result.column("Giờ đến") == ["00:00:00", "07:30:00"]


def test_vendor_workbooks_same_as_xls(tmp_path: Path):
    summary = write_vendor_xlsx(tmp_path / "xlsx", "tiny", 2025)
    (tmp_path / "xls").mkdir()
    for workbook in sorted((tmp_path / "xlsx").glob("*.xlsx")):
        save_as_xls(workbook, tmp_path / "xls" / f"{workbook.stem}.xls")

    expected, result = read(summary.package, VENDOR_HINTS), read(tmp_path / "xls", VENDOR_HINTS)

    assert [s.sheet for s in result.streams] == [s.sheet for s in expected.streams]
    assert [s.headers for s in result.streams] == [s.headers for s in expected.streams]
    for index in range(len(expected.streams)):
        assert result.cells(index) == expected.cells(index)
        assert result.lines(index) == expected.lines(index)
    assert sorted(result.notices) == sorted(expected.notices)


def test_vni_cells_in_xls_converted(tmp_path: Path):
    names = ["Nguyễn Văn An", "Trần Thị Bích Ngọc", "Lê Hoàng Việt", "Phạm Thu Hương",
             "Đỗ Minh Đức"]
    workbook = Workbook()
    workbook.active.append(["STT", "Mã học sinh", "Họ và tên"])
    for number, name in enumerate(names, 1):
        workbook.active.append([number, f"HS{number:03d}", to_vni_text(name)])
    workbook.save(tmp_path / "ds.xlsx")

    result = read(save_as_xls(tmp_path / "ds.xlsx", tmp_path / "ds.xls"))

    assert result.column("Họ và tên") == names
    assert ("warning", "table.text_vni") in result.notices


def test_damaged_xls_gets_error_notice(tmp_path: Path):
    folder = tmp_path / "lists"
    folder.mkdir()
    (folder / "a-cu.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    save_as_xls(class_workbook(tmp_path / "b.xlsx"), folder / "b.xls")

    result = read(folder)

    assert ("error", "table.xls_unreadable") in result.notices
    assert result.column("Họ và tên") == ["Nguyễn Văn An", "Trần Thị Bích Ngọc", "Lê Hoàng Việt"]


def test_password_protected_workbook_named(tmp_path: Path):
    xls = save_as_xls(class_workbook(tmp_path / "a.xlsx"), tmp_path / "a.xls")
    # An encrypted XLSX package is an OLE2 file whose streams are EncryptionInfo and
    # EncryptedPackage: rename the workbook stream's directory entry to one of them.
    data = bytearray(xls.read_bytes())
    entry = data.index("Workbook".encode("utf-16-le"))
    name = "EncryptionInfo".encode("utf-16-le") + b"\x00\x00"
    data[entry:entry + len(name)] = name
    data[entry + 64:entry + 66] = len(name).to_bytes(2, "little")
    xls.write_bytes(bytes(data))

    result = read(xls)

    assert result.streams == []
    assert result.notices == [("error", "table.workbook_encrypted")]


def test_damaged_sheet_skipped_with_error_notice(tmp_path: Path):
    marker = 123456.789
    book = xlwt.Workbook(encoding="utf-8")
    for title in ("6A1", "6A2"):
        sheet = book.add_sheet(title)
        for column, name in enumerate(["STT", "Mã học sinh", "Họ và tên"]):
            sheet.write(0, column, name)
        sheet.write(1, 0, 1)
        sheet.write(1, 1, f"HS-{title}")
        sheet.write(1, 2, "Nguyễn Văn An")
        if title == "6A1":
            sheet.write(3, 0, marker)
    path = tmp_path / "ds.xls"
    book.save(str(path))
    # Give the marker's NUMBER record of the first sheet a length past the end of the data.
    data = bytearray(path.read_bytes())
    value = data.index(struct.pack("<d", marker))
    data[value - 8:value - 6] = b"\xff\xff"
    path.write_bytes(bytes(data))

    result = read(path)

    assert result.notices == [("error", "table.xls_sheet_unreadable")]
    assert [stream.sheet for stream in result.streams] == ["6A2"]
    assert result.column("Mã học sinh") == ["HS-6A2"]


def test_xls_damaged_start_not_read_as_csv(tmp_path: Path):
    xls = save_as_xls(class_workbook(tmp_path / "a.xlsx"), tmp_path / "a.xls")
    data = bytearray(xls.read_bytes())
    data[:512] = b"\x00" * 512
    xls.write_bytes(bytes(data))

    result = read(xls)

    assert result.streams == []
    assert result.notices == [("error", "table.file_binary")]


def test_hidden_rows_read_with_warning(tmp_path: Path):
    xlsx = class_workbook(tmp_path / "a.xlsx")
    workbook = load_workbook(xlsx)
    workbook.active.row_dimensions[4].hidden = True
    workbook.save(xlsx)
    xls = save_as_xls(xlsx, tmp_path / "a.xls")

    for path in (xlsx, xls):
        result = read(path)

        assert len(result.rows[0]) == 3
        assert ("warning", "table.rows_hidden") in result.notices
