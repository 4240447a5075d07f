"""Finding the header row of a table under titles, school names and class labels.

Exports put a title ("DANH SÁCH HỌC SINH"), the school's name, blank rows and
a class label above the header. The header is the first row, among the first
``HEADER_SEARCH_ROWS``, that matches the mappings' column names (``ReadHints``)
by ``match_key``:

- at least two cells match a hint column, or one cell matches a required
  hint column. Hints do not say which required names are synonyms of each
  other, so one required name counts as all of them;
- without hints, the header is the first row with at least two non-empty
  cells, else the first non-empty row.

A header may take two rows. The row right below is joined to the header when
it has at least two cells that match hint columns the header row does not
have there, or when the header row is a *parent row*. A group of a row is a
non-empty cell and the empty or spanned cells to its right. In a parent row,
each group either has nothing below it (or the same text, copied down by a row
span), or spans several columns with a non-empty cell below each. At least
one group of each kind is needed. A data row never has that shape, because it
has a value under ``STT`` or ``Họ tên`` too. A title row can have it, so a
parent row that does not qualify as a header is not joined to a row below
that does.

The joined name of a column under a parent group is "parent child"
("Mức đạt được" over "Toán" gives "Mức đạt được Toán"). When that joined name
matches no hint, the child is the name if it matches one. The parent is the
name only of a column it alone covers (a "Ngày sinh" over a format note), never
of one of several columns under it: "Nam" and "Nữ" under "Giới tính" are tick
columns, not genders.

A header cell that spans several columns (a merged range in XLSX, ``colspan``
in HTML) with no header of their own below it names one column whose value is
the spanned cells joined with a space: "Họ và tên" merged over a family name
and a given name column reads "Nguyễn Văn" and "An" as "Nguyễn Văn An".

Names are cleaned of line breaks and runs of spaces ("Họ và\ntên" gives
"Họ và tên"), so that messages quote them on one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.base import ReadHints
from adapters.table.grid import GridRow
from gateway.text import collapse_spaces, match_key

HEADER_SEARCH_ROWS = 50


@dataclass
class Header:
    """The header of a table: one name per grid column, and the rows it came from.

    ``names`` has an empty string where a column has no name. ``parts`` holds,
    per column, the texts the name was built from, so that a column whose
    lower cell is "Mật khẩu" is dropped whatever its parent cell contains.
    ``label`` is the block label right above the header, or an empty string, and
    ``label_line`` the row it is in.
    """

    names: list[str]
    parts: list[tuple[str, ...]]
    rows: list[GridRow]
    label: str = ""
    label_line: int | None = None
    # Column -> the columns to its right that its spanning header cell covers.
    spans: dict[int, list[int]] = field(default_factory=dict)

    @property
    def lines(self) -> str:
        """Return the sheet rows of the header as text: ``5`` or ``5-6``."""
        first, last = self.rows[0].line, self.rows[-1].line
        return str(first) if first == last else f"{first}-{last}"


@dataclass
class _Group:
    start: int
    end: int
    text: str


def find_header(window: list[GridRow], hints: ReadHints) -> tuple[int, Header] | None:
    """Find the header in the first rows of a table.

    Returns the index in ``window`` of the header's last row, and the header;
    ``None`` when no row of the first ``HEADER_SEARCH_ROWS`` qualifies.
    ``window`` should hold one row more than that, for a two-row header.
    """
    found = None
    for index, row in enumerate(window[:HEADER_SEARCH_ROWS]):
        if row.error is not None or row.is_blank():
            continue
        found = _header_at(window, index, hints)
        if found is not None:
            break
    if found is None and not hints.columns:
        found = _first_wide_row(window)
    if found is not None:
        _join_spanned_columns(found[1])
    return found


def label_above(window: list[GridRow], index: int) -> GridRow | None:
    """Return the block label row right above ``window[index]``, or ``None``.

    The label is the nearest non-blank row above, when it has exactly one
    non-empty cell (a merged cell counts once).
    """
    for row in reversed(window[:index]):
        if row.is_blank():
            continue
        if row.error is None and row.filled == 1:
            return row
        return None
    return None


def _labelled(header: Header, label: GridRow | None) -> Header:
    """Set the block label of ``header`` from the ``label`` row, if there is one, and return it."""
    if label is not None:
        header.label, header.label_line = label.first_text(), label.line
    return header


def _header_at(window: list[GridRow], index: int, hints: ReadHints) -> tuple[int, Header] | None:
    row = window[index]
    lower = _row_below(window, index)
    qualifies = _qualifies(row.cells, hints)
    # A title row over the header can have the shape of a parent row. When
    # the row below is a header on its own, the upper row must be one too.
    if lower is not None and _is_parent_row(row, lower) and (
        qualifies or not _qualifies(lower.cells, hints)
    ):
        header = _joined(row, lower, hints)
        if _qualifies(header.names, hints):
            return index + 1, _labelled(header, label_above(window, index))
    if not qualifies:
        return None
    if lower is not None and _new_matches_below(row, lower, hints) >= 2:
        header = _joined(row, lower, hints)
        return index + 1, _labelled(header, label_above(window, index))
    return index, _labelled(_single(row), label_above(window, index))


def _first_wide_row(window: list[GridRow]) -> tuple[int, Header] | None:
    """Without hints: the first row with two or more non-empty cells, else the first non-empty row."""
    rows = window[:HEADER_SEARCH_ROWS]
    candidates = [i for i, row in enumerate(rows) if row.error is None and row.filled >= 2]
    candidates = candidates or [i for i, row in enumerate(rows) if row.error is None and row.filled]
    if not candidates:
        return None
    index = candidates[0]
    row, lower = window[index], _row_below(window, index)
    if lower is not None and _is_parent_row(row, lower):
        header = _joined(row, lower, ReadHints())
        return index + 1, _labelled(header, label_above(window, index))
    return index, _labelled(_single(row), label_above(window, index))


def _row_below(window: list[GridRow], index: int) -> GridRow | None:
    if index + 1 >= len(window):
        return None
    lower = window[index + 1]
    return None if lower.error is not None or lower.is_blank() else lower


def _single(row: GridRow) -> Header:
    names = [collapse_spaces(cell) for cell in row.cells]
    return Header(names=names, parts=[(name,) for name in names], rows=[row])


def _join_spanned_columns(header: Header) -> None:
    """Make the columns that a spanning header cell covers part of the column where it starts.

    A column continues the one on its left when one of its header cells is a
    copy of a spanning cell and the two columns got the same name. Such a
    column loses its name, so it is not a column of its own, and is listed in
    ``spans``. Columns under a parent group have names of their own.
    """
    start = 0
    for column in range(1, len(header.names)):
        name = header.names[column]
        copied = any(row.is_continued(column) for row in header.rows)
        if name and copied and match_key(name) == match_key(header.names[start]):
            header.spans.setdefault(start, []).append(column)
            header.names[column] = ""
        else:
            start = column


def _qualifies(names: list[str], hints: ReadHints) -> bool:
    if not hints.columns:
        return False
    matched = {match_key(name) for name in names if name} & hints.columns
    return len(matched) >= min(2, len(hints.columns)) or bool(matched & hints.required)


def _new_matches_below(upper: GridRow, lower: GridRow, hints: ReadHints) -> int:
    """Count the cells of ``lower`` that match a hint and are not a copy of the cell above."""
    count = 0
    for index, text in enumerate(lower.cells):
        key = match_key(text)
        if key and key in hints.columns and key != match_key(upper.cell(index)):
            count += 1
    return count


def _groups(upper: GridRow, lower: GridRow) -> list[_Group]:
    """Split ``upper`` into groups: a non-empty cell and the cells it spans to its right.

    An empty cell of ``upper`` belongs to the group on its left when the cell
    below it is not empty, because spreadsheets leave the cells of a merged
    range empty.
    """
    groups: list[_Group] = []
    for column in range(max(len(upper.cells), len(lower.cells))):
        text = upper.cell(column)
        extends = bool(groups) and groups[-1].end == column - 1 and (
            upper.is_continued(column) or (not text and bool(lower.cell(column)))
        )
        if extends:
            groups[-1].end = column
        elif text:
            groups.append(_Group(column, column, text))
    return groups


def _is_parent_row(upper: GridRow, lower: GridRow) -> bool:
    parents = standalone = 0
    for group in _groups(upper, lower):
        below = [lower.cell(column) for column in range(group.start, group.end + 1)]
        if all(not text or text == group.text for text in below):
            standalone += 1
        elif group.end > group.start and all(below):
            parents += 1
        else:
            return False
    return parents >= 1 and standalone >= 1


def _joined(upper: GridRow, lower: GridRow, hints: ReadHints) -> Header:
    parent_of: dict[int, str] = {}
    for group in _groups(upper, lower):
        columns = range(group.start, group.end + 1)
        if group.end > group.start and all(lower.cell(column) for column in columns):
            parent_of.update(dict.fromkeys(columns, group.text))

    names: list[str] = []
    parts: list[tuple[str, ...]] = []
    for column in range(max(len(upper.cells), len(lower.cells))):
        shared = column in parent_of
        top = collapse_spaces(parent_of.get(column, upper.cell(column)))
        bottom = collapse_spaces(lower.cell(column))
        names.append(_joined_name(top, bottom, hints, shared))
        parts.append((top, bottom))
    return Header(names=names, parts=parts, rows=[upper, lower])


def _joined_name(top: str, bottom: str, hints: ReadHints, shared: bool) -> str:
    """Name a column from its two header cells. ``shared`` is true when ``top`` spans several columns."""
    if not top or not bottom or top == bottom:
        return top or bottom
    joined = f"{top} {bottom}"
    candidates = (joined, bottom) if shared else (joined, bottom, top)
    for name in candidates:
        if match_key(name) in hints.columns:
            return name
    return joined
