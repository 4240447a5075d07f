"""Columns whose value the run is given instead of the input: the school of a school's own list.

Products that export one school's lists (vnEdu, SMAS) name the school only in a
title row above the header, which no mapping reads, so their rows have no
"Mã trường". The person who ingests such a list can name the school with
``gateway ingest --school CODE``, which gives it to the rows:

- a stream without the column gets it, with the given value in every row;
- a row whose cell in that column is empty gets the given value;
- a row that names another value keeps its own, and the run warns once per
  column (``ingest.given_column_differs``) with the count and the first place,
  because a list that names another school may have been sent by mistake.

The column is added before the mappings are compiled, so the row hash covers
it like any other cell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from adapters.base import SourceRow, Stream
from gateway.errors import Place
from gateway.text import match_key


@dataclass
class Differing:
    """Rows that name another value than the given one, per column: the count and the first place."""

    counts: dict[str, int] = field(default_factory=dict)
    first: dict[str, Place] = field(default_factory=dict)

    def add(self, column: str, place: Place) -> None:
        self.counts[column] = self.counts.get(column, 0) + 1
        self.first.setdefault(column, place)


def with_given_columns(stream: Stream, given: Mapping[str, str], differing: Differing) -> Stream:
    """Return ``stream`` with each column of ``given`` present and filled where it is empty."""
    if not given:
        return stream
    keys = [match_key(header) for header in stream.headers]
    headers = list(stream.headers)
    fill: list[tuple[int, str, str]] = []
    for name, value in given.items():
        key = match_key(name)
        if key in keys:
            fill.append((keys.index(key), name, value))
        else:
            headers.append(name)
    added = [value for name, value in given.items() if match_key(name) not in keys]
    width = len(stream.headers)

    def place_of(line: int, column: str) -> Place:
        return Place(file=stream.file, sheet=stream.sheet, row=line, column=column)

    return replace(stream, headers=headers,
                   rows=_rows(stream.rows, width, fill, added, differing, place_of))


def _rows(rows: Iterator[SourceRow], width: int, fill: list[tuple[int, str, str]],
          added: list[str], differing: Differing,
          place_of: Callable[[int, str], Place]) -> Iterator[SourceRow]:
    for row in rows:
        if row.cells is None:
            yield row
            continue
        cells = row.cells
        if len(cells) != width:
            # A short row reads its missing cells as empty. No mapping reads a cell past the
            # header, so the added cells go right after the header's.
            cells = (cells + [""] * width)[:width]
        for index, name, value in fill:
            cell = cells[index]
            if not cell:
                cells[index] = value
            elif cell != value:
                differing.add(name, place_of(row.line, name))
        cells.extend(added)
        row.cells = cells
        yield row
