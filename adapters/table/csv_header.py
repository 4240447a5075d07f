"""Checking a CSV header against the width of the rows below it.

A header cell with a comma that is not in quotes ("Ngày, tháng, năm sinh")
splits into several cells, so the header has more cells than the rows. Every
named column right of the split then reads the value of a column further
left. Excel quotes such a cell when it saves CSV, but some products and hand
edits do not.

The rows are measured on a sample: up to ``WIDTH_SAMPLE_ROWS`` data rows right
below the header, so memory stays bounded whatever the input. A row's width
is its number of cells as written, trailing empty cells included, because
Excel writes every cell of its range (``a,b,,,``). The header's width is the
position of its last named cell, so its trailing empty cells do not count.
The rows' width is the most common width in the sample (the narrower one on
a tie), because a row with an unquoted comma in a value is wider than the
others. The header is wider than the rows when that width is
less than the header's. Then:

- when joining adjacent header cells with ", " gives names that the mappings
  read (``ReadHints``, compared by ``match_key``), and that removes exactly
  the surplus cells, the header is repaired. A sample row still wider than
  the repaired header then becomes an error row, as any other;
- otherwise, when more than half the sample rows have the rows' width, none
  is narrower and none reaches the header's last named column, the table
  cannot be read safely, because the values would land in the wrong columns;
- otherwise nothing is reported. A writer that drops trailing empty cells
  gives rows of different widths, and a short row reads its missing cells
  as empty.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import islice

from adapters.base import ReadHints
from adapters.table.grid import GridRow
from adapters.table.header import Header
from gateway.text import match_key

# Data rows below the header that are measured.
WIDTH_SAMPLE_ROWS = 50
# The maximum number of cells joined into one header name: "Ngày, tháng, năm sinh" is three.
_MAX_JOINED_CELLS = 4
# The maximum number of surplus header cells that a repair removes. A header with more is
# not a few split names, and the search for joins grows quickly with the surplus.
_MAX_SURPLUS = 6


@dataclass
class HeaderWidth:
    """The outcome of the check: the header to use, and what was found.

    ``header`` is the input header, or the repaired one when ``repaired``
    lists the joined names. ``row_cells`` is set when the header is wider than
    the rows and cannot be repaired: the table must not be read.
    """

    header: Header
    columns: int
    repaired: list[str] = field(default_factory=list)
    row_cells: int | None = None


def check_header_width(header: Header, below: Iterator[GridRow], hints: ReadHints, *,
                       repair: bool = True) -> HeaderWidth:
    """Compare ``header`` with the sample rows in ``below`` and repair it when it can.

    ``below`` yields the rows after the header. The caller keeps the rows it
    consumed and reads them again as data. Only a one-row header is checked,
    because its cells are the ones a comma split. ``repair`` is false for a
    file whose separator is not a comma, because the names are joined with
    a comma.
    """
    columns = _named_width(header.names)
    result = HeaderWidth(header=header, columns=columns)
    if len(header.rows) != 1:
        return result
    widths = _sample_widths(header, below)
    if not widths:
        return result
    row_cells = _common_width(widths)
    if row_cells >= columns:
        return result

    spans = _join_spans(header.names[:columns], columns - row_cells, hints) if repair else None
    if spans is not None:
        result.header, result.repaired = _joined(header, spans)
    elif _consistent(widths, row_cells, columns):
        # NOTE: a writer that drops trailing empty cells, in a list whose last
        # columns are empty in every sample row, gives this shape too and gets
        # the error, although its values are in the right columns.
        result.row_cells = row_cells
    return result


def _consistent(widths: list[int], row_cells: int, columns: int) -> bool:
    """Tell whether the sample rows have one width below the header's, as a writer of every cell gives.

    More than half the rows have the common width, none is narrower, and none
    reaches the header's last named column.
    """
    common = sum(1 for width in widths if width == row_cells)
    return common * 2 > len(widths) and min(widths) == row_cells and max(widths) < columns


def _common_width(widths: list[int]) -> int:
    """Return the most common of ``widths``, the narrowest on a tie."""
    counts = Counter(widths)
    return min(counts, key=lambda width: (-counts[width], width))


def _named_width(names: list[str]) -> int:
    """Return the position after the last named column: trailing empty header cells do not count."""
    for index in range(len(names) - 1, -1, -1):
        if names[index]:
            return index + 1
    return 0


def _sample_widths(header: Header, below: Iterator[GridRow]) -> list[int]:
    """Return the width, as written, of up to ``WIDTH_SAMPLE_ROWS`` data rows from ``below``.

    Blank rows, error rows, rows with one filled cell (a class label, a
    total) and copies of the header are not data rows.
    """
    header_keys = [match_key(cell) for cell in header.rows[0].cells]
    widths: list[int] = []
    for row in below:
        if row.error is not None or row.filled < 2:
            continue
        if [match_key(cell) for cell in row.cells] == header_keys:
            continue
        widths.append(len(row.cells))
        if len(widths) >= WIDTH_SAMPLE_ROWS:
            break
    return widths


def _join_spans(names: list[str], surplus: int, hints: ReadHints) -> list[range] | None:
    """Find the runs of adjacent names that join into hint names and remove ``surplus`` cells.

    Returns the runs, left to right, or ``None`` when there is none or more
    than one way to do it: guessing between two repairs could move values to
    the wrong column.
    """
    if surplus > _MAX_SURPLUS:
        return None
    candidates = [
        range(start, start + size)
        for start in range(len(names))
        for size in range(2, min(surplus, _MAX_JOINED_CELLS - 1) + 2)
        if start + size <= len(names) and _joins_to_hint(names[start:start + size], hints)
    ]
    found = list(islice(_combinations(candidates, surplus, 0), 2))
    return found[0] if len(found) == 1 else None


def _combinations(candidates: list[range], surplus: int, after: int) -> Iterator[list[range]]:
    """Yield the sets of non-overlapping runs, starting at or after ``after``, removing ``surplus`` cells."""
    if surplus == 0:
        yield []
        return
    for span in candidates:
        removed = len(span) - 1
        if span.start < after or removed > surplus:
            continue
        for rest in _combinations(candidates, surplus - removed, span.stop):
            yield [span, *rest]


def _joins_to_hint(parts: list[str], hints: ReadHints) -> bool:
    if not all(parts):
        return False
    return match_key(", ".join(parts)) in hints.columns


def _joined(header: Header, spans: list[range]) -> tuple[Header, list[str]]:
    """Return a copy of ``header`` with each run of cells in ``spans`` made one column."""
    names: list[str] = []
    parts: list[tuple[str, ...]] = []
    joined: list[str] = []
    starts = {span.start: span for span in spans}
    column = 0
    while column < len(header.names):
        span = starts.get(column)
        if span is None:
            names.append(header.names[column])
            parts.append(header.parts[column])
            column += 1
            continue
        pieces = tuple(header.names[index] for index in span)
        name = ", ".join(pieces)
        names.append(name)
        # The pieces stay parts, so that a never-kept name among them still drops the column.
        parts.append((name, *pieces))
        joined.append(name)
        column = span.stop
    return replace(header, names=names, parts=parts, spans={}), joined
