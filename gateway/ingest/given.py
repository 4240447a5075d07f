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

The adapter reads the school that a table's title rows name ("TRƯỜNG TH AN
BÌNH", see ``adapters.base.TITLE_SCHOOL``). ``TitleCheck`` decides whether the
rows of a table may take the given school:

- a table whose title names no school takes it, as above;
- with ``--school-name``, a table whose title names another school
  (``gateway.school_names.same_school``) does not. Each of its rows that would
  take the given code is rejected with ``ingest.title_school_differs``;
- without ``--school-name``, the given code cannot be matched to one school when
  the titles of the input name two or more. Then each such row of every table
  whose title names a school is rejected with ``ingest.title_schools_differ``.
  An input whose titles all name one school takes the given school, and each
  table whose title names it takes the school's name from its title, as if it
  had been given with ``--school-name``.

In a table that may not take the given school, a row that names its own school
code keeps its cells and is given nothing (the added columns stay empty).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from adapters.base import INPUT_TITLE_SCHOOLS, TITLE_SCHOOL, SourceRow, Stream
from gateway.errors import Place, RowError, table_label
from gateway.school_names import parse_school_name, same_school
from gateway.text import match_key

# Tables named per school in the message that lists the schools of an input's titles.
_TABLES_SHOWN = 3


@dataclass
class Differing:
    """Rows that name another value than the given one, per column: the count and the first place."""

    counts: dict[str, int] = field(default_factory=dict)
    first: dict[str, Place] = field(default_factory=dict)

    def add(self, column: str, place: Place) -> None:
        self.counts[column] = self.counts.get(column, 0) + 1
        self.first.setdefault(column, place)


class TitleSchoolError(RowError):
    """A row not given the school because its table's title names another one."""


def with_given_columns(stream: Stream, given: Mapping[str, str], differing: Differing,
                       rejection: TitleRejection | None = None) -> Stream:
    """Return ``stream`` with each column of ``given`` present and filled where it is empty.

    With a ``rejection``, a row without its own school code is yielded with a
    ``TitleSchoolError`` error and its cells as read, and the other rows are given nothing.
    """
    if not given:
        return stream
    filler = _Filler(stream, given, differing, rejection)
    return replace(stream, headers=filler.headers, rows=filler.rows(stream.rows))


class _Filler:
    """Gives the rows of one stream the given columns, by the rules in the module docstring."""

    def __init__(self, stream: Stream, given: Mapping[str, str], differing: Differing,
                 rejection: TitleRejection | None):
        keys = [match_key(header) for header in stream.headers]
        self.stream = stream
        self.headers = list(stream.headers)
        self.width = len(stream.headers)
        self.differing = differing
        self.rejection = rejection
        # (index, name, value) of the given columns the stream has, and the values of the others.
        self.fill: list[tuple[int, str, str]] = []
        self.added: list[str] = []
        for name, value in given.items():
            key = match_key(name)
            if key in keys:
                self.fill.append((keys.index(key), name, value))
            else:
                self.headers.append(name)
                self.added.append(value)
        self.own_code: int | None = None
        if rejection is not None and match_key(rejection.column) in keys:
            self.own_code = keys.index(match_key(rejection.column))

    def rows(self, rows: Iterator[SourceRow]) -> Iterator[SourceRow]:
        for row in rows:
            if row.cells is None:
                yield row
                continue
            if self.rejection is not None and not self._names_own_school(row.cells):
                row.error = self.rejection.error(self.stream, row.line)
                yield row
                continue
            cells = row.cells
            if len(cells) != self.width:
                # A short row reads its missing cells as empty. No mapping reads a cell past the
                # header, so the added cells go right after the header's.
                cells = (cells + [""] * self.width)[:self.width]
            if self.rejection is None:
                self._fill(cells, row.line)
                cells.extend(self.added)
            else:
                cells.extend([""] * len(self.added))
            row.cells = cells
            yield row

    def _names_own_school(self, cells: list[str]) -> bool:
        return self.own_code is not None and self.own_code < len(cells) and bool(cells[self.own_code])

    def _fill(self, cells: list[str], line: int) -> None:
        for index, name, value in self.fill:
            cell = cells[index]
            if not cell:
                cells[index] = value
            elif cell != value:
                place = Place(file=self.stream.file, sheet=self.stream.sheet, row=line, column=name)
                self.differing.add(name, place)


@dataclass(frozen=True)
class TitleRejection:
    """The reason why the rows of one table are not given the school: the message and its values.

    ``column`` is the school code column, which a row that keeps its own school fills.
    """

    key: str
    params: dict[str, str]
    column: str

    def error(self, stream: Stream, line: int) -> TitleSchoolError:
        """Return the rejection of the row at ``line`` of ``stream``."""
        place = Place(file=stream.file, sheet=stream.sheet, row=line)
        return TitleSchoolError(self.key, place=place, **self.params)


class TitleCheck:
    """Compares the school that a table's title names with the one given by ``--school``.

    ``school_columns`` are the adapter's code and name columns, and ``given`` contains
    the values of those that the command line gave.
    """

    def __init__(self, given: Mapping[str, str], school_columns: Sequence[str]):
        code_column, name_column = school_columns if len(school_columns) == 2 else ("", "")
        self.code_column = code_column
        self.name_column = name_column
        self.code = given.get(code_column) if code_column else None
        self.name = given.get(name_column) if name_column else None

    def given_for(self, stream: Stream, given: Mapping[str, str]) -> Mapping[str, str]:
        """Return the columns that the rows of ``stream`` are given, with the title's school name.

        Given ``--school`` without ``--school-name``, a table whose title names the school
        takes the school's name from the title. That school is the only one the input's titles
        name, because otherwise ``rejection`` rejects the table's rows, and the caller then
        gives the table nothing from its title. A table with a name column of its own keeps
        it. Without the title's name, a list without a "Tên trường" column gives no school
        record, and its classes are rejected.
        """
        title = stream.properties.get(TITLE_SCHOOL, "")
        if self.code is None or self.name is not None or not title or not self.name_column:
            return given
        if match_key(self.name_column) in {match_key(header) for header in stream.headers}:
            # The list names its school in its own column: the title is not compared with it.
            return given
        return {**given, self.name_column: title}

    @property
    def needs_input_titles(self) -> bool:
        """Tell whether the adapter must list the title schools of the whole input (no name given)."""
        return self.code is not None and self.name is None

    def rejection(self, stream: Stream) -> TitleRejection | None:
        """Return why the rows of ``stream`` must not take the given school, or ``None`` when they may."""
        title = stream.properties.get(TITLE_SCHOOL, "")
        if self.code is None or not title:
            return None
        table = table_label(stream.file, stream.sheet)
        if self.name is not None:
            if same_school(title, self.name):
                return None
            return TitleRejection("ingest.title_school_differs",
                                {"table": table, "title": title, "name": self.name,
                                 "code": self.code}, self.code_column)
        listed = json.loads(stream.properties.get(INPUT_TITLE_SCHOOLS, "[]"))
        if [table, title] not in listed:
            # The adapter lists every titled table, this one included. Should it not, the
            # table still counts, so that a second school is never missed.
            listed.append([table, title])
        schools = _schools_of(listed)
        if len(schools) < 2:
            return None
        return TitleRejection("ingest.title_schools_differ",
                            {"table": table, "schools": _schools_text(schools), "code": self.code},
                            self.code_column)


def _schools_of(listed: list[list[str]]) -> dict[str, list[str]]:
    """Group ``[table, school]`` pairs by school, each named as its first table writes it."""
    names: dict[object, str] = {}
    tables: dict[str, list[str]] = {}
    for table, school in listed:
        name = names.setdefault(parse_school_name(school), school)
        tables.setdefault(name, []).append(table)
    return tables


def _schools_text(schools: dict[str, list[str]]) -> str:
    """Name each school with its first tables: ``"TRƯỜNG TH A" (a.xlsx [3A], +2)``."""
    parts = []
    for school, tables in schools.items():
        shown = ", ".join(tables[:_TABLES_SHOWN])
        more = len(tables) - _TABLES_SHOWN
        parts.append(f'"{school}" ({shown}{f", +{more}" if more > 0 else ""})')
    return "; ".join(parts)
