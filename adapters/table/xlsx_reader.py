"""XLSX workbooks as grids, one per worksheet, read with openpyxl in read-only mode.

Every cell becomes text:

- text as written (cleaned); an empty cell as "";
- integers without a decimal part (``12345``), other numbers as Python's
  ``repr`` of the float, without ``.0`` when the value is integral;
- booleans as ``TRUE`` and ``FALSE``;
- cells with a date format as ISO ``YYYY-MM-DD`` when the time is midnight,
  else as an ISO date and time, so that a date stays a date;
- times as ISO ``HH:MM:SS`` and durations as ``H:MM:SS``.

Formulas give their cached value (``data_only``), or "" when the workbook
was never calculated. ``Stream.properties["date_system"]`` is ``1904`` when
the workbook counts dates from 1904 (old Excel for Mac), else ``1900``, so a
mapping step can convert date serial numbers that arrive as plain numbers.

NOTE: openpyxl reads the whole shared string table into memory when it opens
a workbook. Memory therefore grows with the number of distinct strings in
the workbook, although rows are streamed.
NOTE: a merged range keeps its value in its first cell only. The other cells
of a vertically merged range are read as empty.
"""

from __future__ import annotations

import logging
import warnings
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse

from adapters.base import Notice
from adapters.table.grid import Grid, GridRow
from gateway.errors import InputError, Place
from gateway.logs import fields
from gateway.text import clean

log = logging.getLogger(__name__)

Notify = Callable[[Notice], None]

# Exceptions that openpyxl raises on a damaged or foreign file, because it
# parses the package with zipfile and an XML parser and trusts the parts.
_READ_ERRORS = (
    OSError, zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, TypeError,
    IndexError, AttributeError, SyntaxError,
)
_SHEET_DATA_TAG = f"{{{SHEET_MAIN_NS}}}sheetData"
_ROW_TAG = f"{{{SHEET_MAIN_NS}}}row"
# Floats above this are not always integers exactly, so they keep repr().
_EXACT_FLOAT_LIMIT = 2**53


def xlsx_grids(path: Path, file: str, notify: Notify) -> Iterator[Grid]:
    """Yield one grid per worksheet of the workbook at ``path``; ``file`` names it in messages.

    A workbook that cannot be opened becomes an error notice. A sheet that is
    hidden is read, with a warning notice. A read error in the middle of a
    sheet raises ``InputError``, because a bulk snapshot read in part would
    end the records of the rows it missed.
    """
    try:
        with warnings.catch_warnings():
            # openpyxl warns about parts it drops (data validation, extensions).
            warnings.simplefilter("ignore")
            workbook = load_workbook(path, read_only=True, data_only=True)
    except _READ_ERRORS as error:
        log.warning("workbook not read", extra=fields(file=file, error=type(error).__name__))
        notify(Notice("error", InputError("table.xlsx_unreadable", place=Place(file=file), file=file)))
        return

    try:
        date_system = "1904" if workbook.epoch == CALENDAR_MAC_1904 else "1900"
        for sheet in workbook.worksheets:
            if sheet.sheet_state != "visible":
                notify(Notice("warning", InputError(
                    "table.sheet_hidden", place=Place(file=file, sheet=sheet.title),
                    file=file, sheet=sheet.title,
                )))
            properties = {"format": "xlsx", "date_system": date_system}
            rows = _rows(workbook, sheet, file)
            yield Grid(file=file, sheet=sheet.title, rows=rows, properties=properties)
    finally:
        workbook.close()


def _rows(workbook: Any, sheet: Any, file: str) -> Iterator[GridRow]:
    line = 0
    try:
        for line, values in _sheet_rows(workbook, sheet):
            yield GridRow(line=line, cells=[cell_text(value) for value in values])
    except _READ_ERRORS as error:
        raise InputError(
            "table.xlsx_sheet_unreadable", place=Place(file=file, sheet=sheet.title, row=line + 1),
            file=file, sheet=sheet.title, line=line + 1,
        ) from error


def _sheet_rows(workbook: Any, sheet: Any) -> Iterator[tuple[int, list[object]]]:
    """Yield (sheet row number, values by column) for every row the sheet's XML holds.

    openpyxl's own row iterator clears each parsed ``<row>`` but leaves it in
    the tree, and keeps a dictionary entry per row with a custom height, so
    its memory grows by about 80 bytes a row. This loop reuses openpyxl's cell
    parsing (types, shared strings, date formats) and removes every row once
    read. Rows missing from the XML are blank and not yielded.
    """
    # NOTE: the worksheet source, the shared strings and the date formats are
    # private attributes of openpyxl 3.1 (the ones its ReadOnlyWorksheet uses).
    with sheet._get_source() as source:
        parser = WorkSheetParser(
            source, sheet._shared_strings, data_only=True, epoch=workbook.epoch,
            date_formats=workbook._date_formats, timedelta_formats=workbook._timedelta_formats,
        )
        container = None
        for event, element in iterparse(source, events=("start", "end")):
            if event == "start":
                if element.tag == _SHEET_DATA_TAG:
                    container = element
                continue
            if element.tag != _ROW_TAG:
                continue
            with warnings.catch_warnings():
                # A date serial out of range becomes "#VALUE!" with a warning.
                warnings.simplefilter("ignore")
                number, cells = parser.parse_row(element)
            parser.row_dimensions.clear()
            if container is not None:
                container.remove(element)
            yield number, _by_column(cells)


def _by_column(cells: list[dict[str, Any]]) -> list[object]:
    if not cells:
        return []
    values: list[object] = [None] * max(cell["column"] for cell in cells)
    for cell in cells:
        values[cell["column"] - 1] = cell["value"]
    return values


def cell_text(value: object) -> str:
    """Return the text of a cell value as openpyxl reads it, by the rules in the module docstring."""
    if value is None:
        return ""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, datetime):
        if value.time() == time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _duration_text(value)
    return clean(str(value))


def _float_text(value: float) -> str:
    if value.is_integer() and abs(value) < _EXACT_FLOAT_LIMIT:
        return str(int(value))
    return repr(value)


def _duration_text(value: timedelta) -> str:
    seconds = round(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"
