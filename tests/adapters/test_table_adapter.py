"""The generic table adapter: formats, header detection, class blocks, footers, memory."""

from __future__ import annotations

import gc
import tracemalloc
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import pytest
from openpyxl import Workbook
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from adapters.base import Limits, ReadHints, Scope, SourceRow, Stream
from adapters.registry import get_adapter
from adapters.table.adapter import TableAdapter
from adapters.table.blocks import MAX_PENDING_ROWS
from gateway.text import match_key

STUDENT_COLUMNS = ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "Giới tính"]
HINTS = ReadHints(
    columns=frozenset(match_key(c) for c in ["Mã học sinh", "Mã HS", "Họ và tên", "Họ tên",
                                              "Ngày sinh", "Giới tính"]),
    required=frozenset(match_key(c) for c in ["Mã học sinh", "Mã HS", "Họ và tên", "Họ tên"]),
)


@dataclass
class Read:
    """What one open of the adapter produced."""

    streams: list[Stream]
    rows: list[list[SourceRow]]
    notices: list[tuple[str, str]]
    description: dict[str, object]

    def cells(self, index: int = 0) -> list[list[str]]:
        return [row.cells for row in self.rows[index] if row.cells is not None]

    def column(self, name: str, index: int = 0) -> list[str]:
        position = self.streams[index].headers.index(name)
        return [cells[position] for cells in self.cells(index)]

    def lines(self, index: int = 0) -> list[int]:
        return [row.line for row in self.rows[index]]

    def notice(self, key: str) -> str:
        return next(level for level, found in self.notices if found == key)


def read(path: Path, hints: ReadHints | None = HINTS, limits: Limits | None = None) -> Read:
    streams, rows = [], []
    with TableAdapter().open(path, limits or Limits(), hints) as package:
        for stream in package.streams():
            streams.append(stream)
            rows.append(list(stream.rows))
    notices = [(notice.level, notice.error.key) for notice in package.notices]
    return Read(streams, rows, notices, package.description)


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]], *,
               hidden: Iterable[str] = (), epoch: object = None) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    if epoch is not None:
        workbook.epoch = epoch
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
        if title in hidden:
            sheet.sheet_state = "hidden"
    workbook.save(path)
    return path


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes("\r\n".join(lines).encode(encoding) + b"\r\n")
    return path


def student(number: int, name: str = "An") -> list[object]:
    return [number, f"01010{number:05d}", f"Nguyễn Văn {name}", "01/02/2014", "Nam"]


# Input: files, folders, archives --------------------------------------------


def test_folder_reads_table_files_in_name_order(tmp_path: Path):
    folder = tmp_path / "export"
    folder.mkdir()
    write_csv(folder / "b-lop-6a2.csv", [",".join(STUDENT_COLUMNS), "1,0102,Bình,x,Nam"])
    write_xlsx(folder / "a-lop-6a1.xlsx", {"6A1": [STUDENT_COLUMNS, student(1)]})
    (folder / "c-lop-6a3.html").write_text(
        "<table><tr><td>Mã HS</td><td>Họ tên</td></tr><tr><td>0103</td><td>Chi</td></tr></table>",
        encoding="utf-8",
    )
    (folder / "ghi-chu.txt").write_text("notes", encoding="utf-8")

    result = read(folder)

    assert [(s.file, s.sheet) for s in result.streams] == [
        ("a-lop-6a1.xlsx", "6A1"), ("b-lop-6a2.csv", None), ("c-lop-6a3.html", "1"),
    ]
    assert [s.properties["format"] for s in result.streams] == ["xlsx", "csv", "html"]
    assert result.notices == [("warning", "table.text_file_ignored")]
    assert result.description["files"] == ["a-lop-6a1.xlsx", "b-lop-6a2.csv", "c-lop-6a3.html",
                                            "ghi-chu.txt"]


def test_zip_of_tables_read(tmp_path: Path):
    workbook = write_xlsx(tmp_path / "lop.xlsx", {"6A1": [STUDENT_COLUMNS, student(1)]})
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.write(workbook, "export-2025/lop-6a1.xlsx")
        zipped.writestr("export-2025/lop-6a2.csv", ",".join(STUDENT_COLUMNS) + "\r\n1,0102,Bình,x,Nam\r\n")

    result = read(archive)

    assert [s.file for s in result.streams] == ["export-2025/lop-6a1.xlsx", "export-2025/lop-6a2.csv"]
    assert result.column("Họ và tên", 0) == ["Nguyễn Văn An"]
    assert result.column("Họ và tên", 1) == ["Bình"]


def test_stream_bulk_of_named_schools(tmp_path: Path):
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": [STUDENT_COLUMNS, student(1)]})

    stream = read(path).streams[0]

    assert stream.name == "table"
    assert stream.mode == "bulk"
    assert stream.scope == Scope(named_schools=True)
    assert stream.key_column is None
    assert stream.headers == [*STUDENT_COLUMNS, "_block", "_sheet"]


def test_registry_key_school_export_is_table_adapter():
    adapter = get_adapter("school-export")

    assert isinstance(adapter, TableAdapter)
    assert adapter.key == "school-export"


def test_folder_without_table_files_raises(tmp_path: Path):
    (tmp_path / "notes.docx").write_text("x", encoding="utf-8")

    with pytest.raises(Exception) as raised, TableAdapter().open(tmp_path, Limits()):
        pass

    assert getattr(raised.value, "key", None) == "table.no_files"


def _oneroster_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    write_csv(folder / "manifest.csv", ["propertyName,value", "manifest.version,1.0",
                                        "oneroster.version,1.1", "file.users,bulk"])
    write_csv(folder / "users.csv", ["sourcedId,status,givenName", "u1,active,An"])
    return folder


@pytest.mark.parametrize("zipped", [False, True], ids=["folder", "zip"])
def test_oneroster_package_named_once(tmp_path: Path, zipped: bool):
    path = _oneroster_folder(tmp_path / "or")
    if zipped:
        path = tmp_path / "or.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for name in ("manifest.csv", "users.csv"):
                archive.write(tmp_path / "or" / name, name)

    with pytest.raises(Exception) as raised, TableAdapter().open(path, Limits()):
        pass

    assert getattr(raised.value, "key", None) == "table.oneroster_package"
    assert raised.value.params == {"path": str(path)}


def test_oneroster_single_file_named(tmp_path: Path):
    path = _oneroster_folder(tmp_path / "or") / "users.csv"

    with pytest.raises(Exception) as raised, TableAdapter().open(path, Limits()):
        pass

    assert getattr(raised.value, "key", None) == "table.oneroster_file"


def test_other_manifest_csv_read_as_list(tmp_path: Path):
    folder = tmp_path / "export"
    folder.mkdir()
    write_csv(folder / "manifest.csv", [",".join(STUDENT_COLUMNS), "1,0102,Bình,01/02/2014,Nam"])

    result = read(folder)

    assert result.column("Mã học sinh") == ["0102"]


def test_lists_in_subfolders_read(tmp_path: Path):
    folder = tmp_path / "export"
    (folder / "Khối 6").mkdir(parents=True)
    (folder / "Khối 7").mkdir()
    write_xlsx(folder / "Khối 6" / "6A1.xlsx", {"6A1": [STUDENT_COLUMNS, student(1)]})
    write_csv(folder / "Khối 7" / "7A1.csv", [",".join(STUDENT_COLUMNS), "1,0102,Bình,x,Nam"])

    result = read(folder)

    assert [(s.file, s.sheet) for s in result.streams] == [
        ("Khối 6/6A1.xlsx", "6A1"), ("Khối 7/7A1.csv", None),
    ]
    assert result.notices == []


def test_unicode_text_list_read_note_skipped(tmp_path: Path):
    folder = tmp_path / "export"
    folder.mkdir()
    lines = ["\t".join(STUDENT_COLUMNS), "1\t0101\tAn\t\tNam"]
    (folder / "lop-6a1.txt").write_text("\r\n".join(lines) + "\r\n", encoding="utf-16")
    (folder / "huong-dan.txt").write_text("Gửi danh sách trước ngày 15.\n", encoding="utf-8")

    result = read(folder)

    assert [(s.file, s.properties["delimiter"]) for s in result.streams] == [("lop-6a1.txt", "\t")]
    assert result.rows[0][0].cells[1:3] == ["0101", "An"]
    assert result.notices == [("warning", "table.text_file_ignored")]


# XLSX -----------------------------------------------------------------------


def test_xlsx_cells_become_text(tmp_path: Path):
    values = [12345, 12.5, 3.0, -0.25, True, False, date(2014, 3, 9),
              datetime(2014, 3, 9, 0, 0), datetime(2025, 9, 5, 7, 30), time(13, 45),
              None, "  0123  ", 1e20]
    headers = [f"c{i}" for i in range(len(values))]
    path = tmp_path / "kieu.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    sheet.append(values)
    workbook.save(path)

    result = read(path, hints=None)

    assert result.cells()[0][:-2] == [
        "12345", "12.5", "3", "-0.25", "TRUE", "FALSE", "2014-03-09",
        "2014-03-09", "2025-09-05T07:30:00", "13:45:00", "", "0123", "1e+20",
    ]


def test_xlsx_date_system_1900_recorded(tmp_path: Path):
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": [STUDENT_COLUMNS, student(1)]})

    assert read(path).streams[0].properties["date_system"] == "1900"


def test_xlsx_date_system_1904_recorded_and_dates_kept(tmp_path: Path):
    rows = [STUDENT_COLUMNS, [1, "0101", "An", date(2014, 3, 9), "Nam"]]
    path = write_xlsx(tmp_path / "mac.xlsx", {"6A1": rows}, epoch=CALENDAR_MAC_1904)

    result = read(path)

    assert result.streams[0].properties["date_system"] == "1904"
    assert result.column("Ngày sinh") == ["2014-03-09"]


def test_xlsx_one_stream_per_sheet_named_by_title(tmp_path: Path):
    path = write_xlsx(tmp_path / "truong.xlsx", {
        "Lớp 6A1": [STUDENT_COLUMNS, student(1)],
        "Lớp 6A2": [STUDENT_COLUMNS, student(2), student(3)],
    })

    result = read(path)

    assert [s.sheet for s in result.streams] == ["Lớp 6A1", "Lớp 6A2"]
    assert [len(rows) for rows in result.rows] == [1, 2]


def test_xlsx_hidden_sheet_read_with_warning(tmp_path: Path):
    path = write_xlsx(tmp_path / "truong.xlsx", {
        "6A1": [STUDENT_COLUMNS, student(1)],
        "An": [STUDENT_COLUMNS, student(2)],
    }, hidden=["An"])

    result = read(path)

    assert [s.sheet for s in result.streams] == ["6A1", "An"]
    assert result.notices == [("warning", "table.sheet_hidden")]


def test_xlsx_empty_sheets_skipped_quietly(tmp_path: Path):
    path = write_xlsx(tmp_path / "truong.xlsx", {"6A1": [STUDENT_COLUMNS, student(1)], "Sheet2": []})

    result = read(path)

    assert [s.sheet for s in result.streams] == ["6A1"]
    assert result.notices == []


def test_workbook_checked_against_archive_limits(tmp_path: Path):
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": [STUDENT_COLUMNS, student(1)]})

    result = read(path, limits=Limits(max_archive_members=3))

    assert result.streams == []
    assert result.notices == [("error", "archive.too_many_members")]


def test_damaged_xlsx_gets_error_notice(tmp_path: Path):
    path = tmp_path / "hong.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 200)

    result = read(path)

    assert result.streams == []
    assert result.notices == [("error", "table.xlsx_unreadable")]


def test_zip_not_workbook_gets_binary_notice(tmp_path: Path):
    path = tmp_path / "khong-phai.xlsx"
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("readme.txt", "not a workbook")

    result = read(path)

    assert result.notices == [("error", "table.file_binary")]


def test_workbook_without_parts_gets_error_notice(tmp_path: Path):
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": [STUDENT_COLUMNS, student(1)]})
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(tmp_path / "hong.xlsx", "w") as damaged:
        for item in source.infolist():
            if item.filename != "xl/workbook.xml":
                damaged.writestr(item, source.read(item))

    result = read(tmp_path / "hong.xlsx")

    assert result.notices == [("error", "table.xlsx_unreadable")]


# HTML saved as .xls, and formats that are not supported -----------------------

HTML_EXPORT = """\ufeff
<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<style>td {{ mso-number-format: "\\@"; }}</style></head><body>
<table><tr><td colspan="5">DANH SÁCH HỌC SINH</td></tr></table>
<table border="1">
<tr><th>STT</th><th>Mã HS</th><th>Họ<br>tên</th><th>Ngày sinh</th><th>Giới tính</th></tr>
{rows}
</table>
<table><tr><td>Người lập biểu</td><td>Hiệu trưởng</td></tr></table>
</body></html>
"""


def test_html_saved_as_xls_detected_by_content(tmp_path: Path):
    rows = "<tr><td>1</td><td>0101</td><td>Nguyễn Văn An</td><td>01/02/2014</td><td>Nam</td></tr>"
    path = tmp_path / "danh-sach.xls"
    path.write_text(HTML_EXPORT.format(rows=rows), encoding="utf-8")

    result = read(path)

    assert len(result.streams) == 1
    assert result.streams[0].headers == ["STT", "Mã HS", "Họ tên", "Ngày sinh", "Giới tính",
                                         "_block", "_sheet"]
    assert result.streams[0].properties["format"] == "html"
    # The title table above the list is not counted: the list is the page's first table.
    assert result.streams[0].sheet == "1"
    assert result.cells() == [["1", "0101", "Nguyễn Văn An", "01/02/2014", "Nam", "", ""]]
    assert result.notices == [("warning", "table.html_tables_skipped")]


HTML_LAYOUT = """<html><body>
<table><tr><td>SỞ GIÁO DỤC</td><td>DANH SÁCH HỌC SINH</td></tr></table>
<table><tr><td><table><tr><td>Trường Thử</td></tr></table></td></tr></table>
<table>{caption_a}
<tr><th>STT</th><th>Mã HS</th><th>Họ tên</th></tr>
<tr><td>1</td><td>0101</td><td>Nguyễn Văn An</td></tr>
</table>
<table><tr><td>Trang 1</td></tr></table>
<table>{caption_b}
<tr><th>STT</th><th>Mã HS</th><th>Họ tên</th></tr>
<tr><td>1</td><td>0201</td><td>Trần Thị Bình</td></tr>
</table>
</body></html>
"""


def test_html_tables_numbered_among_lists(tmp_path: Path):
    path = tmp_path / "danh-sach.xls"
    path.write_text(HTML_LAYOUT.format(caption_a="", caption_b=""), encoding="utf-8")

    result = read(path)

    # Title, layout, nested and footer tables have no header and are not counted.
    assert [stream.sheet for stream in result.streams] == ["1", "2"]
    assert result.column("Mã HS", 1) == ["0201"]


def test_html_table_named_by_caption(tmp_path: Path):
    path = tmp_path / "danh-sach.xls"
    page = HTML_LAYOUT.format(caption_a="<caption>Lớp 6A1</caption>", caption_b="")
    path.write_text(page, encoding="utf-8")

    result = read(path)

    assert [stream.sheet for stream in result.streams] == ["Lớp 6A1", "2"]
    assert result.column("Họ tên") == ["Nguyễn Văn An"]


def test_html_colspan_repeats_and_rowspan_copies_down(tmp_path: Path):
    page = """<table>
    <tr><td>Mã HS</td><td>Họ tên</td><td>Lớp</td><td>Ghi chú</td><td>Khác</td></tr>
    <tr><td>0101</td><td>An</td><td rowspan="2">6A1</td><td colspan="2">Chuyển đến</td></tr>
    <tr><td>0102</td><td>Bình</td><td>x</td><td>y</td></tr>
    </table>"""
    path = tmp_path / "lop.html"
    path.write_text(page, encoding="utf-8")

    result = read(path)

    assert result.cells() == [
        ["0101", "An", "6A1", "Chuyển đến", "Chuyển đến", "", ""],
        ["0102", "Bình", "6A1", "x", "y", "", ""],
    ]


def test_html_label_spanning_row_starts_block(tmp_path: Path):
    header = "<tr><th>Mã HS</th><th>Họ tên</th><th>Ngày sinh</th></tr>"
    page = (
        f'<table><tr><td colspan="3">Lớp: 6A1</td></tr>{header}'
        "<tr><td>0101</td><td>An</td><td>x</td></tr>"
        '<tr><td colspan="3">Tổng số: 1</td></tr>'
        f'<tr><td colspan="3">Lớp: 6A2</td></tr>{header}'
        "<tr><td>0102</td><td>Bình</td><td>x</td></tr></table>"
    )
    path = tmp_path / "lop.xls"
    path.write_text(page, encoding="utf-8")

    result = read(path)

    assert result.column("_block") == ["Lớp: 6A1", "Lớp: 6A2"]
    assert result.lines() == [3, 7]


def test_html_br_becomes_space(tmp_path: Path):
    page = ("<table><tr><td>Mã HS</td><td>Họ tên</td></tr>"
            "<tr><td>0101</td><td>Nguyễn<br/>Văn<BR>An</td></tr></table>")
    path = tmp_path / "lop.htm"
    path.write_text(page, encoding="utf-8")

    assert read(path).column("Họ tên") == ["Nguyễn Văn An"]


def test_html_lines_count_rows_of_the_file(tmp_path: Path):
    rows = "".join(
        f"<tr><td>{n}</td><td>010{n}</td><td>Tên {n}</td><td>x</td><td>Nam</td></tr>" for n in (1, 2)
    )
    path = tmp_path / "lop.xls"
    path.write_text(HTML_EXPORT.format(rows=rows), encoding="utf-8")

    # Row 1 is the title table, row 2 the header.
    assert read(path).lines() == [3, 4]


def test_html_windows_1258_page_read(tmp_path: Path):
    page = (b'<html><head><meta charset="windows-1258"></head><table>'
            b"<tr><td>Ma HS</td><td>Ho ten</td></tr>"
            b"<tr><td>0101</td><td>Nguy\xea\xden Thi\xf2 Hoa\xcc</td></tr></table>")
    path = tmp_path / "lop.xls"
    path.write_bytes(page)

    result = read(path)

    assert result.column("Ho ten") == ["Nguyễn Thị Hoà"]
    assert result.streams[0].properties["encoding"] == "cp1258"
    assert result.streams[0].properties["encoding_reason"] == "declared"


def test_html_without_table_gets_error_notice(tmp_path: Path):
    path = tmp_path / "trang.xls"
    path.write_text("<html><body><p>Không có dữ liệu</p></body></html>", encoding="utf-8")

    result = read(path)

    assert result.streams == []
    assert result.notices == [("error", "table.html_no_table")]


def test_damaged_binary_xls_gets_error_notice(tmp_path: Path):
    path = tmp_path / "cu.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)

    result = read(path)

    assert result.streams == []
    assert result.notices == [("error", "table.xls_unreadable")]


def test_spreadsheetml_gets_error_notice(tmp_path: Path):
    path = tmp_path / "xml2003.xls"
    path.write_text('<?xml version="1.0"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:'
                    'spreadsheet"><Worksheet><Table><Row/></Table></Worksheet></Workbook>',
                    encoding="utf-8")

    assert read(path).notices == [("error", "table.spreadsheetml")]


def test_csv_with_xls_extension_read_as_csv(tmp_path: Path):
    path = write_csv(tmp_path / "lop.xls", [",".join(STUDENT_COLUMNS), "1,0101,An,x,Nam"])

    result = read(path)

    assert result.streams[0].properties["format"] == "csv"
    assert result.column("Họ và tên") == ["An"]


@pytest.mark.parametrize("separator", [";", "\t"], ids=["semicolon", "tab"])
def test_csv_separator_detected(tmp_path: Path, separator: str):
    lines = [separator.join(STUDENT_COLUMNS), separator.join(["1", "0101", "An", "8,5", "Nam"])]
    path = write_csv(tmp_path / "lop.csv", lines)

    result = read(path)

    assert result.streams[0].properties["delimiter"] == separator
    assert result.cells() == [["1", "0101", "An", "8,5", "Nam", "", ""]]


# Header detection -----------------------------------------------------------


def test_header_found_under_titles_and_school_name(tmp_path: Path):
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": [
        ["SỞ GIÁO DỤC VÀ ĐÀO TẠO", None, None, "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM"],
        ["TRƯỜNG THCS MẪU"],
        [],
        ["DANH SÁCH HỌC SINH"],
        STUDENT_COLUMNS,
        student(1),
    ]})

    result = read(path)

    assert result.streams[0].headers[:-2] == STUDENT_COLUMNS
    assert result.streams[0].properties["header_row"] == "5"
    assert result.lines() == [6]


def test_header_needs_two_hint_matches(tmp_path: Path):
    hints = ReadHints(frozenset({"ma hoc sinh", "ho va ten"}))
    path = write_csv(tmp_path / "lop.csv", [
        "Ghi chú,Mã học sinh,Khác",  # one match only: not the header
        "STT,Mã học sinh,Họ và tên",
        "1,0101,An",
    ])

    result = read(path, hints)

    assert result.streams[0].properties["header_row"] == "2"


def test_header_found_by_one_required_match(tmp_path: Path):
    hints = ReadHints(frozenset({"ma hoc sinh", "ma hs", "ho va ten"}), frozenset({"ma hs"}))
    path = write_csv(tmp_path / "lop.csv", ["DANH SÁCH", "STT,Mã HS,Tên", "1,0101,An"])

    assert read(path, hints).streams[0].headers == ["STT", "Mã HS", "Tên", "_block", "_sheet"]


def test_header_without_hints_two_cells(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", ["DANH SÁCH HỌC SINH,,", "", "Mã,Tên,Lớp", "1,An,6A1"])

    result = read(path, hints=None)

    assert result.streams[0].headers == ["Mã", "Tên", "Lớp", "_block", "_sheet"]
    # A one-cell row right above the header is its block label, even a title.
    assert result.cells() == [["1", "An", "6A1", "DANH SÁCH HỌC SINH", ""]]


def test_no_header_gives_error_notice_and_skips_sheet(tmp_path: Path):
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": [["Cột A", "Cột B"], ["1", "2"]]})

    with TableAdapter().open(path, Limits(), HINTS) as package:
        streams = list(package.streams())
    notice = package.notices[0]

    assert streams == []
    assert (notice.level, notice.error.key) == ("error", "table.no_header")
    assert notice.error.place.sheet == "6A1"
    assert '"ho va ten"' in notice.error.message("en")


def test_no_header_mapping_column_names(tmp_path: Path):
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": [["Cột A", "Cột B"], ["1", "2"]]})
    names = ["Mã học sinh", "Họ và tên", "_block", "_sheet"]
    hints = ReadHints(frozenset(match_key(n) for n in names), frozenset({match_key("Mã học sinh")}),
                      labels=tuple((match_key(n), n) for n in names))

    with TableAdapter().open(path, Limits(), hints) as package:
        list(package.streams())

    message = package.notices[0].error.message("en")
    # Required columns first, spelt as written; the adapter's own _block column is not asked for.
    assert 'Expected columns like "Mã học sinh", "Họ và tên".' in message


def test_no_header_warning_beside_read_sheet(tmp_path: Path):
    path = write_xlsx(tmp_path / "lop.xlsx", {
        "6A1": [STUDENT_COLUMNS, student(1)],
        "Danh mục": [["Mã dân tộc", "Tên dân tộc"], ["01", "Kinh"]],
    })

    result = read(path)

    assert [s.sheet for s in result.streams] == ["6A1"]
    assert result.notices == [("warning", "table.no_header")]


def test_two_row_header_joined_under_merged_parent(tmp_path: Path):
    hints = ReadHints(frozenset({"ma hs", "ho ten"}), frozenset({"ma hs"}))
    path = write_xlsx(tmp_path / "ket-qua.xlsx", {"Kết quả": [
        ["STT", "Mã HS", "Họ tên", "Mức đạt được", None, None, "Ghi chú"],
        [None, None, None, "Toán", "Tiếng Việt", "TNXH", None],
        [1, "0101", "An", "T", "H", "T", None],
    ]})

    result = read(path, hints)

    assert result.streams[0].headers == [
        "STT", "Mã HS", "Họ tên", "Mức đạt được Toán", "Mức đạt được Tiếng Việt",
        "Mức đạt được TNXH", "Ghi chú", "_block", "_sheet",
    ]
    assert result.streams[0].properties["header_row"] == "1-2"
    assert result.cells() == [["1", "0101", "An", "T", "H", "T", "", "", "Kết quả"]]


def test_split_date_columns_not_read_warned(tmp_path: Path):
    top = ["Mã học sinh", "Họ và tên", "Ngày sinh", None, None]
    bottom = [None, None, "Ngày", "Tháng", "Năm"]
    path = write_xlsx(tmp_path / "ds.xlsx", {
        "6A1": [top, bottom, ["0101", "An", 22, 7, 2013]],
        "6A2": [top, bottom, ["0102", "Bình", 2, 10, 2013]],
    })

    with TableAdapter().open(path, Limits(), HINTS) as package:
        headers = [stream.headers for stream in package.streams() if list(stream.rows)]
    (notice,) = package.notices

    assert len(headers) == 2
    assert headers[0][2:5] == ["Ngày sinh Ngày", "Ngày sinh Tháng", "Ngày sinh Năm"]
    assert (notice.level, notice.error.key) == ("warning", "table.columns_not_read")
    assert notice.error.params["columns"] == '"Ngày sinh Ngày", "Ngày sinh Tháng", "Ngày sinh Năm"'
    assert notice.error.params["parents"] == '"Ngày sinh"'
    assert notice.error.params["count"] == 2
    assert notice.error.params["row"] == "1-2"


def test_read_columns_under_parent_not_warned(tmp_path: Path):
    hints = ReadHints(HINTS.columns | {match_key("Ngày sinh Ngày"), match_key("Ngày sinh Tháng"),
                                       match_key("Ngày sinh Năm"), match_key("Họ đệm"),
                                       match_key("Tên")}, HINTS.required)
    path = write_xlsx(tmp_path / "ds.xlsx", {"6A1": [
        ["Mã học sinh", "Họ và tên", None, "Ngày sinh", None, None, "Mức đạt được", None],
        [None, "Họ đệm", "Tên", "Ngày", "Tháng", "Năm", "Toán", "Tiếng Việt"],
        ["0101", "Nguyễn Văn", "An", 22, 7, 2013, "T", "H"],
    ]})

    assert read(path, hints).notices == []
    assert read(path, None).notices == []


def test_two_row_header_from_html_spans(tmp_path: Path):
    page = """<table>
    <tr><td rowspan="2">Mã HS</td><td rowspan="2">Họ tên</td><td colspan="2">Mức đạt được</td></tr>
    <tr><td>Toán</td><td>Tiếng Việt</td></tr>
    <tr><td>0101</td><td>An</td><td>T</td><td>H</td></tr>
    </table>"""
    path = tmp_path / "ket-qua.xls"
    path.write_text(page, encoding="utf-8")

    result = read(path)

    assert result.streams[0].headers == [
        "Mã HS", "Họ tên", "Mức đạt được Toán", "Mức đạt được Tiếng Việt", "_block", "_sheet",
    ]
    assert result.cells() == [["0101", "An", "T", "H", "", ""]]


def test_lower_row_matching_hints_joined(tmp_path: Path):
    hints = ReadHints(frozenset({"ma hs", "ho ten", "ho ten cha", "ho ten me"}), frozenset({"ma hs"}))
    path = write_csv(tmp_path / "lop.csv", [
        "Mã HS,Họ tên,Thông tin cha mẹ,",
        ",,Họ tên cha,Họ tên mẹ",
        "0101,An,Ba,Má",
    ])

    result = read(path, hints)

    assert result.streams[0].headers == ["Mã HS", "Họ tên", "Họ tên cha", "Họ tên mẹ", "_block", "_sheet"]
    assert result.cells() == [["0101", "An", "Ba", "Má", "", ""]]


def test_title_row_over_header_not_joined(tmp_path: Path):
    # The title spans the first columns and a form number sits over an empty
    # header cell: the shape of a parent row.
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": [
        ["TRƯỜNG THCS MẪU", None, None, None, None, "Mẫu số 01"],
        [*STUDENT_COLUMNS, None],
        student(1),
    ]})

    result = read(path)

    assert result.streams[0].headers == [*STUDENT_COLUMNS, "_block", "_sheet"]
    assert result.streams[0].properties["header_row"] == "2"


def test_data_row_below_header_not_joined(tmp_path: Path):
    # "Họ và tên" spans two columns (family and given name), and the first data row fills both.
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": [
        ["STT", "Mã học sinh", "Họ và tên", None, "Ngày sinh"],
        [1, "0101", "Nguyễn Văn", "An", "01/02/2014"],
    ]})

    result = read(path)

    assert result.streams[0].headers == ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "_block", "_sheet"]
    assert result.streams[0].properties["header_row"] == "1"
    assert result.lines() == [2]


# Blocks, repeated headers, footers --------------------------------------------

CLASS_EXPORT = [
    ["TRƯỜNG THCS MẪU"],
    ["DANH SÁCH HỌC SINH"],
    ["Lớp: 6A1"],
    STUDENT_COLUMNS,
    student(1), student(2),
    ["Tổng số: 2"],
    [],
    ["Lớp 10A2 - Năm học 2025-2026"],
    STUDENT_COLUMNS,
    student(3),
    ["Tổng số: 1"],
    [None, None, None, None, "Cần Thơ, ngày 5 tháng 9 năm 2025"],
    ["Người lập biểu", None, None, None, "Hiệu trưởng"],
]


def test_block_label_fills_block_column(tmp_path: Path):
    path = write_xlsx(tmp_path / "lop.xlsx", {"Khối 6": CLASS_EXPORT})

    result = read(path)

    assert result.column("_block") == ["Lớp: 6A1", "Lớp: 6A1", "Lớp 10A2 - Năm học 2025-2026"]
    assert result.column("Mã học sinh") == ["0101000001", "0101000002", "0101000003"]


def test_repeated_header_and_footers_skipped_with_one_notice(tmp_path: Path):
    path = write_xlsx(tmp_path / "lop.xlsx", {"Khối 6": CLASS_EXPORT})

    with TableAdapter().open(path, Limits(), HINTS) as package:
        rows = [row for stream in package.streams() for row in stream.rows]

    assert [row.line for row in rows] == [5, 6, 11]
    assert all(row.error is None for row in rows)
    assert len(package.notices) == 1
    notice = package.notices[0]
    assert (notice.level, notice.error.key) == ("warning", "table.rows_skipped")
    assert notice.error.params == {
        "table": "lop.xlsx [Khối 6]", "footers": 4, "headers": 1, "numbers": 0,
    }


def test_repeated_header_without_label_keeps_block(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [
        "Lớp: 6A1,,,,",
        ",".join(STUDENT_COLUMNS),
        "1,0101,An,x,Nam",
        ",".join(STUDENT_COLUMNS),
        "2,0102,Bình,x,Nam",
    ])

    result = read(path)

    assert result.column("_block") == ["Lớp: 6A1", "Lớp: 6A1"]
    assert result.lines() == [3, 5]


def test_unrecognised_label_clears_block(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [
        "Lớp: 6A1,,,,",
        ",".join(STUDENT_COLUMNS),
        "1,0101,An,x,Nam",
        "Lớp: 6A2,,,Sĩ số: 1,",  # two cells: not a label
        ",".join(STUDENT_COLUMNS),
        "1,0102,Bình,x,Nam",
    ])

    result = read(path)

    assert result.column("_block") == ["Lớp: 6A1", ""]


def test_footer_like_row_followed_by_data_is_data(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [
        ",".join(STUDENT_COLUMNS),
        "1,0101,An,x,Nam",
        "Ghi chú giữa danh sách,,,,",
        "2,0102,Bình,x,Nam",
    ])

    result = read(path)

    assert result.lines() == [2, 3, 4]
    assert result.notices == []


def test_row_with_required_cell_is_never_footer(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [
        ",".join(STUDENT_COLUMNS),
        "1,0101,An,x,Nam",
        ",0102,,,",  # the last pupil, with most cells empty
    ])

    result = read(path)

    assert result.lines() == [2, 3]
    assert result.cells()[1] == ["", "0102", "", "", "", "", ""]


def test_column_number_row_skipped(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [
        ",".join(STUDENT_COLUMNS), "(1),(2),(3),(4),(5)", "1,0101,An,x,Nam",
    ])

    result = read(path)

    assert result.lines() == [3]
    assert result.notices == [("warning", "table.rows_skipped")]


def test_two_column_table_rows_never_skipped(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", ["Mã HS,Họ tên", "0101,An", "0102,", ",Chi"])

    result = read(path, hints=None)

    assert result.lines() == [2, 3, 4]


def test_held_rows_bounded(tmp_path: Path):
    lines = [",".join(STUDENT_COLUMNS)] + ["Ghi chú,,,,"] * (MAX_PENDING_ROWS + 5)
    lines.append("1,0101,An,x,Nam")
    path = write_csv(tmp_path / "lop.csv", lines)

    result = read(path)

    # Every note row is followed by a data row at last, so all are data.
    assert len(result.rows[0]) == MAX_PENDING_ROWS + 6


# Rows -----------------------------------------------------------------------


def test_rows_carry_sheet_row_numbers(tmp_path: Path):
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": [
        ["DANH SÁCH"], [], STUDENT_COLUMNS, student(1), [], [], student(2),
    ]})

    assert read(path).lines() == [4, 7]


def test_csv_rows_carry_line_numbers(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [
        "DANH SÁCH,,,,", "", ",".join(STUDENT_COLUMNS), '1,0101,"Nguyễn\nAn",x,Nam', "2,0102,B,x,Nam",
    ])

    assert read(path).lines() == [4, 6]


@pytest.mark.parametrize("header", [
    "Mật khẩu", "MẬT KHẨU", "Mat khau", "password", "Mật khẩu phụ huynh",
])
def test_password_columns_dropped(tmp_path: Path, header: str):
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": [
        [*STUDENT_COLUMNS, header], [*student(1), "Secret-123"],
    ]})

    result = read(path)

    assert result.streams[0].headers == [*STUDENT_COLUMNS, "_block", "_sheet"]
    assert "Secret-123" not in result.cells()[0]


def test_password_under_parent_header_dropped(tmp_path: Path):
    path = write_xlsx(tmp_path / "lop.xlsx", {"6A1": [
        ["STT", "Mã học sinh", "Họ và tên", "Tài khoản", None],
        [None, None, None, "Tên đăng nhập", "Mật khẩu"],
        [1, "0101", "An", "an0101", "Secret-123"],
    ]})

    result = read(path)

    assert result.streams[0].headers == [
        "STT", "Mã học sinh", "Họ và tên", "Tài khoản Tên đăng nhập", "_block", "_sheet",
    ]
    assert result.cells() == [["1", "0101", "An", "an0101", "", "6A1"]]


def test_csv_too_many_cells_is_error_row(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [
        ",".join(STUDENT_COLUMNS), "1,0101,Nguyễn, Văn An,x,Nam", "2,0102,B,x,Nam",
    ])

    result = read(path)

    assert [row.error.key if row.error else None for row in result.rows[0]] == [
        "csv.too_many_cells", None,
    ]
    assert result.rows[0][0].cells is None


def test_too_many_cells_names_semicolon(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [
        ";".join(STUDENT_COLUMNS), "1;0101;Nguyễn; Văn An;x;Nam", "2;0102;B;x;Nam",
    ])

    error = read(path).rows[0][0].error

    assert error is not None
    assert error.params["separator"] == ";"
    assert "(;)" in error.message("en")


def test_cell_too_long_is_error_row(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [",".join(STUDENT_COLUMNS), "1,0101," + "A" * 50 + ",x,Nam"])

    result = read(path, limits=Limits(max_cell_chars=20))

    error = result.rows[0][0].error
    assert error is not None
    assert error.key == "table.cell_too_long"
    assert error.params["column"] == "Họ và tên"


def test_duplicate_headers_numbered_with_warning(tmp_path: Path):
    path = write_csv(tmp_path / "lop.csv", [
        ",".join([*STUDENT_COLUMNS, "Ghi chú", "Ghi chú"]), "1,0101,An,x,Nam,a,b",
    ])

    result = read(path)

    assert result.streams[0].headers[-4:] == ["Ghi chú", "Ghi chú (2)", "_block", "_sheet"]
    assert result.notices == [("warning", "table.duplicate_header")]


# Real files -----------------------------------------------------------------


def test_real_provinces_csv_keeps_codes_as_text(realdata_dir: Path):
    path = realdata_dir / "vn-admin-units-2025" / "915_CTK-CSCL_provinces.csv"
    hints = ReadHints(frozenset({"ma so", "ten 34 tinh sau sap nhap"}), frozenset({"ma so"}))

    result = read(path, hints)

    assert result.streams[0].headers == ["Stt", "Mã số", "Tên 34 tỉnh sau sáp nhập", "_block", "_sheet"]
    assert len(result.rows[0]) == 34
    assert result.column("Mã số")[0] == "01"
    assert result.notices == []


# Memory ---------------------------------------------------------------------

NAMES = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Hoàng Chi", "Phạm Minh Dũng", "Võ Thị Hoà"]


def peak_while_reading(path: Path) -> tuple[int, int]:
    """Return the traced peak in bytes while reading every row of ``path``, and the row count."""
    gc.collect()
    tracemalloc.start()
    try:
        count = 0
        with TableAdapter().open(path, Limits(), HINTS) as package:
            for stream in package.streams():
                for _ in stream.rows:
                    count += 1
        return tracemalloc.get_traced_memory()[1], count
    finally:
        tracemalloc.stop()


def big_csv(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("DANH SÁCH HỌC SINH\r\n" + ",".join(STUDENT_COLUMNS) + "\r\n")
        for n in range(rows):
            handle.write(f"{n},0101{n:08d},{NAMES[n % 5]} {n},{n % 28 + 1:02d}/03/2014,Nam\r\n")
    return path


def big_xlsx(path: Path, rows: int) -> Path:
    # Strings repeat from a small set: openpyxl keeps the workbook's shared
    # string table in memory, so unique strings would measure that table, not
    # the row streaming this test is about. Identifiers are numbers for the
    # same reason. Not write-only mode: it leaves out the <dimension> element
    # that Excel writes, and without it openpyxl parses the whole sheet on open.
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Danh sách"
    sheet.append(["DANH SÁCH HỌC SINH"])
    sheet.append(STUDENT_COLUMNS)
    for n in range(rows):
        sheet.append([n, 101_000_000 + n, NAMES[n % 5], date(2014, 1 + n % 12, 1 + n % 28), "Nam"])
    workbook.save(path)
    return path


@pytest.mark.parametrize("kind, rows", [("csv", 60_000), ("xlsx", 20_000)])
def test_memory_does_not_grow_with_rows(tmp_path: Path, kind: str, rows: int):
    write = big_csv if kind == "csv" else big_xlsx
    small = write(tmp_path / f"small.{kind}", rows // 3)
    large = write(tmp_path / f"large.{kind}", rows)

    small_peak, small_count = peak_while_reading(small)
    large_peak, large_count = peak_while_reading(large)

    assert (small_count, large_count) == (rows // 3, rows)
    # Two thirds more rows may not add more than a fraction of the small peak.
    assert large_peak < small_peak * 1.25 + 64 * 1024, (small_peak, large_peak)
