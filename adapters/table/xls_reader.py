"""Binary Excel 97-2003 workbooks (``.xls``, BIFF) as grids, one per worksheet, read with xlrd.

Cells become text by the rules of ``adapters.table.xlsx_reader``, so that the
same list saved as ``.xls`` or ``.xlsx`` gives the same rows:

- text as written (cleaned); empty and blank cells as "";
- numbers without ``.0`` when integral; a whole number in a cell whose number
  format is only zeros ("000000000000") padded to that width;
- cells with a date format as ISO ``YYYY-MM-DD`` when the time is midnight,
  else as an ISO date and time. A time of day alone is ``HH:MM:SS``;
- booleans as ``TRUE`` and ``FALSE``, and error cells as Excel shows them
  (``#DIV/0!``).

Merged ranges are copied into every cell of the range, as in XLSX, and the
hidden columns are recorded. ``Stream.properties["date_system"]`` is ``1904``
when the workbook counts dates from 1904.

A workbook protected by a password cannot be read. It is an OLE2 compound file
too: xlrd reports an encrypted BIFF workbook, and an encrypted XLSX package
has an ``EncryptionInfo`` stream instead of a workbook. Either gets an error
notice whose message explains how to remove the password.

NOTE: xlrd reads the whole file, and each worksheet whole when it is reached,
so memory grows with the size of the largest sheet. A BIFF sheet has at most
65,536 rows and 256 columns, which bounds it.
"""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import xlrd
from xlrd.compdoc import CompDoc, CompDocError
from xlrd.xldate import XLDateError

from adapters.base import Notice
from adapters.table.grid import Grid, GridRow
from adapters.table.xlsx_reader import (
    ZERO_PADDED,
    HiddenRows,
    MergedCells,
    cell_text,
    day_zero_text,
    float_text,
    has_day_or_year,
)
from gateway.errors import InputError, Place
from gateway.logs import fields

log = logging.getLogger(__name__)

Notify = Callable[[Notice], None]

# Exceptions that xlrd raises on a damaged file: it parses the records with struct and trusts
# their lengths and indexes.
_READ_ERRORS = (
    xlrd.XLRDError, CompDocError, OSError, struct.error, ValueError, TypeError, IndexError,
    KeyError, AssertionError, UnicodeDecodeError, AttributeError, ZeroDivisionError,
)
# The streams of an OLE2 file that contains an XLSX package protected by a password.
_ENCRYPTED_STREAMS = frozenset({"EncryptionInfo", "EncryptedPackage"})
# The stream that contains the workbook: "Workbook" in BIFF8 (Excel 97 on), "Book" in BIFF5.
_WORKBOOK_STREAMS = frozenset({"Workbook", "Book"})
_VISIBLE = 0
_SECONDS_A_DAY = 86_400


def xls_grids(path: Path, file: str, notify: Notify) -> Iterator[Grid]:
    """Yield one grid per worksheet of the ``.xls`` workbook at ``path``; ``file`` names it.

    A workbook that cannot be opened becomes an error notice. A hidden sheet is
    read, with a warning notice, after every visible sheet. A sheet that cannot be read becomes an error
    notice too, and the other sheets and files are read. xlrd parses a sheet
    whole before its first row is handed on, so no row of a damaged sheet is
    read, and the error notice stops every end by absence in the run.
    """
    try:
        # xlrd writes its warnings to a log file, which is standard output by default.
        book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=True,
                                  logfile=io.StringIO())
    except _READ_ERRORS as error:
        key = _unreadable_key(path, error)
        log.warning("workbook not read", extra=fields(file=file, error=type(error).__name__))
        notify(Notice("error", InputError(key, place=Place(file=file), file=file)))
        return

    try:
        date_system = "1904" if book.datemode == 1 else "1900"
        padding = _zero_padded_formats(book)
        for index, name in _visible_first(book):
            try:
                sheet = book.sheet_by_index(index)
            except _READ_ERRORS as error:
                log.warning("sheet not read", extra=fields(file=file, sheet_index=index,
                                                           error=type(error).__name__))
                notify(Notice("error", InputError("table.xls_sheet_unreadable",
                                                  place=Place(file=file, sheet=name),
                                                  file=file, sheet=name)))
                continue
            hidden: set[int] = set()
            rows = _rows(book, index, sheet, file, padding, hidden, notify)
            yield Grid(file=file, sheet=name, rows=rows,
                       properties={"format": "xls", "date_system": date_system},
                       hidden_columns=hidden)
    finally:
        book.release_resources()


def _visible_first(book: Any) -> list[tuple[int, str]]:
    """Return the (index, name) of each sheet, the visible ones first, each group in workbook order.

    The first row of a local id wins the duplicate check, and a hidden sheet often keeps
    an old list, so the current rows must come first.
    """
    # NOTE: xlrd 2.0 keeps the visibility of the sheets not yet loaded in a private list,
    # filled from the workbook's sheet records when it opens.
    visibility = getattr(book, "_sheet_visibility", [])
    sheets = list(enumerate(book.sheet_names()))
    return sorted(sheets, key=lambda sheet: sheet[0] < len(visibility)
                  and visibility[sheet[0]] != _VISIBLE)


def _unreadable_key(path: Path, error: BaseException) -> str:
    """Return the message key for an OLE2 file that xlrd could not open.

    A workbook protected by a password gets ``table.workbook_encrypted``. A
    compound file without a workbook stream (a Word or PowerPoint 97-2003
    file) gets ``table.file_binary``, and any other file ``table.xls_unreadable``.
    """
    if isinstance(error, xlrd.XLRDError) and "encrypted" in str(error).lower():
        return "table.workbook_encrypted"
    try:
        document = CompDoc(path.read_bytes(), logfile=io.StringIO())
    except _READ_ERRORS:
        return "table.xls_unreadable"
    streams = {entry.name for entry in document.dirlist}
    if streams & _ENCRYPTED_STREAMS:
        return "table.workbook_encrypted"
    if not streams & _WORKBOOK_STREAMS:
        return "table.file_binary"
    return "table.xls_unreadable"


def _zero_padded_formats(book: Any) -> dict[int, int]:
    """Return the width of each cell format (XF) whose number format is only zeros, by XF index."""
    padding = {}
    for index, xf in enumerate(book.xf_list):
        number_format = book.format_map.get(xf.format_key)
        match = ZERO_PADDED.fullmatch(number_format.format_str if number_format else "")
        if match:
            padding[index] = len(match.group(1))
    return padding


def _rows(book: Any, index: int, sheet: Any, file: str, padding: dict[int, int],
          hidden: set[int], notify: Notify) -> Iterator[GridRow]:
    """Yield the rows of the loaded sheet ``index``, and unload it once they are read."""
    name = sheet.name
    try:
        if sheet.visibility != _VISIBLE:
            notify(Notice("warning", InputError(
                "table.sheet_hidden", place=Place(file=file, sheet=name), file=file, sheet=name,
            )))
        hidden.update(column for column, info in sheet.colinfo_map.items() if info.hidden)
        merged = MergedCells(sorted((first_row + 1, last_row, first_column + 1, last_column)
                                    for first_row, last_row, first_column, last_column
                                    in sheet.merged_cells))
        hidden_rows = HiddenRows(file, name)
        for row in range(sheet.nrows):
            cells = [_cell_text(book, cell, padding) for cell in sheet.row(row)]
            while cells and not cells[-1]:
                cells.pop()
            info = sheet.rowinfo_map.get(row)
            if info is not None and info.hidden:
                hidden_rows.add(row + 1, cells)
            yield GridRow(line=row + 1, cells=cells, continued=merged.apply(row + 1, cells))
        hidden_rows.report(notify)
    finally:
        book.unload_sheet(index)


def _cell_text(book: Any, cell: Any, padding: dict[int, int]) -> str:
    kind = cell.ctype
    if kind == xlrd.XL_CELL_TEXT:
        return cell_text(cell.value)
    if kind == xlrd.XL_CELL_NUMBER:
        text = float_text(cell.value)
        width = padding.get(cell.xf_index)
        return text.rjust(width, "0") if width and text.isdigit() else text
    if kind == xlrd.XL_CELL_DATE:
        return _date_text(book, cell, cell.value)
    if kind == xlrd.XL_CELL_BOOLEAN:
        return "TRUE" if cell.value else "FALSE"
    if kind == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(cell.value, "#VALUE!")
    return ""


def _date_text(book: Any, cell: Any, value: float) -> str:
    """Return a date serial as ISO text: a date, a date and time, or a time of day below 1.

    Below 1 under a format with a day or a year, the 1900 system shows day 0 of January 1900,
    which is no date, so the text is ``1900-01-00`` (with the time, if any).
    """
    if 0 <= value < 1:
        seconds = min(round(value * _SECONDS_A_DAY), _SECONDS_A_DAY - 1)
        of_day = (datetime.min + timedelta(seconds=seconds)).time()
        if book.datemode == 0 and has_day_or_year(_format_code(book, cell)):
            return day_zero_text(of_day)
        return cell_text(of_day)
    try:
        return cell_text(xlrd.xldate_as_datetime(value, book.datemode))
    except (XLDateError, ValueError, OverflowError):
        return float_text(value)


def _format_code(book: Any, cell: Any) -> str:
    """Return the number format code of ``cell``, or "" when the workbook has none for it."""
    number_format = book.format_map.get(book.xf_list[cell.xf_index].format_key)
    return number_format.format_str if number_format else ""
