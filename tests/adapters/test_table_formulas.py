"""Formula cells that a file stores without a calculated value, in XLSX, HTML and XLS.

openpyxl writes a formula without its value, as a program that never calculates does, so
the workbooks below are written with it. Names and codes are synthetic.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import xlwt

from adapters.base import Limits, Notice, ReadHints
from adapters.table.adapter import TableAdapter
from adapters.table.formulas import UncalculatedCells
from adapters.table.grid import GridRow
from adapters.table.xlsx_reader import xlsx_grids
from tests.adapters.test_table_adapter import HINTS, STUDENT_COLUMNS, read
from tests.adapters.test_table_messy_exports import write_merged_xlsx


def notices_of(path: Path, hints: ReadHints = HINTS) -> list[Notice]:
    with TableAdapter().open(path, Limits(), hints) as package:
        for stream in package.streams():
            list(stream.rows)
    return package.notices


def pupil(number: int, name: object = None, birth: object = "01/02/2014") -> list[object]:
    return [number, f"01010{number:05d}", name or f"Nguyễn Văn {number}", birth, "Nam"]


def replace_cell_xml(path: Path, cell: str, xml: str) -> Path:
    """Replace the XML of ``cell`` in the first sheet of the workbook at ``path``."""
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode("utf-8")
    sheet, count = re.subn(rf'<c r="{cell}"[^>]*?(?:/>|>.*?</c>)', xml, sheet)
    assert count == 1
    parts["xl/worksheets/sheet1.xml"] = sheet.encode("utf-8")
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return path


# XLSX ---------------------------------------------------------------------------------------


def test_uncalculated_cells_warned_per_column(tmp_path: Path):
    path = write_merged_xlsx(tmp_path / "lop.xlsx", [
        STUDENT_COLUMNS,
        pupil(1, name='=" Nguyễn"&"An"'),
        pupil(2),
        pupil(3, name="=B4", birth="=DATE(2014,2,1)"),
    ], [])

    notices = notices_of(path)

    found = {(n.error.key, n.error.params.get("column")): n.error for n in notices}
    name = found[("table.formula_not_calculated_column", "Họ và tên")]
    assert (name.params["count"], name.params["cell"]) == (2, "C2")
    assert name.params["table"] == "lop.xlsx [DSHS]"
    assert (name.place.row, name.place.column) == (2, "Họ và tên")
    birth = found[("table.formula_not_calculated_column", "Ngày sinh")]
    assert (birth.params["count"], birth.params["cell"]) == (1, "D4")
    assert len(notices) == 2


def test_uncalculated_cells_carried_by_row(tmp_path: Path):
    path = write_merged_xlsx(tmp_path / "lop.xlsx", [
        STUDENT_COLUMNS, pupil(1, name="=B2"), pupil(2), pupil(3, birth="=TODAY()"),
    ], [])

    result = read(path)

    assert [row.uncalculated for row in result.rows[0]] == [
        {"Họ và tên": "C2"}, None, {"Ngày sinh": "D4"},
    ]
    assert result.column("Họ và tên") == ["", "Nguyễn Văn 2", "Nguyễn Văn 3"]


def test_unread_column_formulas_counted_apart(tmp_path: Path):
    # STT numbered by a formula is no column that a mapping reads; the title has one too.
    path = write_merged_xlsx(tmp_path / "lop.xlsx", [
        ['="DANH SÁCH LỚP "&"9A1"'],
        STUDENT_COLUMNS,
        ["=ROW()-2", *pupil(1)[1:]],
        ["=ROW()-2", *pupil(2)[1:]],
    ], [])

    result = read(path)
    notices = notices_of(path)

    assert [row.uncalculated for row in result.rows[0]] == [None, None]
    (other,) = notices
    assert other.error.key == "table.formula_not_calculated"
    assert (other.error.params["count"], other.error.params["cell"]) == (3, "A1")
    assert other.level == "warning"


def test_formula_rows_not_data_counted_apart(tmp_path: Path):
    # A totals row after the pupils is a footer, so its formula is no pupil's value.
    path = write_merged_xlsx(tmp_path / "lop.xlsx", [
        STUDENT_COLUMNS, pupil(1), pupil(2), ["Tổng số:", "=COUNTA(B2:B3)"],
    ], [])

    notices = notices_of(path)

    assert [(n.error.key, n.error.params["cell"]) for n in notices
            if n.error.key.startswith("table.formula")] == [("table.formula_not_calculated", "B4")]


def test_without_hints_every_column_counted(tmp_path: Path):
    path = write_merged_xlsx(tmp_path / "lop.xlsx", [
        STUDENT_COLUMNS, ["=ROW()-1", *pupil(1)[1:]],
    ], [])

    notices = notices_of(path, ReadHints())

    assert [(n.error.key, n.error.params.get("column")) for n in notices] == [
        ("table.formula_not_calculated_column", "STT"),
    ]


def test_merged_formula_marks_every_row(tmp_path: Path):
    path = write_merged_xlsx(tmp_path / "lop.xlsx", [
        STUDENT_COLUMNS,
        [1, "0101000001", "=B2", "01/02/2014", "Nam"],
        [2, "0101000002", None, "01/02/2014", "Nam"],
    ], ["C2:C3"])

    result = read(path)

    assert [row.uncalculated for row in result.rows[0]] == [
        {"Họ và tên": "C2"}, {"Họ và tên": "C3"},
    ]


def test_calculated_empty_text_not_marked(tmp_path: Path):
    # A formula whose text result is "" has the type str and an empty <v>: it was calculated.
    path = write_merged_xlsx(tmp_path / "lop.xlsx", [STUDENT_COLUMNS, pupil(1), pupil(2)], [])
    replace_cell_xml(path, "C2", '<c r="C2" t="str"><f>IF(B2="","",B2)</f><v></v></c>')
    replace_cell_xml(path, "C3", '<c r="C3" t="str"><f>"An"</f><v>An</v></c>')

    result = read(path)

    assert [row.uncalculated for row in result.rows[0]] == [None, None]
    assert result.column("Họ và tên") == ["", "An"]
    assert notices_of(path) == []


def test_formula_without_value_element_marked(tmp_path: Path):
    path = write_merged_xlsx(tmp_path / "lop.xlsx", [STUDENT_COLUMNS, pupil(1)], [])
    replace_cell_xml(path, "C2", '<c r="C2"><f>B2</f></c>')

    assert read(path).rows[0][0].uncalculated == {"Họ và tên": "C2"}


def test_reader_marks_columns_of_formulas(tmp_path: Path):
    path = write_merged_xlsx(tmp_path / "lop.xlsx", [["a", "=A1", "b", "=C1"]], [])
    notices: list[Notice] = []

    rows = [row for grid in xlsx_grids(path, "lop.xlsx", notices.append) for row in grid.rows]

    assert rows[0].uncalculated == {1, 3}
    assert notices == []


def test_calculated_formulas_not_warned(tmp_path: Path):
    path = write_merged_xlsx(tmp_path / "lop.xlsx", [STUDENT_COLUMNS, pupil(1)], [])

    assert notices_of(path) == []


# Counting ------------------------------------------------------------------------------------


def test_waiting_cells_of_dropped_rows_counted_apart():
    cells = UncalculatedCells({2: "Họ và tên"})
    footer = GridRow(line=5, uncalculated=frozenset({2}))
    data = GridRow(line=6, uncalculated=frozenset({2}))

    cells.see(footer)
    cells.see(data)
    references = cells.take(data)
    cells.finish()

    assert references == {"Họ và tên": "C6"}
    assert (cells.other.count, cells.other.cell) == (1, "C5")
    assert cells.by_column["Họ và tên"].count == 1


# HTML ----------------------------------------------------------------------------------------


def write_page(path: Path, cells: list[str]) -> Path:
    header = "".join(f"<td>{name}</td>" for name in STUDENT_COLUMNS)
    rows = "".join(f"<tr>{row}</tr>" for row in cells)
    path.write_text(f'<html xmlns:x="urn:schemas-microsoft-com:office:excel"><table>'
                    f"<tr>{header}</tr>{rows}</table></html>", encoding="utf-8")
    return path


def test_html_formula_without_text_marked(tmp_path: Path):
    path = write_page(tmp_path / "lop.xls", [
        '<td>1</td><td>0101000001</td><td x:fmla="=B2"></td><td>01/02/2014</td><td>Nam</td>',
        '<td>2</td><td>0101000002</td><td x:fmla="=B3">An</td><td>01/02/2014</td><td>Nam</td>',
        '<td>3</td><td>0101000003</td><td x:str x:fmla="=&quot;&quot;"></td><td>01/02/2014</td>'
        "<td>Nam</td>",
    ])

    result = read(path)
    notices = notices_of(path)

    assert [row.uncalculated for row in result.rows[0]] == [{"Họ và tên": "C2"}, None, None]
    assert [(n.error.key, n.error.params["table"]) for n in notices] == [
        ("table.formula_not_calculated_column", "lop.xls [1]"),
    ]


def test_html_rowspan_formula_marks_rows(tmp_path: Path):
    path = write_page(tmp_path / "lop.xls", [
        '<td>1</td><td>0101000001</td><td>An</td><td x:fmla="=TODAY()" rowspan="2"></td>'
        "<td>Nam</td>",
        "<td>2</td><td>0101000002</td><td>Bình</td><td>Nữ</td>",
    ])

    result = read(path)

    assert [row.uncalculated for row in result.rows[0]] == [
        {"Ngày sinh": "D2"}, {"Ngày sinh": "D3"},
    ]


# XLS -----------------------------------------------------------------------------------------


def test_xls_formula_reads_stored_result(tmp_path: Path):
    # BIFF keeps a result with every formula. xlwt stores an empty text, and xlrd returns
    # only that result, so nothing marks the cell as a formula without a value.
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("9A1")
    for column, name in enumerate(STUDENT_COLUMNS):
        sheet.write(0, column, name)
    values = pupil(1, name=xlwt.Formula('"Nguyễn "&"An"'))
    for column, value in enumerate(values):
        sheet.write(1, column, value)
    path = tmp_path / "lop.xls"
    book.save(str(path))

    result = read(path)

    assert result.column("Họ và tên") == [""]
    assert result.rows[0][0].uncalculated is None
    assert notices_of(path) == []
