"""Streaming CSV reading for adapters.

``read_csv`` reads a binary file object one chunk at a time and returns the
header and an iterator of ``SourceRow``, so memory stays flat in the number of
rows. It accepts CRLF, LF and lone CR line ends mixed in one file. Quoted cells
may span lines. Each row carries the 1-based physical line where its
record starts, and each cell is passed through ``gateway.text.clean``.

A problem confined to one record becomes a ``SourceRow`` with ``error`` set,
and reading goes on with the next record:

- ``csv.too_many_cells``: more cells than header columns (fewer are padded
  with empty strings, because producers drop trailing empty cells);
- ``table.cell_too_long``: a cell longer than ``Limits.max_cell_chars``. The key is the one
  every table format uses (``adapters.table.blocks``), so it does not name CSV;
- ``csv.invalid_encoding``: bytes that do not decode in the file's encoding;
- ``csv.line_too_long``: a physical line longer than ``max_line_chars``;
- ``csv.unterminated_quote`` and ``csv.malformed``: a quoted cell that never
  closes. Reading resumes at the line after the start of the broken record,
  so the lines a stray quote swallowed are read again as records.

Error rows carry no cells: when the cell count is wrong, dropping columns by
position could let a password through. A file whose header cannot be read
raises ``InputError``.

Formats that require comma-separated UTF-8 (OneRoster) ask ``read_csv`` to
reject a whole file that is in another encoding (``csv.not_utf8``) or whose
header is separated by semicolons or tabs (``csv.wrong_separator``), as Excel
saves a CSV on a Vietnamese Windows. Read line by line, such a file would give
one rejection per row, or one column named ``sourcedId;status;...``.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from adapters.base import Limits, SourceRow
from adapters.common.encoding import foreign_encoding
from gateway.errors import InputError, Place, RowError
from gateway.text import clean, clean_row, match_key

DEFAULT_ENCODING = "utf-8-sig"
_CHUNK_BYTES = 1 << 16
# Universal line ends, as editors count lines. The csv module treats only these
# two characters as line ends, so U+2028 and friends stay inside cells.
_LINE_END = re.compile(r"\r\n|\r|\n")

# Bytes that do not decode are replaced by a lone surrogate. Strict decoding
# never produces one, so its presence marks the line as invalid.
_INVALID_MARK = "\udcff"
# Names people know for the codecs that ``foreign_encoding`` returns.
_FOREIGN_ENCODING_NAMES = {
    "utf-16": "UTF-16", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16",
    "cp1258": "Windows-1258", "tcvn3": "TCVN3", "vni": "VNI-Windows",
}
# The separators that spreadsheets write instead of commas, with the name a message gives them.
_OTHER_SEPARATORS = {";": ";", "\t": "Tab"}
_ERROR_HANDLER = "gateway-csv-mark-invalid"


def _mark_invalid(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return _INVALID_MARK, error.end


codecs.register_error(_ERROR_HANDLER, _mark_invalid)


class BinaryReader(Protocol):
    """A file object opened in binary mode; only ``read`` is used."""

    def read(self, size: int = -1, /) -> bytes: ...


KeptColumns = Callable[[Sequence[str]], list[int]]


def keep_named_columns(headers: Sequence[str]) -> list[int]:
    """Return the indexes of the headers that are not empty."""
    return [i for i, header in enumerate(headers) if match_key(header)]


@dataclass
class CsvTable:
    """A CSV file opened for reading: its kept headers and a lazy iterator of its rows.

    ``rows`` reads from the underlying file object, so the caller keeps that
    open until the iterator is exhausted or dropped.
    """

    file: str
    headers: list[str]
    rows: Iterator[SourceRow]
    header_line: int


def encoding_label(encoding: str) -> str:
    """Return the name of ``encoding`` as people know it (``UTF-8`` for ``utf-8-sig``)."""
    name = codecs.lookup(encoding).name
    return "UTF-8" if name in ("utf-8", "utf-8-sig") else name


def max_line_chars(limits: Limits) -> int:
    """Return the longest physical line accepted, in characters.

    Long enough for several maximum-size cells on one line, and at least one
    million characters, so that a file without line ends cannot fill memory.
    """
    return max(1_000_000, 4 * limits.max_cell_chars)


def read_csv(
    handle: BinaryReader,
    *,
    file: str,
    limits: Limits,
    kept_columns: KeptColumns = keep_named_columns,
    encoding: str = DEFAULT_ENCODING,
    delimiter: str = ",",
    unique_headers: bool = True,
    require_utf8_commas: bool = False,
) -> CsvTable:
    """Read the header of ``handle`` and return it with an iterator of the rows.

    ``file`` names the file in messages. ``kept_columns`` selects the columns
    to keep from the cleaned header, and the others never leave this function.
    An adapter passes its own ``kept_columns``, which drops empty names and
    ``never_keep``. ``encoding`` is a Python codec name. The default decodes
    UTF-8 and strips a byte order mark.

    Raises ``InputError`` when the file has no header, the header cannot be
    read, no column is kept, or (with ``unique_headers``) two kept headers
    have the same ``match_key``. With ``require_utf8_commas``, it also raises
    ``csv.not_utf8`` when the first chunk is in another encoding and
    ``csv.wrong_separator`` when the header is separated by ``;`` or Tab.
    """
    max_line = max_line_chars(limits)
    _raise_field_size_limit(max_line)
    if require_utf8_commas:
        handle = _check_utf8(handle, file)
    lines = _physical_lines(handle, encoding, max_line)
    records = _records(lines, file, encoding, delimiter, max_line)

    header = _read_header(records, file)
    raw_headers = [clean(cell) for cell in header.cells or []]
    if require_utf8_commas:
        _check_separator(raw_headers, file)
    keep = kept_columns(raw_headers)
    if not keep:
        raise InputError("csv.no_columns", place=Place(file=file), file=file)
    headers = [raw_headers[i] for i in keep]
    if unique_headers:
        _check_unique(headers, keep, file)

    rows = _rows(records, file, raw_headers, keep, limits.max_cell_chars, delimiter)
    return CsvTable(file=file, headers=headers, rows=rows, header_line=header.line)


def _check_utf8(handle: BinaryReader, file: str) -> BinaryReader:
    """Raise ``csv.not_utf8`` when the file starts in another encoding; return a reader of it all."""
    head = handle.read(_CHUNK_BYTES)
    found = foreign_encoding(head)
    if found is None:
        return PrefixedReader(head, handle)
    encoding = _FOREIGN_ENCODING_NAMES.get(found, found)
    first_line = next(iter(head.decode(found, errors="replace").splitlines()), "")
    separator = _other_separator(list(csv.reader([first_line]))[0] if first_line else [])
    if separator is not None:
        # Excel on a Vietnamese Windows saves both: its code page and its list separator.
        raise InputError("csv.not_utf8_separator", place=Place(file=file), file=file,
                         encoding=encoding, separator=separator)
    raise InputError("csv.not_utf8", place=Place(file=file), file=file, encoding=encoding)


def _check_separator(raw_headers: list[str], file: str) -> None:
    """Raise ``csv.wrong_separator`` when the header is names joined by ``;`` or Tab in one cell."""
    separator = _other_separator(raw_headers)
    if separator is not None:
        raise InputError("csv.wrong_separator", place=Place(file=file), file=file,
                         separator=separator)


def _other_separator(header_cells: list[str]) -> str | None:
    """Return ``;`` or ``Tab`` when the header's only named cell splits on it into several names."""
    named = [cell for cell in header_cells if cell.strip()]
    if len(named) != 1:
        return None
    for separator, name in _OTHER_SEPARATORS.items():
        if len([part for part in named[0].split(separator) if part.strip()]) >= 2:
            return name
    return None


class PrefixedReader:
    """A binary reader that returns ``head`` first, then the rest of ``handle``.

    Readers that look at the first chunk of a stream before parsing it give it back this way.
    """

    def __init__(self, head: bytes, handle: BinaryReader):
        self._head = head
        self._handle = handle

    def read(self, size: int = -1, /) -> bytes:
        if not self._head:
            return self._handle.read(size)
        if size < 0:
            data, self._head = self._head + self._handle.read(), b""
            return data
        data, self._head = self._head[:size], self._head[size:]
        return data


def _raise_field_size_limit(wanted: int) -> None:
    # The csv module's limit is process-wide, so it is only ever raised here. At
    # the maximum line length, a long cell on one line gets the precise
    # table.cell_too_long, and only a quoted cell running over many lines hits it.
    if csv.field_size_limit() < wanted:
        csv.field_size_limit(wanted)


def _read_header(records: Iterator[_Record], file: str) -> _Record:
    for record in records:
        if record.error is not None:
            raise InputError(
                "csv.header_unreadable", place=Place(file=file, row=record.line),
                file=file, line=record.line,
            ) from record.error
        if record.cells is not None and not _is_blank(record.cells):
            return record
    raise InputError("csv.empty", place=Place(file=file), file=file)


def _check_unique(headers: list[str], keep: list[int], file: str) -> None:
    seen: dict[str, int] = {}
    for position, header in enumerate(headers):
        key = match_key(header)
        if key in seen:
            columns = f"{keep[seen[key]] + 1}, {keep[position] + 1}"
            raise InputError(
                "csv.duplicate_header", place=Place(file=file, column=header),
                file=file, header=header, columns=columns,
            )
        seen[key] = position


def _rows(
    records: Iterator[_Record],
    file: str,
    raw_headers: list[str],
    keep: list[int],
    max_cell: int,
    delimiter: str = ",",
) -> Iterator[SourceRow]:
    width = len(raw_headers)
    all_kept = keep == list(range(width))
    for record in records:
        if record.error is not None:
            yield SourceRow(line=record.line, error=record.error)
            continue
        cells = record.cells or []
        # One joined text serves both checks: whether the row is blank, and whether a cell
        # can be too long.
        joined = "".join(cells)
        if not joined or joined.isspace():
            continue
        if len(cells) > width or (len(joined) > max_cell and max(map(len, cells)) > max_cell):
            error = _row_error(cells, file, record.line, raw_headers, max_cell, delimiter)
            if error is not None:
                yield SourceRow(line=record.line, error=error)
                continue
        if len(cells) < width:
            cells.extend([""] * (width - len(cells)))
        kept = cells if all_kept else [cells[i] for i in keep]
        yield SourceRow(line=record.line, cells=clean_row(kept))


def too_many_cells(place: Place, cells: int, columns: int, delimiter: str) -> RowError:
    """Return the error of a row with more cells than the header, naming the file's separator."""
    return RowError("csv.too_many_cells", place=place, cells=cells, columns=columns,
                    separator="Tab" if delimiter == "\t" else delimiter)


def _row_error(
    cells: list[str], file: str, line: int, raw_headers: list[str], max_cell: int,
    delimiter: str = ",",
) -> RowError | None:
    place = Place(file=file, row=line)
    if len(cells) > len(raw_headers):
        return too_many_cells(place, len(cells), len(raw_headers), delimiter)
    for index, cell in enumerate(cells):
        if len(cell) > max_cell:
            column = raw_headers[index] or str(index + 1)
            return RowError(
                "table.cell_too_long", place=place.with_(column=column),
                column=column, chars=len(cell), limit=max_cell,
            )
    return None


def _is_blank(cells: list[str]) -> bool:
    joined = "".join(cells)
    return not joined or joined.isspace()


# Physical lines -------------------------------------------------------------


@dataclass(slots=True)
class _Line:
    number: int
    text: str
    problem: str | None = None  # "invalid" (undecodable bytes) or "too_long"


def _physical_lines(handle: BinaryReader, encoding: str, max_chars: int) -> Iterator[_Line]:
    """Decode ``handle`` incrementally and yield its lines with their line ends.

    A line longer than ``max_chars`` is discarded up to its line end and
    yielded as an empty line marked ``too_long``.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors=_ERROR_HANDLER)
    number = 1
    pending = ""
    skipping = False
    while True:
        chunk = handle.read(_CHUNK_BYTES)
        final = not chunk
        text = pending + decoder.decode(chunk, final)
        if not skipping and _splits_at_newlines(text):
            # Most chunks: LF or CRLF line ends only and every byte decoded.
            parts = text.split("\n")
            pending = parts.pop()
            for part in parts:
                if len(part) >= max_chars:
                    yield _Line(number, "\n", "too_long")
                else:
                    yield _Line(number, part + "\n")
                number += 1
        else:
            start = 0
            for match in _LINE_END.finditer(text):
                # A CR at the end of a chunk may be the first half of a CRLF.
                if match.group() == "\r" and match.end() == len(text) and not final:
                    break
                line = text[start:match.end()]
                if skipping or len(line) > max_chars:
                    skipping = False
                    yield _Line(number, "\n", "too_long")
                else:
                    yield _line(number, line)
                number += 1
                start = match.end()
            pending = "" if skipping else text[start:]

        if len(pending) > max_chars:
            pending, skipping = "", True
        if final:
            if skipping:
                yield _Line(number, "\n", "too_long")
            elif pending:
                yield _line(number, pending)
            return


def _splits_at_newlines(text: str) -> bool:
    """Tell whether ``text`` has no undecodable byte and no CR outside a CRLF."""
    return _INVALID_MARK not in text and ("\r" not in text or text.count("\r") == text.count("\r\n"))


def _line(number: int, text: str) -> _Line:
    return _Line(number, text, "invalid" if _INVALID_MARK in text else None)


# Records --------------------------------------------------------------------


@dataclass(slots=True)
class _Record:
    line: int
    cells: list[str] | None = None
    error: RowError | None = None


class _UnterminatedQuote(Exception):
    """Raised by ``_Feed`` when the input ends inside a quoted cell."""


class _Feed:
    """The line iterator of ``csv.reader``, which keeps the lines of the record in progress.

    ``csv.reader`` requests another line in the middle of a record only when a
    quoted cell spans the line end. At the end of input, that means the quote
    never closed. ``push_back`` lets the caller read lines again after an error.
    """

    def __init__(self, lines: Iterator[_Line]):
        self._lines = lines
        self._again: deque[_Line] = deque()
        self.current: list[_Line] = []

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        line = self._again.popleft() if self._again else next(self._lines, None)
        if line is None:
            if self.current:
                raise _UnterminatedQuote
            raise StopIteration
        self.current.append(line)
        return line.text

    def take(self) -> list[_Line]:
        lines, self.current = self.current, []
        return lines

    def push_back(self, lines: list[_Line]) -> None:
        self._again.extendleft(reversed(lines))


def _records(
    lines: Iterator[_Line], file: str, encoding: str, delimiter: str, max_chars: int
) -> Iterator[_Record]:
    feed = _Feed(lines)
    reader = _reader(feed, delimiter)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except (csv.Error, _UnterminatedQuote) as error:
            consumed = feed.take()
            if not consumed:
                return
            # Read again from the line after the record start: when a stray
            # quote swallowed the following lines, they are records of their own.
            feed.push_back(consumed[1:])
            reader = _reader(feed, delimiter)
            key = "csv.malformed"
            if isinstance(error, _UnterminatedQuote):
                key = "csv.unterminated_quote"
            line = consumed[0].number
            yield _Record(line, error=RowError(key, place=Place(file=file, row=line), line=line))
            continue

        consumed = feed.take()
        line = consumed[0].number if consumed else 0
        yield _Record(line, cells=cells, error=_line_error(consumed, file, encoding, max_chars))


def _reader(feed: _Feed, delimiter: str) -> Iterator[list[str]]:
    # Not strict: a quote inside an unquoted cell (ab"c) is kept as text, as spreadsheets do.
    return csv.reader(feed, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)


def _line_error(lines: list[_Line], file: str, encoding: str, max_chars: int) -> RowError | None:
    if len(lines) == 1 and lines[0].problem is None:
        return None
    for line in lines:
        if line.problem is None:
            continue
        place = Place(file=file, row=lines[0].number)
        if line.problem == "too_long":
            return RowError("csv.line_too_long", place=place, line=line.number, limit=max_chars)
        return RowError(
            "csv.invalid_encoding", place=place, line=line.number, encoding=encoding_label(encoding)
        )
    return None
