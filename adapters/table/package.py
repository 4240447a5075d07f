"""An opened set of table files: their grids found, their headers detected, their rows streamed.

The input is one file, or a folder or ``.zip`` whose ``.csv``, ``.xlsx``,
``.xls``, ``.htm`` and ``.html`` files are read in name order. Each file's
format comes from its content (``adapters.table.sniff``). Each CSV file,
worksheet and HTML table with a header becomes one stream named ``table``.
The school named in the title rows above a header ("TRƯỜNG TH AN BÌNH",
``adapters.table.titles``) goes with the stream as its ``TITLE_SCHOOL`` property.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import IO, Literal, Protocol

from adapters.base import (
    INPUT_TITLE_SCHOOLS,
    TITLE_SCHOOL,
    Limits,
    Notice,
    Package,
    ReadHints,
    Scope,
    SourceRow,
    Stream,
)
from adapters.common.archive import Archive, Member, open_archive
from adapters.common.encoding import CHUNK_BYTES, BinaryReader
from adapters.table.blocks import BLOCK_COLUMN, SHEET_COLUMN, BlockReader
from adapters.table.csv_header import WIDTH_SAMPLE_ROWS, check_header_width
from adapters.table.csv_reader import csv_grids
from adapters.table.formulas import UncalculatedCells
from adapters.table.grid import Grid, GridRow
from adapters.table.header import HEADER_SEARCH_ROWS, Header, find_header
from adapters.table.html_reader import html_grids
from adapters.table.legacy import check_legacy_text
from adapters.table.sniff import sniff_kind
from adapters.table.staff import StaffEvidence, staff_evidence
from adapters.table.suffixes import NOTE_SUFFIXES, SUPPORTED_SUFFIXES
from adapters.table.titles import school_in_texts, school_in_title
from adapters.table.xls_reader import xls_grids
from adapters.table.xlsx_reader import xlsx_grids
from gateway.errors import InputError, Place, table_label
from gateway.logs import fields
from gateway.text import match_key

log = logging.getLogger(__name__)

STREAM_NAME = "table"
# Hint names quoted in a "no header row" message.
_EXPECTED_NAMES = 5

KeptColumns = Callable[[Sequence[str]], list[int]]
Notify = Callable[[Notice], None]


class Source(Protocol):
    """The origin of the files: an ``Archive`` (folder or zip) or one file."""

    members: list[Member]

    def open(self, member: Member) -> AbstractContextManager[BinaryReader]: ...

    def close(self) -> None: ...


class SingleFile:
    """One file given as the whole input, with the interface of an ``Archive``."""

    def __init__(self, path: Path):
        self.path = path
        self.members = [Member(name=path.name, path=path.name, size=path.stat().st_size)]

    def open(self, member: Member) -> IO[bytes]:
        try:
            return self.path.open("rb")
        except OSError as error:
            raise InputError(
                "archive.read_failed", place=Place(file=member.path),
                path=str(self.path), member=member.path,
            ) from error

    def close(self) -> None:
        """Nothing to release: every handle is closed where it is opened."""


def open_source(path: Path, limits: Limits) -> Source:
    """Open ``path`` as a single file, or as a folder or ``.zip`` within ``limits``.

    Raises ``InputError`` when the path does not exist or breaks a limit.
    """
    if path.is_file() and path.suffix.lower() != ".zip":
        return SingleFile(path)
    return open_archive(path, limits, recursive=True)


ONEROSTER_MANIFEST = "manifest.csv"
# Bytes read to find the header of a file that may belong to a OneRoster package.
_ONEROSTER_HEAD_BYTES = 4096


def _check_not_oneroster(source: Source) -> None:
    """Raise an ``InputError`` that names the OneRoster adapter when the input is OneRoster.

    A OneRoster package has a ``manifest.csv`` with the columns ``propertyName`` and ``value``,
    and each of its files has a ``sourcedId`` column. Read as tables, every file would give a
    "no header row" error, and none would name the OneRoster adapter.
    """
    if isinstance(source, Archive):
        manifest = source.find(ONEROSTER_MANIFEST)
        if manifest is not None and {"propertyname", "value"} <= _first_cells(source, manifest):
            raise InputError("table.oneroster_package", place=Place(file=manifest.path),
                             path=str(source.source))
        return
    member = source.members[0]
    if Path(member.name).suffix.lower() == ".csv" and "sourcedid" in _first_cells(source, member):
        raise InputError("table.oneroster_file", place=Place(file=member.path), file=member.path)


def _first_cells(source: Source, member: Member) -> set[str]:
    """Return the ``match_key`` of each comma-separated cell of the first line of ``member``."""
    with source.open(member) as handle:
        head = handle.read(_ONEROSTER_HEAD_BYTES)
    first_line = head.decode("utf-8-sig", errors="replace").splitlines()[:1]
    return {match_key(cell) for cell in next(csv.reader(first_line), [])}


class TablePackage(Package):
    """The table files of a ``Source``; ``close`` removes the temporary copies of workbooks."""

    def __init__(self, source: Source, limits: Limits, hints: ReadHints, kept_columns: KeptColumns):
        self._source = source
        self._limits = limits
        self._hints = hints
        self._kept_columns = kept_columns
        self._workdir: Path | None = None
        self._copies = 0
        self.notices: list[Notice] = []
        self._members = self._table_members(source)
        self.description = {
            "format": "table",
            "files": [member.path for member in self._members],
        }
        log.info("table package opened", extra=fields(files=len(self._members)))

    def close(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def streams(self) -> Iterator[Stream]:
        """Yield one stream per table with a header, file by file in name order.

        Requesting the next stream closes the previous one's table, so read
        each stream's rows before moving on. When ``title_schools`` of the hints
        is set, the title of every table is read first.
        """
        listed = self._input_title_schools() if self._hints.title_schools else None
        for member in self._members:
            yield from self._file_streams(member, listed)

    # Files ----------------------------------------------------------------------

    def _table_members(self, source: Source) -> list[Member]:
        _check_not_oneroster(source)
        if isinstance(source, SingleFile):
            return list(source.members)
        members = []
        for member in sorted(source.members, key=lambda m: (m.name.casefold(), m.name)):
            if Path(member.name).suffix.lower() in SUPPORTED_SUFFIXES:
                members.append(member)
            else:
                self._notice("table.file_ignored", Place(file=member.path), file=member.path)
        if not members:
            path = source.source if isinstance(source, Archive) else Path()
            raise InputError("table.no_files", place=Place(file=path.name), path=str(path))
        return members

    def _file_streams(self, member: Member, listed: str | None) -> Iterator[Stream]:
        with self._source.open(member) as handle:
            kind = sniff_kind(handle.read(CHUNK_BYTES))
        log.debug("table file opened", extra=fields(file=member.path, kind=kind))
        if kind == "binary":
            self._notice("table.file_binary", Place(file=member.path), level="error",
                         file=member.path)
            return
        if kind == "spreadsheetml":
            self._notice("table.spreadsheetml", Place(file=member.path), level="error",
                         file=member.path)
            return

        read: list[_TableRows] = []
        missing: list[tuple[str | None, bool]] = []
        titles = _PageTitles(kind)
        grids = self._grids(kind, member, self.notices.append)
        try:
            for grid in grids:
                grid = check_legacy_text(grid, self.notices.append)
                window = list(islice(grid.rows, HEADER_SEARCH_ROWS + 1))
                counter = _TableRows(grid.sheet)
                try:
                    stream = self._stream(grid, window, counter, len(read) + 1, titles)
                except _TableRejected:
                    continue
                if stream is None:
                    missing.append((grid.sheet, all(row.is_blank() for row in window)))
                    continue
                if listed is not None:
                    stream.properties[INPUT_TITLE_SCHOOLS] = listed
                read.append(counter)
                yield stream
        finally:
            grids.close()
        self._report_missing(member.path, kind, missing, len(read), titles.title_tables)
        self._report_empty(member.path, read)
        self._report_unread(member.path, read)

    def _grids(self, kind: str, member: Member, notify: Notify) -> Generator[Grid, None, None]:
        def open_member() -> AbstractContextManager[BinaryReader]:
            return self._source.open(member)

        if kind == "csv":
            yield from csv_grids(open_member, member.path, self._limits, notify)
        elif kind == "html":
            yield from html_grids(open_member, member.path, notify)
        elif kind == "xls_binary":
            yield from self._xls_grids(member, notify)
        else:
            yield from self._workbook_grids(member, notify)

    def _workbook_grids(self, member: Member, notify: Notify) -> Iterator[Grid]:
        """Yield the sheets of a workbook, checked as a zip package within the limits first.

        A workbook is itself a zip package, so its size, parts and compression
        ratio get the checks of any archive before openpyxl reads it.
        """
        path = self._local_path(member)
        try:
            try:
                open_archive(path, self._limits).close()
            except InputError as error:
                if error.key in ("archive.not_supported", "archive.invalid_zip"):
                    notify(_table_notice("table.xlsx_unreadable", Place(file=member.path),
                                         "error", file=member.path))
                else:
                    notify(Notice("error", error))
                return
            yield from xlsx_grids(path, member.path, notify)
        finally:
            if path.parent == self._workdir:
                path.unlink(missing_ok=True)

    def _xls_grids(self, member: Member, notify: Notify) -> Iterator[Grid]:
        """Yield the sheets of a binary Excel 97-2003 workbook, if its size is within the limits."""
        path = self._local_path(member)
        try:
            size = path.stat().st_size
            if size > self._limits.max_archive_bytes:
                notify(_table_notice("archive.file_too_large", Place(file=member.path), "error",
                                     path=member.path, size=size,
                                     limit=self._limits.max_archive_bytes))
                return
            yield from xls_grids(path, member.path, notify)
        finally:
            if path.parent == self._workdir:
                path.unlink(missing_ok=True)

    def _local_path(self, member: Member) -> Path:
        """Return a path on disk of ``member``; a member of a folder or zip is copied first.

        openpyxl needs a seekable file, which a zip member is not.
        """
        if isinstance(self._source, SingleFile):
            return self._source.path
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="table-adapter-"))
        self._copies += 1
        path = self._workdir / f"{self._copies}.xlsx"
        with self._source.open(member) as handle, path.open("wb") as copy:
            shutil.copyfileobj(handle, copy, CHUNK_BYTES)
        return path

    # Streams --------------------------------------------------------------------

    def _stream(self, grid: Grid, window: list[GridRow], counter: _TableRows,
                number: int, titles: _PageTitles) -> Stream | None:
        """Return the stream of ``grid``, or ``None`` when it has no header.

        ``number`` is the grid's position among the tables of its file that have a header,
        which names a ``numbered`` grid from here on. ``titles`` gives the school named in
        the title rows. Raises ``_TableRejected``, after adding its notice, when the table
        cannot be read.
        """
        found = find_header(window, self._hints)
        if found is None:
            titles.headerless(grid, window)
            return None
        index, header = found
        below: Iterator[GridRow] = chain(window[index + 1:], grid.rows)
        if grid.strict_width:
            header, below = self._check_width(grid, header, window[index + 1:])
        keep = self._keep(header)
        if not keep:
            titles.headerless(grid, window)
            return None
        titles.label_header(grid, header)
        school = titles.of_table(grid, window, index + 1 - len(header.rows))
        staff = _staff_evidence(grid, window, index, header)
        if staff is not None:
            self._report_staff(grid, staff)
            raise _TableRejected
        if grid.numbered:
            grid.sheet = counter.sheet = str(number)
        headers = self._unique([header.names[i] for i in keep],
                               [i in grid.hidden_columns for i in keep], grid)
        counter.label, counter.header_row = grid.label, header.lines
        counter.unread = self._unread_parts(header, keep)
        reader = BlockReader(grid, header, keep, self._hints, self._limits, columns=headers)
        for row in window[:index + 1]:
            # Titles and the header: their formula cells are counted with the others.
            reader.formulas.see(row)
        rows = self._rows(grid, reader, below, counter)
        log.debug(
            "table stream opened",
            extra=fields(file=grid.file, sheet=grid.sheet, header_row=header.lines,
                         columns=len(headers), title_school=bool(school)),
        )
        properties = {**grid.properties, "header_row": header.lines}
        if school:
            properties[TITLE_SCHOOL] = school
        return Stream(
            name=STREAM_NAME,
            file=grid.file,
            headers=[*headers, BLOCK_COLUMN, SHEET_COLUMN],
            rows=rows,
            sheet=grid.sheet,
            # A school's list is complete for that school only, and a folder contains the lists
            # of the schools that sent one.
            scope=Scope(named_schools=True),
            properties=properties,
        )

    def _input_title_schools(self) -> str:
        """Return, as JSON, ``[table, school]`` for every table of the input whose title names a school.

        Each file is opened once more for it, and of each table only its first rows
        are read, as the streaming pass reads them to find the header. The notices of
        this pass are dropped, because the pass that streams the rows adds them.
        """
        listed: list[list[str]] = []
        for member in self._members:
            listed.extend(self._file_title_schools(member))
        log.debug("table titles read", extra=fields(files=len(self._members), titles=len(listed)))
        return json.dumps(listed, ensure_ascii=False)

    def _file_title_schools(self, member: Member) -> list[list[str]]:
        """Return ``[table, school]`` for each table of ``member`` whose title names a school."""
        with self._source.open(member) as handle:
            kind = sniff_kind(handle.read(CHUNK_BYTES))
        if kind in ("binary", "spreadsheetml"):
            return []
        listed: list[list[str]] = []
        titles = _PageTitles(kind)
        number = 0
        grids = self._grids(kind, member, _discard)
        try:
            for grid in grids:
                grid = check_legacy_text(grid, _discard)
                window = list(islice(grid.rows, HEADER_SEARCH_ROWS + 1))
                found = find_header(window, self._hints)
                if found is None or not self._keep(found[1]):
                    titles.headerless(grid, window)
                    continue
                index, header = found
                school = titles.of_table(grid, window, index + 1 - len(header.rows))
                if _staff_evidence(grid, window, index, header) is not None:
                    # The streaming pass reads no row of a staff list, so it takes no school.
                    continue
                # Numbered as the streaming pass numbers the tables that it reads.
                number += 1
                if school:
                    sheet = str(number) if grid.numbered else grid.sheet
                    listed.append([table_label(grid.file, sheet), school])
        finally:
            grids.close()
        return listed

    def _check_width(self, grid: Grid, header: Header,
                     after: list[GridRow]) -> tuple[Header, Iterator[GridRow]]:
        """Check a CSV header against the rows below it: repair it, or reject the table.

        Returns the header to use and the rows below it. Rows are read ahead
        of ``after`` only when it has fewer than ``WIDTH_SAMPLE_ROWS``, and
        those rows are returned with the others.
        """
        ahead = list(islice(grid.rows, max(0, WIDTH_SAMPLE_ROWS - len(after))))
        delimiter = grid.properties.get("delimiter", ",")
        width = check_header_width(header, chain(after, ahead), self._hints,
                                   repair=delimiter == ",")
        place = Place(file=grid.file, sheet=grid.sheet, row=header.rows[0].line)
        if width.row_cells is not None:
            self._notice("table.header_wider_than_rows", place, level="error", table=grid.label,
                         row=header.lines, columns=width.columns, cells=width.row_cells,
                         separator="Tab" if delimiter == "\t" else delimiter)
            raise _TableRejected
        if width.repaired:
            self._notice("table.header_repaired", place, table=grid.label, row=header.lines,
                         names=", ".join(f'"{name}"' for name in width.repaired))
        return width.header, chain(after, ahead, grid.rows)

    def _keep(self, header: Header) -> list[int]:
        """Return the kept columns: named, and with no part of the name a never-kept one."""
        return [
            index for index in self._kept_columns(header.names)
            if all(not part or self._kept_columns([part]) for part in header.parts[index])
        ]

    def _unread_parts(self, header: Header, keep: list[int]) -> list[tuple[str, str]]:
        """Return (name, parent) of each column that no mapping reads, under a parent cell one does.

        "Ngày", "Tháng" and "Năm" under a merged "Ngày sinh" are such columns when the mappings
        read "Ngày sinh" as one column only: the value would be left out without a word.
        """
        found = []
        for index in keep:
            name, parent = header.names[index], header.parts[index][0]
            key, parent_key = match_key(name), match_key(parent)
            if (parent_key and parent_key != key and parent_key in self._hints.columns
                    and key not in self._hints.columns):
                found.append((name, parent))
        return found

    def _unique(self, names: list[str], hidden: list[bool], grid: Grid) -> list[str]:
        """Number repeated names ("Ghi chú (2)"), and list them in one notice.

        Of the columns with one name, the first visible one keeps it, and the
        hidden ones are numbered after the visible ones. A product that hides
        an old copy of "Mã học sinh" beside the current one thus has the
        visible column read.
        """
        seen: dict[str, int] = {}
        unique = list(names)
        repeated = []
        visible_first = sorted(range(len(names)), key=lambda index: hidden[index])
        for index in visible_first:
            name = names[index]
            key = match_key(name)
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:
                repeated.append(name)
                unique[index] = f"{name} ({seen[key]})"
        if repeated:
            self._notice("table.duplicate_header", _place(grid), table=grid.label,
                         headers=", ".join(repeated))
        return unique

    def _rows(self, grid: Grid, reader: BlockReader, rows: Iterator[GridRow],
              counter: _TableRows) -> Iterator[SourceRow]:
        count = 0
        for row in reader.rows(rows):
            count += 1
            counter.rows = count
            yield row
        counts = reader.counts
        log.debug(
            "table stream read",
            extra=fields(file=grid.file, sheet=grid.sheet, rows=count, blocks=counts.labels,
                         skipped=counts.skipped),
        )
        if counts.skipped:
            self._notice(
                "table.rows_skipped", _place(grid), table=grid.label,
                footers=counts.footers, headers=counts.repeated_headers,
                numbers=counts.column_numbers,
            )
        self._report_formulas(grid, reader.formulas)

    def _report_staff(self, grid: Grid, evidence: StaffEvidence) -> None:
        """Add the error notice for a table that lists staff, which a pupil adapter must not read.

        As an error, the notice also stops every end by absence in the run, so the pupils of
        the school whose staff list this is stay active.
        """
        columns = ", ".join(f'"{name}"' for name in evidence.columns)
        if evidence.title:
            self._notice("table.staff_list_title", _place(grid), level="error", table=grid.label,
                         title=evidence.title)
        else:
            self._notice("table.staff_list_columns", _place(grid), level="error",
                         table=grid.label, columns=columns)

    def _report_formulas(self, grid: Grid, formulas: UncalculatedCells) -> None:
        """Add a warning per read column with formula cells stored without a value, and one for the rest.

        Such a cell reads as empty. A row that needs a value there is rejected with a message
        that names the cell, and the other rows are read without it.
        """
        for column, found in formulas.by_column.items():
            self._notice("table.formula_not_calculated_column",
                         Place(file=grid.file, sheet=grid.sheet, row=found.row, column=column),
                         table=grid.label, column=column, count=found.count, cell=found.cell)
        other = formulas.other
        if other.count:
            self._notice("table.formula_not_calculated", _place(grid), table=grid.label,
                         file=grid.file, sheet=grid.sheet or "", count=other.count,
                         cell=other.cell)

    # Notices --------------------------------------------------------------------

    def _report_missing(self, file: str, kind: str, missing: list[tuple[str | None, bool]],
                        read: int, title_tables: int = 0) -> None:
        """Add the notices for the tables of ``file`` that had no header.

        ``title_tables`` of them named a school or a class that a later table took, so they
        were read as titles, not skipped.
        """
        level: Literal["warning", "error"] = "warning" if read else "error"
        headerless = [sheet for sheet, empty in missing if not empty]
        if (not read and kind == "csv" and Path(file).suffix.lower() in NOTE_SUFFIXES
                and not isinstance(self._source, SingleFile)):
            # A folder's notes ("Hướng dẫn.txt") are text files too, but not lists.
            self._notice("table.text_file_ignored", Place(file=file), file=file,
                         expected=self._expected())
            return
        if kind == "html":
            # Pages lay out titles and signatures in tables of their own.
            skipped = len(headerless) - title_tables
            if read and headerless:
                if skipped > 0:
                    self._notice("table.html_tables_skipped", Place(file=file), file=file,
                                 count=skipped)
            elif headerless:
                self._notice("table.no_header", Place(file=file), level="error", table=file,
                             expected=self._expected())
        else:
            for sheet in headerless:
                self._notice("table.no_header", Place(file=file, sheet=sheet), level=level,
                             table=table_label(file, sheet), expected=self._expected())
        if not read and not headerless and missing:
            self._notice("table.no_data", Place(file=file), level="error", file=file)

    def _report_empty(self, file: str, tables: list[_TableRows]) -> None:
        """Add a notice for each table of ``file`` that has a header but no row below it.

        A bulk snapshot without rows would end every record of the source, so
        a file none of whose tables has a row is an error, and the run ends no
        record for being absent. An empty table beside tables with rows (a
        class sheet with no pupils yet) is a warning.
        """
        level: Literal["warning", "error"] = (
            "warning" if any(table.rows for table in tables) else "error"
        )
        for table in tables:
            if not table.rows:
                self._notice("table.no_rows", Place(file=file, sheet=table.sheet), level=level,
                             table=table_label(file, table.sheet))

    def _report_unread(self, file: str, tables: list[_TableRows]) -> None:
        """Add one warning for ``file`` naming the columns under a read parent cell that no mapping reads."""
        unread = [table for table in tables if table.unread]
        if not unread:
            return
        pairs = dict.fromkeys(pair for table in unread for pair in table.unread)
        first = unread[0]
        self._notice("table.columns_not_read", Place(file=file, sheet=first.sheet),
                     file=file, table=first.label, row=first.header_row, count=len(unread),
                     columns=", ".join(f'"{name}"' for name, _ in pairs),
                     parents=", ".join(f'"{parent}"' for parent in
                                       dict.fromkeys(parent for _, parent in pairs)))

    def _expected(self) -> str:
        """Name the columns a header needs, as the mappings write them: required ones first.

        The adapter's own columns (``_block``, ``_sheet``) are left out, because no file has them.
        """
        labels = dict(self._hints.labels)
        keys = sorted(self._hints.required) + sorted(self._hints.columns - self._hints.required)
        names = [labels.get(key, key) for key in keys]
        shown = [name for name in dict.fromkeys(names) if not name.startswith("_")]
        return ", ".join(f'"{name}"' for name in shown[:_EXPECTED_NAMES])

    def _notice(self, key: str, place: Place, *, level: Literal["warning", "error"] = "warning",
                **params: object) -> None:
        self.notices.append(_table_notice(key, place, level, **params))


# A title line that names a class: "DANH SÁCH HỌC SINH LỚP 6A3 - NĂM HỌC 2025-2026".
_CLASS_TITLE = re.compile(r"\bl[oơớ]p\b\s*:?\s*\w", re.IGNORECASE)


class _PageTitles:
    """The school and class named in the title rows of the tables of one file, a table at a time.

    An HTML page often lays out its title in a table of its own above the list, or
    in headings outside tables (``Grid.page_text``). So there the school named in a
    table without a header goes to the next table with one. The last title line that
    names a class goes there too, as that table's block label when it has none of its
    own. Each worksheet and CSV file has its own title rows.
    """

    def __init__(self, kind: str):
        self._carries = kind == "html"
        self._carried = ""
        self._class_title: tuple[str, int | None] | None = None
        # Tables without a header that named the school or class of a later table.
        self.title_tables = 0
        self._pending_titles = 0

    def headerless(self, grid: Grid, window: list[GridRow]) -> None:
        """Note the school and class named in a table without a header, for the next table."""
        if not self._carries:
            return
        school = school_in_title(window)
        self._carried = school or school_in_texts(grid.page_text) or self._carried
        own_class = _class_title([(row.first_text(), row.line) for row in window
                                  if row.error is None and row.filled == 1])
        if own_class is not None or school:
            # Counted as a title table once a later table with a header takes its titles.
            self._pending_titles += 1
        page_class = _class_title([(text, None) for text in grid.page_text])
        self._class_title = own_class or page_class or self._class_title

    def label_header(self, grid: Grid, header: Header) -> None:
        """Set the block label of ``header``, when it has none, from a title line that names a class.

        The line comes from the page text right before the table, else from a table without a
        header since the previous list. The class mapping reads a class name from a label only
        where the label names one.
        """
        carried, self._class_title = self._class_title, None
        if not self._carries or header.label:
            return
        title = _class_title([(text, None) for text in grid.page_text]) or carried
        if title is not None:
            header.label, header.label_line = title

    def of_table(self, grid: Grid, window: list[GridRow], header_start: int) -> str:
        """Return the school named above the header that starts at ``window[header_start]``.

        The rows of the table come first, then the page text right before it, then
        the school carried from a table without a header.
        """
        school = (school_in_title(window[:header_start]) or school_in_texts(grid.page_text)
                  or self._carried)
        self._carried = ""
        self.title_tables += self._pending_titles
        self._pending_titles = 0
        return school


def _staff_evidence(grid: Grid, window: list[GridRow], index: int,
                    header: Header) -> StaffEvidence | None:
    """Return why the table whose header ends at ``window[index]`` lists staff, or ``None``.

    NOTE: a staff title in an HTML layout table of its own, above the list, is not read here,
    so such a page is judged by its columns alone.
    """
    above = window[:index + 1 - len(header.rows)]
    titles = [cell for row in above if row.error is None
              for column, cell in enumerate(row.cells) if cell and not row.is_continued(column)]
    titles.extend(grid.page_text)
    if grid.sheet and not grid.numbered:
        titles.append(grid.sheet)
    return staff_evidence(titles, header.names, window[index + 1:])


def _class_title(lines: list[tuple[str, int | None]]) -> tuple[str, int | None] | None:
    """Return the last of ``lines`` that names a class, with its line, or ``None``."""
    return next((line for line in reversed(lines) if _CLASS_TITLE.search(line[0])), None)


class _TableRejected(Exception):
    """Raised when a table with a header cannot be read safely; its notice is already added."""


@dataclass
class _TableRows:
    """The rows one table with a header has given so far, counted as they are read."""

    sheet: str | None
    rows: int = 0
    label: str = ""
    header_row: str = ""
    # (name, parent) of the columns that no mapping reads under a parent cell that one reads.
    unread: list[tuple[str, str]] = field(default_factory=list)


def _place(grid: Grid) -> Place:
    return Place(file=grid.file, sheet=grid.sheet)


def _table_notice(key: str, place: Place, level: Literal["warning", "error"],
                  **params: object) -> Notice:
    # INFO, not WARNING: the notice reaches the person through the run's report.
    log.info(
        "table notice", extra=fields(file=place.file, sheet=place.sheet, error=key, level=level)
    )
    return Notice(level, InputError(key, place=place, **params))


def _discard(notice: Notice) -> None:
    """Drop ``notice``: the pass that reads the titles first leaves the notices to the next one."""
