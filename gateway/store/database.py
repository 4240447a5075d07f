"""Opening the store from one URL: SQLite (the embedded default) or PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import peewee
from playhouse.db_url import connect

from gateway.errors import ConfigurationError, TransientError
from gateway.store.models import database_proxy

log = logging.getLogger(__name__)


def is_sqlite(db: peewee.Database) -> bool:
    return isinstance(db, peewee.SqliteDatabase)


def open_database(url: str, busy_timeout_ms: int = 10_000) -> peewee.Database:
    """Connect to ``url`` and bind the models to it.

    SQLite runs in WAL mode with a busy timeout, so readers do not block the
    writer, and a second writer waits up to the timeout instead of failing at once.
    A 32 MiB page cache keeps the upper levels of the large indexes in memory,
    and the WAL is checkpointed every 64 MiB rather than every 4 MiB, so that
    index pages changed by several apply chunks are copied back once.
    """
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        pragmas: dict[str, Any] = {
            "journal_mode": "wal",
            "busy_timeout": busy_timeout_ms,
            "foreign_keys": 1,
            "synchronous": "normal",
            "cache_size": -32768,
            "wal_autocheckpoint": 16384,
        }
        db = peewee.SqliteDatabase(path, pragmas=pragmas, timeout=busy_timeout_ms / 1000)
    elif url.startswith(("postgresql://", "postgres://")):
        db = connect(url.replace("postgres://", "postgresql://", 1))
    else:
        raise ConfigurationError("error.store_url", url=_redact(url))
    database_proxy.initialize(db)
    try:
        db.connect(reuse_if_open=True)
    except peewee.OperationalError as exc:
        # The driver's first line names the cause (no such role, database or host) and
        # never carries the password.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TransientError("error.store_unreachable", url=_redact(url), reason=reason) from exc
    log.debug("store opened", extra={"gateway_fields": {"engine": type(db).__name__}})
    return db


def _redact(url: str) -> str:
    """Hide a password in a database URL before it reaches a message."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def tuples(query: Any) -> Iterator[tuple[Any, ...]]:
    """Iterate a query's rows as tuples.

    peewee's own annotations type ``.tuples()`` rows as model instances, so this
    wrapper states the real row type once.
    """
    yield from query.tuples()


@contextmanager
def write_transaction(db: peewee.Database) -> Iterator[None]:
    """Run the block in one write transaction.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE`` so the write lock
    is taken up front: two writers never both read and then fail to upgrade.
    """
    if is_sqlite(db):
        with db.atomic("IMMEDIATE"):
            yield
    else:
        with db.atomic():
            yield


def discard_open_transaction(db: peewee.Database) -> None:
    """Roll back a transaction that an interrupt left open, and clear peewee's record of it.

    A Ctrl-C that lands after ``BEGIN`` and before the ``with`` block of a
    transaction starts leaves the transaction open with no block to roll it
    back, so a later write would never be committed.
    """
    if db.is_closed():
        return
    while db.in_transaction():
        db.pop_transaction()
    if not is_sqlite(db):
        # peewee runs psycopg2 in autocommit mode with an explicit BEGIN, where the driver's
        # own rollback() sends nothing; ROLLBACK outside a transaction only warns.
        db.rollback()
    elif db.connection().in_transaction:
        db.connection().rollback()
