"""XLSX workbooks as grids, one per worksheet, read with openpyxl in read-only mode.

Every cell becomes text:

- text as written (cleaned); an empty cell as "";
- integers without a decimal part (``12345``), other numbers as Python's
  ``repr`` of the float, without ``.0`` when the value is integral;
- booleans as ``TRUE`` and ``FALSE``;
- cells with a date format as ISO ``YYYY-MM-DD`` when the time is midnight,
  else as an ISO date and time, so that a date stays a date;
- times as ISO ``HH:MM:SS`` and durations as ``H:MM:SS``.

- a whole number in a cell whose number format is only zeros ("000000000000",
  as schools format identifiers to show their leading zeros) is padded with
  zeros to that width, as Excel shows it: ``092214000123``.

Formulas give their cached value (``data_only``), or "" when the workbook
was never calculated. Such cells (an ``<f>`` element without a value) are
marked in ``GridRow.uncalculated``, so that the package can warn about them and
a rejection for a missing value can name the formula. An empty ``<v/>`` is no
value either (openpyxl writes one), except in a cell of type ``str``, which
contains the text result of a formula: there it is a calculated empty text.
``Stream.properties["date_system"]`` is ``1904`` when
the workbook counts dates from 1904 (old Excel for Mac), else ``1900``, so a
mapping step can convert date serial numbers that arrive as plain numbers.

Merged ranges are read as HTML reads ``colspan`` and ``rowspan``: the value of
the range's first cell is copied into every cell of the range, and the copies
to the right of the first column are marked as continued. So "Họ và tên"
merged over two columns spans them, and a "Ngày sinh" merged over the two rows
of a header is in both rows. Excel lists the merged ranges after the rows, so
the sheet's XML is scanned for them once before its rows are read.

NOTE: openpyxl reads the whole shared string table into memory when it opens
a workbook. Memory therefore grows with the number of distinct strings in
the workbook, although rows are streamed.
"""

from __future__ import annotations

import logging
import re
import warnings
import zipfile
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE, STRIP_RE
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse

from adapters.base import Notice
from adapters.common.encoding import CHUNK_BYTES
from adapters.table.grid import Grid, GridRow, unmark_text
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
_COLUMN_TAG = f"{{{SHEET_MAIN_NS}}}col"
_CELL_TAG = f"{{{SHEET_MAIN_NS}}}c"
_FORMULA_TAG = f"{{{SHEET_MAIN_NS}}}f"
_VALUE_TAG = f"{{{SHEET_MAIN_NS}}}v"
# A formula of any cell of a <row> element, found in one search by the XML library.
_FORMULA_IN_ROW = f"{_CELL_TAG}/{_FORMULA_TAG}"
_CELL_COLUMN = re.compile(r"[A-Z]{1,3}")
# Floats above this are not always integers exactly, so they keep repr().
_EXACT_FLOAT_LIMIT = 2**53
# A "<mergeCell ref="A1:C1"/>" element of the sheet XML, with any namespace prefix.
_MERGE_CELL = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^>]*?\bref\s*=\s*[\"']([A-Z]{1,3}[0-9]+(?::[A-Z]{1,3}[0-9]+)?)"
)
# Bytes kept from the end of one chunk for a mergeCell element cut in two.
_MERGE_TAIL_BYTES = 512
# NOTE: merged ranges past this many in one sheet are ignored, with a log
# line, so that a damaged sheet cannot fill memory. Real lists have a few per
# class block.
MAX_MERGED_RANGES = 100_000
# Excel's column limit, which bounds a hidden column range.
_MAX_COLUMNS = 16384
# The first section of a number format made only of zeros: "0000000000".
ZERO_PADDED = re.compile(r"(0{2,})(?:;.*)?")
# A day or year code in a number format, outside quotes and brackets ("DD/MM/YYYY", "d-mmm").
_DAY_OR_YEAR = re.compile(r"(?<![_\\])[dDyY]")
# The text of a date cell holding a serial from 0 to 1 in the 1900 date system. Excel shows it as
# day 0 of January 1900 ("00/01/1900" under "DD/MM/YYYY"), which is no date.
DAY_ZERO = "1900-01-00"


def xlsx_grids(path: Path, file: str, notify: Notify) -> Iterator[Grid]:
    """Yield one grid per worksheet of the workbook at ``path``; ``file`` names it in messages.

    A workbook that cannot be opened becomes an error notice. A sheet that is
    hidden is read, with a warning notice, after every visible sheet. A read error in the middle of a
    sheet raises ``InputError``, because a bulk snapshot read in part would
    end the records of the rows it missed.
    """
    try:
        with warnings.catch_warnings():
            # openpyxl warns about parts it drops (data validation, extensions).
            warnings.simplefilter("ignore")
            workbook = load_workbook(path, read_only=True, data_only=True)
    except _READ_ERRORS as error:
        key = "table.xlsx_unreadable" if has_workbook_parts(path) else "table.file_binary"
        log.warning("workbook not read", extra=fields(file=file, error=type(error).__name__))
        notify(Notice("error", InputError(key, place=Place(file=file), file=file)))
        return

    try:
        date_system = "1904" if workbook.epoch == CALENDAR_MAC_1904 else "1900"
        # Day 0 exists only in the 1900 system: 0 is 1 January 1904 in the other.
        formats = CellFormats(_zero_padded_styles(workbook),
                              _date_styles(workbook) if date_system == "1900" else frozenset())
        for sheet in _visible_first(workbook.worksheets):
            if sheet.sheet_state != "visible":
                notify(Notice("warning", InputError(
                    "table.sheet_hidden", place=Place(file=file, sheet=sheet.title),
                    file=file, sheet=sheet.title,
                )))
            properties = {"format": "xlsx", "date_system": date_system}
            hidden: set[int] = set()
            rows = _rows(workbook, sheet, file, formats, hidden, notify)
            yield Grid(file=file, sheet=sheet.title, rows=rows, properties=properties,
                       hidden_columns=hidden)
    finally:
        workbook.close()


def _visible_first(sheets: list[Any]) -> list[Any]:
    """Order ``sheets`` with the visible ones first, each group in workbook order.

    A hidden sheet often keeps an old list (last year's classes). The first row of a
    local id wins the duplicate check, so the current rows must come before the old ones.
    """
    return sorted(sheets, key=lambda sheet: sheet.sheet_state != "visible")


@dataclass(frozen=True)
class CellFormats:
    """The cell styles whose number format changes a cell's text, by style id.

    ``padding`` gives the width of formats made only of zeros. ``dates`` lists the date
    formats, under which a serial from 0 to 1 is day 0, not a time of day.
    """

    padding: dict[int, int]
    dates: frozenset[int]


def has_workbook_parts(path: Path) -> bool:
    """Tell whether the zip package at ``path`` has a part under ``xl/``, as every workbook has.

    A zip without one is another kind of file (a Word document, a zip of photos), not a
    damaged workbook. A zip that cannot be opened counts as a damaged workbook.
    """
    try:
        with zipfile.ZipFile(path) as package:
            names = package.namelist()
    except (OSError, zipfile.BadZipFile):
        return True
    return any(name.replace("\\", "/").casefold().startswith("xl/") for name in names)


def _zero_padded_styles(workbook: Any) -> dict[int, int]:
    """Return the width of each cell style whose number format is only zeros, by style id."""
    padding = {}
    for style_id, code in _style_formats(workbook):
        match = ZERO_PADDED.fullmatch(code)
        if match:
            padding[style_id] = len(match.group(1))
    return padding


def _date_styles(workbook: Any) -> frozenset[int]:
    """Return the ids of the cell styles whose number format shows a day or a year."""
    return frozenset(style_id for style_id, code in _style_formats(workbook)
                     if has_day_or_year(code))


def has_day_or_year(code: str) -> bool:
    """Tell whether the number format ``code`` shows a date, not only a time of day."""
    return _DAY_OR_YEAR.search(STRIP_RE.sub("", code.split(";")[0])) is not None


def _style_formats(workbook: Any) -> Iterator[tuple[int, str]]:
    """Yield the style id and the number format code of each cell style of ``workbook``."""
    # NOTE: the cell styles and custom number formats are private attributes
    # of openpyxl 3.1, where its stylesheet reader leaves them.
    for style_id, style in enumerate(workbook._cell_styles):
        number_format = style.numFmtId
        if number_format < BUILTIN_FORMATS_MAX_SIZE:
            code = BUILTIN_FORMATS.get(number_format, "")
        else:
            code = workbook._number_formats[number_format - BUILTIN_FORMATS_MAX_SIZE]
        yield style_id, code or ""


def _rows(workbook: Any, sheet: Any, file: str, formats: CellFormats,
          hidden: set[int], notify: Notify) -> Iterator[GridRow]:
    line = 0
    hidden_rows = HiddenRows(file, sheet.title)
    try:
        merged = MergedCells(_merged_ranges(sheet, file))
        for line, cells, row_hidden, formulas in _sheet_rows(workbook, sheet, formats, hidden):
            if row_hidden:
                hidden_rows.add(line, cells)
            continued = merged.apply(line, cells, formulas)
            yield GridRow(line=line, cells=cells, continued=continued,
                          uncalculated=frozenset(formulas) if formulas else None)
    except _READ_ERRORS as error:
        raise InputError(
            "table.xlsx_sheet_unreadable", place=Place(file=file, sheet=sheet.title, row=line + 1),
            file=file, sheet=sheet.title, line=line + 1,
        ) from error
    hidden_rows.report(notify)


def _uncalculated_columns(row: Any) -> set[int]:
    """Return the 0-based columns of the cells of a ``<row>`` element that hold a formula without a value.

    A workbook written by a program that does not calculate (openpyxl, some exports) keeps its
    formulas without the values Excel would store, so openpyxl reads those cells as empty.
    A cell without an ``r`` attribute follows the cell before it, as openpyxl reads it.
    """
    columns: set[int] = set()
    column = -1
    for cell in row.iter(_CELL_TAG):
        reference = _CELL_COLUMN.match(cell.get("r", ""))
        column = _column_index(reference.group()) if reference else column + 1
        if cell.find(_FORMULA_TAG) is None:
            continue
        value = cell.find(_VALUE_TAG)
        if value is None or (not value.text and cell.get("t") != "str"):
            columns.add(column)
    return columns


def _column_index(letters: str) -> int:
    """Return the 0-based index of the column ``letters`` ("A" is 0, "AA" is 26)."""
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1


class HiddenRows:
    """The count of a sheet's hidden rows that have text, for one warning once the sheet is read.

    A product or a person may hide rows of pupils who left. The rows are read and the warning
    requests a check, because leaving them out would end those pupils' records unseen.
    """

    def __init__(self, file: str, sheet: str):
        self.file, self.sheet = file, sheet
        self.count = 0
        self.first = 0

    def add(self, line: int, cells: list[str]) -> None:
        if any(cells):
            self.count += 1
            self.first = self.first or line

    def report(self, notify: Notify) -> None:
        if self.count:
            notify(Notice("warning", InputError(
                "table.rows_hidden", place=Place(file=self.file, sheet=self.sheet, row=self.first),
                file=self.file, sheet=self.sheet, count=self.count, row=self.first,
            )))


def _merged_ranges(sheet: Any, file: str) -> list[tuple[int, int, int, int]]:
    """Return the merged ranges of ``sheet`` as (first row, last row, first column, last column).

    The ``<mergeCells>`` element follows the rows in the sheet's XML, so the
    XML is scanned for it as bytes, a chunk at a time, before the rows are
    parsed. Values are 1-based and the list is sorted by first row.
    """
    ranges: list[tuple[int, int, int, int]] = []
    tail = b""
    with sheet._get_source() as source:
        while chunk := source.read(CHUNK_BYTES):
            data = tail + chunk
            consumed = 0
            for match in _MERGE_CELL.finditer(data):
                consumed = match.end()
                if len(ranges) < MAX_MERGED_RANGES:
                    first_column, first_row, last_column, last_row = range_boundaries(
                        match.group(1).decode("ascii")
                    )
                    ranges.append((first_row, last_row, first_column, last_column))
            tail = data[max(consumed, len(data) - _MERGE_TAIL_BYTES):]
    if len(ranges) >= MAX_MERGED_RANGES:
        log.warning("merged ranges ignored", extra=fields(file=file, sheet=sheet.title,
                                                          limit=MAX_MERGED_RANGES))
    ranges.sort()
    return ranges


class MergedCells:
    """Copies the first cell of each merged range into the other cells of the range, row by row."""

    def __init__(self, ranges: list[tuple[int, int, int, int]]):
        self._ranges = ranges
        self._starts = [first_row for first_row, *_ in ranges]
        self._next = 0
        # (last row, first column, last column, text, whether the text is of a formula without
        # its value) of the ranges over the current row.
        self._open: list[tuple[int, int, int, str, bool]] = []

    def apply(self, line: int, cells: list[str],
              uncalculated: set[int] | None = None) -> list[bool] | None:
        """Fill ``cells`` of sheet row ``line`` from the ranges over it and return the continued marks.

        When the first cell of a range contains a formula without its value (its 0-based column
        is in ``uncalculated``), every column of the range in this row is added to
        ``uncalculated``, because each reads the same empty text.
        """
        self._open = [entry for entry in self._open if entry[0] >= line]
        opened = bisect_right(self._starts, line)
        for first_row, last_row, first, last in self._ranges[self._next:opened]:
            if last_row < line:
                continue  # every row of the range was blank, so none was read
            # A range whose first row had no cells at all starts empty.
            text = cells[first - 1] if first_row == line and first <= len(cells) else ""
            formula = uncalculated is not None and first_row == line and first - 1 in uncalculated
            self._open.append((last_row, first, last, text, formula))
        self._next = opened
        if not self._open:
            return None
        continued = [False] * len(cells)
        for _, first, last, text, formula in self._open:
            if last > len(cells):
                cells.extend([""] * (last - len(cells)))
                continued.extend([False] * (last - len(continued)))
            for column in range(first, last + 1):
                cells[column - 1] = text
                continued[column - 1] = column > first
            if formula and uncalculated is not None:
                uncalculated.update(range(first - 1, last))
        return continued


def _sheet_rows(workbook: Any, sheet: Any, formats: CellFormats,
                hidden: set[int]) -> Iterator[tuple[int, list[str], bool, set[int]]]:
    """Yield (sheet row number, cell texts by column, hidden, uncalculated columns) per row of the XML.

    openpyxl's own row iterator clears each parsed ``<row>`` but leaves it in
    the tree, and keeps a dictionary entry per row with a custom height, so
    its memory grows by about 80 bytes a row. This loop reuses openpyxl's cell
    parsing (types, shared strings, date formats) and removes every row once
    read. Rows missing from the XML are blank and not yielded. The 0-based
    indexes of hidden columns go into ``hidden``; their ``<cols>`` element
    comes before the rows. The last item contains the 0-based columns of formula
    cells without a calculated value.
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
            if element.tag == _COLUMN_TAG:
                _add_hidden(element, hidden)
                continue
            if element.tag != _ROW_TAG:
                continue
            with warnings.catch_warnings():
                # A date serial out of range becomes "#VALUE!" with a warning.
                warnings.simplefilter("ignore")
                number, cells = parser.parse_row(element)
            parser.row_dimensions.clear()
            formulas: set[int] = set()
            if element.find(_FORMULA_IN_ROW) is not None:
                formulas = _uncalculated_columns(element)
            if container is not None:
                container.remove(element)
            yield (number, _by_column(cells, formats), element.get("hidden") in ("1", "true"),
                   formulas)


def _add_hidden(column: Any, hidden: set[int]) -> None:
    """Add the columns of a hidden ``<col min max>`` element, at most Excel's 16,384."""
    if column.get("hidden") not in ("1", "true"):
        return
    try:
        first, last = int(column.get("min", "0")), int(column.get("max", "0"))
    except ValueError:
        return
    hidden.update(range(max(first, 1) - 1, min(last, _MAX_COLUMNS)))


def _by_column(cells: list[dict[str, Any]], formats: CellFormats) -> list[str]:
    if not cells:
        return []
    texts = [""] * max(cell["column"] for cell in cells)
    for cell in cells:
        value = cell["value"]
        if isinstance(value, time) and cell["style_id"] in formats.dates:
            # openpyxl reads a serial from 0 to 1 as a time of day, whatever the format.
            texts[cell["column"] - 1] = day_zero_text(value)
            continue
        text = cell_text(value)
        width = formats.padding.get(cell["style_id"])
        if width and cell["data_type"] == "n" and text.isdigit():
            text = text.rjust(width, "0")
        texts[cell["column"] - 1] = text
    return texts


def day_zero_text(value: time) -> str:
    """Return the text of a date cell holding a serial from 0 to 1: day 0, with its time if any."""
    if value == time(0):
        return DAY_ZERO
    return f"{DAY_ZERO}T{value.isoformat()}"


def cell_text(value: object) -> str:
    """Return the text of a cell value as openpyxl reads it, by the rules in the module docstring."""
    if value is None:
        return ""
    if isinstance(value, str):
        return unmark_text(clean(value))
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, datetime):
        if value.time() == time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _duration_text(value)
    return clean(str(value))


def float_text(value: float) -> str:
    if value.is_integer() and abs(value) < _EXACT_FLOAT_LIMIT:
        return str(int(value))
    return repr(value)


def _duration_text(value: timedelta) -> str:
    seconds = round(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"
