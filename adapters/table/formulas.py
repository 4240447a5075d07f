"""Counting a table's formula cells that the file stores without a calculated value.

A workbook written by a program that does not calculate (openpyxl, some exports) keeps
its formulas without the values Excel would store, so such a cell reads as empty
(``GridRow.uncalculated``). ``UncalculatedCells`` counts them for the notices after the
table's rows:

- a cell of a data row in a column that the mappings read is counted per column. The
  row carries it in ``SourceRow.uncalculated``, so that a rejection for a missing value
  names the formula instead of an empty cell;
- every other cell (a title, a header, a class label, a total, a column that no mapping
  reads, a row read as blank) is counted together for the table.

Whether a row is a data row is known only once the block reader has decided it, which
may be some rows later (a row that may end a block is held). Cells of read columns
therefore wait until their row is decided. Only the rows not yet decided wait, so memory
stays bounded.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from adapters.table.grid import GridRow, cell_reference


@dataclass
class CellCount:
    """How many cells were counted, and the row and reference of the first."""

    count: int = 0
    row: int = 0
    cell: str = ""

    def add(self, line: int, column: int) -> None:
        if not self.count:
            self.row, self.cell = line, cell_reference(column, line)
        self.count += 1


class UncalculatedCells:
    """The formula cells without a value of one table: per read column, and the others.

    ``columns`` maps the 0-based grid columns that the mappings read to the name of their
    column in the stream (the cells a spanning header covers map to its column).
    """

    def __init__(self, columns: dict[int, str]):
        self._columns = columns
        self.by_column: dict[str, CellCount] = {}
        self.other = CellCount()
        # (line, column) of cells in read columns whose row is not decided yet, in read order.
        self._waiting: deque[tuple[int, int]] = deque()

    def see(self, row: GridRow) -> None:
        """Note the cells of ``row`` as it is read, before it is known to be a data row."""
        for column in sorted(row.uncalculated or ()):
            if column in self._columns:
                self._waiting.append((row.line, column))
            else:
                self.other.add(row.line, column)

    def take(self, row: GridRow) -> dict[str, str] | None:
        """Count the cells of the data row ``row`` per column.

        Returns the reference of each such cell by column name ("Họ và tên": "C5"), or
        ``None`` when the row has none. The rows read before it are decided by then.
        """
        self.settle(row.line)
        found: dict[str, str] = {}
        while self._waiting and self._waiting[0][0] == row.line:
            line, column = self._waiting.popleft()
            name = self._columns[column]
            self.by_column.setdefault(name, CellCount()).add(line, column)
            found.setdefault(name, cell_reference(column, line))
        return found or None

    def settle(self, line: int) -> None:
        """Count the waiting cells of rows before ``line`` with the others: they were no data rows."""
        while self._waiting and self._waiting[0][0] < line:
            self.other.add(*self._waiting.popleft())

    def finish(self) -> None:
        """Count every cell still waiting with the others, once the table has no more rows."""
        while self._waiting:
            self.other.add(*self._waiting.popleft())
