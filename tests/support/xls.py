"""Binary Excel 97-2003 (``.xls``) workbooks for tests, written with xlwt.

``save_as_xls`` copies an XLSX workbook into the old format as Excel's "Save
As" would: values, number formats, merged ranges, hidden rows, columns and sheets,
and the 1904 date system.
"""

from __future__ import annotations

from pathlib import Path

import xlwt
from openpyxl import load_workbook
from openpyxl.utils import column_index_from_string
from openpyxl.utils.datetime import CALENDAR_MAC_1904


def save_as_xls(source: Path, target: Path) -> Path:
    """Write the workbook at ``source`` (XLSX) to ``target`` in the ``.xls`` format."""
    workbook = load_workbook(source)
    book = xlwt.Workbook(encoding="utf-8")
    book.dates_1904 = workbook.epoch == CALENDAR_MAC_1904
    styles: dict[str, xlwt.XFStyle] = {}
    for sheet in workbook.worksheets:
        copy = book.add_sheet(sheet.title, cell_overwrite_ok=True)
        if sheet.sheet_state != "visible":
            copy.visibility = 1
        for letter, dimension in sheet.column_dimensions.items():
            if dimension.hidden:
                for column in range(dimension.min or column_index_from_string(letter),
                                    (dimension.max or column_index_from_string(letter)) + 1):
                    copy.col(column - 1).hidden = True
        for number, dimension in sheet.row_dimensions.items():
            if dimension.hidden:
                copy.row(number - 1).hidden = True
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is None:
                    continue
                style = styles.setdefault(cell.number_format,
                                          xlwt.easyxf(num_format_str=cell.number_format))
                copy.write(cell.row - 1, cell.column - 1, cell.value, style)
        for merged in sheet.merged_cells.ranges:
            first = sheet.cell(merged.min_row, merged.min_col)
            style = styles.setdefault(first.number_format,
                                      xlwt.easyxf(num_format_str=first.number_format))
            copy.write_merge(merged.min_row - 1, merged.max_row - 1, merged.min_col - 1,
                             merged.max_col - 1, first.value, style)
    book.save(str(target))
    return target
