"""The common shape the CSV, XLSX and HTML readers produce: a grid of text rows.

A ``Grid`` is one table (a CSV file, a worksheet, an HTML ``<table>``) before
its header is known. Its rows keep every cell at its position, cleaned, so
that header detection and block handling work the same way for every format.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from gateway.errors import RowError, table_label

# ="0123": the formula that products write into CSV so that Excel keeps the zeros.
_FORMULA_TEXT = re.compile(r'="((?:[^"]|"")*)"')


@dataclass
class GridRow:
    """One row as read: its 1-based line (or sheet row) and its cleaned cells, or the error.

    ``continued`` marks cells that repeat the cell to their left because that
    cell spans several columns (HTML ``colspan``). ``None`` means no cell spans.
    ``uncalculated`` holds the 0-based columns whose cell contains a formula that
    the file stores without its value (``None`` when there is none). Such a cell
    reads as empty.
    """

    line: int
    cells: list[str] = field(default_factory=list)
    continued: list[bool] | None = None
    error: RowError | None = None
    uncalculated: frozenset[int] | None = None

    @property
    def filled(self) -> int:
        """Count the non-empty cells, a cell spanning several columns once."""
        if self.continued is None:
            return sum(1 for cell in self.cells if cell)
        return sum(
            1 for cell, repeat in zip(self.cells, self.continued, strict=True) if cell and not repeat
        )

    def is_blank(self) -> bool:
        return self.error is None and not any(self.cells)

    def cell(self, index: int) -> str:
        """Return the cell at ``index``, or an empty string past the end of the row."""
        return self.cells[index] if index < len(self.cells) else ""

    def is_continued(self, index: int) -> bool:
        """Tell whether the cell at ``index`` repeats the one to its left (a spanning cell)."""
        return self.continued is not None and index < len(self.continued) and self.continued[index]

    def is_spanning(self, index: int) -> bool:
        """Tell whether the cell at ``index`` belongs to a cell that spans several columns."""
        return self.is_continued(index) or self.is_continued(index + 1)

    def first_text(self) -> str:
        """Return the text of the first non-empty cell, or an empty string."""
        return next((cell for cell in self.cells if cell), "")


@dataclass
class Grid:
    """One table of a file, its header not yet found.

    ``sheet`` is the worksheet title (XLSX), the caption or number of the
    table (HTML) or ``None`` (CSV). ``strict_width`` makes a row with non-empty cells past the
    header's width an error row: in CSV that means a separator inside an
    unquoted value, so the cells may have moved to other columns.
    ``hidden_columns`` holds the 0-based indexes of hidden XLSX columns. The
    reader fills it when it reaches the sheet's column definitions, before
    the first row.
    """

    file: str
    sheet: str | None
    rows: Iterator[GridRow]
    properties: dict[str, str] = field(default_factory=dict)
    strict_width: bool = False
    hidden_columns: set[int] = field(default_factory=set)
    # The sheet is a placeholder until the package numbers the table among those with a header.
    numbered: bool = False
    # Text lines above the table outside any table (HTML headings and paragraphs), for its title.
    page_text: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return table_label(self.file, self.sheet)


def unmark_text(cell: str) -> str:
    """Remove the marks that make a spreadsheet keep a number as text, from a cleaned cell.

    ``'0123`` (the apostrophe Excel uses for text, written out literally by
    some products) and ``="0123"`` (a formula that gives the text) both read
    as ``0123``. Only an apostrophe before a digit or a plus sign is removed,
    so that no name loses a letter.
    """
    if cell.startswith("'"):
        return cell[1:] if cell[1:2].isdigit() or cell[1:2] == "+" else cell
    if cell.startswith('="'):
        match = _FORMULA_TEXT.fullmatch(cell)
        if match:
            return match.group(1).replace('""', '"')
    return cell


def cell_reference(column: int, line: int) -> str:
    """Return the spreadsheet reference of 0-based ``column`` in row ``line``: ``C5``."""
    letters = ""
    number = column + 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"{letters}{line}"
