"""A warning about new ids that may have lost their leading zeros in a list whose other ids kept them.

Excel drops the leading zeros of a code in a General or Number cell: "0920113001" becomes
"920113001". When a school's list has most of its pupil codes as text and one pupil added in a
cell of the wrong format, that pupil is stored under the short code without a warning. The
corrected list takes the record over later (compare's zero probe), but until then the city
hub reads the wrong code.

The ids of one entity and school in a run show what the codes look like. When most of them
have one length and most of those start with a zero, a new digit-only id one or two digits
shorter, without a leading zero, is counted, and the run warns once per entity with an
example. It is a warning, never a rejection: the Ministry publishes no length for its codes,
so a shorter code may be right.
"""

from __future__ import annotations

from dataclasses import dataclass

import peewee

from gateway.store.bulk import select_rows
from gateway.store.database import is_sqlite
from gateway.store.models import Run

# How many ids of the common length a school's rows need before shorter ones look suspect.
MIN_COMMON = 3


@dataclass
class ShortIds:
    """The new ids of one entity that may have lost their zeros: how many, and one example."""

    count: int
    short: str
    common: str


def find_short_ids(db: peewee.Database, run: Run) -> dict[str, ShortIds]:
    """Return, per entity, the run's new digit-only ids that look like ids without their zeros."""
    found: dict[str, ShortIds] = {}
    for (entity, school), lengths in _lengths(db, run).items():
        common_length, (count, zeros, example) = max(lengths.items(), key=lambda item: item[1][0])
        if count < MIN_COMMON or 2 * zeros < count:
            continue
        shorter = [length for length in (common_length - 1, common_length - 2) if length in lengths]
        if not shorter:
            continue
        short = _new_short_ids(db, run, entity, school, shorter)
        if not short:
            continue
        previous = found.get(entity)
        if previous is None:
            found[entity] = ShortIds(len(short), short[0], example)
        else:
            previous.count += len(short)
    return found


def _digits(db: peewee.Database, column: str) -> str:
    """Return SQL that is true when ``column`` contains one or more digits and nothing else."""
    if is_sqlite(db):
        return f"({column} <> '' AND {column} NOT GLOB '*[^0-9]*')"
    return f"({column} ~ '^[0-9]+$')"


def _lengths(db: peewee.Database, run: Run) -> dict[tuple[str, str | None], dict[int, tuple[int, int, str]]]:
    """Return per entity and school: per id length, the ids, those with a leading zero, an example.

    The ids are the digit-only local ids of the run's rows: the staged ones and the records
    that rows gave unchanged.
    """
    sql = (
        "SELECT entity, scope_school, LENGTH(local_id), COUNT(*), "
        "SUM(CASE WHEN SUBSTR(local_id, 1, 1) = '0' THEN 1 ELSE 0 END), MIN(local_id) FROM ("
        "SELECT s.entity AS entity, s.scope_school AS scope_school, s.local_id AS local_id "
        f"FROM staged_record s WHERE s.run_id = ? AND s.action = 'upsert' AND {_digits(db, 's.local_id')} "
        "UNION ALL SELECT r.entity, r.scope_school, r.local_id FROM seen_record v "
        f"JOIN record r ON r.id = v.record_id WHERE v.run_id = ? AND {_digits(db, 'r.local_id')}"
        ") ids GROUP BY entity, scope_school, LENGTH(local_id)"
    )
    lengths: dict[tuple[str, str | None], dict[int, tuple[int, int, str]]] = {}
    for entity, school, length, count, zeros, example in select_rows(db, sql, [run.id, run.id]):
        lengths.setdefault((entity, school), {})[int(length)] = (int(count), int(zeros), example)
    return lengths


def _new_short_ids(db: peewee.Database, run: Run, entity: str, school: str | None,
                   lengths: list[int]) -> list[str]:
    """Return the new ids of ``entity`` and ``school`` with one of ``lengths``, without a leading zero."""
    school_condition = "s.scope_school IS NULL" if school is None else "s.scope_school = ?"
    params: list[object] = [run.id, entity, *([] if school is None else [school]), *lengths]
    sql = (
        "SELECT s.local_id FROM staged_record s WHERE s.run_id = ? AND s.entity = ? "
        f"AND {school_condition} AND s.decision = 'insert' "
        f"AND LENGTH(s.local_id) IN ({', '.join('?' * len(lengths))}) "
        f"AND SUBSTR(s.local_id, 1, 1) <> '0' AND {_digits(db, 's.local_id')} ORDER BY s.id"
    )
    return [str(row[0]) for row in select_rows(db, sql, params)]

