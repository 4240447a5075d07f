"""CSV files as grids: encoding and separator detected, records read by ``adapters.common.csvfile``.

The encoding is decided from the bytes before any line is split
(``adapters.common.encoding``). The separator is the one of ``,``, ``;`` and
TAB that gives the most lines of one width in the first 64 KiB. A comma
wins ties. Excel writes ``;`` where the system's decimal mark is a comma, as
in Vietnamese Windows, and TAB in "Unicode Text" (UTF-16) exports. Cells lose
the marks that keep a number as text in Excel (``'0123``, ``="0123"``).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from adapters.base import Limits, Notice

# NOTE: these private helpers are read_csv's record reader without its header
# rule (the first non-blank record). A table's header sits under titles, so the
# grid needs every record; a public read_records in csvfile would be cleaner.
from adapters.common.csvfile import (
    PrefixedReader,
    _physical_lines,
    _raise_field_size_limit,
    _Record,
    _records,
    max_line_chars,
)
from adapters.common.encoding import (
    CHUNK_BYTES,
    BinaryReader,
    DetectedEncoding,
    detect_encoding,
    mixed_other,
)
from adapters.table.grid import Grid, GridRow, unmark_text
from gateway.errors import InputError, Place
from gateway.text import clean_row

DELIMITERS = (",", ";", "\t")
_SAMPLE_LINES = 50

Opener = Callable[[], AbstractContextManager[BinaryReader]]
Notify = Callable[[Notice], None]


def csv_grids(open_file: Opener, file: str, limits: Limits, notify: Notify) -> Iterator[Grid]:
    """Yield the one grid of the CSV file that ``open_file`` opens.

    The file is opened twice: once to decide the encoding, once to read it.
    The returned grid's rows read from the second handle, which stays open
    until the generator resumes or closes.
    """
    with open_file() as handle:
        detected = detect_encoding(handle)
    notify_encoding(detected, file, notify)

    with open_file() as handle:
        head = handle.read(CHUNK_BYTES)
        delimiter = sniff_delimiter(head, detected.encoding)
        max_line = max_line_chars(limits)
        _raise_field_size_limit(max_line)
        lines = _physical_lines(PrefixedReader(head, handle), detected.encoding, max_line)
        records = _records(lines, file, detected.encoding, delimiter, max_line)
        properties = encoding_properties(detected) | {"format": "csv", "delimiter": delimiter}
        yield Grid(file=file, sheet=None, rows=_grid_rows(records), properties=properties,
                   strict_width=True)


def encoding_properties(detected: DetectedEncoding) -> dict[str, str]:
    """Return the ``Stream.properties`` entries that record how the encoding was chosen."""
    return {
        "encoding": detected.encoding,
        "encoding_bom": "true" if detected.bom else "false",
        "encoding_reason": detected.reason,
    }


def notify_encoding(detected: DetectedEncoding, file: str, notify: Notify) -> None:
    """Add a notice for a TCVN3, VNI or mixed file, an assumed Windows-1258 one, or bad UTF-8 bytes.

    The rows with such bytes become error rows, which carry no cells, so the
    run cannot tell whose records they are. The notice is an error, so that the
    run ends no record for being absent, and those pupils keep their records.
    """
    if detected.reason in ("tcvn3_pattern", "vni_pattern"):
        notify(Notice("warning", InputError(
            f"table.encoding_{detected.encoding}", place=Place(file=file), file=file,
        )))
    elif detected.reason == "mixed_lines":
        notify(Notice("warning", InputError(
            "table.encoding_mixed", place=Place(file=file), file=file,
            encoding=mixed_other(detected.encoding),
        )))
    elif detected.reason == "fallback":
        notify(Notice("warning", InputError(
            "table.encoding_fallback", place=Place(file=file), file=file,
            encoding=detected.encoding,
        )))
    elif detected.reason == "mostly_utf8":
        notify(Notice("error", InputError(
            "table.encoding_invalid_bytes", place=Place(file=file), file=file,
            count=detected.invalid_bytes,
        )))


def sniff_delimiter(head: bytes, encoding: str) -> str:
    """Return the separator of the CSV text whose first bytes are ``head``.

    Each candidate splits the first lines (quotes respected). The one whose
    most frequent width, above one cell, occurs on the most lines wins, then
    the wider of those. A comma wins when nothing splits.
    """
    lines = head.decode(encoding, errors="replace").splitlines()
    if len(head) >= CHUNK_BYTES:
        lines = lines[:-1]  # cut at the end of the chunk
    lines = [line for line in lines if line.strip()][:_SAMPLE_LINES]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        widths = Counter(
            len(cells) for cells in csv.reader(lines, delimiter=delimiter) if len(cells) > 1
        )
        if not widths:
            continue
        width, lines_of_width = widths.most_common(1)[0]
        if (lines_of_width, width) > best_score:
            best, best_score = delimiter, (lines_of_width, width)
    return best


def _grid_rows(records: Iterator[_Record]) -> Iterator[GridRow]:
    for record in records:
        if record.error is not None:
            yield GridRow(line=record.line, error=record.error)
        else:
            cells = [unmark_text(cell) for cell in clean_row(record.cells or [])]
            yield GridRow(line=record.line, cells=cells)
