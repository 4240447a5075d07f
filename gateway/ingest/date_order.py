"""Dates that read both day first and month first, in a column that writes month first.

A mapping reads text dates under explicit day-first formats (``%d/%m/%Y``). A column whose
values include one that only a month-first reading fits ("12/25/2013", rejected by the ``date``
step) comes from a product that writes month first. Its values whose day and month are both at
most 12 and differ ("03/04/2013") then cannot be read either way with confidence, and storing
them day first would swap the day and the month of most of them.

While staging, ``DateOrders`` counts such evidence per file, sheet and column and notes the
lines of the values that read both ways (``gateway.mapping.day_month.read_order``). Rows stream,
so the evidence may come after the rows it concerns. After staging, ``reject_unknown_order``
rejects the staged rows of those lines in the columns with evidence, as ``mark_duplicates``
rejects staged rows: each becomes a quarantine row and its key stays ``seen``. A row that gives
its stored record unchanged is not staged, as when the same list was ingested before its
evidence row was added. ``unchanged_unknown_order`` warns about such rows instead, because the
stored date may have its day and month swapped.

A column whose values only prove day first ("25/12/2013"), or that has no evidence either way,
is stored as read. A column with evidence of both orders is treated as month first for the
values that read both ways, because neither reading can be trusted there.

Memory: one bit per line of each checked column, as in ``Stager``'s record claims.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import peewee

from gateway.errors import InputError, Place, row_label, table_label
from gateway.ingest.stage import bit_is_set, reject_duplicate, set_bit
from gateway.mapping.day_month import EITHER, MONTH_FIRST, DayFirstColumn, read_order
from gateway.store.bulk import json_text, select_rows
from gateway.store.database import write_transaction
from gateway.store.models import Run, SeenRecord, StagedRecord

UNKNOWN_ORDER_KEY = "ingest.date_order_unknown"
UNCHANGED_KEY = "ingest.date_order_unknown_unchanged"
# How many rows the warning about unchanged records names, per column and entity.
EXAMPLE_ROWS = 3
# Staged rows read per query, so that memory stays bounded in a run of any size.
_CHUNK = 500

_ColumnKey = tuple[str | None, str | None, str]
"""A checked column: (file, sheet, header)."""


@dataclass
class _Column:
    """The findings of staging in one date column of one file and sheet."""

    # The stored field that each entity's mapping reads from the column.
    fields: dict[str, str] = field(default_factory=dict)
    evidence_count: int = 0
    evidence_row: int | None = None
    evidence_value: str = ""
    either_lines: bytearray = field(default_factory=bytearray)


class DateOrders:
    """The day-first date columns of one run: their month-first evidence, lines read both ways."""

    def __init__(self) -> None:
        self._columns: dict[_ColumnKey, _Column] = {}

    def note(self, file: str | None, sheet: str | None, entity: str, columns: list[DayFirstColumn],
             cells: list[str], line: int) -> None:
        """Classify the cells of one row in the mapping's day-first ``columns``."""
        for column in columns:
            value = cells[column.index] if column.index < len(cells) else ""
            order = read_order(value, column.formats)
            if order is None:
                continue
            found = self._columns.setdefault((file, sheet, column.header), _Column())
            found.fields.setdefault(entity, column.field)
            if order == EITHER:
                set_bit(found.either_lines, line)
            elif order == MONTH_FIRST:
                found.evidence_count += 1
                if found.evidence_row is None:
                    found.evidence_row, found.evidence_value = line, value.strip()

    def month_first(self) -> dict[_ColumnKey, _Column]:
        """Return the columns with month-first evidence and at least one value that reads both ways."""
        return {key: column for key, column in self._columns.items()
                if column.evidence_count and any(column.either_lines)}


def reject_unknown_order(db: peewee.Database, run: Run, orders: DateOrders) -> Counter[str]:
    """Reject the staged rows whose date reads both ways in a column that writes month first.

    Returns the count of rejections by reason. Rows that staging already rejected, repeated or
    gave unchanged have no staged ``upsert`` row and are left as they are.
    """
    rejected: Counter[str] = Counter()
    for (file, sheet, header), column in orders.month_first().items():
        for entity, field_name in column.fields.items():
            params = {"column": header, "table": table_label(file or "", sheet),
                      "count": column.evidence_count, "evidence_row": column.evidence_row,
                      "evidence_value": column.evidence_value}
            for rows in _staged_chunks(db, run, entity, file, sheet):
                marked = [row for row in rows
                          if bit_is_set(column.either_lines, int(json.loads(row[1]).get("row") or 0))]
                with write_transaction(db):
                    for staged_id, place_text, data in marked:
                        _reject(run, staged_id, entity, place_text, data, field_name, header,
                                params)
                rejected[UNKNOWN_ORDER_KEY] += len(marked)
    return rejected


def unchanged_unknown_order(db: peewee.Database, run: Run, orders: DateOrders) -> list[InputError]:
    """Return a warning per column and entity about rows that gave a stored record unchanged.

    Such a row's date reads both ways in a column that writes month first, but the row has no
    staged row to reject (``SeenRecord``): its record keeps the date that an earlier run stored
    day first. Each warning gives the count and the first rows.
    """
    warnings = []
    for (file, sheet, header), column in orders.month_first().items():
        for entity in column.fields:
            rows = _seen_rows(db, run, entity, file, sheet, column.either_lines)
            if not rows:
                continue
            warnings.append(InputError(
                UNCHANGED_KEY, place=Place(file=file, sheet=sheet), entities=entity,
                count=len(rows), column=header, table=table_label(file or "", sheet),
                rows="; ".join(row_label(file, sheet, row) for row in rows[:EXAMPLE_ROWS]),
                evidence_row=column.evidence_row, evidence_value=column.evidence_value))
    return warnings


def _seen_rows(db: peewee.Database, run: Run, entity: str, file: str | None, sheet: str | None,
               lines: bytearray) -> list[int]:
    """Return the rows of ``file`` and ``sheet`` on the marked ``lines`` that gave ``entity`` unchanged."""
    sql = (f"SELECT record_id, place FROM {SeenRecord._meta.table_name} "
           f"WHERE run_id = ? AND entity = ? AND place <> '' "
           f"AND {_place_test(db, sheet)} AND record_id > ? ORDER BY record_id LIMIT {_CHUNK}")
    found: list[int] = []
    last_id = 0
    while True:
        params: list[Any] = [run.id, entity, file, *([sheet] if sheet is not None else []), last_id]
        chunk = select_rows(db, sql, params)
        if not chunk:
            return sorted(found)
        last_id = chunk[-1][0]
        for _, place in chunk:
            row = int(json.loads(place).get("row") or 0)
            if bit_is_set(lines, row):
                found.append(row)


def _place_test(db: peewee.Database, sheet: str | None) -> str:
    """Return SQL that tests the file, then the sheet, of the JSON ``place`` column."""
    sheet_test = (f"{json_text(db, 'place', 'sheet')} = ?" if sheet is not None
                  else f"{json_text(db, 'place', 'sheet')} IS NULL")
    return f"{json_text(db, 'place', 'file')} = ? AND {sheet_test}"


def _staged_chunks(db: peewee.Database, run: Run, entity: str, file: str | None,
                   sheet: str | None) -> Iterator[list[tuple[int, str, str | None]]]:
    """Yield the staged upserts of ``entity`` from ``file`` and ``sheet``, in chunks by id."""
    sql = (f"SELECT id, place, data FROM {StagedRecord._meta.table_name} "
           f"WHERE run_id = ? AND entity = ? AND action = 'upsert' "
           f"AND {_place_test(db, sheet)} AND id > ? ORDER BY id LIMIT {_CHUNK}")
    last_id = 0
    while True:
        params: list[Any] = [run.id, entity, file, *([sheet] if sheet is not None else []), last_id]
        rows = select_rows(db, sql, params)
        if not rows:
            return
        last_id = rows[-1][0]
        yield [(int(staged_id), str(place), data) for staged_id, place, data in rows]


def _reject(run: Run, staged_id: int, entity: str, place_text: str, data: str | None,
            field_name: str, header: str, params: dict[str, Any]) -> None:
    """Quarantine one staged row with both readings of its date and keep its key as seen."""
    day_first = _field_value(data, field_name)
    readings = {"value": _shown(day_first), "day_first": day_first,
                "month_first": _swapped(day_first)}
    file = json.loads(place_text).get("file")
    reject_duplicate(run, staged_id, entity, place_text, data, field_name, UNKNOWN_ORDER_KEY,
                     {(file, entity, field_name): header}, {**readings, **params})


def _field_value(data: str | None, field_name: str) -> str:
    """Return the ISO date at the dotted ``field_name`` of a staged record's JSON ``data``."""
    value: Any = json.loads(data or "{}")
    for part in field_name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return str(value or "")


def _swapped(iso: str) -> str:
    try:
        day = date.fromisoformat(iso)
    except ValueError:
        return ""
    return date(day.year, day.day, day.month).isoformat()


def _shown(iso: str) -> str:
    """Write an ISO date day first, as the column's day-first format reads it: ``03/04/2013``."""
    try:
        return date.fromisoformat(iso).strftime("%d/%m/%Y")
    except ValueError:
        return iso
