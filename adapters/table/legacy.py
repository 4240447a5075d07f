"""TCVN3 and VNI text in a table: converted to Unicode, and the TCVN3 words whose capitals were lost, counted.

An 8-bit file in TCVN3 or VNI-Windows is decoded by the ``tcvn3`` or ``vni``
codec, chosen from its bytes. A workbook, HTML page or UTF-8 file typed in a
.VnTime or VNI font carries the legacy bytes as Windows-1252 characters
instead. For those, ``check_legacy_text`` reads the first ``SAMPLE_ROWS`` rows
of each table, the header included. When they read far better in a legacy
code, it converts the table's rows, except rows and cells that were typed in
Unicode (a header from a template). For TCVN3 either way, the rows whose words
lost their capitals (typed in a .VnTimeH capitals font) are counted, and one
warning names the first for a person to check. The VNI fonts have capitals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import chain, islice

from adapters.base import Notice
from adapters.table.grid import Grid, GridRow
from gateway.errors import InputError, Place
from gateway.legacy_text import CODEC_NAME, LEGACY_ENCODINGS, LegacyTextCheck, case_lost, convert_row
from gateway.text import clean

Notify = Callable[[Notice], None]

SAMPLE_ROWS = 200
_DATA_CELLS = 3


def check_legacy_text(grid: Grid, notify: Notify) -> Grid:
    """Return ``grid`` with its cells converted from TCVN3 or VNI when its text is in that code.

    Reads ahead at most ``SAMPLE_ROWS`` rows; the returned grid yields them again.
    """
    sample = list(islice(grid.rows, SAMPLE_ROWS))
    rows: Iterator[GridRow] = chain(sample, grid.rows)
    place = Place(file=grid.file, sheet=grid.sheet)
    encoding = grid.properties.get("encoding")
    if encoding not in LEGACY_ENCODINGS:
        check = LegacyTextCheck()
        for row in sample:
            check.add(row.cells)
        encoding = check.encoding()
        if encoding is None:
            grid.rows = rows
            return grid
        # Part of the stream's properties, so that a row read this way hashes differently.
        grid.properties["text_encoding"] = encoding
        notify(Notice("warning", InputError(f"table.text_{encoding}", place=place,
                                            table=grid.label)))
        rows = _converted(rows, encoding)
    grid.rows = _case_checked(rows, grid, notify) if encoding == CODEC_NAME else rows
    return grid


def _converted(rows: Iterator[GridRow], encoding: str) -> Iterator[GridRow]:
    for row in rows:
        if row.error is None:
            row.cells = [clean(cell) for cell in convert_row(row.cells, encoding)]
        yield row


def _case_checked(rows: Iterator[GridRow], grid: Grid, notify: Notify) -> Iterator[GridRow]:
    """Yield ``rows``; once they are all read, warn about the rows whose capitals were lost.

    Only rows with at least ``_DATA_CELLS`` filled cells count: a title in capitals
    ("DANH SÁCH HỌC SINH") is one cell, and no pupil's name needs correcting there.
    """
    count, first = 0, None
    for row in rows:
        if (row.error is None and row.filled >= _DATA_CELLS
                and any(not cell.isascii() and case_lost(cell) for cell in row.cells)):
            count += 1
            first = first or row.line
        yield row
    if count:
        place = Place(file=grid.file, sheet=grid.sheet, row=first)
        notify(Notice("warning", InputError("table.tcvn3_case_lost", place=place,
                                            table=grid.label, count=count, row=first)))
