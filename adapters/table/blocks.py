"""Turning the rows below a header into data rows: class blocks, repeated headers, footers.

Exports list one class after another. Each class block starts with a label
row ("Lớp: 6A1", "Lớp 10A2 - Năm học 2025-2026") above a repeated header, and
ends with footer and signature rows ("Tổng số: 45", "Người lập biểu",
"Cần Thơ, ngày ..."). ``BlockReader`` reads such rows as follows:

- a row whose cells equal a header row (by ``match_key``) is skipped;
- a row with exactly one non-empty cell (a merged cell counts once) right
  before a repeated header is the label of the next block. Its text fills the
  virtual column ``_block`` of every following data row, until the next label.
  A header repeated right after data rows (a new printed page) keeps the
  label. When other rows sit between the data and the repeated header but
  none is a label, ``_block`` becomes empty, so that no row is given the
  class of the block before. The virtual column ``_sheet`` contains the
  worksheet title of a workbook (empty in CSV and HTML), for exports that
  name the class only in the sheet tab;
- a footer row has at most two non-empty cells, fewer than half the named
  columns, unless each of its cells is a "label: value" text ("Tổng số: 45",
  "Nữ: 20", "Dân tộc: 3"). No required hint column of it holds a value: a
  cell spanning several columns counts for none, and neither does text of two
  or more words with more letters than digits ("Người lập biểu",
  "Nguyễn Thị Lan" under "Mã học sinh"), which is no identifier or code.
  It is skipped only at the end of a block: before a label, a repeated header
  or the end of the table. Footer-like rows followed by more data are data
  rows, so a pupil row with most cells empty reaches the mappings, which
  reject it with a reason;
- a totals row is a footer whatever its width and wherever it is: its leading
  cells read "Tổng số", "Tổng cộng", "Cộng" or "Tổng" (by ``match_key``, a
  colon and a count may follow) and its other cells are counts ("Tổng số"
  merged over three columns, then 7 under "Mã học sinh"). It is never a data
  row, even between data rows;
- a row with one non-empty cell between data rows labels the rows after it
  when its text starts with the word "Lớp" and a class ("Lớp 6A2" in a list with one
  header that groups its pupils by class), or is a class name alone ("6A2",
  "10A1 - GVCN: ...", "6A2 (40 HS)"), and the cell spans several columns or sits
  in the first column, where a pupil row has its number. A class name alone in
  a first column that the mappings read ("Lớp", "Mã học sinh") is that column's
  value, so it stays a data row. The rows held before it end the block before;
- a row whose one cell spans several columns and that is no label is a note
  ("Ghi chú: ..." merged across the table). Between data rows it is skipped
  with the footers, because read as data its text would fill every column;
- a row whose one cell numbers a printed page ("Trang 1/2", "Page 2 of 3")
  is skipped wherever it is, with the footers. A header repeated right after
  it keeps the block's label;
- the first row after a header may number the columns ("(1)", "(2)", ...,
  or 1, 2, 3, ...). Such a row is skipped.

Skipped rows are counted per kind in ``SkipCounts`` for one notice per table. Formula
cells without a calculated value are counted in ``UncalculatedCells``
(``adapters.table.formulas``), and a data row names those of the columns that the
mappings read in ``SourceRow.uncalculated``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from adapters.base import Limits, ReadHints, SourceRow
from adapters.common.csvfile import too_many_cells
from adapters.table.formulas import UncalculatedCells
from adapters.table.grid import Grid, GridRow
from adapters.table.header import Header
from gateway.errors import Place, RowError
from gateway.text import match_key

BLOCK_COLUMN = "_block"
# The virtual column with the worksheet title, for exports that name the class only in the
# sheet tab. CSV files and HTML tables have no title, so it is empty there.
SHEET_COLUMN = "_sheet"
_TITLED_FORMATS = ("xlsx", "xls")
# Rows that might end a block are held until the next data row, label or
# header decides. Past this many in a row, the oldest goes out as a data row,
# so memory stays bounded whatever the input.
MAX_PENDING_ROWS = 100
# A label has one cell, so in a table of fewer columns it looks like data.
_MIN_COLUMNS_FOR_LABELS = 3
_COLUMN_NUMBER = re.compile(r"\(?(\d{1,3})\)?")
# A page number by match_key: "Trang 1/2", "Trang 2", "Page 1 of 3".
_PAGE_NUMBER = re.compile(r"(?:trang|page) \d{1,4}(?: (?:of |tren )?\d{1,4})?")
# A group label by match_key: the word "lớp", then a class that starts with its grade number or
# a preschool group ("Lớp 6A2", "LỚP: 10A1", "Lớp Mầm 1"), not "Lớp học thêm".
_GROUP_LABEL = re.compile(r"lop (?:\d|mam\b|choi\b|la\b|nha tre\b|nhom tre\b)")
# A class name without the word "Lớp", matched on the cell's text because match_key drops the
# punctuation that ends the name: a grade from 1 to 12 right before a letter, then letters and
# digits ("6A2", "10A1", "12CT"). A note after a spaced dash, a comma or a bracket ("6A2 - GVCN:
# ...", "6A2 (40 HS)") or a school year may follow. No space may follow the grade, so that a
# count ("3 học sinh chuyển đi") is no class. Preschool groups need the word "Lớp", because "La"
# is also a family name.
_CLASS_NAME = re.compile(
    r"(?:1[0-2]|[1-9])[^\W\d_]\w*"
    r"(?:\s+[-–]\s.*|\s*[,;|(].*|\s+(?i:n[aă]m h[oọ]c)\b.*|\s+\d{4}\s*[-–]\s*\d{4})?"
)
# A "label: value" cell of a totals row: a word, then a colon.
_LABELLED = re.compile(r"[^\W\d_][^:]*:")
# The labels of a totals row, by match_key: "Tổng số", "TỔNG CỘNG:", "Cộng", "Tổng".
_TOTALS_LABELS = frozenset({"tong so", "tong cong", "cong", "tong"})
# A count or sum in a totals row: up to five digits ("7", "1250"), digits in groups of three
# ("1.250", "12 500"), a decimal part or a percent sign may follow. A pupil's identifier has
# more digits, so a row of a pupil whose surname is "Tống" and who has only a code stays data.
_TOTAL_VALUE = re.compile(r"(?:\d{1,5}|\d{1,3}(?:[.,\s]\d{3})+)(?:[.,]\d{1,2})?\s*%?")
# A totals label with a count in the same cell: "Tổng số: 45", "Cộng 12".
_TOTALS_CELL = re.compile(r"(?P<label>\D*?)[\s:]*(?P<value>\d[\d.,\s]*%?)?")
# Data cells are names and identifiers that never repeat, so they would only
# push the header names and code values out of match_key's cache.
_uncached_match_key = getattr(match_key, "__wrapped__", match_key)


@dataclass
class SkipCounts:
    """Rows skipped in one table, by kind, and the block labels seen."""

    repeated_headers: int = 0
    footers: int = 0
    column_numbers: int = 0
    labels: int = 0

    @property
    def skipped(self) -> int:
        return self.repeated_headers + self.footers + self.column_numbers


class BlockReader:
    """Reads the rows below one header of ``grid`` as ``SourceRow`` objects.

    ``keep`` lists the grid columns that are kept, in order; each data row
    gets their cells plus the current block label. ``columns`` names them as
    the stream does (repeated names numbered); without it, by the header.
    """

    def __init__(self, grid: Grid, header: Header, keep: list[int], hints: ReadHints,
                 limits: Limits, columns: list[str] | None = None):
        self._grid = grid
        self._header = header
        self._keep = keep
        self._limits = limits
        self._width = len(header.names)
        self._named = sum(1 for name in header.names if name)
        self._header_rows = [_signature(row) for row in header.rows]
        self._required = [
            index for index, name in enumerate(header.names)
            if name and match_key(name) in hints.required
        ]
        self._read_columns = {
            index for index, name in enumerate(header.names)
            if name and match_key(name) in hints.columns
        }
        self.block = header.label
        self.block_line = header.label_line
        self.counts = SkipCounts(labels=1 if header.label else 0)
        titled = grid.properties.get("format") in _TITLED_FORMATS
        self._sheet_title = (grid.sheet or "") if titled else ""
        names = columns or [header.names[index] for index in keep]
        self.formulas = UncalculatedCells(self._formula_columns(names, hints))

    def _formula_columns(self, names: list[str], hints: ReadHints) -> dict[int, str]:
        """Map the grid columns whose formula cells a row carries to their column names.

        Those are the kept columns that the mappings read, with the columns their spanning
        header covers, or every kept column when the hints name none (no mapping to read).
        """
        columns: dict[int, str] = {}
        for index, name in zip(self._keep, names, strict=True):
            if hints.columns and index not in self._read_columns:
                continue
            for column in (index, *self._header.spans.get(index, ())):
                columns[column] = name
        return columns

    def rows(self, rows: Iterator[GridRow]) -> Iterator[SourceRow]:
        """Yield the data rows and error rows of ``rows``, skipping the others."""
        pending: deque[GridRow] = deque()
        after_header = True
        for row in rows:
            # The rows before the first held one are decided: data rows have been taken.
            # NOTE: this relies on rows coming in sheet order. The formula cells of a row that
            # comes out of order are counted with the others, and its rejection does not name them.
            self.formulas.settle(pending[0].line if pending else row.line)
            self.formulas.see(row)
            if row.is_blank():
                continue
            if row.error is not None:
                yield from self._release(pending)
                after_header = False
                yield SourceRow(line=row.line, error=row.error)
                continue
            if self._repeats_header(row):
                yield from self._start_block(pending)
                after_header = True
                continue
            if after_header and _numbers_columns(row):
                self.counts.column_numbers += 1
                after_header = False
                continue
            if row.filled == 1 and _numbers_page(row.first_text()):
                self.counts.footers += 1
                continue
            after_header = False
            if self._may_end_block(row):
                pending.append(row)
                if len(pending) > MAX_PENDING_ROWS:
                    yield self._data(pending.popleft())
                continue
            if pending and self._is_group_label(pending[-1]):
                yield from self._start_group(pending)
            yield from self._release(pending)
            yield self._data(row)
        yield from self._end_block(pending)
        self.formulas.finish()

    def _repeats_header(self, row: GridRow) -> bool:
        # Positions first, then cell by cell until one differs, because folding
        # every cell of every row is slow.
        positions = _filled_positions(row.cells)
        return any(
            positions == header_positions
            and all(_uncached_match_key(row.cells[index]) == key
                    for index, key in zip(positions, keys, strict=True))
            for header_positions, keys in self._header_rows
        )

    def _may_end_block(self, row: GridRow) -> bool:
        return (row.filled == 1 and self._named >= _MIN_COLUMNS_FOR_LABELS) or self._is_footer(row)

    def _is_footer(self, row: GridRow) -> bool:
        # A totals row is never a pupil, whatever its width and its count under "Mã học sinh".
        if _is_totals(row):
            return True
        # A row of "label: value" cells is never a pupil either, whatever its width.
        if not _labelled_cells(row) and (row.filled > 2 or row.filled * 2 >= self._named):
            return False
        # A cell spanning several columns ("Tổng số: 45" across the table) is
        # no value of the required column it starts in, and neither is a
        # signature or a name typed under "Mã học sinh".
        return not any(
            row.cell(index) and not row.is_spanning(index) and not _is_prose(row.cell(index))
            for index in self._required
        )

    def _is_group_label(self, row: GridRow) -> bool:
        """Tell whether a one-cell row between data rows labels the rows after it ("Lớp 6A2").

        Lists with one header often group their pupils under such rows. The cell
        must start with the word "Lớp" and a class, or be a class name alone ("6A2"),
        and span several columns or sit in the first column, where a pupil row has
        its number. A note between the pupils ("Ghi chú ...") is no label, so the
        rows after it keep their class.
        """
        index = _single_cell(row)
        if index is None or self._named < _MIN_COLUMNS_FOR_LABELS:
            return False
        spanning = row.is_spanning(index)
        if not (index == 0 or spanning):
            return False
        text = row.cells[index]
        if _GROUP_LABEL.match(_uncached_match_key(text)) is not None:
            return True
        # A class name alone in a column that the mappings read (a "Lớp" or code column
        # first) is that column's value in a pupil row with the other cells empty.
        if not spanning and index in self._read_columns:
            return False
        return _CLASS_NAME.fullmatch(text) is not None

    def _start_group(self, pending: deque[GridRow]) -> Iterator[SourceRow]:
        """End the block before a group label, and label the rows after it."""
        label = pending.pop()
        yield from self._end_block(pending)
        self.block, self.block_line = label.first_text(), label.line
        self.counts.labels += 1

    def _release(self, pending: deque[GridRow]) -> Iterator[SourceRow]:
        """Yield the held rows as data rows: more data follows, so they did not end a block.

        A row whose one cell spans several columns is a note across the table ("Ghi chú:
        ..."), never a pupil: read as data, its text would fill every column it spans, the
        school code among them. A totals row is no pupil either. Both are skipped with the
        footers.
        """
        while pending:
            row = pending.popleft()
            if _is_note(row) or _is_totals(row):
                self.counts.footers += 1
                continue
            yield self._data(row)

    def _start_block(self, pending: deque[GridRow]) -> Iterator[SourceRow]:
        self.counts.repeated_headers += 1
        if not pending:
            return  # a header repeated on a new page: the block goes on
        # A one-cell totals row ("Tổng số: 45") right before the header ends the block before.
        label = pending.pop() if pending[-1].filled == 1 and not _is_totals(pending[-1]) else None
        yield from self._end_block(pending)
        # A row that is not a label ("Lớp: 6A2 | Sĩ số: 40") still starts a new
        # block, so the old label must not carry over to another class.
        self.block, self.block_line = "", None
        if label is not None:
            self.block, self.block_line = label.first_text(), label.line
            self.counts.labels += 1

    def _end_block(self, pending: deque[GridRow]) -> Iterator[SourceRow]:
        while pending:
            row = pending.popleft()
            if self._is_footer(row):
                self.counts.footers += 1
            else:
                yield self._data(row)

    def _data(self, row: GridRow) -> SourceRow:
        place = Place(file=self._grid.file, sheet=self._grid.sheet, row=row.line)
        if self._grid.strict_width:
            used = _used_width(row.cells)
            if used > self._width:
                delimiter = self._grid.properties.get("delimiter", ",")
                return SourceRow(line=row.line,
                                 error=too_many_cells(place, used, self._width, delimiter))
        cells = [self._value(row, index) for index in self._keep]
        cells.append(self.block)
        cells.append(self._sheet_title)
        error = self._too_long(cells, place)
        if error is not None:
            return SourceRow(line=row.line, error=error)
        return SourceRow(line=row.line, cells=cells, uncalculated=self.formulas.take(row))

    def _too_long(self, cells: list[str], place: Place) -> RowError | None:
        """Return the error of the first value of ``cells`` longer than ``limits.max_cell_chars``.

        The label row above the pupils fills ``_block``, so its length counts like a cell's,
        and its message names the label's own row.
        """
        limit = self._limits.max_cell_chars
        names = [*(self._header.names[index] for index in self._keep), BLOCK_COLUMN, SHEET_COLUMN]
        for column, value in zip(names, cells, strict=True):
            if len(value) <= limit:
                continue
            if column == BLOCK_COLUMN:
                return RowError("table.label_too_long", place=place.with_(column=column),
                                column=column, label_row=self.block_line or "?",
                                chars=len(value), limit=limit)
            return RowError("table.cell_too_long", place=place.with_(column=column),
                            column=column, chars=len(value), limit=limit)
        return None

    def _value(self, row: GridRow, index: int) -> str:
        """Return the cell of column ``index``, joined with the cells its spanning header covers."""
        covered = self._header.spans.get(index)
        if not covered:
            return row.cell(index)
        parts = [row.cell(index)]
        parts += [row.cell(column) for column in covered if not row.is_continued(column)]
        return " ".join(part for part in parts if part)


def _single_cell(row: GridRow) -> int | None:
    """Return the column of the one non-empty cell of ``row`` (a spanning cell counts once), or ``None``."""
    if row.filled != 1:
        return None
    return next(index for index, cell in enumerate(row.cells) if cell)


def _is_note(row: GridRow) -> bool:
    """Tell whether ``row`` is one cell spanning several columns, with nothing else in it."""
    index = _single_cell(row)
    return index is not None and row.is_spanning(index)


def _signature(row: GridRow) -> tuple[tuple[int, ...], list[str]]:
    """Return the positions of the non-empty cells of a header row, and their match keys."""
    positions = _filled_positions(row.cells)
    return positions, [match_key(row.cells[index]) for index in positions]


def _filled_positions(cells: list[str]) -> tuple[int, ...]:
    return tuple(index for index, cell in enumerate(cells) if cell)


def _used_width(cells: list[str]) -> int:
    for index in range(len(cells) - 1, -1, -1):
        if cells[index]:
            return index + 1
    return 0


def _is_prose(text: str) -> bool:
    """Tell whether ``text`` is words rather than a code: two or more words, more letters than digits.

    Identifiers, school codes and class names ("0620010001", "HS2025A",
    "0922 1400 0123", "6A1") are not prose, so a row that has one in a
    required column is never a footer.
    """
    if len(text.split()) < 2:
        return False
    letters = sum(1 for char in text if char.isalpha())
    digits = sum(1 for char in text if char.isdigit())
    return letters > digits


def _labelled_cells(row: GridRow) -> bool:
    """Tell whether every non-empty cell of ``row`` is a "label: value" text, as totals rows are."""
    values = [cell for index, cell in enumerate(row.cells) if cell and not row.is_continued(index)]
    return all(_LABELLED.match(value) for value in values)


def _is_totals(row: GridRow) -> bool:
    """Tell whether ``row`` is a totals row: a totals label first, then only counts.

    The label is the first non-empty cell and any copies of it to its right (a merged cell,
    or the same text typed again), and may end with a count ("Tổng số: 45"). Every other
    non-empty cell must be a count (``_TOTAL_VALUE``).
    """
    values = [cell for index, cell in enumerate(row.cells) if cell and not row.is_continued(index)]
    if not values or not _is_totals_label(values[0]):
        return False
    rest = values[1:]
    while rest and rest[0] == values[0]:
        rest.pop(0)
    return all(_TOTAL_VALUE.fullmatch(value) for value in rest)


def _is_totals_label(text: str) -> bool:
    """Tell whether ``text`` is a totals label, with an optional count after it ("Tổng số: 45")."""
    match = _TOTALS_CELL.fullmatch(text)
    if match is None:
        return False
    value = match.group("value")
    if value is not None and _TOTAL_VALUE.fullmatch(value.strip()) is None:
        return False
    return _uncached_match_key(match.group("label")) in _TOTALS_LABELS


def _numbers_page(text: str) -> bool:
    return _PAGE_NUMBER.fullmatch(_uncached_match_key(text)) is not None


def _numbers_columns(row: GridRow) -> bool:
    """Tell whether ``row`` only numbers the columns: (1), (2), (3) or 1, 2, 3, at least three."""
    values = [
        cell for index, cell in enumerate(row.cells) if cell and not row.is_continued(index)
    ]
    if len(values) < 3:
        return False
    numbers = []
    for value in values:
        match = _COLUMN_NUMBER.fullmatch(value)
        if match is None:
            return False
        numbers.append(int(match.group(1)))
    return all(later == earlier + 1 for earlier, later in zip(numbers, numbers[1:], strict=False))
