"""Bulk statements on the hot path, below the ORM.

Building one peewee query per row costs more than the database work itself, so
ingest writes its rows with one prepared statement per chunk. SQL here uses
``?`` placeholders. On PostgreSQL they become ``%s``, and the rows go through
``psycopg2.extras.execute_batch``, which sends them in pages instead of one
round trip per row. The statements run on the connection of the current
transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from operator import itemgetter
from types import SimpleNamespace
from typing import Any

import peewee

from gateway.store.database import is_sqlite


def execute_many(db: peewee.Database, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run ``sql`` once per row of ``rows`` inside the current transaction."""
    if not rows:
        return
    cursor = db.cursor()
    if is_sqlite(db):
        cursor.executemany(sql, rows)
        return
    from psycopg2.extras import execute_batch

    execute_batch(cursor, sql.replace("?", "%s"), rows, page_size=500)


def execute_counted(db: peewee.Database, sql: str, params: Sequence[Any]) -> int:
    """Run one statement with ``?`` placeholders; return how many rows it changed."""
    cursor = db.cursor()
    cursor.execute(sql if is_sqlite(db) else sql.replace("?", "%s"), params)
    return int(cursor.rowcount)


def select_rows(db: peewee.Database, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Return the rows of one query with ``?`` placeholders."""
    cursor = db.cursor()
    cursor.execute(sql if is_sqlite(db) else sql.replace("?", "%s"), params)
    return cursor.fetchall()


def raw_rows(query: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run a peewee query on the driver's cursor; return column names and raw rows.

    peewee's own row conversion cost more than the query on the hot path. Values
    come as the driver gives them (SQLite booleans as 0 and 1, say).
    """
    sql, params = query.sql()
    cursor = query.model._meta.database.execute_sql(sql, params)
    names = [description[0] for description in cursor.description]
    return names, list(cursor.fetchall())


def plain_rows(query: Any) -> list[SimpleNamespace]:
    """Return a query's rows as plain attribute objects named by column."""
    names, rows = raw_rows(query)
    return [SimpleNamespace(**dict(zip(names, row, strict=True))) for row in rows]


def db_time(db: peewee.Database, moment: datetime) -> Any:
    """Return ``moment`` as the driver stores it, in the form peewee itself writes."""
    return moment.isoformat(" ") if is_sqlite(db) else moment


def placeholders(count: int) -> str:
    return ", ".join("?" * count)


def padded(values: Sequence[Any]) -> list[Any]:
    """Return ``values`` padded with NULLs, which an ``IN`` list never matches, to a power of two.

    The driver keeps each distinct statement text prepared (Python's sqlite3 keeps
    128). With one text per list length, the statement cache and the memory of the
    statements in it grew with the input. Padded lists, of at least 16 values, share
    a few texts.
    """
    size = max(16, 1 << (len(values) - 1).bit_length())
    return [*values, *([None] * (size - len(values)))]


IN_LIST_MAX = 4096
"""The maximum number of values in one ``IN`` list, below SQLite's limit of 32,766 parameters."""


def in_lists(values: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
    """Yield the placeholders and parameters of ``IN`` lists that cover ``values``, each ``padded``.

    Each list has at most ``IN_LIST_MAX`` values, so that chunk settings of any size stay
    within the parameter limit.
    """
    for start in range(0, len(values), IN_LIST_MAX):
        params = padded(values[start:start + IN_LIST_MAX])
        yield placeholders(len(params)), params


def json_text(db: peewee.Database, column: str, key: str) -> str:
    """Return SQL for the text of top-level ``key`` in the JSON text held in ``column``."""
    if not key.isidentifier():
        raise ValueError(f"not a plain JSON key: {key!r}")
    if is_sqlite(db):
        return f"json_extract({column}, '$.{key}')"
    return f"(CAST({column} AS json) ->> '{key}')"


def insert_dicts(db: peewee.Database, model: type[peewee.Model], rows: list[dict[str, Any]]) -> None:
    """Insert rows that all have the same keys, which are column names of ``model``."""
    if not rows:
        return
    names = list(rows[0])
    # Quoted, because quarantine has a column named "column", a reserved word in PostgreSQL.
    columns = [f'"{model._meta.fields[n].column_name}"' for n in names]
    sql = (f"INSERT INTO {model._meta.table_name} ({', '.join(columns)}) "
           f"VALUES ({placeholders(len(columns))})")
    if "created_at" in names:
        for row in rows:
            row["created_at"] = db_time(db, row["created_at"])
    execute_many(db, sql, list(map(itemgetter(*names), rows)))
