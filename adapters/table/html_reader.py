"""HTML tables as grids: the "Excel" files that vnEdu and other products export.

Such a file is an HTML page saved with an ``.xls`` extension. It is parsed with
lxml's HTML parser as a stream of ``<tr>`` elements, each cleared once read,
so memory does not grow with the rows. Each ``<table>`` is one grid:

- ``colspan`` repeats the cell's text in every column it spans. The copies
  are marked as continued, so a label spanning the row counts as one cell;
- ``rowspan`` copies the cell's text down into the rows it spans;
- ``<br>``, ``<p>`` and ``<div>`` inside a cell become a space, and runs of
  white space collapse to one, as a browser shows them;
- a row that contains a nested table is layout, not data, and is skipped.
  The nested table is a grid of its own.

The text of the headings, paragraphs and ``<div>`` elements outside any table
(at most ``MAX_PAGE_LINES``, the last ones) before a table goes with that
table's grid as ``page_text``, because a page may write its title there
("TRƯỜNG TH AN BÌNH") and not in the table.

A grid's ``sheet`` is the table's ``<caption>`` when it has one. Otherwise the
grid is marked ``numbered``, and the package numbers it among the tables of the
file that have a header, because title, signature and layout tables are tables
too, and a number among all ``<table>`` elements matches nothing the user sees.

A row's line is its position among all ``<tr>`` of the file, 1-based: the row
number Excel shows when the page holds only tables. The encoding comes from
``adapters.common.encoding``, with the page's ``<meta charset>`` used when the
bytes are not UTF-8. The text is re-encoded as UTF-8 before lxml reads it, with
U+FFFD for each byte that does not decode, and a row with a U+FFFD in a cell is
an error row (``table.row_invalid_encoding``). Cells lose the apostrophe that
marks a number as text (``'0123``).

Excel saves a formula cell as a ``<td>`` with the formula in an ``x:fmla`` attribute and its
value as the cell's text. A cell with the attribute and no text is a formula whose value the
writer did not store, and is marked in ``GridRow.uncalculated``, unless an ``x:str``
attribute marks its value as a text, which may be empty.
NOTE: how Excel writes a formula whose value is an empty text was not checked against a file
that Excel saved. Without ``x:str`` such a cell is marked.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from lxml import etree

from adapters.base import Notice
from adapters.common.encoding import CHUNK_BYTES, BinaryReader, Utf8Recoder, detect_encoding
from adapters.table.csv_reader import encoding_properties, notify_encoding
from adapters.table.grid import Grid, GridRow, unmark_text
from gateway.errors import InputError, Place, RowError
from gateway.text import clean, collapse_spaces

Opener = Callable[[], AbstractContextManager[BinaryReader]]
Notify = Callable[[Notice], None]

# The HTML standard clamps colspan at 1000 and rowspan at 65534.
MAX_COLSPAN = 1000
MAX_ROWSPAN = 65534
# Excel's column limit: a wider row is an error row, not a memory cost.
MAX_COLUMNS = 16384
_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_SPACED_TAGS = ("br", "p", "div")
# Elements outside tables whose text may be the title of the next table.
_PAGE_TEXT_TAGS = ("p", "div", "center", "h1", "h2", "h3", "h4", "h5", "h6")
# A title is a few lines, so only the last lines before a table are kept.
MAX_PAGE_LINES = 20
_REPLACEMENT = "\ufffd"
# The attributes in which Excel's "Web Page" format keeps a cell's formula, and marks its
# value as a text.
_FORMULA_ATTRIBUTE = "x:fmla"
_TEXT_ATTRIBUTE = "x:str"


def html_grids(open_file: Opener, file: str, notify: Notify) -> Iterator[Grid]:
    """Yield one grid per ``<table>`` of the HTML file that ``open_file`` opens.

    Tables come in document order; a grid's rows must be read before the next
    grid is requested. A file without any table becomes an error notice.
    """
    with open_file() as handle:
        head = handle.read(CHUNK_BYTES)
    match = _CHARSET.search(head)
    declared = match.group(1).decode("ascii") if match else None
    with open_file() as handle:
        detected = detect_encoding(handle, declared=declared)
    notify_encoding(detected, file, notify)

    properties = encoding_properties(detected) | {"format": "html"}
    count = 0
    with open_file() as handle:
        parser = _TableParser(Utf8Recoder(handle, detected.encoding), file, detected.encoding)
        for number, caption, rows in parser.tables():
            count += 1
            yield Grid(file=file, sheet=caption or str(number), rows=rows,
                       properties=dict(properties), numbered=not caption,
                       page_text=parser.page_text(number))
    if count == 0:
        notify(Notice("error", InputError("table.html_no_table", place=Place(file=file), file=file)))


@dataclass
class _TableState:
    number: int
    # Column -> (rows still to fill, text, continued, a formula without its value) for cells
    # spanning rows down.
    carried: dict[int, tuple[int, str, bool, bool]] = field(default_factory=dict)


class _TableParser:
    def __init__(self, source: Utf8Recoder, file: str, encoding: str):
        self._file = file
        self._encoding = encoding
        self._events = etree.iterparse(
            source, events=("start", "end"), tag=("table", "tr", "caption", *_PAGE_TEXT_TAGS),
            html=True, encoding="utf-8", remove_comments=True, remove_pis=True,
        )
        self._line = 0
        self._tables = 0
        self._peeked: tuple[int, GridRow] | None = None
        # Table number -> text of its <caption>, which comes before the table's rows.
        self._captions: dict[int, str] = {}
        # Table number -> the page text right before the table, outside any table.
        self._page_text: dict[int, list[str]] = {}

    def tables(self) -> Iterator[tuple[int, str, Iterator[GridRow]]]:
        """Yield (table number, caption, rows) per table that has rows, in document order."""
        items = self._items()
        self._peeked = next(items, None)
        while self._peeked is not None:
            number = self._peeked[0]
            caption = self._captions.get(number, "")
            rows = self._rows_of(number, items)
            yield number, caption, rows
            for _ in rows:  # rows the caller left unread
                pass

    def page_text(self, number: int) -> list[str]:
        """Return the page text before table ``number`` once; the table's first row must be read."""
        return self._page_text.pop(number, [])

    def _rows_of(self, number: int, items: Iterator[tuple[int, GridRow]]) -> Iterator[GridRow]:
        while self._peeked is not None and self._peeked[0] == number:
            row = self._peeked[1]
            self._peeked = next(items, None)
            yield row

    def _items(self) -> Iterator[tuple[int, GridRow]]:
        """Yield (table number, row) for every ``<tr>``, freeing each element once read."""
        stack: list[_TableState] = []
        page: deque[str] = deque(maxlen=MAX_PAGE_LINES)
        for event, element in self._events:
            if element.tag == "table":
                if event == "start":
                    self._tables += 1
                    stack.append(_TableState(self._tables))
                    if len(stack) == 1:
                        self._page_text[self._tables] = list(page)
                        page.clear()
                else:
                    stack.pop()
                    _free(element)
                continue
            if event != "end":
                continue
            if element.tag in _PAGE_TEXT_TAGS:
                # A cell's paragraphs are read with its row. An element around a table
                # ends after it, and its text is not a title.
                if not stack and element.find(".//table") is None:
                    page.extend(_page_lines(element))
                continue
            if element.tag == "caption":
                if stack:
                    self._captions[stack[-1].number] = _cell_text(element)
                _free(element)
                continue
            self._line += 1
            if stack and element.find(".//table") is None:
                yield stack[-1].number, self._row(stack[-1], element)
            _free(element)

    def _row(self, table: _TableState, element: etree._Element) -> GridRow:
        cells: list[str] = []
        continued: list[bool] = []
        formulas: set[int] = set()
        carried, table.carried = table.carried, {}

        def take_carried(column: int) -> None:
            remaining, text, repeat, formula = carried[column]
            if formula:
                formulas.add(len(cells))
            cells.append(text)
            continued.append(repeat)
            if remaining > 1:
                table.carried[column] = (remaining - 1, text, repeat, formula)

        for cell in element:
            if cell.tag not in ("td", "th"):
                continue
            while len(cells) in carried:
                take_carried(len(cells))
            text = _cell_text(cell)
            formula = (not text and cell.get(_FORMULA_ATTRIBUTE) is not None
                       and cell.get(_TEXT_ATTRIBUTE) is None)
            rowspan = _span(cell.get("rowspan"), MAX_ROWSPAN)
            for offset in range(_span(cell.get("colspan"), MAX_COLSPAN)):
                if rowspan > 1:
                    table.carried[len(cells)] = (rowspan - 1, text, offset > 0, formula)
                if formula:
                    formulas.add(len(cells))
                cells.append(text)
                continued.append(offset > 0)
            if len(cells) > MAX_COLUMNS:
                return self._too_wide(len(cells))

        for column in sorted(c for c in carried if c >= len(cells)):
            while len(cells) < column:
                cells.append("")
                continued.append(False)
            take_carried(column)
        if any(_REPLACEMENT in cell for cell in cells):
            return self._undecodable()
        return GridRow(line=self._line, cells=cells, continued=continued,
                       uncalculated=frozenset(formulas) if formulas else None)

    def _too_wide(self, columns: int) -> GridRow:
        place = Place(file=self._file, row=self._line)
        error = RowError("table.row_too_wide", place=place, columns=columns, limit=MAX_COLUMNS)
        return GridRow(line=self._line, error=error)

    def _undecodable(self) -> GridRow:
        # Utf8Recoder turns bytes that do not decode into U+FFFD. A name with
        # one is garbled, so the row is rejected rather than stored.
        place = Place(file=self._file, row=self._line)
        error = RowError("table.row_invalid_encoding", place=place, line=self._line,
                         encoding=self._encoding)
        return GridRow(line=self._line, error=error)


def _cell_text(cell: etree._Element) -> str:
    for inner in cell.iter(*_SPACED_TAGS):
        inner.tail = " " + (inner.tail or "")
        if inner.tag != "br":
            inner.text = " " + (inner.text or "")
    return unmark_text(clean(collapse_spaces("".join(cell.itertext()))))


def _page_lines(element: etree._Element) -> list[str]:
    """Return the non-empty lines of an element outside tables: ``<br>`` and inner blocks end a line."""
    for inner in element.iter("br", *_PAGE_TEXT_TAGS):
        if inner is element:
            continue
        inner.tail = "\n" + (inner.tail or "")
        if inner.tag != "br":
            inner.text = "\n" + (inner.text or "")
    lines = (clean(collapse_spaces(line)) for line in "".join(element.itertext()).split("\n"))
    return [line for line in lines if line]


def _span(value: str | None, limit: int) -> int:
    """Return a span attribute as a count from 1 to ``limit``; anything unreadable is 1."""
    try:
        span = int((value or "1").strip())
    except ValueError:
        return 1
    return min(max(span, 1), limit)


def _free(element: etree._Element) -> None:
    """Clear ``element`` and drop the siblings read before it, so the tree stays small."""
    element.clear(keep_tail=True)
    parent = element.getparent()
    while parent is not None and element.getprevious() is not None:
        del parent[0]
