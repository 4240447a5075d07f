"""The common shape the CSV, XLSX and HTML readers produce: a grid of text rows.

A ``Grid`` is one table (a CSV file, a worksheet, an HTML ``<table>``) before
its header is known. Its rows keep every cell at its position, cleaned, so
that header detection and block handling work the same way for every format.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from gateway.errors import RowError


@dataclass
class GridRow:
    """One row as read: its 1-based line (or sheet row) and its cleaned cells, or the error.

    ``continued`` marks cells that repeat the cell to their left because that
    cell spans several columns (HTML ``colspan``). ``None`` means no cell spans.
    """

    line: int
    cells: list[str] = field(default_factory=list)
    continued: list[bool] | None = None
    error: RowError | None = None

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

    ``sheet`` is the worksheet title (XLSX), the table number (HTML) or
    ``None`` (CSV). ``strict_width`` makes a row with non-empty cells past the
    header's width an error row: in CSV that means a separator inside an
    unquoted value, so the cells may have moved to other columns.
    """

    file: str
    sheet: str | None
    rows: Iterator[GridRow]
    properties: dict[str, str] = field(default_factory=dict)
    strict_width: bool = False
